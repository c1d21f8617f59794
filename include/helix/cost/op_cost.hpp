// What one vertex of a Dag costs on given hardware: compute ops by roofline at an efficiency that
// depends on the work (a matmul's tiles and waves, a fused attention kernel) plus a kernel launch;
// collectives as NCCL runs them (collectives.hpp) or, for comparison, as one flat ring; transfers
// as one message on the link between their two ranks.
#pragma once

#include "helix/cost/collective_library.hpp"
#include "helix/cost/collectives.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/work.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace helix::cost {

/// What a vertex costs. For communication, `bytes_sent` is per member (per sender for a transfer),
/// `bytes_by_link` splits it by the link class that carries it, and `link` is the slowest class
/// the vertex uses.
struct OpCost {
  double seconds = 0;
  /// Roofline parts of a compute op: FLOPs over the effective peak of the model's dtype (at the
  /// op's efficiency), bytes over effective HBM bandwidth; and the launch of its kernels.
  double compute_seconds = 0;
  double memory_seconds = 0;
  double launch_seconds = 0;
  bool communication = false;
  std::int64_t members = 1;
  /// Messages in sequence (ring steps), each paying the link latency once, under the ring model.
  std::int64_t steps = 0;
  double bytes_sent = 0;
  std::array<double, link_class_count> bytes_by_link{};
  LinkClass link = LinkClass::nvlink;
  /// How the collective library runs a collective (NCCL model), and the latency part of its time.
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::ring;
  Protocol protocol = Protocol::simple;
  double latency_seconds = 0;
  friend constexpr bool operator==(const OpCost&, const OpCost&) = default;
};

/// The fraction of `compute_efficiency` a `rows` × `cols` matmul keeps on `hw`: its output is cut
/// into `gemm_tile` tiles, a partial tile costs a whole one, and the tiles run in waves of one per
/// streaming multiprocessor, the last wave possibly partial. A matmul with fewer tiles than SMs
/// loses no wave: cuBLAS then splits the reduction dimension (split-K) to fill the GPU.
/// @pre rows, cols ≥ 0. Returns 1 when `hw.streaming_multiprocessors` is 0 or the op is no matmul.
///
/// Example: H100 (132 SMs, 128 × 128 tiles), 4096 × 5120 output: 32 · 40 = 1280 tiles, 10 waves
/// of 132 = 1320 slots, 1280 / 1320 = 0.970; 1 × 4096 (decode, batch 1): 1/128 of each tile used.
constexpr double gemm_shape_efficiency(const Hardware& hw, std::int64_t rows, std::int64_t cols) {
  if (hw.streaming_multiprocessors <= 0 || rows <= 0 || cols <= 0)
    return 1;
  const auto tiles_along = [](std::int64_t extent, std::int64_t tile) {
    return (extent + tile - 1) / tile;
  };
  const std::int64_t row_tiles = tiles_along(rows, hw.gemm_tile.rows);
  const std::int64_t col_tiles = tiles_along(cols, hw.gemm_tile.cols);
  const double filled =
      static_cast<double>(rows) / static_cast<double>(row_tiles * hw.gemm_tile.rows) *
      static_cast<double>(cols) / static_cast<double>(col_tiles * hw.gemm_tile.cols);
  const std::int64_t tiles = row_tiles * col_tiles;
  const std::int64_t sms = hw.streaming_multiprocessors;
  const std::int64_t waves = tiles_along(tiles, sms);
  const double wave_use =
      tiles < sms ? 1.0 : static_cast<double>(tiles) / static_cast<double>(waves * sms);
  return filled * wave_use;
}

/// Seconds one kernel launch adds on `hw`.
constexpr double kernel_launch_seconds(const Hardware& hw) {
  return hw.cuda_graphs ? hw.graph_kernel_launch_seconds : hw.kernel_launch_seconds;
}

/// The cost of `op` in the DAG described by `info` on `hw`, its collectives costed by `model`.
constexpr OpCost op_cost(const Op& op, const DagInfo& info, const Hardware& hw,
                         CollectiveModel model = CollectiveModel::nccl) {
  OpCost cost;
  const Work w = work(op, info);
  if (!is_communication(op.kind())) {
    // Every op of the model computes in its `dtype`, so it runs at that format's peak.
    const double efficiency =
        w.fused_attention
            ? hw.attention_efficiency
            : hw.compute_efficiency * gemm_shape_efficiency(hw, w.gemm_rows, w.gemm_cols);
    cost.compute_seconds =
        static_cast<double>(w.flops) / (hw.peak_flops(info.model.dtype) * efficiency);
    const double bandwidth =
        hw.memory_bandwidth_bytes_per_second *
        (w.fused_attention ? hw.attention_memory_efficiency : hw.memory_efficiency);
    cost.memory_seconds = static_cast<double>(w.memory_bytes) / bandwidth;
    cost.launch_seconds = static_cast<double>(w.kernels) * kernel_launch_seconds(hw);
    cost.seconds = std::max(cost.compute_seconds, cost.memory_seconds) + cost.launch_seconds;
    return cost;
  }
  cost.communication = true;
  cost.link = link_of(hw, info.mesh, op);
  cost.members = w.members;
  cost.bytes_sent = w.bytes_sent;
  cost.steps = w.messages;
  const step::Collective* collective = collective_of(op);
  if (model == CollectiveModel::nccl && collective != nullptr && w.collective) {
    const CollectiveSpan span = collective_span(hw, info.mesh, collective->group);
    const CollectiveEstimate chosen =
        fastest_collective(*w.collective, span, w.collective_bytes, hw);
    cost.seconds = chosen.seconds;
    cost.latency_seconds = chosen.latency_seconds;
    cost.algorithm = chosen.algorithm;
    cost.protocol = chosen.protocol;
    cost.bytes_by_link =
        collective_bytes_by_link(*w.collective, chosen.algorithm, span, w.collective_bytes);
    cost.bytes_sent = 0;
    for (double bytes : cost.bytes_by_link)
      cost.bytes_sent += bytes;
    return cost;
  }
  // A transfer (either model), or a collective under the ring model: messages in sequence on the
  // slowest link, each paying its latency.
  const Link& link = hw.link(cost.link);
  cost.bytes_by_link[static_cast<std::size_t>(cost.link)] = cost.bytes_sent;
  // A collective of one member moves nothing and waits for no one.
  if (cost.bytes_sent > 0 || cost.steps > 0) {
    cost.latency_seconds = static_cast<double>(cost.steps) * link.latency_seconds;
    cost.seconds = cost.latency_seconds +
                   (cost.bytes_sent > 0 ? cost.bytes_sent / link.effective_bandwidth() : 0.0);
  }
  return cost;
}

/// The cost of vertex `v` of `dag` on `hw`.
template <class Graph = Dag>
inline OpCost op_cost(const Graph& dag, Vertex v, const Hardware& hw,
                      CollectiveModel model = CollectiveModel::nccl) {
  return op_cost(dag[v], boost::get_property(dag, boost::graph_bundle), hw, model);
}

} // namespace helix::cost
