// A timeline of a Dag on given hardware: each device runs its vertices one at a time in the list
// schedule of schedule.hpp; a collective starts when every member is free and its inputs are done,
// and ends on all members together; a transfer occupies its sender and its receiver. Reports the
// start and end of every vertex, the makespan, how busy each device is, and tokens per second.
#pragma once

#include "helix/cost/collectives.hpp"
#include "helix/cost/detail/cost_classes.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/op_cost.hpp"
#include "helix/cost/schedule.hpp"
#include "helix/cost/work.hpp"
#include "helix/graph/dag.hpp"
#include "helix/model/model.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix::cost {

struct SimulationOptions {
  /// Run communication beside compute: collectives on one stream of their own and pipeline
  /// transfers on another (NCCL point-to-point and collective kernels on separate streams), so a
  /// device may compute, reduce and send at once; each stream still runs one vertex at a time.
  /// Off: a device does one thing at a time, which is what a forward pass without explicit
  /// overlap does.
  ///
  /// Off is the default because it is what inference engines do: TensorRT-LLM and Megatron-LM run a
  /// tensor-parallel all-reduce on the compute stream, between the matmul that makes its input and
  /// the one that needs its output, so nothing runs beside it. On assumes a device can start any
  /// ready compute op while its collectives and transfers proceed (separate streams, no SM
  /// contention between the communication kernels and the matmuls): an upper bound on what
  /// overlap can gain, not what a shipping engine reaches.
  bool overlap_communication = false;
  /// How collectives are costed: as NCCL runs them (default) or as one flat ring (the model helix
  /// had before, for comparison).
  CollectiveModel collectives = CollectiveModel::nccl;
};

struct VertexTiming {
  double start_seconds = 0;
  double end_seconds = 0;
};

/// What one device did over the timeline.
struct DeviceUsage {
  double compute_seconds = 0;
  /// Time inside collectives and transfers this device takes part in.
  double communication_seconds = 0;
  /// Length of the union of the device's busy intervals.
  double busy_seconds = 0;
  double busy_fraction = 0;
  double first_start_seconds = 0;
  double last_end_seconds = 0;
  std::int64_t flops = 0;
  /// Bytes this device sends, by link class (a transfer counts for its sender only).
  std::array<double, link_class_count> bytes_sent{};
};

struct Timeline {
  /// By vertex id.
  std::vector<VertexTiming> vertices;
  std::vector<OpCost> costs;
  /// By mesh rank.
  std::vector<DeviceUsage> devices;
  /// The scheduled vertices' span plus the runtime's host time per step
  /// (`Hardware::step_overhead_seconds`), which no device spends computing.
  double makespan_seconds = 0;
  /// The part of the makespan that is the runtime's step overhead.
  double step_overhead_seconds = 0;
  /// Pipeline fill and drain (of the scheduled span, the step overhead left out): the mean, over
  /// devices, of the time before a device's first vertex and after its last one, as a fraction of
  /// the makespan. For p balanced stages, m microbatches and free communication this is (p − 1) /
  /// (m + p − 1).
  double bubble_fraction = 0;
  /// 1 − mean busy fraction: the bubble plus every wait for a slower collective partner.
  double idle_fraction = 0;
  /// Prefill: batch · seq_len / makespan. Decode: batch / makespan (one token per sequence).
  double tokens_per_second = 0;
  SimulationOptions options{};
};

namespace detail {

/// What a simulation reads of a Dag besides its ops' durations: the schedule order and, for each
/// vertex in it, its producers, the devices it occupies and the stream it runs on there. Built
/// once, it times the same DAG under other durations: a decode step at each KV length
/// (generation.hpp), whose ops, edges and devices are the same for every length.
struct ScheduleStructure {
  std::size_t device_count = 0;
  /// Vertex ids in schedule order; 32 bits each (a DAG of 4 · 10^9 vertices is refused), so the
  /// structure of a 10^6-vertex DAG stays near 20 bytes per vertex.
  std::vector<std::uint32_t> order;
  /// Position i of `order` has producers [producer_begin[i], producer_begin[i + 1]) of
  /// `producers`, and devices likewise (a transfer's sender first).
  std::vector<std::uint32_t> producer_begin;
  std::vector<std::uint32_t> producers;
  std::vector<std::uint32_t> device_begin;
  std::vector<std::uint32_t> devices;
  /// By position: 0 compute, 1 collectives, 2 transfers (all 0 without overlap).
  std::vector<std::uint8_t> stream;
};

template <class Graph = Dag>
ScheduleStructure schedule_structure(const Graph& dag, const SimulationOptions& options) {
  const std::size_t n = boost::num_vertices(dag);
  constexpr std::size_t most = std::numeric_limits<std::uint32_t>::max();
  if (n >= most || boost::num_edges(dag) >= most)
    throw std::length_error("helix::cost::schedule_structure: a Dag of " + std::to_string(n) +
                            " vertices and " + std::to_string(boost::num_edges(dag)) +
                            " edges does not fit 32-bit indices");
  const auto index = [](auto i) { return static_cast<std::uint32_t>(i); };
  ScheduleStructure s;
  s.device_count =
      static_cast<std::size_t>(boost::get_property(dag, boost::graph_bundle).mesh.size());
  s.order.reserve(n);
  s.producer_begin.reserve(n + 1);
  s.device_begin.reserve(n + 1);
  s.producers.reserve(boost::num_edges(dag));
  s.devices.reserve(n);
  s.stream.reserve(n);
  for (Vertex v : schedule_order(dag)) {
    s.order.push_back(index(v));
    s.producer_begin.push_back(index(s.producers.size()));
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag)))
      s.producers.push_back(index(boost::source(e, dag)));
    s.device_begin.push_back(index(s.devices.size()));
    const Op& op = dag[v];
    const OpKind kind = op.kind();
    // devices_of, without its vector for the compute ops (most of them), which run on their device.
    if (is_communication(kind)) {
      for (std::int64_t d : devices_of(dag, v))
        s.devices.push_back(index(d));
    } else {
      s.devices.push_back(index(op.device));
    }
    s.stream.push_back(!options.overlap_communication || !is_communication(kind) ? 0
                       : kind == OpKind::transfer                                ? 2
                                                                                 : 1);
  }
  s.producer_begin.push_back(index(s.producers.size()));
  s.device_begin.push_back(index(s.devices.size()));
  return s;
}

/// For each device, the vertices it takes part in, in schedule order: `device_sequences` of the
/// structure's DAG and order, read from the structure.
inline std::vector<std::vector<Vertex>> device_sequences(const ScheduleStructure& s) {
  std::vector<std::vector<Vertex>> sequences(s.device_count);
  for (std::size_t i = 0; i < s.order.size(); ++i)
    for (std::size_t d = s.device_begin[i]; d < s.device_begin[i + 1]; ++d)
      sequences[s.devices[d]].push_back(Vertex{s.order[i]});
  return sequences;
}

/// Runs the list schedule: each vertex starts when its producers have ended (`end_of(u)`, which
/// `on_vertex` keeps) and each of its devices' stream is free, and holds those streams for
/// `seconds(v)`. Calls `on_vertex(position, v, start, end)` for each vertex in order. Returns the
/// span of the schedule.
template <class Seconds, class EndOf, class OnVertex>
double run_schedule(const ScheduleStructure& s, Seconds&& seconds, EndOf&& end_of,
                    OnVertex&& on_vertex) {
  std::vector<std::array<double, 3>> free(s.device_count, std::array<double, 3>{});
  double span = 0;
  for (std::size_t i = 0; i < s.order.size(); ++i) {
    const Vertex v{s.order[i]};
    double start = 0;
    for (std::size_t p = s.producer_begin[i]; p < s.producer_begin[i + 1]; ++p)
      start = std::max(start, end_of(Vertex{s.producers[p]}));
    const std::size_t stream = s.stream[i];
    for (std::size_t d = s.device_begin[i]; d < s.device_begin[i + 1]; ++d)
      start = std::max(start, free[s.devices[d]][stream]);
    const double finish = start + seconds(v);
    for (std::size_t d = s.device_begin[i]; d < s.device_begin[i + 1]; ++d)
      free[s.devices[d]][stream] = finish;
    span = std::max(span, finish);
    on_vertex(i, v, start, finish);
  }
  return span;
}

} // namespace detail

/// Simulates `dag` on `hw`.
///
/// Example: `simulate(build_dag(models::helix_seed, parse_plan("hp=4x4")),
///                    hardware::h100_sxm_nvl8).tokens_per_second`.
template <class Graph = Dag>
[[nodiscard]] inline Timeline simulate(const Graph& dag, const Hardware& hw,
                                       const SimulationOptions& options = {}) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const std::size_t device_count = static_cast<std::size_t>(info.mesh.size());
  const std::size_t n = boost::num_vertices(dag);
  Timeline timeline;
  timeline.options = options;
  timeline.vertices.resize(n);
  timeline.costs.resize(n);
  timeline.devices.resize(device_count);
  std::vector<std::vector<std::pair<double, double>>> intervals(device_count);
  std::vector<bool> seen(device_count, false);

  // One op_cost and one work per class of ops that cost the same (detail/cost_classes.hpp).
  const detail::CostClasses classes = detail::cost_classes(dag);
  std::vector<OpCost> class_costs;
  std::vector<std::int64_t> class_flops;
  class_costs.reserve(classes.representative.size());
  class_flops.reserve(classes.representative.size());
  for (Vertex v : classes.representative) {
    class_costs.push_back(op_cost(dag[v], info, hw, options.collectives));
    class_flops.push_back(work(dag[v], info).flops);
  }
  for (Vertex v = 0; v < n; ++v)
    timeline.costs[v] = class_costs[classes.of_vertex[v]];

  const detail::ScheduleStructure structure = detail::schedule_structure(dag, options);
  timeline.makespan_seconds = detail::run_schedule(
      structure, [&](Vertex v) { return timeline.costs[v].seconds; },
      [&](Vertex u) { return timeline.vertices[u].end_seconds; },
      [&](std::size_t position, Vertex v, double start, double finish) {
        const OpCost& cost = timeline.costs[v];
        timeline.vertices[v] = {start, finish};
        const bool transfer = transfer_of(dag[v]) != nullptr;
        for (std::size_t d = structure.device_begin[position];
             d < structure.device_begin[position + 1]; ++d) {
          const std::size_t dd = structure.devices[d];
          DeviceUsage& usage = timeline.devices[dd];
          if (cost.communication) {
            usage.communication_seconds += cost.seconds;
            const bool sends = !transfer || d == structure.device_begin[position];
            if (sends)
              for (std::size_t l = 0; l < link_class_count; ++l)
                usage.bytes_sent[l] += cost.bytes_by_link[l];
          } else {
            usage.compute_seconds += cost.seconds;
            usage.flops += class_flops[classes.of_vertex[v]];
          }
          if (!seen[dd] || start < usage.first_start_seconds)
            usage.first_start_seconds = start;
          usage.last_end_seconds = std::max(usage.last_end_seconds, finish);
          seen[dd] = true;
          if (cost.seconds > 0)
            intervals[dd].emplace_back(start, finish);
        }
      });

  const double makespan = timeline.makespan_seconds;
  double bubble = 0, busy = 0;
  for (std::size_t d = 0; d < device_count; ++d) {
    DeviceUsage& usage = timeline.devices[d];
    std::vector<std::pair<double, double>>& spans = intervals[d];
    std::sort(spans.begin(), spans.end());
    double covered = 0, reach = 0;
    for (const auto& [begin, end] : spans) {
      covered += std::max(0.0, end - std::max(begin, reach));
      reach = std::max(reach, end);
    }
    usage.busy_seconds = covered;
    if (makespan > 0) {
      usage.busy_fraction = covered / makespan;
      bubble += (usage.first_start_seconds + (makespan - usage.last_end_seconds)) / makespan;
      busy += usage.busy_fraction;
    }
  }
  if (device_count > 0 && makespan > 0) {
    timeline.bubble_fraction = bubble / static_cast<double>(device_count);
    timeline.idle_fraction = 1.0 - busy / static_cast<double>(device_count);
  }
  timeline.step_overhead_seconds = hw.step_overhead_seconds;
  timeline.makespan_seconds += hw.step_overhead_seconds;
  if (timeline.makespan_seconds > 0) {
    const double tokens =
        static_cast<double>(info.model.batch * new_tokens(info.model, info.workload));
    timeline.tokens_per_second = tokens / timeline.makespan_seconds;
  }
  return timeline;
}

} // namespace helix::cost
