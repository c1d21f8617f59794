// Measured runs as a JSON file, {"measurements": [...]}, read with every key of every entry
// checked (an error names the file, the entry, the key and the value); the validation and
// calibration reports as JSON. Needs nlohmann_json: link helix::json, as for io/json.hpp.
#pragma once

#include "helix/cost/calibration.hpp"
#include "helix/cost/generation.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/validation.hpp"
#include "helix/io/atomic_file.hpp"
#include "helix/io/hardware_json.hpp"
#include "helix/io/model_json.hpp"
#include "helix/model/data_type.hpp"
#include "helix/model/model.hpp"
#include "helix/model/presets.hpp"
#include "helix/plan/parse.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/validate.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace helix::io {

/// A measurements file that cannot be used: the message names the file, the entry (counted from
/// 1), the key and the value.
class MeasurementsJsonError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail::measurements_json {

/// The keys of an entry: the first ten are required.
inline constexpr std::array<std::string_view, 13> keys{
    "source",        "model",  "hardware", "dtype",    "plan",      "batch",       "input_tokens",
    "output_tokens", "metric", "value",    "kv_dtype", "attention", "microbatches"};
inline constexpr std::size_t required_keys = 10;

/// Largest size accepted, as helix_deploy's --batch and --input-tokens.
inline constexpr std::int64_t max_size = 1'000'000'000'000'000;

inline std::string known_keys() {
  std::string text;
  for (std::string_view key : keys)
    text += (text.empty() ? "" : ", ") + std::string(key);
  return text;
}

/// The models and hardware files the entries name, read once each.
struct FileCache {
  std::map<std::filesystem::path, ModelDefinition> models;
  std::map<std::filesystem::path, cost::Hardware> hardware;
};

/// One entry's keys, each read with the entry and the key in any error.
class EntryReader {
public:
  EntryReader(const nlohmann::json& entry, std::size_t number, std::size_t count)
      : entry_(entry), where_("entry " + std::to_string(number) + " of " + std::to_string(count)) {
    if (!entry_.is_object())
      throw MeasurementsJsonError(where_ + ": a measurement is a JSON object, not " +
                                  helix::detail::model_json::shown(entry_));
    for (const auto& [key, value] : entry_.items())
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        throw MeasurementsJsonError(
            where_ + ": unknown key " + helix::detail::model_json::quoted_key(key) + " = " +
            helix::detail::model_json::shown(value) + "; known: " + known_keys());
    for (std::size_t i = 0; i < required_keys; ++i)
      if (!entry_.contains(std::string(keys[i])))
        throw MeasurementsJsonError(where_ + ": missing required key '" + std::string(keys[i]) +
                                    "'");
  }

  bool has(std::string_view key) const { return entry_.contains(std::string(key)); }
  const nlohmann::json& at(std::string_view key) const { return entry_.at(std::string(key)); }

  [[noreturn]] void bad(std::string_view key, const std::string& why) const {
    throw MeasurementsJsonError(where_ + ": key '" + std::string(key) +
                                "' = " + helix::detail::model_json::shown(at(key)) + ": " + why);
  }

  std::string text(std::string_view key) const {
    if (!at(key).is_string() || at(key).get<std::string>().empty())
      bad(key, "expected a non-empty string");
    return at(key).get<std::string>();
  }

  /// A whole number from `minimum` to 10^15.
  std::int64_t size(std::string_view key, std::int64_t minimum) const {
    const nlohmann::json& value = at(key);
    const std::string range =
        "expected a whole number from " + std::to_string(minimum) + " to 10^15";
    // nlohmann keeps a number past 2^63 - 1 as unsigned and one past 2^64 as a double.
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() &&
         value.get<std::uint64_t>() > static_cast<std::uint64_t>(max_size)))
      bad(key, range);
    const std::int64_t n = value.get<std::int64_t>();
    if (n < minimum || n > max_size)
      bad(key, range);
    return n;
  }

  DataType data_type(std::string_view key) const {
    const std::optional<DataType> type =
        at(key).is_string() ? data_type_by_name(at(key).get<std::string>()) : std::nullopt;
    if (!type) {
      std::string names;
      for (const DataTypeInfo& info : data_types)
        names += (names.empty() ? "" : ", ") + std::string(info.name);
      bad(key, "expected one of " + names);
    }
    return *type;
  }

  const std::string& where() const { return where_; }

private:
  const nlohmann::json& entry_;
  std::string where_;
};

/// The path a file's entry means: relative to the measurements file's folder.
inline std::filesystem::path beside(const std::filesystem::path& folder, const std::string& text) {
  const std::filesystem::path path = text;
  return (path.is_absolute() ? path : folder / path).lexically_normal();
}

inline std::pair<std::string, Model>
model_of(const EntryReader& entry, const std::filesystem::path& folder, FileCache& cache) {
  const std::string text = entry.text("model");
  if (const std::optional<Model> preset = models::by_name(text))
    return {text, *preset};
  const std::filesystem::path path = beside(folder, text);
  if (const auto known = cache.models.find(path); known != cache.models.end())
    return {text, known->second.model};
  std::error_code error;
  if (!std::filesystem::exists(path, error))
    entry.bad("model", "neither a preset (" + models::names() + ") nor a model file (no file '" +
                           path.string() + "')");
  try {
    const ModelDefinition definition = read_model_json(path);
    cache.models.emplace(path, definition);
    return {text, definition.model};
  } catch (const ModelJsonError& e) {
    entry.bad("model", e.what());
  }
}

inline cost::Hardware hardware_of(const EntryReader& entry, const std::filesystem::path& folder,
                                  FileCache& cache) {
  const std::string text = entry.text("hardware");
  if (const cost::Hardware* preset = cost::hardware::by_name(text))
    return *preset;
  const std::filesystem::path path = beside(folder, text);
  if (const auto known = cache.hardware.find(path); known != cache.hardware.end())
    return known->second;
  std::error_code error;
  if (!std::filesystem::exists(path, error))
    entry.bad("hardware", "neither a preset (" + cost::hardware::names() +
                              ") nor a hardware file (no file '" + path.string() + "')");
  try {
    const cost::Hardware hw = read_hardware_json(path);
    cache.hardware.emplace(path, hw);
    return hw;
  } catch (const HardwareJsonError& e) {
    entry.bad("hardware", e.what());
  }
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines)
    text += (text.empty() ? "" : "; ") + line;
  return text;
}

/// One entry as a measurement, with the plan proven valid for the prefill and for the last
/// decode step (the largest DAG the prediction builds), as helix_deploy proves its --plan.
inline cost::Measurement measurement_of(const EntryReader& entry,
                                        const std::filesystem::path& folder, FileCache& cache) {
  cost::Measurement m;
  m.source = entry.text("source");
  std::tie(m.model_name, m.model) = model_of(entry, folder, cache);
  m.hardware = hardware_of(entry, folder, cache);
  m.dtype = entry.data_type("dtype");
  // As helix_deploy's --dtype: the KV cache follows unless told otherwise.
  m.kv_dtype = entry.has("kv_dtype") ? entry.data_type("kv_dtype") : m.dtype;
  m.batch = entry.size("batch", 1);
  m.input_tokens = entry.size("input_tokens", 1);
  m.output_tokens = entry.size("output_tokens", 1);
  m.microbatches = entry.has("microbatches") ? entry.size("microbatches", 1) : 1;
  if (entry.has("attention")) {
    const std::string kernel = entry.at("attention").is_string()
                                   ? entry.at("attention").get<std::string>()
                                   : std::string();
    if (kernel != attention_kernel_name(AttentionKernel::flash) &&
        kernel != attention_kernel_name(AttentionKernel::materialized))
      entry.bad("attention", "expected \"flash\" or \"materialized\"");
    m.attention = kernel == attention_kernel_name(AttentionKernel::flash)
                      ? AttentionKernel::flash
                      : AttentionKernel::materialized;
  }
  const std::string metric = entry.text("metric");
  const std::optional<cost::Metric> known = cost::metric_by_name(metric);
  if (!known)
    entry.bad("metric", "expected one of " + cost::metric_names());
  m.metric = *known;
  if (m.metric == cost::Metric::tpot_s && m.output_tokens < 2)
    entry.bad("metric", "tpot_s needs output_tokens of 2 or more (the first token is the "
                        "prefill's; output_tokens is " +
                            std::to_string(m.output_tokens) + ")");
  const nlohmann::json& value = entry.at("value");
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() <= 0)
    entry.bad("value", "expected a number above 0");
  m.value = value.get<double>();
  try {
    m.plan = parse_plan(entry.text("plan"));
  } catch (const PlanTextError& e) {
    entry.bad("plan", e.what());
  }
  const Model model = cost::measured_model(m);
  const Workload prefill = cost::measured_workload(m);
  if (const std::vector<std::string> problems = validate(model, m.plan, prefill); !problems.empty())
    entry.bad("plan", "invalid for " + m.model_name + ": " + joined(problems));
  const std::int64_t last_kv = m.input_tokens + m.output_tokens - 1;
  if (m.output_tokens > 1)
    if (const std::vector<std::string> problems =
            validate(cost::decode_model(model, last_kv), m.plan, cost::decode_workload(prefill));
        !problems.empty())
      entry.bad("plan", "the last decode step (KV length " + std::to_string(last_kv) +
                            ") is invalid for " + m.model_name + ": " + joined(problems));
  return m;
}

} // namespace detail::measurements_json

/// The measurements a JSON document lists:
///
///     {"description": "optional text",
///      "measurements": [{"source": "...", "model": "gptj_6b", "hardware": "h100_sxm_nvl8",
///                        "dtype": "fp8", "plan": "tp=1", "batch": 1, "input_tokens": 128,
///                        "output_tokens": 1, "metric": "ttft_s", "value": 0.007}]}
///
/// Per entry, required: `source` (where the value comes from), `model` (a preset's name, or a
/// model file's path relative to `folder`), `hardware` (a preset's name, or a hardware file's
/// path relative to `folder`), `dtype`, `plan` (plan text), `batch`, `input_tokens`,
/// `output_tokens` (whole numbers from 1), `metric` (cost::metric_names()) and `value` (above 0,
/// in the metric's unit: seconds or tokens per second). Optional: `kv_dtype` (default `dtype`, as
/// helix_deploy's --dtype), `attention` ("flash", the default, or "materialized"),
/// `microbatches` (default 1).
/// @throws MeasurementsJsonError naming the entry (counted from 1) and the key with its value:
/// an unknown or missing key, a wrong type, a size out of range, a name not in its list, a model
/// or hardware that is neither a preset nor a readable file, a plan that is not valid for the
/// model, tpot_s with a single output token; or no measurement at all.
inline std::vector<cost::Measurement> measurements_from_json(const nlohmann::json& document,
                                                             const std::filesystem::path& folder) {
  namespace d = detail::measurements_json;
  if (!document.is_object())
    throw MeasurementsJsonError("the document is a JSON object {\"measurements\": [...]}, not " +
                                helix::detail::model_json::shown(document));
  for (const auto& [key, value] : document.items())
    if (key != "measurements" && key != "description")
      throw MeasurementsJsonError("unknown key " + helix::detail::model_json::quoted_key(key) +
                                  " = " + helix::detail::model_json::shown(value) +
                                  "; known: measurements, description");
  if (document.contains("description") && !document.at("description").is_string())
    throw MeasurementsJsonError(
        "key 'description' = " + helix::detail::model_json::shown(document.at("description")) +
        ": expected a string");
  if (!document.contains("measurements"))
    throw MeasurementsJsonError("missing key 'measurements'");
  const nlohmann::json& list = document.at("measurements");
  if (!list.is_array() || list.empty())
    throw MeasurementsJsonError("key 'measurements' = " + helix::detail::model_json::shown(list) +
                                ": expected a list of at least one measurement");
  d::FileCache cache;
  std::vector<cost::Measurement> measurements;
  for (std::size_t i = 0; i < list.size(); ++i)
    measurements.push_back(
        d::measurement_of(d::EntryReader(list[i], i + 1, list.size()), folder, cache));
  return measurements;
}

/// The measurements in the file at `path`; model and hardware paths in it are relative to its
/// folder. A key given twice in an object is an error: JSON parsers keep one of the two silently.
/// @throws MeasurementsJsonError "measurements file '<path>': ..." when it is missing, a folder,
/// unreadable, not JSON (nlohmann's message, with line and column), or as measurements_from_json.
inline std::vector<cost::Measurement> read_measurements_json(const std::filesystem::path& path) {
  const std::string where = "measurements file '" + path.string() + "': ";
  std::error_code error;
  if (!std::filesystem::exists(path, error))
    throw MeasurementsJsonError(where + "no such file");
  if (std::filesystem::is_directory(path, error))
    throw MeasurementsJsonError(where + "it is a folder, not a file");
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw MeasurementsJsonError(where + "cannot be opened for reading");
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad())
    throw MeasurementsJsonError(where + "cannot be read");
  // Keys seen per open object, and which entry of the list an object at depth 3 belongs to (the
  // callback's depth counts the open containers: root 1, the list 2, an entry 3).
  std::vector<std::set<std::string>> open;
  std::size_t entries = 0;
  std::optional<std::string> repeated;
  const nlohmann::json::parser_callback_t note_keys = [&](int depth,
                                                          nlohmann::json::parse_event_t event,
                                                          nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      open.emplace_back();
      entries += depth == 2 ? 1 : 0;
    } else if (event == Event::object_end) {
      open.pop_back();
    } else if (event == Event::key && !repeated && !open.empty() &&
               !open.back().insert(parsed.get<std::string>()).second) {
      repeated = (depth == 3 ? "entry " + std::to_string(entries) + ": " : std::string()) + "key " +
                 helix::detail::model_json::quoted_key(parsed.get<std::string>()) + " given twice";
    }
    return true;
  };
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text, note_keys);
  } catch (const nlohmann::json::parse_error& e) {
    throw MeasurementsJsonError(where + "not valid JSON: " + e.what());
  }
  if (repeated)
    throw MeasurementsJsonError(where + *repeated);
  try {
    return measurements_from_json(document, path.parent_path());
  } catch (const MeasurementsJsonError& e) {
    throw MeasurementsJsonError(where + e.what());
  }
}

/// One measurement's keys as a measurements file spells them (the model and hardware as named
/// there).
inline nlohmann::json measurement_to_json(const cost::Measurement& m) {
  return {{"source", m.source},
          {"model", m.model_name},
          {"hardware", std::string(m.hardware.name)},
          {"dtype", std::string(data_type_name(m.dtype))},
          {"kv_dtype", std::string(data_type_name(m.kv_dtype))},
          {"plan", to_string(m.plan)},
          {"batch", m.batch},
          {"input_tokens", m.input_tokens},
          {"output_tokens", m.output_tokens},
          {"microbatches", m.microbatches},
          {"attention", std::string(attention_kernel_name(m.attention))},
          {"metric", std::string(cost::metric_name(m.metric))},
          {"value", m.value}};
}

/// {"rows": [{<the measurement's keys>, "predicted", "measured", "error"}], "median_abs_error",
/// "max_abs_error", "worst_row"}: errors as fractions (predicted / measured − 1), worst_row an
/// index in rows.
inline nlohmann::json to_json(const cost::ValidationReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const cost::ValidationRow& row : report.rows) {
    nlohmann::json entry = measurement_to_json(row.measurement);
    entry.erase("value");
    entry["predicted"] = row.predicted;
    entry["measured"] = row.measured;
    entry["error"] = row.error;
    rows.push_back(std::move(entry));
  }
  return {{"rows", std::move(rows)},
          {"median_abs_error", report.median_abs_error},
          {"max_abs_error", report.max_abs_error},
          {"worst_row", report.worst}};
}

/// {"hardware", "parameters": [{"name", "original", "fitted", "lower", "upper", "constrained"}],
/// "stop_reason", "iterations", "evaluations", "before": <report>, "after": <report>}.
inline nlohmann::json to_json(const cost::Calibration& calibration) {
  nlohmann::json parameters = nlohmann::json::array();
  for (const cost::FittedParameter& p : calibration.parameters)
    parameters.push_back({{"name", std::string(p.parameter.name)},
                          {"original", p.original},
                          {"fitted", p.fitted},
                          {"lower", p.parameter.lower},
                          {"upper", p.parameter.upper},
                          {"constrained", p.constrained}});
  return {{"hardware", std::string(calibration.original.name)},
          {"parameters", std::move(parameters)},
          {"stop_reason", calibration.stop_reason},
          {"iterations", calibration.iterations},
          {"evaluations", calibration.evaluations},
          {"before", to_json(calibration.before)},
          {"after", to_json(calibration.after)}};
}

/// Writes `document` to `path`, indented by 2, atomically.
/// @throws std::runtime_error naming `path` (see write_file_atomically).
inline void write_report_json(const std::filesystem::path& path, const nlohmann::json& document) {
  write_file_atomically(path, document.dump(2) + "\n");
}

} // namespace helix::io
