// Predictions held against measured runs: a measurement names a model, a hardware, number formats,
// a plan, a static-batch workload and one metric of its generation with the value measured; helix
// predicts that metric as helix_deploy costs a generation, and a report gives each row's error
// with the median and the worst.
#pragma once

#include "helix/cost/generation.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/graph/dag.hpp"
#include "helix/model/data_type.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/spec.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace helix::cost {

/// What a measurement measured. The throughputs are TensorRT-LLM's static-batch figures: its
/// benchmark (benchmarks/cpp/gptSessionBenchmark.cpp, the tool behind docs/source/performance.md)
/// times one `GptSession::generate` of `batch` sequences that all have `input_tokens` of prompt
/// and generate `output_tokens` each (later versions print the throughput as tokensPerSec =
/// batchSize · maxNewTokens / latency); its first-token latency is that run with one output token.
enum class Metric : std::uint8_t {
  /// Time to first token: the prefill of the prompt, in seconds.
  ttft_s,
  /// Mean time per output token after the first (the decode steps), in seconds.
  tpot_s,
  /// The whole generation: ttft + (output_tokens − 1) · tpot, in seconds.
  e2e_s,
  /// batch · output_tokens / e2e: every sequence of the static batch starts and ends together.
  output_tokens_per_s,
  /// output_tokens_per_s over the plan's GPUs.
  output_tokens_per_s_per_gpu,
};

struct MetricInfo {
  Metric metric;
  /// As a measurements file spells it.
  std::string_view name;
  /// What the value is counted in, for format_si.
  std::string_view unit;
};

/// One row per metric, in the enum's order.
inline constexpr std::array<MetricInfo, 5> metrics{{
    {Metric::ttft_s, "ttft_s", "s"},
    {Metric::tpot_s, "tpot_s", "s"},
    {Metric::e2e_s, "e2e_s", "s"},
    {Metric::output_tokens_per_s, "output_tokens_per_s", "tokens/s"},
    {Metric::output_tokens_per_s_per_gpu, "output_tokens_per_s_per_gpu", "tokens/s"},
}};

constexpr const MetricInfo& metric_info(Metric metric) {
  return metrics[static_cast<std::size_t>(metric)];
}
constexpr std::string_view metric_name(Metric metric) {
  return metric_info(metric).name;
}

/// The metric a measurements file calls `name`, or nothing.
constexpr std::optional<Metric> metric_by_name(std::string_view name) {
  for (const MetricInfo& info : metrics)
    if (info.name == name)
      return info.metric;
  return std::nullopt;
}

/// Every metric's name, comma separated, for messages.
inline std::string metric_names() {
  std::string text;
  for (const MetricInfo& info : metrics)
    text += (text.empty() ? "" : ", ") + std::string(info.name);
  return text;
}

/// `metric` of a generation.
constexpr double metric_value(const Generation& g, Metric metric) {
  switch (metric) {
  case Metric::ttft_s:
    return g.ttft_seconds;
  case Metric::tpot_s:
    return g.tpot_seconds;
  case Metric::e2e_s:
    return g.e2e_seconds;
  case Metric::output_tokens_per_s:
    return g.output_tokens_per_second;
  case Metric::output_tokens_per_s_per_gpu:
    return g.output_tokens_per_second_per_gpu;
  }
  return 0;
}

/// One measured run and the metric measured.
struct Measurement {
  /// Where the value comes from (document, version, table), for whoever reads a report.
  std::string source;
  /// The model as the measurements file names it (a preset's name or a model file's path).
  std::string model_name;
  /// The model's architecture; batch, prompt and number formats come from the fields below.
  Model model;
  /// The hardware it ran on; `hardware.name` is what calibration selects by.
  Hardware hardware;
  /// Format of weights and activations, and of the KV cache.
  DataType dtype = DataType::bf16;
  DataType kv_dtype = DataType::bf16;
  PlanSpec plan;
  std::int64_t batch = 1;
  std::int64_t input_tokens = 1;
  /// Tokens generated per sequence; a first-token latency is measured with 1.
  std::int64_t output_tokens = 1;
  std::int64_t microbatches = 1;
  /// FlashAttention unless the file says otherwise: TensorRT-LLM's fused attention
  /// (`--enable_context_fmha`, the attention plugin) keeps no score matrix, as do vLLM's and
  /// SGLang's kernels.
  AttentionKernel attention = AttentionKernel::flash;
  Metric metric = Metric::ttft_s;
  /// The measured value, in the metric's unit; above 0.
  double value = 0;
};

/// The model a measurement runs, sized as helix_deploy sizes it from --batch, --input-tokens,
/// --dtype and --kv-dtype.
constexpr Model measured_model(const Measurement& m) {
  return m.model.with_batch(m.batch)
      .with_seq_len(m.input_tokens)
      .with_dtype(m.dtype)
      .with_kv_dtype(m.kv_dtype);
}

/// The prefill that starts a measurement's generation.
constexpr Workload measured_workload(const Measurement& m) {
  return Workload::prefill(m.microbatches).with_attention(m.attention);
}

/// The generation a measurement ran, on `hw`: its prefill and decode steps built and simulated as
/// helix_deploy costs `--output-tokens` (cost::simulate_generation).
/// @throws PlanError when a DAG breaks a rule (a measurements file's reader checks the plan first).
template <class Graph = Dag>
[[nodiscard]] Generation predict_generation(const Measurement& m, const Hardware& hw,
                                            const SimulationOptions& options = {}) {
  return simulate_generation<Graph>(measured_model(m), m.plan, measured_workload(m),
                                    m.output_tokens, hw, options);
}

/// The predicted value of `m.metric` on `hw`.
/// @pre m.output_tokens ≥ 2 when the metric is tpot_s (one token has no decode step).
template <class Graph = Dag>
[[nodiscard]] double predict(const Measurement& m, const Hardware& hw,
                             const SimulationOptions& options = {}) {
  return metric_value(predict_generation<Graph>(m, hw, options), m.metric);
}

/// The predicted value of `m.metric` on the hardware it was measured on.
template <class Graph = Dag>
[[nodiscard]] double predict(const Measurement& m, const SimulationOptions& options = {}) {
  return predict<Graph>(m, m.hardware, options);
}

/// predicted / measured − 1: +0.1 predicts 10% more than was measured (a time 10% too slow, a
/// throughput 10% too fast).
constexpr double relative_error(double predicted, double measured) {
  return predicted / measured - 1;
}

struct ValidationRow {
  Measurement measurement;
  double predicted = 0;
  double measured = 0;
  /// relative_error(predicted, measured).
  double error = 0;
};

struct ValidationReport {
  std::vector<ValidationRow> rows;
  /// The median of |error| over the rows (the mean of the middle two for an even count).
  double median_abs_error = 0;
  double max_abs_error = 0;
  /// Index in `rows` of the row with the largest |error| (the first of equals).
  std::size_t worst = 0;
};

/// A report of `rows`, their errors' median and maximum.
/// @throws std::invalid_argument when `rows` is empty: a median of nothing says nothing.
inline ValidationReport make_validation_report(std::vector<ValidationRow> rows) {
  if (rows.empty())
    throw std::invalid_argument("helix::cost::make_validation_report: no rows");
  ValidationReport report;
  report.rows = std::move(rows);
  std::vector<double> magnitudes;
  for (const ValidationRow& row : report.rows)
    magnitudes.push_back(std::abs(row.error));
  const auto largest = std::ranges::max_element(magnitudes);
  report.max_abs_error = *largest;
  report.worst = static_cast<std::size_t>(largest - magnitudes.begin());
  std::ranges::sort(magnitudes);
  const std::size_t n = magnitudes.size();
  report.median_abs_error =
      n % 2 == 1 ? magnitudes[n / 2] : (magnitudes[n / 2 - 1] + magnitudes[n / 2]) / 2;
  return report;
}

/// Each measurement predicted on its own hardware, against its value.
/// @throws std::invalid_argument when `measurements` is empty.
template <class Graph = Dag>
ValidationReport validation_report(const std::vector<Measurement>& measurements,
                                   const SimulationOptions& options = {}) {
  std::vector<ValidationRow> rows;
  for (const Measurement& m : measurements) {
    const double predicted = predict<Graph>(m, options);
    rows.push_back({m, predicted, m.value, relative_error(predicted, m.value)});
  }
  return make_validation_report(std::move(rows));
}

/// The measurements taken on the hardware called `name`, in their order.
inline std::vector<Measurement> measurements_on(const std::vector<Measurement>& measurements,
                                                std::string_view name) {
  std::vector<Measurement> on;
  for (const Measurement& m : measurements)
    if (m.hardware.name == name)
      on.push_back(m);
  return on;
}

/// Puts `hw` in place of the hardware of every measurement taken on hardware of its name (a
/// calibrated file for the preset it was fitted from). Returns how many it replaced.
inline std::size_t substitute_hardware(std::vector<Measurement>& measurements, const Hardware& hw) {
  std::size_t replaced = 0;
  for (Measurement& m : measurements)
    if (m.hardware.name == hw.name) {
      m.hardware = hw;
      ++replaced;
    }
  return replaced;
}

} // namespace helix::cost
