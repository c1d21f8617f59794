// What an operator consumes and makes, derived from its step alone. The edge checks hold each
// tensor against this contract, so a lowering that wires or slices wrongly is caught instead of
// being compared with a copy of itself.
#pragma once

#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace helix {

/// The input shapes an op expects by argument, and the output it makes. For a collective,
/// `inputs[0]` is what every member contributes.
struct OpSignature {
  std::array<Shape, 3> inputs{};
  std::size_t input_count = 0;
  Shape output{};
  friend constexpr bool operator==(const OpSignature&, const OpSignature&) = default;
};

/// The signature of `op` in the DAG of `model` for `workload` on `mesh`.
///
/// With b sequences per microbatch, T new tokens, K attended tokens and hidden h:
/// a Linear holding W[rows, cols] maps [b, T, |rows|] → [b, T, |cols|]; scores take
/// Q [b, T, heads·dims] and K [b, K, kv_heads·dims] to [b, heads, T, K]; the context takes
/// P [b, heads, T, K] and V [b, K, kv_heads·dims] to [b, T, heads·dims]; a reduce-scatter over n
/// members takes n times its output's last dimension, an all-gather a 1/n share of it; a transfer
/// takes the sender's whole [b, T, h] and makes the |columns| it sends, [b, T, |columns|].
/// KV-parallel decode: a KV cache shard holds its cached positions [b, n_k, kv_heads·dims], a
/// partial attention takes Q [b, 1, heads·dims] and its shard's K and V and makes [b, heads,
/// dims + 1] (output and log-sum-exp), an all-to-all over n shards turns [b, heads, w] into
/// [b, n, heads / n, w] and the merge [b, n, heads, dims + 1] into the context [b, 1, heads·dims].
///
/// Example: helix_seed (b 1024, T = K = 10000) with `pp=2,tg=4x4`: the Q projection of heads 0–1,
/// cols {0, 512, 512, 2}, expects [1024, 10000, 8192] and makes [1024, 10000, 1024].
///
/// Element-wise ops (GELU, softmax) and collectives keep the trailing width of their own output;
/// the ops around them pin it down.
constexpr OpSignature signature(const Op& op, const Model& model, const Workload& workload,
                                const Mesh& mesh) {
  const std::int64_t replicas_times_microbatches = mesh.extent(Role::data) * workload.microbatches;
  // A hand-made graph may carry nonsense; it then mismatches instead of dividing by zero.
  const std::int64_t b =
      replicas_times_microbatches > 0 ? model.batch / replicas_times_microbatches : 0;
  const std::int64_t tokens = new_tokens(model, workload);
  const std::int64_t keys = attended_tokens(model, workload);
  const Shape hidden{b, tokens, model.hidden};
  // A model with a vocabulary reads token ids and ends with the logits of each sequence's last
  // position over the (padded) vocabulary; the final norm runs on that position only.
  const bool vocabulary = model.vocab > 0;
  const Shape last_hidden{b, 1, model.hidden};
  const Shape logits{b, 1, padded_vocab(model)};
  const std::int64_t width = op.output.rank ? op.output.last() : 0;
  OpSignature s;
  const auto expects = [&s](std::initializer_list<Shape> inputs, Shape output) {
    for (const Shape& input : inputs)
      s.inputs[s.input_count++] = input;
    s.output = output;
  };
  const auto scores = [&](const AttentionHeads& a) { return Shape{b, a.heads, tokens, keys}; };
  const auto linear = [&](const LinearSlice& l) {
    expects({Shape{b, tokens, l.rows.total()}}, Shape{b, tokens, l.cols.total()});
  };
  const auto heads_width = [](const AttentionHeads& a) { return a.heads * a.dims; };
  const auto kv_width = [](const AttentionHeads& a) { return a.kv_heads * a.dims; };
  // What each member contributes and what it gets back, from the collective's own output.
  const auto collective = [&](const step::Collective& c, std::int64_t contribution_width) {
    const Shape contribution = op.output.rank ? op.output.with_last(contribution_width) : Shape{};
    if (c.purpose == CollectivePurpose::attention_scores)
      expects({contribution}, Shape{b, op.output.rank == 4 ? op.output[1] : 0, tokens, keys});
    else if (c.purpose == CollectivePurpose::logits)
      expects({contribution}, logits);
    else
      expects({contribution},
              c.phase == CollectivePhase::flat || c.phase == CollectivePhase::intra_group_all_gather
                  ? hidden
                  : hidden.with_last(width));
  };
  visit_step(
      op,
      detail::overloaded{
          [&](const step::Input&) {
            expects({}, vocabulary ? Shape{b, tokens} : hidden);
          },
          [&](const step::Embedding&) {
            expects({Shape{b, tokens}}, hidden);
          },
          [&](const step::LastToken&) { expects({hidden}, last_hidden); },
          [&](const step::LmHead& l) {
            expects({Shape{b, 1, l.rows.total()}}, Shape{b, 1, l.cols.total()});
          },
          [&](const step::ParallelSum&) {
            expects({hidden, hidden}, hidden);
          },
          [&](const step::KVCache& a) {
            expects({}, Shape{b, a.shard.cached(model.seq_len), kv_width(a)});
          },
          [&](const step::KVAppend& a) {
            const std::int64_t cached = a.shard.cached(model.seq_len);
            expects({Shape{b, cached, kv_width(a)}, Shape{b, tokens, kv_width(a)}},
                    Shape{b, cached + tokens, kv_width(a)});
          },
          [&](const step::PartialAttention& a) {
            const Shape kv{b, a.shard.keys(model.seq_len), kv_width(a)};
            expects({Shape{b, tokens, heads_width(a)}, kv, kv}, Shape{b, a.heads, a.dims + 1});
          },
          [&](const step::LogSumExpMerge& a) {
            expects({Shape{b, a.shards, a.heads, a.dims + 1}}, Shape{b, tokens, heads_width(a)});
          },
          [&](const step::AllToAll& c) {
            const std::int64_t n = group_size(mesh, c.group);
            if (op.output.rank == 4)
              expects({Shape{b, n * op.output[2], op.output[3]}},
                      Shape{b, n, op.output[2], op.output[3]});
            else // an all-to-all makes [b, members, heads / members, width]; anything else fails
              expects({Shape{}}, Shape{b, n, 0, 0});
          },
          [&](const step::Norm& n) {
            const Shape& normed = n.slot == final_norm_slot ? last_hidden : hidden;
            expects({normed}, normed);
          },
          [&](const step::Transfer& t) { expects({hidden}, hidden.with_last(t.columns.total())); },
          [&](const step::Output&) {
            const Shape& result = vocabulary ? logits : hidden;
            expects({result}, result);
          },
          [&](const step::ResidualAdd&) {
            expects({hidden, hidden}, hidden);
          },
          [&](const step::QProjection& l) { linear(l); },
          [&](const step::KProjection& l) { linear(l); },
          [&](const step::VProjection& l) { linear(l); },
          [&](const step::OutProjection& l) { linear(l); },
          [&](const step::Fc1& l) { linear(l); },
          [&](const step::GateProjection& l) { linear(l); },
          [&](const step::Fc2& l) { linear(l); },
          [&](const step::AttentionScores& a) {
            expects({Shape{b, tokens, heads_width(a)}, Shape{b, keys, kv_width(a)}}, scores(a));
          },
          [&](const step::Softmax& a) { expects({scores(a)}, scores(a)); },
          [&](const step::AttentionContext& a) {
            expects({scores(a), Shape{b, keys, kv_width(a)}}, Shape{b, tokens, heads_width(a)});
          },
          [&](const step::Gelu&) {
            expects({Shape{b, tokens, width}}, Shape{b, tokens, width});
          },
          [&](const step::SwiGlu&) {
            // gate and up, sliced alike
            expects({Shape{b, tokens, width}, Shape{b, tokens, width}}, Shape{b, tokens, width});
          },
          [&](const step::AllReduce& c) { collective(c, width); },
          [&](const step::ReduceScatter& c) { collective(c, width * group_size(mesh, c.group)); },
          [&](const step::AllGather& c) {
            const std::int64_t n = group_size(mesh, c.group);
            collective(c, n > 0 && width % n == 0 ? width / n : width);
          },
      });
  return s;
}

} // namespace helix
