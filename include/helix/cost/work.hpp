// What an operator does in numbers, read from its step and shapes alone: FLOPs, bytes it reads
// and writes in device memory, and bytes each member of a communication sends. Work is the cost
// layer's; the graph carries none of it. Hardware turns work into time (op_cost.hpp).
#pragma once

#include "helix/cost/collective_library.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/device_group.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

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
  /// A matmul's output rows (tokens) and columns, whose tiling decides its efficiency; 0 for
  /// other ops.
  std::int64_t gemm_rows = 0;
  std::int64_t gemm_cols = 0;
  /// Kernels the op launches: 1 for a compute op that runs as its own kernel, 0 for sources and
  /// sinks, for communication (the collective library's latency holds its launch) and for the
  /// parts of a fused attention kernel after the first.
  std::int64_t kernels = 0;
  /// Whether the FLOPs run inside a fused (FlashAttention) kernel.
  bool fused_attention = false;
  /// For a collective: which one, and its size as the collective library counts it (the buffer
  /// of an all-reduce; all members' data together for a reduce-scatter's input or an
  /// all-gather's output).
  std::optional<CollectiveFunction> collective{};
  double collective_bytes = 0;
  friend constexpr bool operator==(const Work&, const Work&) = default;
};

/// Score entries one head computes for T new tokens against K keys under the causal mask, the T
/// tokens being the last T of the K positions: new token i (from 0) sees the K − T keys before the
/// new ones and i + 1 of its own block, K − T + i + 1 in all, so the heads compute
/// T·(K − T) + T(T + 1)/2. Prefill (K = T) is T(T + 1)/2 — the diagonal is computed, so not T²/2;
/// decode (T = 1) is K, every key.
///
/// Example: T = K = 4 computes 1 + 2 + 3 + 4 = 10 of the 16 entries.
constexpr std::int64_t causal_score_entries(std::int64_t new_tokens, std::int64_t keys) {
  // T(T + 1)/2 with the halving on the even factor, so no intermediate passes T·K.
  const std::int64_t triangle =
      new_tokens % 2 == 0 ? new_tokens / 2 * (new_tokens + 1) : (new_tokens + 1) / 2 * new_tokens;
  return new_tokens * (keys - new_tokens) + triangle;
}

/// Whether `op` is an attention scores, softmax or context op that FlashAttention runs as one
/// fused kernel: the workload asks for `AttentionKernel::flash` and the op covers whole heads. A
/// plan that splits head_dim (hp=) computes partial scores that must be all-reduced between
/// devices, which a fused kernel cannot do, so its attention stays materialized whatever the
/// workload asks (as the DAG draws it: scores, all-reduce, softmax, context).
constexpr bool fused_attention(const Op& op, const Model& model, const Workload& workload) {
  const OpKind kind = op.kind();
  if (workload.attention != AttentionKernel::flash ||
      (kind != OpKind::attention_scores && kind != OpKind::softmax &&
       kind != OpKind::attention_context))
    return false;
  const AttentionHeads* heads = attention_heads_of(op);
  return heads != nullptr && heads->dims == model.head_dim;
}

/// The work of `op` in a DAG of `model` under `workload` over `mesh`.
///
/// FLOPs: a Linear (the LM head included) 2·tokens·|rows|·|cols|; an embedding lookup none; scores
/// and context 2·b·heads·T·K·dims each; softmax and norm 5 per element, GELU 8 (tanh
/// approximation), SwiGLU 5 (g·u / (1 + e^−g): exp, add, divide, two multiplies), a residual add 1.
/// Memory: every input and the output once, plus the weights a Linear or norm holds; sources and
/// sinks (input, output, KV cache) move nothing (already resident, left in place); a KV append
/// writes the new token into a preallocated cache (as paged-attention servers do), reading and
/// writing the fresh keys once. Keys and values read by attention are in the KV cache's format in
/// decode (they come from the cache) and in the model's in prefill (they come from the
/// projections). Sent: ring algorithms as above; a transfer sends what it carries (its output: the
/// whole activation, or a scatter-gather send's slice) once, as one message.
///
/// Attention (`Workload::attention`): `materialized` counts what the DAG draws, every [b, heads,
/// T, K] scores and probabilities tensor written and read. `flash` (see `fused_attention`) runs
/// scores, softmax and context of a device as one kernel that keeps the scores on chip: the
/// scores op reads Q and K once, the context op reads V and writes the context once, softmax moves
/// nothing (its exponentials happen inside the kernel; counted at the softmax op, 5 FLOPs per
/// computed score); and the kernel skips the masked part of a causal prefill, so scores, softmax
/// and context count `causal_score_entries` per head instead of T·K.
///
/// Example: helix_seed `pp=2,tg=4x4`, FC1 on one GPU: x [1024, 10000, 8192] @ W1[:, 4096 cols]
/// is 2 · 1024·10000 · 8192 · 4096 = 687,194,767,360,000 FLOPs.
constexpr Work work(const Op& op, const Model& model, const Workload& workload, const Mesh& mesh) {
  const DataType dtype = model.dtype;
  const DataType key_value_dtype = workload.phase == Phase::decode ? model.kv_dtype : model.dtype;
  const auto elements = [](const Shape& s) { return s.elements(); };
  // Inputs and output once each, plus `held` elements of weights.
  const auto streamed = [&](std::int64_t held) {
    std::int64_t n = elements(op.output) + held;
    for (std::size_t i = 0; i < op.input_count && i < op.inputs.size(); ++i)
      n += elements(op.inputs[i]);
    return bytes_of(n, dtype);
  };
  const auto compute = [&](std::int64_t flops, std::int64_t held) {
    return Work{.flops = flops, .memory_bytes = streamed(held), .kernels = 1};
  };
  const auto linear = [&](const LinearSlice& l) {
    const std::int64_t tokens = op.inputs[0][0] * op.inputs[0][1];
    Work w = compute(2 * tokens * l.rows.total() * l.cols.total(), l.rows.total() * l.cols.total());
    w.gemm_rows = tokens;
    w.gemm_cols = l.cols.total();
    return w;
  };
  const bool fused = fused_attention(op, model, workload);
  // Score entries per sequence and head: scores and probabilities are [b, heads, T, K], the
  // context's first input too; a fused kernel computes only the unmasked ones.
  const auto score_entries = [&](const Shape& scores) {
    const std::int64_t tokens = scores[2], keys = scores[3];
    return fused && workload.phase == Phase::prefill ? causal_score_entries(tokens, keys)
                                                     : tokens * keys;
  };
  const auto scores_computed = [&](const Shape& scores) {
    return scores[0] * scores[1] * score_entries(scores);
  };
  // A materialized attention op streams its inputs and output; the keys or values (input 1) are
  // in `key_value_dtype`. A fused one reads Q, K and V and writes the context only.
  const auto attention_bytes = [&](bool reads_first, bool writes_output) {
    std::int64_t model_format = elements(op.inputs[0]) * (reads_first ? 1 : 0);
    if (writes_output)
      model_format += elements(op.output);
    return bytes_of(model_format, dtype) + bytes_of(elements(op.inputs[1]), key_value_dtype);
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
                return Work{.memory_bytes = bytes_of(2 * elements(op.output), dtype), .kernels = 1};
              },
              [&](const step::LmHead& l) { return linear(l); },
              [&](const step::ParallelSum&) { return compute(elements(op.output), 0); },
              [&](const step::Output&) { return Work{}; },
              [&](const step::KVCache&) { return Work{}; },
              [&](const step::KVAppend&) {
                return Work{.memory_bytes = bytes_of(2 * elements(op.inputs[1]), model.kv_dtype),
                            .kernels = 1};
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
                // Q [b, T, heads·dims] and K [b, K, kv_heads·dims] read; scores written unless
                // fused.
                // A fused kernel launches here, once for scores, softmax and context.
                return Work{.flops = 2 * scores_computed(op.output) * a.dims,
                            .memory_bytes = attention_bytes(true, !fused),
                            .kernels = 1,
                            .fused_attention = fused};
              },
              [&](const step::Softmax&) {
                const std::int64_t flops = 5 * scores_computed(op.output);
                return fused ? Work{.flops = flops, .fused_attention = true} : compute(flops, 0);
              },
              [&](const step::AttentionContext& a) {
                // P [b, heads, T, K] @ V [b, K, kv_heads·dims]: a dot product over the computed
                // keys per output; P is read unless fused, V always, the context always written.
                return Work{.flops = 2 * scores_computed(op.inputs[0]) * a.dims,
                            .memory_bytes = attention_bytes(!fused, true),
                            .kernels = fused ? 0 : 1,
                            .fused_attention = fused};
              },
              [&](const step::ResidualAdd&) { return compute(elements(op.output), 0); },
              [&](const step::Gelu&) { return compute(8 * elements(op.output), 0); },
              [&](const step::SwiGlu&) { return compute(5 * elements(op.output), 0); },
              [&](const step::AllReduce& c) {
                return Work{.bytes_sent = ring_all_reduce_bytes(group(c), message),
                            .members = group(c),
                            .messages = 2 * (group(c) - 1),
                            .collective = CollectiveFunction::all_reduce,
                            .collective_bytes = message};
              },
              [&](const step::ReduceScatter& c) {
                return Work{.bytes_sent = reduce_scatter_bytes(group(c), message),
                            .members = group(c),
                            .messages = group(c) - 1,
                            .collective = CollectiveFunction::reduce_scatter,
                            .collective_bytes = message};
              },
              [&](const step::AllGather& c) {
                return Work{.bytes_sent = all_gather_bytes(group(c), message),
                            .members = group(c),
                            .messages = group(c) - 1,
                            .collective = CollectiveFunction::all_gather,
                            .collective_bytes = static_cast<double>(group(c)) * message};
              },
              [&](const step::AllToAll& c) {
                return Work{.bytes_sent = all_to_all_bytes(group(c), message),
                            .members = group(c),
                            .messages = group(c) - 1,
                            .collective = CollectiveFunction::all_to_all,
                            .collective_bytes = message};
              },
              [&](const step::PartialAttention& a) {
                // FlashAttention's split-KV kernel over the shard's keys, fused whatever
                // `attention` says (its log-sum-exp is what makes the merge exact): per head and
                // key 2·dims for the score, 5 for the softmax, 2·dims for the context; reads Q,
                // K and V, writes the output and log-sum-exp.
                const std::int64_t keys = op.inputs[1][1];
                const std::int64_t pairs = op.output[0] * a.heads * keys;
                return Work{
                    .flops = pairs * (4 * a.dims + 5),
                    .memory_bytes =
                        bytes_of(elements(op.inputs[0]) + elements(op.output), dtype) +
                        bytes_of(elements(op.inputs[1]) + elements(op.inputs[2]), key_value_dtype),
                    .kernels = 1,
                    .fused_attention = true};
              },
              [&](const step::LogSumExpMerge& m) {
                // Per (sequence, head): the maximum and the sum of K exponentials of the
                // log-sum-exps (2K + 1 FLOPs with the log), then per output element K scaled
                // adds (2K).
                const std::int64_t heads = op.output[0] * m.heads;
                return compute(heads * (2 * m.shards + 1) + 2 * m.shards * elements(op.output), 0);
              },
              [&](const step::Transfer&) {
                // What crosses is the transfer's output: the whole activation, or the slice of
                // hidden a scatter-gather send carries (1/t of it).
                return Work{.bytes_sent =
                                exact_bytes_of(static_cast<double>(elements(op.output)), dtype),
                            .members = 2,
                            .messages = 1};
              },
          });
}

/// The same, for an op of a Dag built with `info`.
constexpr Work work(const Op& op, const DagInfo& info) {
  return work(op, info.model, info.workload, info.mesh);
}

} // namespace helix::cost
