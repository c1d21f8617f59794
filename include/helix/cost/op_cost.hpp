// What one vertex of a Dag costs on given hardware: compute ops by roofline, collectives and
// transfers by the α-β model of the algorithm that runs them (ring all-reduce, reduce-scatter,
// all-gather, send/recv), each on the link class its members use.
#pragma once

#include "helix/cost/hardware.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/plan/mesh.hpp"

#include <algorithm>
#include <cstdint>
#include <variant>

namespace helix::cost {

/// Bytes each member of a ring all-reduce of `size` bytes over `n` members sends: n − 1 steps of
/// reduce-scatter and n − 1 of all-gather, each moving size / n.
constexpr double ring_all_reduce_bytes(std::int64_t n, double size) {
  return 2.0 * static_cast<double>(n - 1) / static_cast<double>(n) * size;
}
/// Bytes each member of a ring reduce-scatter sends; `full_size` is the whole (input) buffer.
constexpr double reduce_scatter_bytes(std::int64_t n, double full_size) {
  return static_cast<double>(n - 1) / static_cast<double>(n) * full_size;
}
/// Bytes each member of a ring all-gather sends; `shard_size` is one member's input, so the full
/// output is n · shard_size and each member forwards the n − 1 shards it does not own.
constexpr double all_gather_bytes(std::int64_t n, double shard_size) {
  return static_cast<double>(n - 1) * shard_size;
}
/// Bytes each member of an all-to-all of a `size`-byte buffer sends: all but its own 1/n.
constexpr double all_to_all_bytes(std::int64_t n, double size) {
  return static_cast<double>(n - 1) / static_cast<double>(n) * size;
}

/// What a vertex costs. For communication, `bytes_sent` is per member (per sender for a transfer)
/// and `link` the class it travels on.
struct OpCost {
  double seconds = 0;
  /// Roofline parts of a compute op: FLOPs over effective peak, bytes over effective HBM bandwidth.
  double compute_seconds = 0;
  double memory_seconds = 0;
  bool communication = false;
  std::int64_t members = 1;
  /// Messages in sequence (ring steps), each paying the link latency once.
  std::int64_t steps = 0;
  double bytes_sent = 0;
  LinkClass link = LinkClass::nvlink;
};

/// Bytes a compute op moves to and from HBM. Sources and sinks cost nothing: the inputs are already
/// resident and the output stays where it is. A KV append writes the new token into a
/// preallocated cache (as paged-attention servers do), so it moves the fresh keys twice, not the
/// whole cache.
constexpr double memory_bytes(const Op& op, std::int64_t dtype_bytes) {
  switch (op.kind) {
  case OpKind::input:
  case OpKind::output:
  case OpKind::kv_cache:
    return 0;
  case OpKind::kv_append:
    return 2.0 * static_cast<double>(op.inputs[1].elements() * dtype_bytes);
  default:
    return static_cast<double>(op.bytes);
  }
}

/// The cost of `op` in `mesh` on `hw`; `dtype_bytes` is the model's element size.
constexpr OpCost op_cost(const Op& op, const Mesh& mesh, std::int64_t dtype_bytes,
                         const Hardware& hw) {
  OpCost cost;
  if (!is_communication(op.kind)) {
    cost.compute_seconds = static_cast<double>(op.flops) / hw.effective_flops();
    cost.memory_seconds = memory_bytes(op, dtype_bytes) / hw.effective_memory_bandwidth();
    cost.seconds = std::max(cost.compute_seconds, cost.memory_seconds);
    return cost;
  }
  cost.communication = true;
  cost.link = link_of(hw, mesh, op);
  // One member's input, from its shape: the lowering's `bytes` of a transfer also counts the
  // output (read + written, as for compute ops), which would double the message.
  const double input = static_cast<double>(op.inputs[0].elements() * dtype_bytes);
  if (const auto* c = std::get_if<CollectiveOp>(&op.payload)) {
    const std::int64_t n = group_size(mesh, c->group);
    cost.members = n;
    switch (op.kind) {
    case OpKind::all_reduce:
      cost.bytes_sent = ring_all_reduce_bytes(n, input);
      cost.steps = 2 * (n - 1);
      break;
    case OpKind::reduce_scatter:
      cost.bytes_sent = reduce_scatter_bytes(n, input);
      cost.steps = n - 1;
      break;
    default: // all_gather
      cost.bytes_sent = all_gather_bytes(n, input);
      cost.steps = n - 1;
      break;
    }
  } else { // transfer: one message from sender to receiver
    cost.members = 2;
    cost.bytes_sent = input;
    cost.steps = 1;
  }
  const Link& link = hw.link(cost.link);
  // A collective of one member moves nothing and waits for no one.
  if (cost.bytes_sent > 0 || cost.steps > 0)
    cost.seconds = static_cast<double>(cost.steps) * link.latency_seconds +
                   (cost.bytes_sent > 0 ? cost.bytes_sent / link.effective_bandwidth() : 0.0);
  return cost;
}

/// The cost of vertex `v` of `dag` on `hw`.
inline OpCost op_cost(const Dag& dag, Vertex v, const Hardware& hw) {
  const DagInfo& info = dag[boost::graph_bundle];
  return op_cost(dag[v], info.mesh, info.model.dtype_bytes, hw);
}

} // namespace helix::cost
