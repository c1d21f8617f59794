// What a collective library (NCCL) adds to the links it runs on: its algorithms, its protocols,
// and the latency and bandwidth constants its tuner predicts each (algorithm, protocol) pair with.
// Values are NCCL's own defaults (src/graph/tuning.cc, NCCL 2.2x, `ncclTunerConstantsDefaults`).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace helix::cost {

/// The collectives a Dag runs, as the library names them.
enum class CollectiveFunction : std::uint8_t { all_reduce, reduce_scatter, all_gather, all_to_all };

constexpr std::string_view collective_function_name(CollectiveFunction function) {
  constexpr std::array<std::string_view, 4> names{"all-reduce", "reduce-scatter", "all-gather",
                                                  "all-to-all"};
  return names[static_cast<std::size_t>(function)];
}

/// How a collective moves its data. `ring`: every rank sends to the next, n − 1 steps per phase.
/// `tree`: NCCL's double binary tree between nodes, a chain inside each (all-reduce only).
/// `nvls`: NVLink SHARP, the NVSwitch reduces and multicasts (one node; H100 and later).
/// `nvls_tree`: NVLS inside each node and a tree between nodes (all-reduce across nodes).
/// `p2p`: grouped point-to-point send/recv, every member to every other at once: how NCCL (which
/// has no all-to-all primitive) runs an all-to-all (`ncclGroupStart`, a send and a receive per
/// peer, `ncclGroupEnd`).
enum class CollectiveAlgorithm : std::uint8_t { ring, tree, nvls, nvls_tree, p2p };
inline constexpr std::size_t collective_algorithm_count = 5;

constexpr std::string_view collective_algorithm_name(CollectiveAlgorithm algorithm) {
  constexpr std::array<std::string_view, collective_algorithm_count> names{"ring", "tree", "nvls",
                                                                           "nvls_tree", "p2p"};
  return names[static_cast<std::size_t>(algorithm)];
}

/// How each message is framed. `ll` (low latency): 8-byte stores carrying 4 bytes of data and a
/// 4-byte flag, so the receiver polls without a fence: least latency, half the bandwidth.
/// `ll128`: 128-byte lines with 8 bytes of flags (120/128 of the bandwidth). `simple`: bulk copies
/// with a fence per chunk: full bandwidth, most latency.
enum class Protocol : std::uint8_t { ll, ll128, simple };
inline constexpr std::size_t protocol_count = 3;

constexpr std::string_view protocol_name(Protocol protocol) {
  constexpr std::array<std::string_view, protocol_count> names{"LL", "LL128", "Simple"};
  return names[static_cast<std::size_t>(protocol)];
}

/// One latency per protocol, in seconds.
struct ProtocolLatencies {
  double ll = 0;
  double ll128 = 0;
  double simple = 0;

  constexpr double of(Protocol protocol) const {
    switch (protocol) {
    case Protocol::ll:
      return ll;
    case Protocol::ll128:
      return ll128;
    case Protocol::simple:
      return simple;
    }
    return simple;
  }

  friend constexpr bool operator==(const ProtocolLatencies&, const ProtocolLatencies&) = default;
};

/// NCCL's latency of one (algorithm, protocol): a base paid once per call plus a latency per hop,
/// which depends on the link the hop takes.
struct AlgorithmLatencies {
  /// `baseLatencies[algorithm][protocol]`: kernel launch and setup, once per call.
  ProtocolLatencies base{};
  /// `hwLatencies[NVLINK][algorithm][protocol]`: one step between GPUs of a node.
  ProtocolLatencies nvlink_hop{};
  /// `hwLatencies[NET][algorithm][protocol]`: one step between nodes.
  ProtocolLatencies network_hop{};

  friend constexpr bool operator==(const AlgorithmLatencies&, const AlgorithmLatencies&) = default;
};

inline constexpr double microseconds = 1e-6;

/// The constants NCCL's tuner predicts a collective's time with: time = latency + bytes /
/// algorithm bandwidth, the pair (algorithm, protocol) with the least time wins (`getAlgoInfo`
/// → `ncclTopoGetAlgoTime`). Every default is NCCL's (src/graph/tuning.cc); the bandwidth
/// fractions are its "model refinements" in `ncclTopoTuneModel`.
struct CollectiveLibrary {
  /// Tree {LL, LL128, Simple}: base {6.8, 14.0, 8.4} µs, NVLink hop {0.6, 1.25, 4.0}, network hop
  /// {5.0, 8.5, 14}.
  AlgorithmLatencies tree{{6.8 * microseconds, 14.0 * microseconds, 8.4 * microseconds},
                          {0.6 * microseconds, 1.25 * microseconds, 4.0 * microseconds},
                          {5.0 * microseconds, 8.5 * microseconds, 14 * microseconds}};
  /// Ring: base {6.6, 14.0, 8.4} µs, NVLink hop {0.6, 1.9, 3.4}, network hop {2.7, 4.0, 14.0}.
  AlgorithmLatencies ring{{6.6 * microseconds, 14.0 * microseconds, 8.4 * microseconds},
                          {0.6 * microseconds, 1.9 * microseconds, 3.4 * microseconds},
                          {2.7 * microseconds, 4.0 * microseconds, 14.0 * microseconds}};
  /// NVLS (Simple only): base 0, NVLink 25 µs, network 18 µs.
  AlgorithmLatencies nvls{{}, {0, 0, 25 * microseconds}, {0, 0, 18 * microseconds}};
  /// NVLS tree (Simple only): base 0, NVLink 25 µs, network 20.9 µs.
  AlgorithmLatencies nvls_tree{{}, {0, 0, 25 * microseconds}, {0, 0, 20.9 * microseconds}};
  /// A ring step that crosses nodes costs at least the network post overhead (`getNetOverhead`:
  /// 1 µs on Intel x86 hosts, 2 µs on AMD), tripled for Simple.
  double network_overhead_seconds = 1 * microseconds;

  /// LL sends 4 data bytes per 8-byte store: `busBw * .5` for rings.
  double ll_bandwidth_fraction = 0.5;
  /// LL128 carries 120 of every 128 bytes; NCCL uses 0.92 for rings.
  double ll128_bandwidth_fraction = 0.92;
  /// A tree all-reduce reaches 0.92 of the bus bandwidth (`busBw * .92`) ...
  double tree_bandwidth_fraction = 0.92;
  /// ... with LL 1/3.8 of that ...
  double tree_ll_bandwidth_fraction = 1.0 / 3.8;
  /// ... and with LL128 7/9 inside one node, 120/128 across nodes.
  double tree_ll128_single_node_bandwidth_fraction = 7.0 / 9.0;
  double tree_ll128_multi_node_bandwidth_fraction = 120.0 / 128.0;
  /// `llMaxBws` between nodes (Intel hosts): LL never beats 39 GB/s over two nodes, 20.4 over more.
  double ll_max_bus_bandwidth_two_nodes = 39.0e9;
  double ll_max_bus_bandwidth_more_nodes = 20.4e9;
  /// Send/recv use LL up to this many bytes per peer and Simple above (`NCCL_P2P_LL_THRESHOLD`,
  /// default 16384, src/enqueue.cc); never LL128.
  double p2p_ll_threshold_bytes = 16384;

  constexpr const AlgorithmLatencies& latencies(CollectiveAlgorithm algorithm) const {
    switch (algorithm) {
    case CollectiveAlgorithm::ring:
      return ring;
    case CollectiveAlgorithm::tree:
      return tree;
    case CollectiveAlgorithm::nvls:
      return nvls;
    case CollectiveAlgorithm::nvls_tree:
      return nvls_tree;
    case CollectiveAlgorithm::p2p:
      // NCCL's tuner has no constants for send/recv (it does not tune them): helix charges a
      // ring step's, the same proxy and kernel path (an assumption, not NCCL's figure).
      return ring;
    }
    return ring;
  }

  friend constexpr bool operator==(const CollectiveLibrary&, const CollectiveLibrary&) = default;
};

/// NCCL 2.2x's defaults.
inline constexpr CollectiveLibrary nccl{};

} // namespace helix::cost
