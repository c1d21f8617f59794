// Memory each device needs for a Dag: its weight slices, its KV cache and its peak of live
// activations under the list schedule, against the HBM of the hardware, so a plan that does not
// fit is reported as such, with the numbers.
#pragma once

#include "helix/cost/hardware.hpp"
#include "helix/cost/schedule.hpp"
#include "helix/cost/work.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

namespace helix::cost {

struct DeviceMemory {
  std::int64_t device = 0;
  /// The Linear weight slices and norm weights of the layers the device runs, each held once
  /// however many microbatches use it.
  double weight_bytes = 0;
  /// Decode: the cached keys and values (under KVParallel the device's KV shard) plus the new
  /// token's rows its KV appends add.
  /// Prefill: the keys and values the forward produces, which a server keeps for decoding.
  double kv_cache_bytes = 0;
  /// Peak of the activations alive at once (see `memory`).
  double activation_bytes = 0;
  double total_bytes = 0;
  bool fits = true;
};

struct MemoryReport {
  std::vector<DeviceMemory> devices;
  double capacity_bytes = 0;
  /// The device that needs most, and how much.
  std::int64_t max_device = 0;
  double max_total_bytes = 0;
  bool fits = true;
};

namespace detail {

/// Keys and values are counted as KV cache, not as activations.
constexpr bool is_kv_tensor(OpKind kind) {
  return kind == OpKind::k_projection || kind == OpKind::v_projection || kind == OpKind::kv_cache ||
         kind == OpKind::kv_append;
}

/// The scores and probabilities a fused attention kernel (`fused_attention`) keeps in on-chip
/// memory: they never occupy device memory. The context it writes does.
constexpr bool kept_on_chip(const Op& op, const DagInfo& info) {
  return op.kind() != OpKind::attention_context && fused_attention(op, info.model, info.workload);
}

/// Peak bytes of tensors living on `device` while it runs `sequence` in order. A tensor lives on
/// the device from its producer's slot to the slot of its last consumer there (one tensor per
/// producer, however many consumers read it); a collective's input and output are both alive at
/// the collective's slot, as they are without an in-place algorithm.
template <class Graph = Dag>
inline double peak_activation_bytes(const Graph& dag, std::int64_t device,
                                    const std::vector<Vertex>& sequence,
                                    std::vector<std::int64_t>& position) {
  const std::size_t slots = sequence.size();
  for (std::size_t i = 0; i < slots; ++i)
    position[sequence[i]] = static_cast<std::int64_t>(i);
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  std::vector<double> delta(slots + 1, 0.0);
  auto live = [&](std::int64_t from, std::int64_t to, double bytes) {
    delta[static_cast<std::size_t>(from)] += bytes;
    delta[static_cast<std::size_t>(to) + 1] -= bytes;
  };
  for (std::size_t i = 0; i < slots; ++i) {
    const Vertex v = sequence[i];
    if (is_kv_tensor(dag[v].kind()) || kept_on_chip(dag[v], info))
      continue;
    std::int64_t last = -1;
    double bytes = 0;
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag))) {
      const Tensor& t = dag[e];
      const std::int64_t at = position[boost::target(e, dag)];
      if (t.device != device || at < 0)
        continue;
      last = std::max(last, at);
      bytes = exact_bytes_of(static_cast<double>(t.shape.elements()), t.dtype);
    }
    if (last >= 0)
      live(static_cast<std::int64_t>(i), last, bytes);
    // Tensors whose producer runs elsewhere yet live here (none in the current lowering: a
    // transfer's output is produced by the transfer, which the receiver takes part in).
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag))) {
      const Vertex u = boost::source(e, dag);
      if (dag[e].device == device && position[u] < 0 && !is_kv_tensor(dag[u].kind()) &&
          !kept_on_chip(dag[u], info))
        live(0, static_cast<std::int64_t>(i),
             exact_bytes_of(static_cast<double>(dag[e].shape.elements()), dag[e].dtype));
    }
  }
  double current = 0, peak = 0;
  for (std::size_t i = 0; i < slots; ++i) {
    current += delta[i];
    peak = std::max(peak, current);
  }
  for (Vertex v : sequence)
    position[v] = -1;
  return peak;
}

} // namespace detail

/// Memory per device of `dag` against the HBM of `hw`, each device running `sequences[device]` in
/// order (device_sequences over the list schedule, which `memory(dag, hw)` derives).
template <class Graph = Dag>
inline MemoryReport memory(const Graph& dag, const Hardware& hw,
                           const std::vector<std::vector<Vertex>>& sequences) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const DataType dtype = info.model.dtype;
  MemoryReport report;
  report.capacity_bytes = hw.memory_capacity_bytes;
  report.devices.resize(static_cast<std::size_t>(info.mesh.size()));
  for (std::size_t d = 0; d < report.devices.size(); ++d)
    report.devices[d].device = static_cast<std::int64_t>(d);

  // Whether (device, layer, weight or norm slot) is counted: a weight used by several
  // microbatches is held once. Layers run from -1 (outside every block) to the highest an op has.
  std::int64_t highest_layer = -1;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    highest_layer = std::max(highest_layer, dag[v].layer);
  constexpr std::size_t slots = weight_count + final_norm_slot + 1;
  const std::size_t layers = static_cast<std::size_t>(highest_layer + 2);
  std::vector<char> held(report.devices.size() * layers * slots, 0);
  const auto first_hold = [&](std::int64_t device, std::int64_t layer, std::size_t slot) {
    char& h =
        held[(static_cast<std::size_t>(device) * layers + static_cast<std::size_t>(layer + 1)) *
                 slots +
             slot];
    if (h != 0)
      return false;
    h = 1;
    return true;
  };
  const std::int64_t norm_weights = norm_parameters(info.model);
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (op.device < 0)
      continue;
    DeviceMemory& m = report.devices[static_cast<std::size_t>(op.device)];
    if (const std::optional<WeightSlice> s = weight_slice_of(op)) {
      // KV-parallel decode projects the new token's K and V on the shard it lands on; dealt in
      // chunks round robin, that shard changes every chunk, so every shard holds Wk and Wv.
      const bool every_shard = info.plan.kv_parallel > 1 &&
                               info.workload.kv_placement.layout == KVLayout::interleaved &&
                               (s->weight == Weight::wk || s->weight == Weight::wv);
      for (std::int64_t k = 0; k < (every_shard ? info.plan.kv_parallel : 1); ++k) {
        const std::int64_t device =
            every_shard ? info.mesh.with_coordinate(op.device, Role::kv_seq, k) : op.device;
        if (first_hold(device, op.layer, static_cast<std::size_t>(s->weight)))
          report.devices[static_cast<std::size_t>(device)].weight_bytes += exact_bytes_of(
              static_cast<double>(s->slice.rows.total() * s->slice.cols.total()), dtype);
      }
    } else if (const step::Norm* n = step_if<step::Norm>(op)) {
      if (first_hold(op.device, op.layer, weight_count + static_cast<std::size_t>(n->slot)))
        m.weight_bytes += exact_bytes_of(static_cast<double>(norm_weights), dtype);
    }
    // Decode: the cached keys and values (a KV-parallel shard's share of them) plus the new
    // token's rows its append adds; prefill: the keys and values the projections make.
    const OpKind kind = op.kind();
    const std::int64_t cached =
        info.workload.phase == Phase::decode
            ? (kind == OpKind::kv_cache    ? op.output.elements()
               : kind == OpKind::kv_append ? op.inputs[1].elements()
                                           : 0)
            : (kind == OpKind::k_projection || kind == OpKind::v_projection ? op.output.elements()
                                                                            : 0);
    m.kv_cache_bytes += exact_bytes_of(static_cast<double>(cached), info.model.kv_dtype);
  }

  std::vector<std::int64_t> position(boost::num_vertices(dag), -1);
  for (DeviceMemory& m : report.devices) {
    m.activation_bytes = detail::peak_activation_bytes(
        dag, m.device, sequences[static_cast<std::size_t>(m.device)], position);
    m.total_bytes = m.weight_bytes + m.kv_cache_bytes + m.activation_bytes;
    m.fits = m.total_bytes <= hw.memory_capacity_bytes;
    report.fits = report.fits && m.fits;
    if (m.total_bytes > report.max_total_bytes) {
      report.max_total_bytes = m.total_bytes;
      report.max_device = m.device;
    }
  }
  return report;
}

/// Memory per device of `dag` against the HBM of `hw`.
///
/// Activations are estimated by liveness over the list schedule (schedule.hpp), forward only:
/// every tensor on an edge is materialized, freed after its last consumer on the device, and
/// nothing is recomputed — except, with `AttentionKernel::flash`, the [b, heads, T, K] scores and
/// probabilities of a fused attention kernel, which stay on chip (`kept_on_chip`). With
/// `materialized` they are in memory, prefill scores [b, heads, s, s].
/// Framework workspaces, allocator fragmentation and communication buffers are not counted.
template <class Graph = Dag>
inline MemoryReport memory(const Graph& dag, const Hardware& hw) {
  return memory(dag, hw, device_sequences(dag, schedule_order(dag)));
}

} // namespace helix::cost
