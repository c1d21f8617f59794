// Model files: a Model and its name as a JSON object, read with every key checked (an unknown or
// mistyped key is an error naming it, never a silent default) and written so that reading gives
// the same Model back. Needs nlohmann_json: link helix::json (see helix/io/json.hpp).
#pragma once

#include "helix/io/atomic_file.hpp"
#include "helix/model/data_type.hpp"
#include "helix/model/model.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace helix {

/// A model file's content: the name it gives the model (the run's title) and the model.
struct ModelDefinition {
  std::string name;
  Model model;

  friend bool operator==(const ModelDefinition&, const ModelDefinition&) = default;
};

/// A model file or text that is not a model: the message names the key and the value (and the
/// file, when read from one).
struct ModelJsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail::model_json {

/// Largest size accepted, as helix_deploy's --batch and --input-tokens: a size beyond it is a
/// typo, and products of sizes stay checkable (the plan rules reject what overflows 64 bits).
inline constexpr std::int64_t max_size = 1'000'000'000'000'000;

/// Every key a model object may hold; the first nine (`required`) must be there.
inline constexpr std::array<std::string_view, 15> keys{
    "name", "layers", "hidden",         "heads", "kv_heads", "head_dim", "ffn_hidden", "mlp",
    "norm", "vocab",  "parallel_block", "batch", "seq_len",  "dtype",    "kv_dtype"};
inline constexpr std::array<std::string_view, 9> required{
    "name", "layers", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden", "mlp", "norm"};

/// When `seq_len` is absent: GPT-3's context length, a prompt of a realistic size (the Model
/// default of 1 token would make a prefill cost nothing).
inline constexpr std::int64_t default_seq_len = 2048;

inline std::string known_keys() {
  std::string text;
  for (std::string_view key : keys)
    text += (text.empty() ? "" : ", ") + std::string(key);
  return text;
}

/// The value as JSON text, ASCII only (control characters and non-ASCII escaped), cut short so an
/// error stays one readable line.
inline std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', true);
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

/// A key from the file as the messages quote it: 'key', escaped like shown() (a key may hold a
/// line break).
inline std::string quoted_key(const std::string& key) {
  const std::string json = nlohmann::json(key).dump(-1, ' ', true);
  const std::string inner = json.substr(1, json.size() - 2);
  return "'" + (inner.size() > 40 ? inner.substr(0, 37) + "..." : inner) + "'";
}

[[noreturn]] inline void bad_value(std::string_view key, const nlohmann::json& value,
                                   std::string_view expected) {
  throw ModelJsonError("key '" + std::string(key) + "' = " + shown(value) + ": expected " +
                       std::string(expected));
}

/// A whole number from `minimum` to max_size.
inline std::int64_t size_at(const nlohmann::json& object, std::string_view key,
                            std::int64_t minimum) {
  const nlohmann::json& value = object.at(std::string(key));
  const std::string range = "a whole number from " + std::to_string(minimum) + " to 10^15";
  // Integers only (2.5 and 1e3 are not sizes); nlohmann keeps one past 2^63 - 1 as unsigned and
  // one past 2^64 as a double, both refused here.
  if (!value.is_number_integer())
    bad_value(key, value, range);
  if (value.is_number_unsigned() &&
      value.get<std::uint64_t>() > static_cast<std::uint64_t>(max_size))
    bad_value(key, value, range);
  const std::int64_t n = value.get<std::int64_t>();
  if (n < minimum || n > max_size)
    bad_value(key, value, range);
  return n;
}

inline std::string text_at(const nlohmann::json& object, std::string_view key) {
  const nlohmann::json& value = object.at(std::string(key));
  if (!value.is_string())
    bad_value(key, value, "a string");
  return value.get<std::string>();
}

inline DataType data_type_at(const nlohmann::json& object, std::string_view key) {
  const nlohmann::json& value = object.at(std::string(key));
  const std::optional<DataType> type =
      value.is_string() ? data_type_by_name(value.get<std::string>()) : std::nullopt;
  if (!type) {
    std::string names;
    for (const DataTypeInfo& info : data_types)
      names += (names.empty() ? "\"" : ", \"") + std::string(info.name) + "\"";
    bad_value(key, value, "one of " + names);
  }
  return *type;
}

} // namespace detail::model_json

/// The model a JSON object describes:
///
///     {"name": "mistral_7b", "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8,
///      "head_dim": 128, "ffn_hidden": 14336, "mlp": "swiglu", "norm": "rmsnorm",
///      "vocab": 32000, "parallel_block": false, "batch": 1, "seq_len": 4096,
///      "dtype": "bf16", "kv_dtype": "bf16"}
///
/// `name` (non-empty), `layers`, `hidden`, `heads`, `kv_heads`, `head_dim`, `ffn_hidden` (each at
/// least 1), `mlp` ("gelu" or "swiglu") and `norm` ("layernorm", "rmsnorm" or "none") are
/// required: each changes the weights and the work. Optional: `vocab` (0, the default, is a bare
/// block stack),
/// `parallel_block` (default false), `batch` (default 1), `seq_len` (default 2048), `dtype`
/// (default "bf16") and `kv_dtype` (default: `dtype`). Whether the sizes suit each other (heads
/// divisible by kv heads, ...) is `validate`'s, with a plan.
/// @throws ModelJsonError naming the key and its value: not an object, a missing or unknown key, a
/// wrong type, a size out of range, a name not in its list.
inline ModelDefinition model_from_json(const nlohmann::json& object) {
  namespace d = detail::model_json;
  if (!object.is_object())
    throw ModelJsonError("a model is a JSON object, not " + d::shown(object));
  for (const auto& [key, value] : object.items())
    if (std::find(d::keys.begin(), d::keys.end(), key) == d::keys.end())
      throw ModelJsonError("unknown key " + d::quoted_key(key) + " = " + d::shown(value) +
                           "; known: " + d::known_keys());
  for (std::string_view key : d::required)
    if (!object.contains(std::string(key)))
      throw ModelJsonError("missing required key '" + std::string(key) + "'");
  ModelDefinition definition;
  definition.name = d::text_at(object, "name");
  if (definition.name.empty())
    d::bad_value("name", object.at("name"), "a non-empty string");
  Model& m = definition.model;
  m.layers = d::size_at(object, "layers", 1);
  m.hidden = d::size_at(object, "hidden", 1);
  m.heads = d::size_at(object, "heads", 1);
  m.kv_heads = d::size_at(object, "kv_heads", 1);
  m.head_dim = d::size_at(object, "head_dim", 1);
  m.ffn_hidden = d::size_at(object, "ffn_hidden", 1);
  const std::string mlp = d::text_at(object, "mlp");
  if (mlp != activation_name(Activation::gelu) && mlp != activation_name(Activation::swiglu))
    d::bad_value("mlp", object.at("mlp"), "\"gelu\" or \"swiglu\"");
  m.activation = mlp == activation_name(Activation::swiglu) ? Activation::swiglu : Activation::gelu;
  const std::string norm = d::text_at(object, "norm");
  if (norm == norm_name(Norm::layernorm))
    m.norm = Norm::layernorm;
  else if (norm == norm_name(Norm::rmsnorm))
    m.norm = Norm::rmsnorm;
  else if (norm == norm_name(Norm::none))
    m.norm = Norm::none;
  else
    d::bad_value("norm", object.at("norm"), "\"layernorm\", \"rmsnorm\" or \"none\"");
  m.vocab = object.contains("vocab") ? d::size_at(object, "vocab", 0) : 0;
  m.parallel_block = false;
  if (object.contains("parallel_block")) {
    if (!object.at("parallel_block").is_boolean())
      d::bad_value("parallel_block", object.at("parallel_block"), "true or false");
    m.parallel_block = object.at("parallel_block").get<bool>();
  }
  m.batch = object.contains("batch") ? d::size_at(object, "batch", 1) : 1;
  m.seq_len = object.contains("seq_len") ? d::size_at(object, "seq_len", 1) : d::default_seq_len;
  m.dtype = object.contains("dtype") ? d::data_type_at(object, "dtype") : DataType::bf16;
  m.kv_dtype = object.contains("kv_dtype") ? d::data_type_at(object, "kv_dtype") : m.dtype;
  return definition;
}

/// The model JSON text describes (see model_from_json). A key given twice is an error: JSON
/// parsers keep one of the two silently, and which one the author meant is unknowable.
/// @throws ModelJsonError: not JSON (nlohmann's message, with line and column), or as
/// model_from_json.
inline ModelDefinition parse_model_json(std::string_view text) {
  std::set<std::string> seen;
  std::optional<std::string> repeated;
  const nlohmann::json::parser_callback_t note_keys =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && !repeated &&
            !seen.insert(parsed.get<std::string>()).second)
          repeated = parsed.get<std::string>();
        return true;
      };
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(text.begin(), text.end(), note_keys);
  } catch (const nlohmann::json::parse_error& e) {
    throw ModelJsonError(std::string("not valid JSON: ") + e.what());
  }
  if (repeated)
    throw ModelJsonError("key " + detail::model_json::quoted_key(*repeated) + " given twice");
  return model_from_json(object);
}

/// The model in the file at `path` (see model_from_json).
/// @throws ModelJsonError "model file '<path>': ..." when the file is missing, a folder,
/// unreadable, not JSON, or not a model.
inline ModelDefinition read_model_json(const std::filesystem::path& path) {
  const std::string where = "model file '" + path.string() + "': ";
  std::error_code error;
  if (!std::filesystem::exists(path, error))
    throw ModelJsonError(where + "no such file");
  if (std::filesystem::is_directory(path, error))
    throw ModelJsonError(where + "it is a folder, not a file");
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw ModelJsonError(where + "cannot be opened for reading");
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad())
    throw ModelJsonError(where + "cannot be read");
  try {
    return parse_model_json(text);
  } catch (const ModelJsonError& e) {
    throw ModelJsonError(where + e.what());
  }
}

/// Every key of `model` (defaults included, so the file says all it means) under `name`;
/// model_from_json of it gives `{name, model}` back.
inline nlohmann::json model_to_json(std::string_view name, const Model& model) {
  return {{"name", std::string(name)},
          {"layers", model.layers},
          {"hidden", model.hidden},
          {"heads", model.heads},
          {"kv_heads", model.kv_heads},
          {"head_dim", model.head_dim},
          {"ffn_hidden", model.ffn_hidden},
          {"mlp", std::string(activation_name(model.activation))},
          {"norm", std::string(norm_name(model.norm))},
          {"vocab", model.vocab},
          {"parallel_block", model.parallel_block},
          {"batch", model.batch},
          {"seq_len", model.seq_len},
          {"dtype", std::string(data_type_name(model.dtype))},
          {"kv_dtype", std::string(data_type_name(model.kv_dtype))}};
}

/// Writes `model_to_json(name, model)` to `path`, indented by 2, atomically.
/// @throws std::runtime_error naming `path` when it cannot be written (see write_file_atomically).
inline void write_model_json(const std::filesystem::path& path, std::string_view name,
                             const Model& model) {
  io::write_file_atomically(path, model_to_json(name, model).dump(2) + "\n");
}

} // namespace helix
