// The time of one collective as NCCL's tuner predicts it: every (algorithm, protocol) pair NCCL
// would consider for the call, each costed latency + bytes / algorithm bandwidth from the
// constants of `CollectiveLibrary` and the links of `Hardware`, and the cheapest one chosen, as
// NCCL chooses (src/graph/tuning.cc `ncclTopoTuneModel`, src/enqueue.cc `getAlgoInfo`).
#pragma once

#include "helix/cost/collective_library.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace helix::cost {

/// Which collective model costs communication: `nccl` (this header: NCCL's algorithms, protocols
/// and hierarchy across nodes) or `ring` (helix's model before it: every collective one flat ring
/// on its slowest link, `Link::latency_seconds` per step), kept for comparison.
enum class CollectiveModel : std::uint8_t { nccl, ring };

constexpr std::string_view collective_model_name(CollectiveModel model) {
  return model == CollectiveModel::nccl ? "nccl" : "ring";
}

/// The model called `name` ("nccl" or "ring"), or nothing.
constexpr std::optional<CollectiveModel> collective_model_named(std::string_view name) {
  for (const CollectiveModel model : {CollectiveModel::nccl, CollectiveModel::ring})
    if (collective_model_name(model) == name)
      return model;
  return std::nullopt;
}

/// Where a collective's members sit.
struct CollectiveSpan {
  std::int64_t ranks = 1;
  std::int64_t nodes = 1;
  /// The fewest members any of those nodes holds: the node whose NICs carry the most per GPU.
  std::int64_t fewest_ranks_per_node = 1;
  friend constexpr bool operator==(const CollectiveSpan&, const CollectiveSpan&) = default;
};

/// The span of `group` of `mesh` on `hw` (ranks map to nodes in blocks of `gpus_per_node`).
constexpr CollectiveSpan collective_span(const Hardware& hw, const Mesh& mesh,
                                         const DeviceGroup& group) {
  CollectiveSpan span;
  span.ranks = group_size(mesh, group);
  span.nodes = 0;
  span.fewest_ranks_per_node = span.ranks;
  for (std::int64_t i = 0; i < span.ranks; ++i) {
    const std::int64_t node = node_of(hw, group_member(mesh, group, i));
    bool first = true;
    std::int64_t on_node = 0;
    for (std::int64_t j = 0; j < span.ranks; ++j)
      if (node_of(hw, group_member(mesh, group, j)) == node) {
        first = first && j >= i;
        ++on_node;
      }
    if (first) {
      ++span.nodes;
      span.fewest_ranks_per_node = std::min(span.fewest_ranks_per_node, on_node);
    }
  }
  return span;
}

/// What one (algorithm, protocol) would cost for a call.
struct CollectiveEstimate {
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::ring;
  Protocol protocol = Protocol::simple;
  /// Whether NCCL would consider the pair for this call at all.
  bool available = false;
  double latency_seconds = 0;
  /// NCCL's bus bandwidth after the protocol's refinements, and the algorithm bandwidth the
  /// message size is divided by (bus bandwidth · ranks / steps for rings and NVLS, half of it for
  /// trees).
  double bus_bandwidth = 0;
  double algorithm_bandwidth = 0;
  double seconds = std::numeric_limits<double>::infinity();
};

/// Bus bandwidth of a collective's steps inside one node: NVLink per GPU per direction, at the
/// efficiency a collective library reaches.
constexpr double intra_node_bus_bandwidth(const Hardware& hw) {
  return hw.nvlink.effective_bandwidth();
}

/// Bus bandwidth of a collective's steps between nodes. NCCL runs one channel per NIC on
/// rail-optimized nodes and each channel crosses nodes through its own NIC, so a node's members
/// together use the NICs that serve them: `fewest_ranks_per_node · nics_per_node / gpus_per_node`
/// of them (all the node's NICs when it takes part whole), each at `nic_bandwidth · infiniband
/// efficiency`.
///
/// Example: DGX H100 (8 × 50 GB/s NICs, efficiency 0.9), a group of 8 per node: 8 · 45 = 360 GB/s;
/// a group with one GPU per node: 45 GB/s.
constexpr double inter_node_bus_bandwidth(const Hardware& hw, const CollectiveSpan& span) {
  const double nics =
      std::min(static_cast<double>(hw.nics_per_node),
               static_cast<double>(span.fewest_ranks_per_node) *
                   static_cast<double>(hw.nics_per_node) / static_cast<double>(hw.gpus_per_node));
  return nics * hw.nic_bandwidth_bytes_per_second * hw.infiniband.efficiency;
}

namespace detail {

/// ⌊log2 n⌋ for n ≥ 1 (NCCL's `log2i`).
constexpr std::int64_t floor_log2(std::int64_t n) {
  std::int64_t result = 0;
  while (n > 1) {
    n /= 2;
    ++result;
  }
  return result;
}

} // namespace detail

/// Steps of a ring: an all-reduce 2(n − 1), a reduce-scatter or all-gather n − 1 (NCCL `nsteps`).
constexpr std::int64_t ring_steps(CollectiveFunction function, std::int64_t ranks) {
  return function == CollectiveFunction::all_reduce ? 2 * (ranks - 1) : ranks - 1;
}

/// NCCL's predicted time of `function` over `span` for `bytes` with `algorithm` and `protocol`.
/// `bytes` is NCCL's message size: the buffer of an all-reduce, the whole (all ranks') buffer of a
/// reduce-scatter's input or an all-gather's output.
///
/// Bandwidth: the bus bandwidth B is NVLink's inside one node, min(NVLink, NICs) across nodes
/// (`inter_node_bus_bandwidth`). Ring: LL min(llMax, B/2), LL128 0.92·B, Simple B; algorithm
/// bandwidth B·n/steps. Tree (all-reduce): 0.92·B, then LL /3.8 (at most llMax), LL128 ·7/9 in a
/// node or ·120/128 across nodes; algorithm bandwidth half the bus bandwidth. NVLS (one node,
/// Simple): B·nvlsEfficiency, doubled for an all-reduce (reduction and multicast pipelined) and
/// ·(n − 1)/n otherwise; NVLS tree (all-reduce across nodes): min(2·B·nvlsEfficiency, the NICs'
/// bandwidth, doubled over two nodes); both B·n/steps.
///
/// Latency: base + per hop. Ring: (steps − inter-node steps) hops inside nodes (each at least the
/// network post overhead, tripled for Simple, when the ring spans nodes) plus 2(nodes − 1) (an
/// all-reduce) or nodes − 1 hops between nodes. Tree: 2·((n/nodes − 1) NVLink hops + ⌊log2
/// nodes⌋ network hops). NVLS: one NVLink latency. NVLS tree: one NVLink latency + 2⌊log2
/// nodes⌋ network hops. With one rank per node the network hop is the tree's.
///
/// All-to-all (NCCL's grouped send/recv, `p2p`, LL up to 16 KiB per peer, else Simple; `bytes`
/// is each member's whole buffer): every member sends (n − 1)/n of it, the peers in its node over
/// NVLink and the others through its share of the node's NICs, all at once; latency one ring base
/// and one hop (NCCL has no tuner constants for send/recv: this part is helix's model).
///
/// Example: an all-reduce of 1 MiB over 8 H100s of one node (B = 337.5 GB/s), ring Simple:
/// 8.4 + 14 · 3.4 = 56 µs + 2^20 / (337.5e9 · 8/14) = 5.4 µs.
constexpr CollectiveEstimate estimate_collective(CollectiveFunction function,
                                                 CollectiveAlgorithm algorithm, Protocol protocol,
                                                 const CollectiveSpan& span, double bytes,
                                                 const Hardware& hw) {
  CollectiveEstimate e{.algorithm = algorithm, .protocol = protocol};
  const std::int64_t n = span.ranks;
  if (n <= 1) {
    e.available = algorithm == CollectiveAlgorithm::ring && protocol == Protocol::simple;
    e.seconds = e.available ? 0 : e.seconds;
    return e;
  }
  const CollectiveLibrary& library = hw.collective_library;
  const bool all_reduce = function == CollectiveFunction::all_reduce;
  const bool one_node = span.nodes == 1;
  const bool nvls = hw.nvlink_sharp_efficiency > 0;
  const bool all_to_all = function == CollectiveFunction::all_to_all;
  switch (algorithm) {
  case CollectiveAlgorithm::ring:
    e.available = !all_to_all;
    break;
  case CollectiveAlgorithm::tree:
    e.available = all_reduce;
    break;
  case CollectiveAlgorithm::p2p:
    e.available = all_to_all && protocol != Protocol::ll128 &&
                  (protocol != Protocol::ll ||
                   bytes / static_cast<double>(n) <= library.p2p_ll_threshold_bytes);
    break;
  case CollectiveAlgorithm::nvls:
    // Across nodes NVLS needs CollNet (in-network reduction between nodes); without it NCCL runs
    // NVLS tree there.
    e.available = nvls && one_node && protocol == Protocol::simple && !all_to_all;
    break;
  case CollectiveAlgorithm::nvls_tree:
    e.available = nvls && !one_node && all_reduce && protocol == Protocol::simple;
    break;
  }
  if (!e.available)
    return e;

  const double nvlink = intra_node_bus_bandwidth(hw);
  const double network = inter_node_bus_bandwidth(hw, span);
  const double links = one_node                          ? nvlink
                       : span.fewest_ranks_per_node == 1 ? network
                                                         : std::min(nvlink, network);
  const double ll_max = one_node          ? (hw.ll_max_bus_bandwidth_bytes_per_second > 0
                                                 ? hw.ll_max_bus_bandwidth_bytes_per_second
                                                 : std::numeric_limits<double>::infinity())
                        : span.nodes == 2 ? library.ll_max_bus_bandwidth_two_nodes
                                          : library.ll_max_bus_bandwidth_more_nodes;
  const std::int64_t steps = ring_steps(function, n);
  const double per_step_ratio = static_cast<double>(n) / static_cast<double>(steps);
  double bus = links;
  switch (algorithm) {
  case CollectiveAlgorithm::ring:
    if (protocol == Protocol::ll)
      bus = std::min(ll_max, bus * library.ll_bandwidth_fraction);
    else if (protocol == Protocol::ll128)
      bus *= library.ll128_bandwidth_fraction;
    e.algorithm_bandwidth = bus * per_step_ratio;
    break;
  case CollectiveAlgorithm::tree:
    bus *= library.tree_bandwidth_fraction;
    if (protocol == Protocol::ll)
      bus = std::min(bus * library.tree_ll_bandwidth_fraction, ll_max);
    else if (protocol == Protocol::ll128)
      bus *= one_node ? library.tree_ll128_single_node_bandwidth_fraction
                      : library.tree_ll128_multi_node_bandwidth_fraction;
    e.algorithm_bandwidth = bus * 0.5;
    break;
  case CollectiveAlgorithm::nvls:
    bus = nvlink * hw.nvlink_sharp_efficiency *
          (all_reduce ? 2.0 : static_cast<double>(n - 1) / static_cast<double>(n));
    e.algorithm_bandwidth = bus * per_step_ratio;
    break;
  case CollectiveAlgorithm::nvls_tree:
    bus = std::min(2.0 * nvlink * hw.nvlink_sharp_efficiency,
                   network * (span.nodes <= 2 ? 2.0 : 1.0));
    e.algorithm_bandwidth = bus * per_step_ratio;
    break;
  case CollectiveAlgorithm::p2p: {
    // Every member sends 1/n of its buffer to each of the n − 1 others at once: to the peers in
    // its node over NVLink, to the rest through its share of its node's NICs; whichever takes
    // longer sets the time. LL halves both.
    const double share = protocol == Protocol::ll ? library.ll_bandwidth_fraction : 1.0;
    const double per_node = static_cast<double>(n) / static_cast<double>(span.nodes);
    const double inside = (per_node - 1) / static_cast<double>(n) * bytes;
    const double across = (static_cast<double>(n) - per_node) / static_cast<double>(n) * bytes;
    const double member_network = network / static_cast<double>(span.fewest_ranks_per_node) * share;
    const double seconds =
        std::max(inside / (nvlink * share), across > 0 ? across / member_network : 0.0);
    bus = nvlink * share;
    e.algorithm_bandwidth = seconds > 0 ? bytes / seconds : bus;
    break;
  }
  }
  e.bus_bandwidth = bus;

  const AlgorithmLatencies& latencies = library.latencies(algorithm);
  double intra = latencies.nvlink_hop.of(protocol);
  const double inter = span.fewest_ranks_per_node == 1 && span.ranks == span.nodes
                           ? library.tree.network_hop.of(protocol)
                           : latencies.network_hop.of(protocol);
  const std::int64_t log_nodes = detail::floor_log2(span.nodes);
  switch (algorithm) {
  case CollectiveAlgorithm::ring: {
    if (!one_node)
      intra = std::max(intra, library.network_overhead_seconds *
                                  (protocol == Protocol::simple ? 3.0 : 1.0));
    const std::int64_t inter_steps =
        one_node ? 0 : (all_reduce ? 2 * (span.nodes - 1) : span.nodes - 1);
    e.latency_seconds = latencies.base.of(protocol) +
                        static_cast<double>(steps - inter_steps) * intra +
                        static_cast<double>(inter_steps) * inter;
    break;
  }
  case CollectiveAlgorithm::tree:
    e.latency_seconds =
        latencies.base.of(protocol) + 2.0 * (static_cast<double>(n / span.nodes - 1) * intra +
                                             static_cast<double>(log_nodes) * inter);
    break;
  case CollectiveAlgorithm::nvls:
    e.latency_seconds = intra;
    break;
  case CollectiveAlgorithm::nvls_tree:
    e.latency_seconds =
        latencies.base.of(protocol) + intra + 2.0 * static_cast<double>(log_nodes) * inter;
    break;
  case CollectiveAlgorithm::p2p:
    // The sends to all peers are in flight together: one launch and one hop, over the network
    // when a peer is on another node.
    e.latency_seconds = latencies.base.of(protocol) + (one_node ? intra : inter);
    break;
  }
  e.seconds = e.latency_seconds + (bytes > 0 ? bytes / e.algorithm_bandwidth : 0.0);
  return e;
}

/// The cheapest available (algorithm, protocol) for the call, as NCCL's tuner picks it.
///
/// Example: an 8-GPU H100 all-reduce of 16 KiB picks ring LL (latency-bound), of 1 GiB NVLS.
constexpr CollectiveEstimate fastest_collective(CollectiveFunction function,
                                                const CollectiveSpan& span, double bytes,
                                                const Hardware& hw) {
  CollectiveEstimate best;
  for (std::size_t a = 0; a < collective_algorithm_count; ++a)
    for (std::size_t p = 0; p < protocol_count; ++p) {
      const CollectiveEstimate e = estimate_collective(
          function, static_cast<CollectiveAlgorithm>(a), static_cast<Protocol>(p), span, bytes, hw);
      if (e.available && e.seconds < best.seconds)
        best = e;
    }
  return best;
}

/// Bytes each member sends over NVLink and over the network, on average, for `function` of
/// `bytes` (NCCL's message size) run with `algorithm`. Rings and trees send 2(n − 1)/n of the
/// buffer (all-reduce) or (n − 1)/n of the whole (reduce-scatter, all-gather) per member, of which
/// the share `nodes / n` (the hops that cross nodes) goes over the network. NVLS sends each
/// member's buffer to the switch once and its reduced share back out once: (n + 1)/n of the
/// buffer for an all-reduce, the whole input for a reduce-scatter, its own shard for an
/// all-gather. NVLS tree: NVLS inside the node, and the node's tree traffic 2(nodes − 1)/nodes of
/// the buffer spread over its members' NICs.
constexpr std::array<double, link_class_count>
collective_bytes_by_link(CollectiveFunction function, CollectiveAlgorithm algorithm,
                         const CollectiveSpan& span, double bytes) {
  std::array<double, link_class_count> sent{};
  const double n = static_cast<double>(span.ranks);
  if (span.ranks <= 1)
    return sent;
  const double nodes = static_cast<double>(span.nodes);
  const auto nvlink = static_cast<std::size_t>(LinkClass::nvlink);
  const auto network = static_cast<std::size_t>(LinkClass::infiniband);
  const bool all_reduce = function == CollectiveFunction::all_reduce;
  switch (algorithm) {
  case CollectiveAlgorithm::ring:
  case CollectiveAlgorithm::tree: {
    const double total = (all_reduce ? 2.0 : 1.0) * (n - 1) / n * bytes;
    const double crossing = span.nodes == 1 ? 0.0 : nodes / n;
    sent[network] = total * crossing;
    sent[nvlink] = total - sent[network];
    break;
  }
  case CollectiveAlgorithm::nvls:
    sent[nvlink] = function == CollectiveFunction::all_reduce       ? (n + 1) / n * bytes
                   : function == CollectiveFunction::reduce_scatter ? bytes
                                                                    : bytes / n;
    break;
  case CollectiveAlgorithm::nvls_tree: {
    const double per_node = n / nodes;
    sent[nvlink] = (per_node + 1) / per_node * bytes;
    sent[network] = 2.0 * (nodes - 1) / nodes * bytes / per_node;
    break;
  }
  case CollectiveAlgorithm::p2p: {
    // 1/n of the buffer to each of the n − 1 peers: n/nodes − 1 of them share the node (members
    // spread evenly over the nodes), the rest are across the network.
    const double per_node = n / nodes;
    sent[nvlink] = (per_node - 1) / n * bytes;
    sent[network] = (n - per_node) / n * bytes;
    break;
  }
  }
  return sent;
}

} // namespace helix::cost
