// What an operator consumes and makes, derived from its kind and payload alone. The edge checks
// hold each tensor against this contract, so a lowering that wires or slices wrongly is caught
// instead of being compared with a copy of itself.
#pragma once

#include "helix/graph/ops.hpp"
#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/mesh.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <variant>

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
/// members takes n times its output's last dimension, an all-gather a 1/n share of it.
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
  OpSignature s;
  const auto expects = [&s](std::initializer_list<Shape> inputs, Shape output) {
    for (const Shape& input : inputs)
      s.inputs[s.input_count++] = input;
    s.output = output;
  };
  const AttentionSlice* a = std::get_if<AttentionSlice>(&op.payload);
  const std::int64_t heads_width = a ? a->heads * a->dims : 0;
  const std::int64_t kv_width = a ? a->kv_heads * a->dims : 0;
  const Shape scores = a ? Shape{b, a->heads, tokens, keys} : Shape{};
  const std::int64_t width = op.output.rank ? op.output.last() : 0;
  switch (op.kind) {
  case OpKind::input:
    expects({}, hidden);
    break;
  case OpKind::kv_cache:
    expects({}, Shape{b, model.seq_len, kv_width});
    break;
  case OpKind::kv_append:
    expects({Shape{b, model.seq_len, kv_width}, Shape{b, tokens, kv_width}},
            Shape{b, keys, kv_width});
    break;
  case OpKind::norm:
  case OpKind::transfer:
  case OpKind::output:
    expects({hidden}, hidden);
    break;
  case OpKind::residual_add:
    expects({hidden, hidden}, hidden);
    break;
  case OpKind::q_projection:
  case OpKind::k_projection:
  case OpKind::v_projection:
  case OpKind::out_projection:
  case OpKind::fc1:
  case OpKind::fc2:
    if (const auto* l = std::get_if<LinearSlice>(&op.payload))
      expects({Shape{b, tokens, l->rows.total()}}, Shape{b, tokens, l->cols.total()});
    break;
  case OpKind::attention_scores:
    expects({Shape{b, tokens, heads_width}, Shape{b, keys, kv_width}}, scores);
    break;
  case OpKind::softmax:
    expects({scores}, scores);
    break;
  case OpKind::attention_context:
    expects({scores, Shape{b, keys, kv_width}}, Shape{b, tokens, heads_width});
    break;
  case OpKind::gelu:
    expects({Shape{b, tokens, width}}, Shape{b, tokens, width});
    break;
  case OpKind::all_reduce:
  case OpKind::reduce_scatter:
  case OpKind::all_gather:
    if (const auto* c = std::get_if<CollectiveOp>(&op.payload)) {
      const std::int64_t n = group_size(mesh, c->group);
      Shape contribution = op.output;
      if (op.output.rank && op.kind == OpKind::reduce_scatter)
        contribution = op.output.with_last(width * n);
      else if (op.output.rank && op.kind == OpKind::all_gather && width % n == 0)
        contribution = op.output.with_last(width / n);
      if (c->purpose == CollectivePurpose::attention_scores)
        expects({contribution}, Shape{b, op.output.rank == 4 ? op.output[1] : 0, tokens, keys});
      else
        expects({contribution}, c->phase == CollectivePhase::flat ||
                                        c->phase == CollectivePhase::intra_group_all_gather
                                    ? hidden
                                    : hidden.with_last(width));
    }
    break;
  }
  return s;
}

} // namespace helix
