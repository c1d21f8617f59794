// A timeline of a Dag on given hardware: each device runs its vertices one at a time in the list
// schedule of schedule.hpp; a collective starts when every member is free and its inputs are done,
// and ends on all members together; a transfer occupies its sender and its receiver. Reports the
// start and end of every vertex, the makespan, how busy each device is, and tokens per second.
#pragma once

#include "helix/cost/collectives.hpp"
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
  // When each device's streams are next free: compute, collectives, transfers. Without overlap
  // everything runs on the first.
  std::vector<std::array<double, 3>> free(device_count, std::array<double, 3>{});
  std::vector<std::vector<std::pair<double, double>>> intervals(device_count);
  std::vector<bool> seen(device_count, false);

  for (Vertex v : schedule_order(dag)) {
    const Op& op = dag[v];
    const OpCost cost = op_cost(op, info, hw, options.collectives);
    timeline.costs[v] = cost;
    double start = 0;
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag)))
      start = std::max(start, timeline.vertices[boost::source(e, dag)].end_seconds);
    const std::vector<std::int64_t> devices = devices_of(dag, v);
    const std::size_t stream = !options.overlap_communication || !cost.communication ? 0
                               : op.kind() == OpKind::transfer                       ? 2
                                                                                     : 1;
    for (std::int64_t d : devices)
      start = std::max(start, free[static_cast<std::size_t>(d)][stream]);
    const double end = start + cost.seconds;
    timeline.vertices[v] = {start, end};
    for (std::size_t i = 0; i < devices.size(); ++i) {
      const std::size_t dd = static_cast<std::size_t>(devices[i]);
      free[dd][stream] = end;
      DeviceUsage& usage = timeline.devices[dd];
      if (cost.communication) {
        usage.communication_seconds += cost.seconds;
        const bool sends = transfer_of(op) == nullptr || i == 0;
        if (sends)
          for (std::size_t l = 0; l < link_class_count; ++l)
            usage.bytes_sent[l] += cost.bytes_by_link[l];
      } else {
        usage.compute_seconds += cost.seconds;
        usage.flops += work(op, info).flops;
      }
      if (!seen[dd] || start < usage.first_start_seconds)
        usage.first_start_seconds = start;
      usage.last_end_seconds = std::max(usage.last_end_seconds, end);
      seen[dd] = true;
      if (cost.seconds > 0)
        intervals[dd].emplace_back(start, end);
    }
    timeline.makespan_seconds = std::max(timeline.makespan_seconds, end);
  }

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
