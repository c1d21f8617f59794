// What one vertex of a Dag costs on given hardware: compute ops by roofline, collectives and
// transfers by the α-β model of the algorithm that runs them (ring all-reduce, reduce-scatter,
// all-gather, send/recv), each on the link class its members use.
#pragma once

#include "helix/cost/hardware.hpp"
#include "helix/cost/work.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"

#include <algorithm>
#include <cstdint>

namespace helix::cost {

/// What a vertex costs. For communication, `bytes_sent` is per member (per sender for a transfer)
/// and `link` the class it travels on.
struct OpCost {
  double seconds = 0;
  /// Roofline parts of a compute op: FLOPs over the effective peak of the model's dtype, bytes over
  /// effective HBM bandwidth.
  double compute_seconds = 0;
  double memory_seconds = 0;
  bool communication = false;
  std::int64_t members = 1;
  /// Messages in sequence (ring steps), each paying the link latency once.
  std::int64_t steps = 0;
  double bytes_sent = 0;
  LinkClass link = LinkClass::nvlink;
};

/// The cost of `op` in the DAG described by `info` on `hw`.
constexpr OpCost op_cost(const Op& op, const DagInfo& info, const Hardware& hw) {
  OpCost cost;
  const Work w = work(op, info);
  if (!is_communication(op.kind())) {
    // Every op of the model computes in its `dtype`, so it runs at that format's peak.
    cost.compute_seconds = static_cast<double>(w.flops) / hw.effective_flops(info.model.dtype);
    cost.memory_seconds = static_cast<double>(w.memory_bytes) / hw.effective_memory_bandwidth();
    cost.seconds = std::max(cost.compute_seconds, cost.memory_seconds);
    return cost;
  }
  cost.communication = true;
  cost.link = link_of(hw, info.mesh, op);
  cost.members = w.members;
  cost.bytes_sent = w.bytes_sent;
  cost.steps = w.messages;
  const Link& link = hw.link(cost.link);
  // A collective of one member moves nothing and waits for no one.
  if (cost.bytes_sent > 0 || cost.steps > 0)
    cost.seconds = static_cast<double>(cost.steps) * link.latency_seconds +
                   (cost.bytes_sent > 0 ? cost.bytes_sent / link.effective_bandwidth() : 0.0);
  return cost;
}

/// The cost of vertex `v` of `dag` on `hw`.
template <class Graph = Dag>
inline OpCost op_cost(const Graph& dag, Vertex v, const Hardware& hw) {
  return op_cost(dag[v], dag[boost::graph_bundle], hw);
}

} // namespace helix::cost
