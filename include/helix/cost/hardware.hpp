// What a device and its links can do: hardware presets as constexpr aggregates with every number a
// named field, and the mapping of mesh ranks to nodes that decides which link class (NVLink inside
// a node, InfiniBand across nodes) every collective phase and transfer of a Dag uses.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace helix::cost {

/// The two kinds of link a message can take, closest first.
enum class LinkClass : std::uint8_t { nvlink, infiniband };
inline constexpr std::size_t link_class_count = 2;

constexpr std::string_view link_class_name(LinkClass link) {
  constexpr std::array<std::string_view, link_class_count> names{"NVLink", "InfiniBand"};
  return names[static_cast<std::size_t>(link)];
}

/// One link class in the α-β model: a message of n bytes takes latency + n / (bandwidth ·
/// efficiency). Bandwidth is per GPU and per direction, because a ring step sends to one neighbour
/// while it receives from the other.
struct Link {
  double bandwidth_bytes_per_second = 0;
  /// Fraction of the nominal bandwidth a collective library reaches on large messages.
  double efficiency = 1;
  /// α: paid once per step of a ring algorithm (per message of a send/recv).
  double latency_seconds = 0;

  constexpr double effective_bandwidth() const { return bandwidth_bytes_per_second * efficiency; }
};

/// A GPU and the links between GPUs. Ranks map to nodes in blocks of `gpus_per_node`, so the
/// innermost mesh axes (the tensor axes) land on NVLink first.
struct Hardware {
  std::string_view name;
  std::int64_t gpus_per_node = 8;
  /// Dense FP16/BF16 tensor-core peak per GPU.
  double peak_flops_per_second = 0;
  /// Fraction of the peak a large matmul sustains.
  double compute_efficiency = 1;
  double memory_bandwidth_bytes_per_second = 0;
  /// Fraction of the HBM bandwidth a streaming kernel sustains.
  double memory_efficiency = 1;
  double memory_capacity_bytes = 0;
  Link nvlink{};
  Link infiniband{};

  constexpr double effective_flops() const { return peak_flops_per_second * compute_efficiency; }
  constexpr double effective_memory_bandwidth() const {
    return memory_bandwidth_bytes_per_second * memory_efficiency;
  }
  constexpr const Link& link(LinkClass c) const {
    return c == LinkClass::nvlink ? nvlink : infiniband;
  }
};

namespace hardware {

/// DGX/HGX H100 SXM5: 8 GPUs per node on NVLink 4 (900 GB/s bidirectional = 450 GB/s per
/// direction), one 400 Gb/s ConnectX-7 NIC per GPU (50 GB/s).
/// Efficiencies: compute 0.7 (large BF16 GEMMs reach 650–750 TFLOP/s, Megatron-LM reports
/// 0.5–0.6 of peak end to end), HBM 0.8 (STREAM-like kernels), NVLink 0.75 (NCCL all-reduce bus
/// bandwidth ≈ 340 of 450 GB/s), InfiniBand 0.9 (NCCL reaches ≈ 45 of 50 GB/s per NIC).
/// Latencies per ring step: NVLink 3 µs, InfiniBand 6 µs (NCCL small-message latencies).
inline constexpr Hardware h100_sxm_nvl8{
    .name = "h100_sxm_nvl8",
    .gpus_per_node = 8,
    .peak_flops_per_second = 989e12,
    .compute_efficiency = 0.7,
    .memory_bandwidth_bytes_per_second = 3.35e12,
    .memory_efficiency = 0.8,
    .memory_capacity_bytes = 80e9,
    .nvlink = {.bandwidth_bytes_per_second = 450e9, .efficiency = 0.75, .latency_seconds = 3e-6},
    .infiniband = {.bandwidth_bytes_per_second = 50e9, .efficiency = 0.9, .latency_seconds = 6e-6},
};

/// GB200 NVL72: 72 Blackwell GPUs in one NVLink 5 domain (1.8 TB/s bidirectional = 900 GB/s per
/// direction per GPU), 2.5 PFLOP/s dense BF16 per GPU (NVIDIA lists 5 PFLOP/s with sparsity),
/// HBM3e 8 TB/s and 186 GB per GPU (13.4 TB per rack). Racks join over 400 Gb/s InfiniBand per GPU.
/// Efficiencies as for the H100 preset: compute 0.7, HBM 0.8, NVLink 0.75, InfiniBand 0.9.
inline constexpr Hardware gb200_nvl72{
    .name = "gb200_nvl72",
    .gpus_per_node = 72,
    .peak_flops_per_second = 2.5e15,
    .compute_efficiency = 0.7,
    .memory_bandwidth_bytes_per_second = 8e12,
    .memory_efficiency = 0.8,
    .memory_capacity_bytes = 186e9,
    .nvlink = {.bandwidth_bytes_per_second = 900e9, .efficiency = 0.75, .latency_seconds = 3e-6},
    .infiniband = {.bandwidth_bytes_per_second = 50e9, .efficiency = 0.9, .latency_seconds = 6e-6},
};

inline constexpr std::array<Hardware, 2> all{h100_sxm_nvl8, gb200_nvl72};

/// The preset called `name`, or nullptr.
constexpr const Hardware* by_name(std::string_view name) {
  for (const Hardware& hw : all)
    if (hw.name == name)
      return &hw;
  return nullptr;
}

} // namespace hardware

/// The node (NVLink domain) that holds mesh rank `rank`.
constexpr std::int64_t node_of(const Hardware& hw, std::int64_t rank) {
  return rank / hw.gpus_per_node;
}

/// The link class between two ranks.
constexpr LinkClass link_between(const Hardware& hw, std::int64_t a, std::int64_t b) {
  return node_of(hw, a) == node_of(hw, b) ? LinkClass::nvlink : LinkClass::infiniband;
}

/// The slowest link a ring over `group` uses: a ring over members on several nodes has to cross
/// between nodes, and every step of the ring waits for its slowest hop.
constexpr LinkClass link_of(const Hardware& hw, const Mesh& mesh, const DeviceGroup& group) {
  const std::int64_t n = group_size(mesh, group);
  const std::int64_t first = group_member(mesh, group, 0);
  for (std::int64_t i = 1; i < n; ++i)
    if (link_between(hw, first, group_member(mesh, group, i)) == LinkClass::infiniband)
      return LinkClass::infiniband;
  return LinkClass::nvlink;
}

/// The link class a communication vertex uses (NVLink for compute vertices, which use none).
constexpr LinkClass link_of(const Hardware& hw, const Mesh& mesh, const Op& op) {
  if (const step::Collective* c = collective_of(op))
    return link_of(hw, mesh, c->group);
  if (const step::Transfer* t = transfer_of(op))
    return link_between(hw, t->source, t->destination);
  return LinkClass::nvlink;
}

} // namespace helix::cost
