// What an operator does in numbers, read from its step and shapes alone: FLOPs, bytes it reads
// and writes in device memory, and bytes each member of a communication sends. Work is the cost
// layer's; the graph carries none of it. Hardware turns work into time (op_cost.hpp).
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/device_group.hpp"

#include <cstddef>
#include <cstdint>

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

struct Work {
  std::int64_t flops = 0;
  /// Bytes read and written in device memory (weights included), for compute ops.
  std::int64_t memory_bytes = 0;
  /// Bytes each member sends (the sender, for a transfer), for communication ops.
  double bytes_sent = 0;
  /// Members taking part: 1 for compute, the group for a collective, 2 for a transfer.
  std::int64_t members = 1;
  /// Messages each member sends in sequence, each paying a link latency: a ring all-reduce
  /// 2(n − 1), a ring reduce-scatter or all-gather n − 1, a send 1.
  std::int64_t messages = 0;
  friend constexpr bool operator==(const Work&, const Work&) = default;
};

/// The work of `op` in the DAG described by `info`.
///
/// FLOPs: a Linear (the LM head included) 2·tokens·|rows|·|cols|; an embedding lookup none; scores
/// and context 2·b·heads·T·K·dims each; softmax and norm 5 per element, GELU 8 (tanh
/// approximation), SwiGLU 5 (g·u / (1 + e^−g): exp, add, divide, two multiplies), a residual add 1.
/// Memory: every input and the output once, plus the weights a Linear or norm holds; sources and
/// sinks (input, output, KV cache) move nothing (already resident, left in place); a KV append
/// writes the new token into a preallocated cache (as paged-attention servers do), reading and
/// writing the fresh keys once. Sent: ring algorithms as above; a transfer sends its tensor once,
/// as one message.
///
/// Example: helix_seed `pp=2,tg=4x4`, FC1 on one GPU: x [1024, 10000, 8192] @ W1[:, 4096 cols]
/// is 2 · 1024·10000 · 8192 · 4096 = 687,194,767,360,000 FLOPs.
constexpr Work work(const Op& op, const Model& model, const Mesh& mesh) {
  const DataType dtype = model.dtype;
  const auto elements = [](const Shape& s) { return s.elements(); };
  // Inputs and output once each, plus `held` elements of weights.
  const auto streamed = [&](std::int64_t held) {
    std::int64_t n = elements(op.output) + held;
    for (std::size_t i = 0; i < op.input_count && i < op.inputs.size(); ++i)
      n += elements(op.inputs[i]);
    return bytes_of(n, dtype);
  };
  const auto compute = [&](std::int64_t flops, std::int64_t held) {
    return Work{flops, streamed(held), 0.0, 1, 0};
  };
  const auto linear = [&](const LinearSlice& l) {
    const std::int64_t tokens = op.inputs[0][0] * op.inputs[0][1];
    return compute(2 * tokens * l.rows.total() * l.cols.total(), l.rows.total() * l.cols.total());
  };
  const auto message = exact_bytes_of(static_cast<double>(elements(op.inputs[0])), dtype);
  const auto group = [&](const step::Collective& c) { return group_size(mesh, c.group); };
  return visit_step(
      op, helix::detail::overloaded{
              [&](const step::Input&) { return Work{}; },
              [&](const step::Embedding& l) {
                // Reads the token ids, writes the output, and reads the table rows of the tokens
                // in its slice: a share |rows| / padded vocab of them for evenly spread ids.
                const std::int64_t vocab = padded_vocab(model);
                return compute(0, vocab > 0 ? elements(op.output) * l.rows.total() / vocab : 0);
              },
              [&](const step::LastToken&) {
                // Reads each sequence's last row and writes it.
                return Work{0, bytes_of(2 * elements(op.output), dtype), 0.0, 1, 0};
              },
              [&](const step::LmHead& l) { return linear(l); },
              [&](const step::ParallelSum&) { return compute(elements(op.output), 0); },
              [&](const step::Output&) { return Work{}; },
              [&](const step::KVCache&) { return Work{}; },
              [&](const step::KVAppend&) {
                return Work{0, bytes_of(2 * elements(op.inputs[1]), model.kv_dtype), 0.0, 1, 0};
              },
              [&](const step::Norm&) {
                return compute(5 * elements(op.output), norm_parameters(model));
              },
              [&](const step::QProjection& l) { return linear(l); },
              [&](const step::KProjection& l) { return linear(l); },
              [&](const step::VProjection& l) { return linear(l); },
              [&](const step::OutProjection& l) { return linear(l); },
              [&](const step::Fc1& l) { return linear(l); },
              [&](const step::GateProjection& l) { return linear(l); },
              [&](const step::Fc2& l) { return linear(l); },
              [&](const step::AttentionScores& a) {
                return compute(2 * elements(op.output) * a.dims, 0);
              },
              [&](const step::Softmax&) { return compute(5 * elements(op.output), 0); },
              [&](const step::AttentionContext&) {
                // [b, T, heads·dims] outputs, each a dot product over K keys.
                return compute(2 * elements(op.output) * op.inputs[0][3], 0);
              },
              [&](const step::ResidualAdd&) { return compute(elements(op.output), 0); },
              [&](const step::Gelu&) { return compute(8 * elements(op.output), 0); },
              [&](const step::SwiGlu&) { return compute(5 * elements(op.output), 0); },
              [&](const step::AllReduce& c) {
                return Work{0, 0, ring_all_reduce_bytes(group(c), message), group(c),
                            2 * (group(c) - 1)};
              },
              [&](const step::ReduceScatter& c) {
                return Work{0, 0, reduce_scatter_bytes(group(c), message), group(c), group(c) - 1};
              },
              [&](const step::AllGather& c) {
                return Work{0, 0, all_gather_bytes(group(c), message), group(c), group(c) - 1};
              },
              [&](const step::Transfer&) {
                return Work{0, 0, message, 2, 1};
              },
          });
}

/// The same, for an op of a Dag built with `info`.
constexpr Work work(const Op& op, const DagInfo& info) {
  return work(op, info.model, info.mesh);
}

} // namespace helix::cost
