// A generation as a server runs it: the prefill of the prompt (its end yields the first output
// token), then one decode step per further token. Time to first token, mean time per output token,
// end-to-end latency and output tokens per second, from a few simulated decode DAGs integrated
// exactly over the KV lengths the steps attend to.
#pragma once

#include "helix/cost/detail/cost_classes.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/memory.hpp"
#include "helix/cost/op_cost.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/validate.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix::cost {

/// One simulated decode step: the keys each new token attends to, and the step's makespan.
struct DecodePoint {
  std::int64_t kv_length = 0;
  double seconds = 0;
};

/// The mean of a decode step's time over consecutive KV lengths, and how it was found.
struct DecodeIntegral {
  std::int64_t first_kv_length = 0;
  std::int64_t last_kv_length = 0;
  double mean_seconds = 0;
  /// Every KV length simulated, ascending.
  std::vector<DecodePoint> points;
  /// How far `mean_seconds` may lie above the true mean: 0 when every segment between simulated
  /// lengths passed the midpoint check (affine there) or every length was simulated. Valid while
  /// the step time is convex in the KV length (see `integrate_decode`); infinite when a midpoint
  /// showed it is not.
  double error_bound_seconds = 0;
  /// Whether every midpoint lay on or below its chord, as a convex step time's must.
  bool convex = true;
};

/// Relative distance from a chord under which a midpoint counts as on it: the step time is a sum
/// of thousands of per-op times, whose rounding is near 1e-13 of the total; a kink of the roofline
/// or of the critical path moves the midpoint by far more.
inline constexpr double affine_tolerance = 1e-9;

/// Decode steps simulated at most for one generation unless told otherwise: the first, last and
/// middle KV lengths, then two bisections (2 + 4 midpoints). Each is a schedule run with re-costed
/// op classes (decode_steps), or a DAG built and simulated under KVParallel.
inline constexpr std::int64_t default_decode_points = 9;

/// The mean of `step_seconds(k)` over the whole numbers k = first … last, simulating few of them.
///
/// Why few suffice: with fixed sizes a decode step's ops do work affine in the KV length k (the
/// attention ops' FLOPs and bytes grow with k, nothing else changes), each op's time is the
/// roofline max(FLOPs / peak, bytes / bandwidth) of two affine functions or a constant (collectives
/// move [b, 1, h]), and the list schedule's order does not depend on durations, so the makespan is
/// a max over paths of sums of op times: convex and piecewise affine in k. For a convex f the
/// chord over [lo, hi] lies on or above f, and f(mid) on the chord proves f affine on [lo, hi]
/// (a concave gap that is 0 at both ends and the middle is 0 throughout); the mean of an affine f
/// over lo … hi is then exactly (f(lo) + f(hi)) / 2, its value at the mean KV length.
///
/// How: simulate the first, last and middle lengths; a segment whose midpoint is on its chord
/// (within `affine_tolerance`) is integrated exactly; one that is not is bisected (both halves'
/// midpoints simulated) while at most `max_points` lengths are simulated in all, else integrated
/// piecewise through its midpoint, which overestimates its mean by at most twice the midpoint's
/// gap (a concave gap never exceeds twice its middle value): `error_bound_seconds`. With no more
/// lengths than `max_points`, each is simulated and the mean is exact.
/// @pre first ≤ last, max_points ≥ 3.
template <class StepSeconds>
[[nodiscard]] DecodeIntegral integrate_decode(std::int64_t first, std::int64_t last,
                                              StepSeconds&& step_seconds,
                                              std::int64_t max_points = default_decode_points) {
  if (first > last || max_points < 3)
    throw std::invalid_argument("helix::cost::integrate_decode: needs first (" +
                                std::to_string(first) + ") <= last (" + std::to_string(last) +
                                ") and max_points (" + std::to_string(max_points) + ") >= 3");
  DecodeIntegral result{first, last, 0, {}, 0, true};
  std::map<std::int64_t, double> known;
  const auto f = [&](std::int64_t k) {
    if (const auto at = known.find(k); at != known.end())
      return at->second;
    const double seconds = static_cast<double>(step_seconds(k));
    known.emplace(k, seconds);
    return seconds;
  };
  const std::int64_t count = last - first + 1;
  // Σ over k = lo … hi − 1 of the chord through (lo, f(lo)) and (hi, f(hi)): the segments share
  // their ends, so each counts its left end only and the last length is added once at the end.
  const auto chord_sum = [&](std::int64_t lo, std::int64_t hi) {
    const double n = static_cast<double>(hi - lo);
    return n * (f(lo) + f(hi)) / 2 - (f(hi) - f(lo)) / 2;
  };
  double sum = 0;
  double error_sum = 0;
  if (count <= max_points) {
    for (std::int64_t k = first; k <= last; ++k)
      sum += f(k);
  } else {
    const auto midpoint = [](std::int64_t lo, std::int64_t hi) { return lo + (hi - lo) / 2; };
    std::deque<std::pair<std::int64_t, std::int64_t>> segments{{first, last}};
    while (!segments.empty()) {
      const auto [lo, hi] = segments.front();
      segments.pop_front();
      if (hi - lo <= 1) { // both lengths simulated: nothing in between
        sum += f(lo);
        continue;
      }
      const std::int64_t mid = midpoint(lo, hi);
      // Simulated in this order: the ends (known but for the first segment), then the middle.
      const double at_lo = f(lo), at_hi = f(hi), at_mid = f(mid);
      const double chord_at_mid =
          at_lo + (at_hi - at_lo) * static_cast<double>(mid - lo) / static_cast<double>(hi - lo);
      const double gap = chord_at_mid - at_mid;
      if (std::abs(gap) <= affine_tolerance * std::max(std::abs(at_mid), std::abs(chord_at_mid))) {
        sum += chord_sum(lo, hi);
        continue;
      }
      result.convex = result.convex && gap > 0;
      // Bisecting costs the two halves' midpoints (none for a half of at most two lengths), on
      // top of those the segments still queued will simulate.
      const std::int64_t needed = (mid - lo > 1 ? 1 : 0) + (hi - mid > 1 ? 1 : 0);
      const std::int64_t queued =
          std::ranges::count_if(segments, [](const auto& s) { return s.second - s.first > 1; });
      if (std::ssize(known) + queued + needed <= max_points) {
        segments.emplace_back(lo, mid);
        segments.emplace_back(mid, hi);
        continue;
      }
      sum += chord_sum(lo, mid) + chord_sum(mid, hi);
      error_sum += 2 * std::abs(gap) * static_cast<double>(hi - lo);
    }
    sum += f(last);
  }
  result.mean_seconds = sum / static_cast<double>(count);
  result.error_bound_seconds = !result.convex ? std::numeric_limits<double>::infinity()
                                              : error_sum / static_cast<double>(count);
  for (const auto& [k, seconds] : known)
    result.points.push_back({k, seconds});
  return result;
}

/// A generation's latency and throughput, as TensorRT-LLM's static-batch tables define them:
/// every sequence of the batch has the same prompt and output length.
struct Generation {
  std::int64_t batch = 0;
  /// Prompt length: the prefill runs these tokens.
  std::int64_t input_tokens = 0;
  /// Tokens generated per sequence; the prefill yields the first, each decode step one more.
  std::int64_t output_tokens = 1;
  std::int64_t world_size = 1;
  /// Whether the generation starts with the prefill of the prompt. A decode-only generation
  /// (`decode_generation`) starts from a KV cache already in place, as a disaggregated server's
  /// decode instances and NVIDIA's Helix do: it has no TTFT and its N tokens are N decode steps.
  bool prefill = true;
  /// Time to first token: the prefill's makespan (0 without a prefill).
  double ttft_seconds = 0;
  /// Time per output token after the first: the mean decode step (0 when output_tokens is 1);
  /// without a prefill, the mean of all N steps.
  double tpot_seconds = 0;
  /// ttft + (output_tokens − 1) · tpot; without a prefill output_tokens · tpot.
  double e2e_seconds = 0;
  /// batch · output_tokens / e2e.
  double output_tokens_per_second = 0;
  /// output_tokens_per_second / world_size.
  double output_tokens_per_second_per_gpu = 0;
  /// The decode steps, KV lengths input + 1 … input + output_tokens − 1; empty points when
  /// output_tokens is 1.
  DecodeIntegral decode;
  /// Memory of the last decode step (the longest KV cache); absent when output_tokens is 1.
  std::optional<MemoryReport> last_step_memory;
};

/// The arithmetic of a generation from its prefill time and mean decode step.
/// @pre batch, output_tokens, world_size ≥ 1; ttft > 0.
inline Generation make_generation(std::int64_t batch, std::int64_t input_tokens,
                                  std::int64_t output_tokens, std::int64_t world_size,
                                  double ttft_seconds, double tpot_seconds) {
  Generation g;
  g.batch = batch;
  g.input_tokens = input_tokens;
  g.output_tokens = output_tokens;
  g.world_size = world_size;
  g.ttft_seconds = ttft_seconds;
  g.tpot_seconds = output_tokens > 1 ? tpot_seconds : 0.0;
  g.e2e_seconds = ttft_seconds + static_cast<double>(output_tokens - 1) * g.tpot_seconds;
  g.output_tokens_per_second =
      g.e2e_seconds > 0 ? static_cast<double>(batch * output_tokens) / g.e2e_seconds : 0.0;
  g.output_tokens_per_second_per_gpu =
      g.output_tokens_per_second / static_cast<double>(std::max<std::int64_t>(1, world_size));
  return g;
}

/// The arithmetic of a decode-only generation: `output_tokens` decode steps of mean
/// `tpot_seconds`, no prefill. @pre batch, output_tokens, world_size ≥ 1; tpot > 0.
inline Generation make_decode_generation(std::int64_t batch, std::int64_t input_tokens,
                                         std::int64_t output_tokens, std::int64_t world_size,
                                         double tpot_seconds) {
  Generation g = make_generation(batch, input_tokens, output_tokens, world_size, 0, 0);
  g.prefill = false;
  g.tpot_seconds = tpot_seconds;
  g.e2e_seconds = static_cast<double>(output_tokens) * tpot_seconds;
  g.output_tokens_per_second =
      g.e2e_seconds > 0 ? static_cast<double>(batch * output_tokens) / g.e2e_seconds : 0.0;
  g.output_tokens_per_second_per_gpu =
      g.output_tokens_per_second / static_cast<double>(std::max<std::int64_t>(1, world_size));
  return g;
}

/// The model a decode step with KV length `kv_length` runs: a cache of kv_length − 1 tokens plus
/// the new one (see `attended_tokens`).
constexpr Model decode_model(const Model& model, std::int64_t kv_length) {
  return model.with_seq_len(kv_length - 1);
}

/// The decode workload of a generation whose prefill is `prefill`: the same microbatches and
/// attention kernel, one new token per sequence.
constexpr Workload decode_workload(const Workload& prefill) {
  Workload w = prefill;
  w.phase = Phase::decode;
  return w;
}

namespace detail {

/// The decode steps with KV lengths first … last of `model` under `plan`, integrated
/// (`integrate_decode`), and the memory of the last one. `known_first`, when given, is the first
/// step's makespan, simulated by the caller.
///
/// One decode DAG, built for the last KV length (whose memory is reported), times every length:
/// the sequence length enters a decode DAG through its shapes only (reshape_decode), so the
/// schedule, each op's producers and devices are those of every length, and an op's duration is
/// its cost with the shapes reshape_decode would give it (reshaped_op). Ops that cost alike
/// (cost_classes) are reshaped and costed once per length, and the schedule runs again with those
/// durations: the makespan simulate gives the DAG build_dag makes for that length, to the bit
/// (tests/test_cost.cpp compares the two for several plans). Plans that shard the KV cache along
/// the sequence (decode_reshapes false) build and simulate each length.
template <class Graph>
std::pair<DecodeIntegral, std::optional<MemoryReport>>
decode_steps(const Model& model, const PlanSpec& plan, const Workload& decode, std::int64_t first,
             std::int64_t last, std::optional<double> known_first, const Hardware& hw,
             const SimulationOptions& options, std::int64_t max_points) {
  const auto known = [&](std::int64_t kv_length) {
    return known_first && kv_length == first && kv_length != last;
  };
  if (!decode_reshapes(plan)) {
    std::optional<MemoryReport> last_memory;
    const DecodeIntegral integral = integrate_decode(
        first, last,
        [&](std::int64_t kv_length) {
          if (known(kv_length))
            return *known_first;
          const Graph step = build_dag<Graph>(decode_model(model, kv_length), plan, decode);
          if (kv_length == last)
            last_memory = memory(step, hw);
          return simulate(step, hw, options).makespan_seconds;
        },
        max_points);
    return {integral, std::move(last_memory)};
  }
  const Graph step = build_dag<Graph>(decode_model(model, last), plan, decode);
  const DagInfo& info = boost::get_property(step, boost::graph_bundle);
  const CostClasses classes = cost_classes(step);
  const ScheduleStructure structure = schedule_structure(step, options);
  std::optional<MemoryReport> last_memory = memory(step, hw, device_sequences(structure));
  std::vector<double> class_seconds(classes.representative.size());
  std::vector<double> end(boost::num_vertices(step), 0.0);
  const DecodeIntegral integral = integrate_decode(
      first, last,
      [&](std::int64_t kv_length) {
        if (known(kv_length))
          return *known_first;
        DagInfo step_info = info;
        step_info.model = decode_model(model, kv_length);
        // What build_dag checks for this length (reshape_decode too).
        if (kv_length != last) {
          std::vector<std::string> problems = validate(step_info.model, plan, decode);
          if (!problems.empty())
            throw PlanError(std::move(problems));
        }
        for (std::size_t c = 0; c < classes.representative.size(); ++c) {
          const Op& op = step[classes.representative[c]];
          class_seconds[c] =
              op_cost(kv_length == last ? op : reshaped_op(op, step_info.model, decode, info.mesh),
                      step_info, hw, options.collectives)
                  .seconds;
        }
        const double span = run_schedule(
            structure, [&](Vertex v) { return class_seconds[classes.of_vertex[v]]; },
            [&](Vertex u) { return end[u]; },
            [&](std::size_t, Vertex v, double, double finish) { end[v] = finish; });
        return span + hw.step_overhead_seconds;
      },
      max_points);
  return {integral, std::move(last_memory)};
}

} // namespace detail

/// The generation of `output_tokens` per sequence of `model` (batch `model.batch`, prompt of
/// `model.seq_len` tokens) under `plan`: `ttft_seconds` is the prefill's makespan, already
/// simulated by the caller (its DAG is the one drawn and checked); the decode steps are built
/// with build_dag and simulated like any plan, one DAG re-costed per KV length where that is exact
/// (decode_steps; integrate_decode says which lengths and how many).
/// @throws PlanError when a decode step's DAG breaks a rule (e.g. sizes past 64 bits).
template <class Graph = Dag>
[[nodiscard]] Generation
generation(const Model& model, const PlanSpec& plan, const Workload& prefill,
           std::int64_t output_tokens, double ttft_seconds, const Hardware& hw,
           const SimulationOptions& options = {}, std::int64_t max_points = default_decode_points) {
  const std::int64_t world_size = make_mesh(plan).size();
  if (output_tokens <= 1)
    return make_generation(model.batch, model.seq_len, 1, world_size, ttft_seconds, 0);
  auto [integral, last_memory] = detail::decode_steps<Graph>(
      model, plan, decode_workload(prefill), model.seq_len + 1, model.seq_len + output_tokens - 1,
      std::nullopt, hw, options, max_points);
  Generation g = make_generation(model.batch, model.seq_len, output_tokens, world_size,
                                 ttft_seconds, integral.mean_seconds);
  g.decode = std::move(integral);
  g.last_step_memory = std::move(last_memory);
  return g;
}

/// A decode-only generation of `output_tokens` per sequence of `model`, whose prompt of
/// `model.seq_len` tokens is already in the KV cache (`workload` is a decode): steps with KV
/// lengths seq_len + 1 … seq_len + output_tokens, integrated as `generation` does.
/// `first_step_seconds` is the first step's makespan, simulated by the caller (its DAG is the one
/// drawn and checked).
/// Under KVParallel the shards' lengths step at chunk (or block) boundaries, so the step time is
/// piecewise affine with small steps; `integrate_decode` bisects where a midpoint is off its chord
/// and states its error bound.
/// @throws PlanError when a decode step's DAG breaks a rule.
template <class Graph = Dag>
[[nodiscard]] Generation decode_generation(const Model& model, const PlanSpec& plan,
                                           const Workload& workload, std::int64_t output_tokens,
                                           double first_step_seconds, const Hardware& hw,
                                           const SimulationOptions& options = {},
                                           std::int64_t max_points = default_decode_points) {
  auto [integral, last_memory] = detail::decode_steps<Graph>(
      model, plan, workload, model.seq_len + 1, model.seq_len + output_tokens, first_step_seconds,
      hw, options, max_points);
  Generation g = make_decode_generation(model.batch, model.seq_len, output_tokens,
                                        make_mesh(plan).size(), integral.mean_seconds);
  g.decode = std::move(integral);
  g.last_step_memory = std::move(last_memory);
  return g;
}

/// The generation with its prefill built and simulated here as well: what helix_deploy reports for
/// `--output-tokens`, whose prefill DAG (drawn and checked there) gives `generation` its TTFT.
/// @throws PlanError when the prefill's or a decode step's DAG breaks a rule.
template <class Graph = Dag>
[[nodiscard]] Generation simulate_generation(const Model& model, const PlanSpec& plan,
                                             const Workload& prefill, std::int64_t output_tokens,
                                             const Hardware& hw,
                                             const SimulationOptions& options = {},
                                             std::int64_t max_points = default_decode_points) {
  // The prefill's DAG is freed before the decode step's is built: its memory serves that one.
  const double ttft_seconds =
      simulate(build_dag<Graph>(model, plan, prefill), hw, options).makespan_seconds;
  return generation<Graph>(model, plan, prefill, output_tokens, ttft_seconds, hw, options,
                           max_points);
}

} // namespace helix::cost
