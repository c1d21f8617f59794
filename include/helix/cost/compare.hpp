// Plans side by side: per plan, the counts, bytes, FLOPs, memory and simulated time (and, for a
// generation, TTFT and TPOT) that decide which scheme to deploy, ranked by an objective, and a
// verdict on each claim of the seed document (fewer all-reduces, less communication, more tokens
// per second) computed from the DAGs, never assumed.
// Plain structs only: io/markdown.hpp prints them, io/json.hpp writes them as JSON.
#pragma once

#include "helix/cost/collectives.hpp"
#include "helix/cost/generation.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/memory.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/cost/units.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/plan/parse.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace helix::cost {

/// One plan's numbers. Counts are per microbatch forward (one replica, one microbatch, all
/// layers); bytes, FLOPs and times cover the whole step the Dag describes.
struct PlanSummary {
  std::string name;
  std::int64_t world_size = 0;
  std::size_t vertices = 0;
  std::size_t edges = 0;
  /// All-reduces a forward asks for, however each is carried out.
  std::int64_t allreduce_logical = 0;
  /// Collective steps a forward runs: a flat all-reduce is 1, a hierarchical one 3
  /// (reduce-scatter, all-reduce, all-gather), whatever the number of groups doing each step.
  std::int64_t collective_phases = 0;
  /// Most bytes any one device sends over each link class.
  std::array<double, link_class_count> bytes_by_link{};
  /// Most bytes any one device sends over all links.
  double bytes_per_device = 0;
  /// Most time any one device spends in collectives and transfers.
  double communication_seconds_per_device = 0;
  std::int64_t flops_per_device_max = 0;
  std::int64_t flops_total = 0;
  double memory_per_device_max = 0;
  double memory_capacity = 0;
  bool fits = true;
  double makespan_seconds = 0;
  double bubble_fraction = 0;
  double tokens_per_second = 0;
  /// The plan as text ("pp=2,tg=4x4"), whatever its display name.
  std::string plan;
  /// The fullest device's weights, KV cache and activations (`memory_per_device_max` is its
  /// total), in the step `memory_phase` says: the DAG's own, or for a generation whichever of the
  /// prefill and the last decode step needs more.
  DeviceMemory fullest_device{};
  Phase memory_phase = Phase::prefill;
  /// tokens_per_second / world_size.
  double tokens_per_second_per_gpu = 0;
  /// TTFT, TPOT and output tokens per second when the DAG is a generation's prefill.
  std::optional<Generation> generation;
};

/// Whether the summary is of a generation with decode steps (more than one output token).
inline bool generates(const PlanSummary& s) {
  return s.generation && s.generation->output_tokens > 1;
}

/// What plans are ranked by. Tokens per second per GPU is the step's (batch · new tokens /
/// makespan), or for a generation the output tokens' (batch · N / e2e); TTFT, TPOT and e2e are a
/// generation's, lower first.
enum class Objective : std::uint8_t { tokens_per_s_per_gpu, ttft, tpot, e2e };

struct ObjectiveInfo {
  Objective objective;
  /// As given on the command line and written in JSON.
  std::string_view name;
  /// As the table's column says it.
  std::string_view column;
};

inline constexpr std::array<ObjectiveInfo, 4> objectives{
    {{Objective::tokens_per_s_per_gpu, "tokens_per_s_per_gpu", "tokens/s/GPU"},
     {Objective::ttft, "ttft", "TTFT"},
     {Objective::tpot, "tpot", "TPOT"},
     {Objective::e2e, "e2e", "e2e"}}};

constexpr const ObjectiveInfo& objective_info(Objective objective) {
  return objectives[static_cast<std::size_t>(objective)];
}

/// The objective called `name`, or nothing.
constexpr std::optional<Objective> objective_by_name(std::string_view name) {
  for (const ObjectiveInfo& info : objectives)
    if (info.name == name)
      return info.objective;
  return std::nullopt;
}

/// The plan's value under `objective`, larger is better (times are negated); a time the plan does
/// not have (no generation, or no decode step for TPOT) is the worst.
inline double objective_score(const PlanSummary& s, Objective objective) {
  constexpr double missing = -std::numeric_limits<double>::infinity();
  switch (objective) {
  case Objective::tokens_per_s_per_gpu:
    return generates(s) ? s.generation->output_tokens_per_second_per_gpu
                        : s.tokens_per_second_per_gpu;
  case Objective::ttft:
    return s.generation && s.generation->prefill ? -s.generation->ttft_seconds : missing;
  case Objective::tpot:
    return generates(s) ? -s.generation->tpot_seconds : missing;
  case Objective::e2e:
    return s.generation ? -s.generation->e2e_seconds : missing;
  }
  return missing;
}

/// Indices of `plans`, best first under `objective`; ties keep the given order.
inline std::vector<std::size_t> rank(const std::vector<PlanSummary>& plans, Objective objective) {
  std::vector<std::size_t> order(plans.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::ranges::stable_sort(order, [&](std::size_t a, std::size_t b) {
    return objective_score(plans[a], objective) > objective_score(plans[b], objective);
  });
  return order;
}

enum class Verdict : std::uint8_t { holds, partly_holds, does_not_hold };

constexpr std::string_view verdict_name(Verdict v) {
  return v == Verdict::holds          ? "holds"
         : v == Verdict::partly_holds ? "partly holds"
                                      : "does not hold";
}

/// One quantity a claim is judged by, before (baseline) and after (plan).
struct Measure {
  std::string name;
  double baseline = 0;
  double plan = 0;
  /// Whether the plan is better on this quantity (fewer, less, or more for throughput).
  bool improved = false;
};

struct ClaimVerdict {
  std::string claim;
  std::string baseline;
  std::string plan;
  std::vector<Measure> measures;
  Verdict verdict = Verdict::does_not_hold;
  /// The verdict with its numbers, one line for people.
  std::string text;
};

struct Comparison {
  std::string hardware;
  /// Whether the simulation let communication overlap compute.
  bool overlap_communication = false;
  /// How the simulation costed collectives.
  CollectiveModel collectives = CollectiveModel::nccl;
  std::vector<PlanSummary> plans;
  /// Index in `plans` of the plan every other plan's claims are judged against (none when
  /// out of range: a plain comparison, no claims).
  std::size_t baseline = 0;
  Objective objective = Objective::tokens_per_s_per_gpu;
  /// Indices of `plans`, best first under `objective`.
  std::vector<std::size_t> ranking;
  std::vector<ClaimVerdict> verdicts;
  /// Plans that need more memory than a device has, with the numbers.
  std::vector<std::string> notes;
};

namespace detail {

inline std::string format_count(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", value);
  return text;
}

} // namespace detail

/// The summary of `dag` from an existing simulation and memory estimate.
template <class Graph = Dag>
inline PlanSummary summarize(std::string name, const Graph& dag, const Timeline& timeline,
                             const MemoryReport& memory) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  PlanSummary s;
  s.name = std::move(name);
  s.world_size = info.mesh.size();
  s.vertices = boost::num_vertices(dag);
  s.edges = boost::num_edges(dag);
  std::set<std::pair<std::int64_t, std::int64_t>> forwards;
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t>> logical;
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t, CollectivePhase>> phases;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    forwards.emplace(op.replica, op.microbatch);
    if (const step::Collective* c = collective_of(op)) {
      // The all-gathers of the logits and of a pipeline send's slices are collective phases but
      // sum nothing: not all-reduces.
      if (sums_partial_results(c->purpose))
        logical.emplace(op.replica, op.microbatch, c->logical);
      phases.emplace(op.replica, op.microbatch, c->logical, c->phase);
    }
  }
  const std::int64_t forward_count = std::max<std::int64_t>(1, std::ssize(forwards));
  s.allreduce_logical = std::ssize(logical) / forward_count;
  s.collective_phases = std::ssize(phases) / forward_count;
  for (const DeviceUsage& d : timeline.devices) {
    double sent = 0;
    for (std::size_t l = 0; l < link_class_count; ++l) {
      s.bytes_by_link[l] = std::max(s.bytes_by_link[l], d.bytes_sent[l]);
      sent += d.bytes_sent[l];
    }
    s.bytes_per_device = std::max(s.bytes_per_device, sent);
    s.communication_seconds_per_device =
        std::max(s.communication_seconds_per_device, d.communication_seconds);
    s.flops_per_device_max = std::max(s.flops_per_device_max, d.flops);
    s.flops_total += d.flops;
  }
  s.memory_per_device_max = memory.max_total_bytes;
  s.memory_capacity = memory.capacity_bytes;
  s.fits = memory.fits;
  s.makespan_seconds = timeline.makespan_seconds;
  s.bubble_fraction = timeline.bubble_fraction;
  s.tokens_per_second = timeline.tokens_per_second;
  s.plan = helix::to_string(info.plan);
  if (memory.max_device >= 0 && static_cast<std::size_t>(memory.max_device) < memory.devices.size())
    s.fullest_device = memory.devices[static_cast<std::size_t>(memory.max_device)];
  s.memory_phase = info.workload.phase;
  s.tokens_per_second_per_gpu =
      s.world_size > 0 ? s.tokens_per_second / static_cast<double>(s.world_size) : 0.0;
  return s;
}

/// `summary` (of a generation's prefill) with its generation; its memory becomes the last decode
/// step's when that step needs more (the KV cache is longest there), and it fits only if both fit.
inline PlanSummary with_generation(PlanSummary summary, Generation generation) {
  if (const std::optional<MemoryReport>& last = generation.last_step_memory) {
    summary.fits = summary.fits && last->fits;
    if (last->max_total_bytes > summary.memory_per_device_max &&
        static_cast<std::size_t>(last->max_device) < last->devices.size()) {
      summary.memory_per_device_max = last->max_total_bytes;
      summary.fullest_device = last->devices[static_cast<std::size_t>(last->max_device)];
      summary.memory_phase = Phase::decode;
    }
  }
  summary.generation = std::move(generation);
  return summary;
}

/// Simulates `dag` on `hw`, estimates its memory and summarizes both.
template <class Graph = Dag>
inline PlanSummary summarize(std::string name, const Graph& dag, const Hardware& hw,
                             const SimulationOptions& options = {}) {
  return summarize(std::move(name), dag, simulate(dag, hw, options), memory(dag, hw));
}

namespace detail {

inline Verdict judge(bool first, bool second) {
  return first && second   ? Verdict::holds
         : first || second ? Verdict::partly_holds
                           : Verdict::does_not_hold;
}

inline ClaimVerdict fewer_allreduces(const PlanSummary& base, const PlanSummary& plan) {
  ClaimVerdict v{
      "fewer all-reduce operations (seed: ~30% fewer)", base.name, plan.name, {}, {}, {}};
  const double b1 = static_cast<double>(base.allreduce_logical);
  const double p1 = static_cast<double>(plan.allreduce_logical);
  const double b2 = static_cast<double>(base.collective_phases);
  const double p2 = static_cast<double>(plan.collective_phases);
  v.measures = {{"logical all-reduces per forward", b1, p1, p1 < b1},
                {"collective phases per forward", b2, p2, p2 < b2}};
  v.verdict = judge(p1 < b1, p2 < b2);
  const std::string why = v.verdict == Verdict::holds           ? "holds"
                          : v.verdict == Verdict::does_not_hold ? "does not hold"
                          : p1 < b1 ? "holds for logical calls, not for phases"
                                    : "holds for phases, not for logical calls";
  v.text = "fewer all-reduce operations: " + format_count(b1) + " → " + format_count(p1) +
           " logical (" + format_change(b1, p1) + "), " + format_count(b2) + " → " +
           format_count(p2) + " phases (" + format_change(b2, p2) + "): " + why;
  return v;
}

inline ClaimVerdict less_communication(const PlanSummary& base, const PlanSummary& plan) {
  ClaimVerdict v{"reduced communication overhead", base.name, plan.name, {}, {}, {}};
  const double b1 = base.bytes_per_device, p1 = plan.bytes_per_device;
  const double b2 = base.communication_seconds_per_device;
  const double p2 = plan.communication_seconds_per_device;
  v.measures = {{"bytes sent per GPU", b1, p1, p1 < b1},
                {"communication time per GPU", b2, p2, p2 < b2}};
  v.verdict = judge(p1 < b1, p2 < b2);
  const std::string why = v.verdict == Verdict::holds           ? "holds"
                          : v.verdict == Verdict::does_not_hold ? "does not hold"
                          : p1 < b1                             ? "holds for bytes, not for time"
                                                                : "holds for time, not for bytes";
  v.text = "reduced communication overhead: " + format_si(b1, "B") + " → " + format_si(p1, "B") +
           " sent per GPU (" + format_change(b1, p1) + "), " + format_si(b2, "s") + " → " +
           format_si(p2, "s") + " communicating per GPU (" + format_change(b2, p2) + "): " + why;
  return v;
}

inline ClaimVerdict more_tokens(const PlanSummary& base, const PlanSummary& plan) {
  ClaimVerdict v{"enhanced TPS", base.name, plan.name, {}, {}, {}};
  const double b = base.tokens_per_second, p = plan.tokens_per_second;
  v.measures = {{"tokens per second", b, p, p > b}};
  v.verdict = p > b ? Verdict::holds : Verdict::does_not_hold;
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "×%.3g", b > 0 ? p / b : 0.0);
  v.text = "enhanced TPS: " + format_si(b, "tokens/s") + " → " + format_si(p, "tokens/s") + " (" +
           ratio + ", makespan " + format_si(base.makespan_seconds, "s") + " → " +
           format_si(plan.makespan_seconds, "s") + "): " + std::string(verdict_name(v.verdict));
  return v;
}

} // namespace detail

/// The seed's three claims for `plan` against `baseline`.
inline std::vector<ClaimVerdict> judge_claims(const PlanSummary& baseline,
                                              const PlanSummary& plan) {
  return {detail::fewer_allreduces(baseline, plan), detail::less_communication(baseline, plan),
          detail::more_tokens(baseline, plan)};
}

/// Every other plan's claims judged against `plans[baseline]` (none when `baseline` is out of
/// range), the plans ranked by `objective`, a note for each plan that does not fit and for each
/// whose TPOT is interpolated with an error bound, from summaries already made (e.g. from a
/// simulation kept for a timeline).
inline Comparison compare(std::vector<PlanSummary> plans, const Hardware& hw,
                          std::size_t baseline = 0, const SimulationOptions& options = {},
                          Objective objective = Objective::tokens_per_s_per_gpu) {
  Comparison c;
  c.hardware = std::string(hw.name);
  c.overlap_communication = options.overlap_communication;
  c.collectives = options.collectives;
  c.plans = std::move(plans);
  c.baseline = baseline;
  c.objective = objective;
  c.ranking = rank(c.plans, objective);
  for (std::size_t i = 0; i < c.plans.size(); ++i) {
    if (i != baseline && baseline < c.plans.size())
      for (ClaimVerdict& v : judge_claims(c.plans[baseline], c.plans[i]))
        c.verdicts.push_back(std::move(v));
    const PlanSummary& s = c.plans[i];
    if (!s.fits)
      c.notes.push_back(s.name + " does not fit: " + format_si(s.memory_per_device_max, "B") +
                        " on its fullest GPU, " + format_si(s.memory_capacity, "B") + " of HBM (" +
                        c.hardware + ")");
    if (!generates(s))
      continue;
    const DecodeIntegral& d = s.generation->decode;
    const std::string where =
        "TPOT interpolated from decode steps simulated at " + std::to_string(d.points.size()) +
        " of the " + std::to_string(d.last_kv_length - d.first_kv_length + 1) + " KV lengths";
    if (!d.convex)
      c.notes.push_back(s.name + ": the decode step time is not convex in the KV length (a " +
                        "midpoint lay above its chord), so the " + where + " has no error bound");
    else if (d.error_bound_seconds > 0)
      c.notes.push_back(s.name + ": the decode step time is piecewise affine in the KV length; " +
                        where + " overestimates it by at most " +
                        format_si(d.error_bound_seconds, "s"));
  }
  return c;
}

/// Summaries of `plans` (name, Dag) on `hw`, and every other plan's claims judged against
/// `plans[baseline]`. For the seed: baseline "hp=4x4", plan "pp=2,tg=4x4". A template (Graph is
/// Dag) so that only a TU that calls it instantiates the simulation.
template <class Graph = Dag>
Comparison compare(const std::vector<std::pair<std::string, Graph>>& plans, const Hardware& hw,
                   std::size_t baseline = 0, const SimulationOptions& options = {},
                   Objective objective = Objective::tokens_per_s_per_gpu) {
  std::vector<PlanSummary> summaries;
  for (const auto& [name, dag] : plans)
    summaries.push_back(summarize(name, dag, hw, options));
  return compare(std::move(summaries), hw, baseline, options, objective);
}

} // namespace helix::cost
