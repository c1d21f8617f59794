// What an operator does, as a closed sum type: `Step` is a std::variant with one alternative per
// op kind, each holding exactly its own data (step_data.hpp: a Linear its slice of a full weight,
// attention ops their heads, a collective its group, phase and algorithm). Each alternative also
// carries its row of the kind table (enumerator, name, colour); the table is checked against the
// variant.
#pragma once

#include "helix/graph/step_data.hpp"
#include "helix/model/kv_placement.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/device_group.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

namespace helix {

/// The op kinds, in the order of `Step`'s alternatives (checked below).
enum class OpKind : std::uint8_t {
  input,             ///< the microbatch enters on a device: hidden states, or token ids
  embedding,         ///< token ids → rows of the device's vocabulary slice of the embedding
  kv_cache,          ///< decode: keys or values of the `seq_len` cached tokens (a source)
  norm,              ///< layernorm / rmsnorm over hidden (weights replicated)
  q_projection,      ///< a @ Wq[:, cols]
  k_projection,      ///< a @ Wk[:, cols]
  v_projection,      ///< a @ Wv[:, cols]
  kv_append,         ///< decode: cache ++ new token's keys or values along the sequence
  attention_scores,  ///< q kᵀ per head (partial over a head_dim slice for HeadPartitions)
  softmax,           ///< softmax(scores / sqrt(head_dim) + causal mask) over keys
  attention_context, ///< p v per head
  partial_attention, ///< KV-parallel decode: attention over one KV shard, output and log-sum-exp
  log_sum_exp_merge, ///< KV-parallel decode: the exact merge of every shard's partial outputs
  out_projection,    ///< context @ Wo[rows, :], a partial sum of the block output
  residual_add,      ///< x + branch
  fc1,               ///< a @ W1[:, cols]
  gate_projection,   ///< SwiGLU: a @ W_gate[:, cols], the same columns as FC1
  gelu,              ///< tanh-approximated GELU
  swiglu,            ///< SiLU(gate) ⊙ up
  fc2,               ///< h @ W2[rows, :], a partial sum
  parallel_sum,      ///< parallel block: attention + MLP partial outputs, before their one sum
  last_token,        ///< the last position of each sequence, whose logits predict the next token
  lm_head,           ///< a @ W_lm_head[:, cols]: logits over a vocabulary slice
  all_reduce,        ///< collective: every member ends with the sum
  reduce_scatter,    ///< collective: member j ends with slice j (of the last dim) of the sum
  all_gather,        ///< collective: every member ends with the concatenation of the slices
  all_to_all,        ///< collective: member j ends with slice j (of the heads) of every member's
  transfer,          ///< point-to-point send/recv between pipeline stages
  output,            ///< the block stack's result leaves on a device
};

namespace step {

/// What every collective holds: its group, why it runs, which phase of an all-reduce it is, the
/// algorithm, and the number of the logical all-reduce it is (a step of), counted per microbatch
/// and replica over the whole forward.
struct Collective {
  CollectivePurpose purpose = CollectivePurpose::attention_output;
  CollectivePhase phase = CollectivePhase::flat;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::ring;
  std::int64_t logical = 0;
  DeviceGroup group;
  friend constexpr bool operator==(const Collective&, const Collective&) = default;
};

// One alternative per kind. `kind`, `name` and `color` are that kind's row of the table: colours
// are fixed so a kind looks the same in every picture (attention in blues and purples, the MLP in
// oranges, collectives in reds, transfers in magenta).

struct Input {
  static constexpr OpKind kind = OpKind::input;
  static constexpr std::string_view name = "input", color = "#d9d9d9";
  friend constexpr bool operator==(const Input&, const Input&) = default;
};
/// Megatron's vocab-parallel embedding: the device holds rows [rows) of the [padded vocab, h]
/// table and looks up the tokens that fall in them (zeros for the rest), so the devices' outputs
/// are partial sums of the embedding.
struct Embedding : LinearSlice {
  static constexpr Weight weight = Weight::embedding;
  static constexpr OpKind kind = OpKind::embedding;
  static constexpr std::string_view name = "embedding", color = "#e5d8bd";
  friend constexpr bool operator==(const Embedding&, const Embedding&) = default;
};
struct KVCache : AttentionHeads {
  bool values = false; ///< false = keys
  KVShard shard{};     ///< which cached positions (all of them unless KV-parallel)
  static constexpr OpKind kind = OpKind::kv_cache;
  static constexpr std::string_view name = "kv_cache", color = "#dadaeb";
  friend constexpr bool operator==(const KVCache&, const KVCache&) = default;
};
struct Norm {
  /// 0 before attention (a parallel block's only norm), 1 before the MLP, `final_norm_slot` after
  /// the last block.
  std::int64_t slot = 0;
  static constexpr OpKind kind = OpKind::norm;
  static constexpr std::string_view name = "norm", color = "#ffffb3";
  friend constexpr bool operator==(const Norm&, const Norm&) = default;
};
struct QProjection : LinearSlice {
  static constexpr Weight weight = Weight::wq;
  static constexpr OpKind kind = OpKind::q_projection;
  static constexpr std::string_view name = "q_projection", color = "#b3de69";
  friend constexpr bool operator==(const QProjection&, const QProjection&) = default;
};
struct KProjection : LinearSlice {
  static constexpr Weight weight = Weight::wk;
  static constexpr OpKind kind = OpKind::k_projection;
  static constexpr std::string_view name = "k_projection", color = "#ccebc5";
  friend constexpr bool operator==(const KProjection&, const KProjection&) = default;
};
struct VProjection : LinearSlice {
  static constexpr Weight weight = Weight::wv;
  static constexpr OpKind kind = OpKind::v_projection;
  static constexpr std::string_view name = "v_projection", color = "#a1d99b";
  friend constexpr bool operator==(const VProjection&, const VProjection&) = default;
};
struct KVAppend : AttentionHeads {
  bool values = false; ///< false = keys
  KVShard shard{};     ///< the shard the new token is appended to (the whole cache unless KVP)
  static constexpr OpKind kind = OpKind::kv_append;
  static constexpr std::string_view name = "kv_append", color = "#bcbddc";
  friend constexpr bool operator==(const KVAppend&, const KVAppend&) = default;
};
struct AttentionScores : AttentionHeads {
  static constexpr OpKind kind = OpKind::attention_scores;
  static constexpr std::string_view name = "attention_scores", color = "#80b1d3";
  friend constexpr bool operator==(const AttentionScores&, const AttentionScores&) = default;
};
struct Softmax : AttentionHeads {
  bool causal = false; ///< mask keys after the query's position (prefill)
  static constexpr OpKind kind = OpKind::softmax;
  static constexpr std::string_view name = "softmax", color = "#bebada";
  friend constexpr bool operator==(const Softmax&, const Softmax&) = default;
};
struct AttentionContext : AttentionHeads {
  static constexpr OpKind kind = OpKind::attention_context;
  static constexpr std::string_view name = "attention_context", color = "#9ecae1";
  friend constexpr bool operator==(const AttentionContext&, const AttentionContext&) = default;
};
/// Attention of the new token's query heads over one KV shard (FlashAttention's split-KV pass):
/// per (sequence, head) the shard's normalized output O_k and its log-sum-exp
/// L_k = log Σ_j exp(q·k_j / sqrt(head_dim)), laid out [b, heads, head_dim + 1] (O then L).
struct PartialAttention : AttentionHeads {
  KVShard shard{};
  static constexpr OpKind kind = OpKind::partial_attention;
  static constexpr std::string_view name = "partial_attention", color = "#6baed6";
  friend constexpr bool operator==(const PartialAttention&, const PartialAttention&) = default;
};
/// The exact merge of the K shards' partials of its heads ([b, K, heads, head_dim + 1], one row
/// per shard): L = log Σ_k exp(L_k), O = Σ_k exp(L_k − L)·O_k; the context [b, 1, heads·head_dim].
struct LogSumExpMerge : AttentionHeads {
  std::int64_t shards = 1;
  static constexpr OpKind kind = OpKind::log_sum_exp_merge;
  static constexpr std::string_view name = "log_sum_exp_merge", color = "#4292c6";
  friend constexpr bool operator==(const LogSumExpMerge&, const LogSumExpMerge&) = default;
};
struct OutProjection : LinearSlice {
  static constexpr Weight weight = Weight::wo;
  static constexpr OpKind kind = OpKind::out_projection;
  static constexpr std::string_view name = "out_projection", color = "#8dd3c7";
  friend constexpr bool operator==(const OutProjection&, const OutProjection&) = default;
};
struct ResidualAdd {
  Sublayer branch = Sublayer::attention; ///< the branch added: x + attention or y + MLP
  static constexpr OpKind kind = OpKind::residual_add;
  static constexpr std::string_view name = "residual_add", color = "#fccde5";
  friend constexpr bool operator==(const ResidualAdd&, const ResidualAdd&) = default;
};
struct Fc1 : LinearSlice {
  static constexpr Weight weight = Weight::w1;
  static constexpr OpKind kind = OpKind::fc1;
  static constexpr std::string_view name = "fc1", color = "#fdb462";
  friend constexpr bool operator==(const Fc1&, const Fc1&) = default;
};
struct GateProjection : LinearSlice {
  static constexpr Weight weight = Weight::w_gate;
  static constexpr OpKind kind = OpKind::gate_projection;
  static constexpr std::string_view name = "gate_projection", color = "#fdd0a2";
  friend constexpr bool operator==(const GateProjection&, const GateProjection&) = default;
};
struct Gelu {
  static constexpr OpKind kind = OpKind::gelu;
  static constexpr std::string_view name = "gelu", color = "#fee391";
  friend constexpr bool operator==(const Gelu&, const Gelu&) = default;
};
struct SwiGlu {
  static constexpr OpKind kind = OpKind::swiglu;
  static constexpr std::string_view name = "swiglu", color = "#fec44f";
  friend constexpr bool operator==(const SwiGlu&, const SwiGlu&) = default;
};
struct Fc2 : LinearSlice {
  static constexpr Weight weight = Weight::w2;
  static constexpr OpKind kind = OpKind::fc2;
  static constexpr std::string_view name = "fc2", color = "#fd8d3c";
  friend constexpr bool operator==(const Fc2&, const Fc2&) = default;
};
struct ParallelSum {
  static constexpr OpKind kind = OpKind::parallel_sum;
  static constexpr std::string_view name = "parallel_sum", color = "#f1b6da";
  friend constexpr bool operator==(const ParallelSum&, const ParallelSum&) = default;
};
struct LastToken {
  static constexpr OpKind kind = OpKind::last_token;
  static constexpr std::string_view name = "last_token", color = "#e0e0e0";
  friend constexpr bool operator==(const LastToken&, const LastToken&) = default;
};
struct LmHead : LinearSlice {
  static constexpr Weight weight = Weight::lm_head;
  static constexpr OpKind kind = OpKind::lm_head;
  static constexpr std::string_view name = "lm_head", color = "#b15928";
  friend constexpr bool operator==(const LmHead&, const LmHead&) = default;
};
struct AllReduce : Collective {
  static constexpr OpKind kind = OpKind::all_reduce;
  static constexpr std::string_view name = "all_reduce", color = "#fb8072";
  friend constexpr bool operator==(const AllReduce&, const AllReduce&) = default;
};
struct ReduceScatter : Collective {
  static constexpr OpKind kind = OpKind::reduce_scatter;
  static constexpr std::string_view name = "reduce_scatter", color = "#f4a582";
  friend constexpr bool operator==(const ReduceScatter&, const ReduceScatter&) = default;
};
struct AllGather : Collective {
  static constexpr OpKind kind = OpKind::all_gather;
  static constexpr std::string_view name = "all_gather", color = "#e7298a";
  friend constexpr bool operator==(const AllGather&, const AllGather&) = default;
};
/// Member j of the group sends its input's slice j (along the heads, dimension 1 of
/// [b, heads, width]) to member j: every member ends with [b, members, heads / members, width],
/// row i of dimension 1 from member i. NCCL runs it as grouped send/recv.
struct AllToAll : Collective {
  static constexpr OpKind kind = OpKind::all_to_all;
  static constexpr std::string_view name = "all_to_all", color = "#ce1256";
  friend constexpr bool operator==(const AllToAll&, const AllToAll&) = default;
};
/// A send/recv from `source` on one pipeline stage to `destination` on the next. The sender holds
/// the activation [b, T, h] whole; the transfer carries `columns` of its hidden (last) dimension:
/// all of them in a full send, the destination's 1/t share in a scatter-gather send
/// (`PipelineSend`), which the receiving stage all-gathers.
struct Transfer {
  std::int64_t source = 0;
  std::int64_t destination = 0;
  IndexRuns columns{};
  static constexpr OpKind kind = OpKind::transfer;
  static constexpr std::string_view name = "transfer", color = "#c994c7";
  friend constexpr bool operator==(const Transfer&, const Transfer&) = default;
};
struct Output {
  static constexpr OpKind kind = OpKind::output;
  static constexpr std::string_view name = "output", color = "#bdbdbd";
  friend constexpr bool operator==(const Output&, const Output&) = default;
};

} // namespace step

using Step =
    std::variant<step::Input, step::Embedding, step::KVCache, step::Norm, step::QProjection,
                 step::KProjection, step::VProjection, step::KVAppend, step::AttentionScores,
                 step::Softmax, step::AttentionContext, step::PartialAttention,
                 step::LogSumExpMerge, step::OutProjection, step::ResidualAdd, step::Fc1,
                 step::GateProjection, step::Gelu, step::SwiGlu, step::Fc2, step::ParallelSum,
                 step::LastToken, step::LmHead, step::AllReduce, step::ReduceScatter,
                 step::AllGather, step::AllToAll, step::Transfer, step::Output>;

/// The norm after the last block (`step::Norm::slot`).
inline constexpr std::int64_t final_norm_slot = 2;

inline constexpr std::size_t op_kind_count = std::variant_size_v<Step>;

/// A step that holds a slice of a full weight (a Linear, or the embedding's rows).
template <class S>
concept LinearStep = std::derived_from<S, LinearSlice> && requires {
  { S::weight } -> std::convertible_to<Weight>;
};
/// A step that covers some attention heads.
template <class S>
concept AttentionStep = std::derived_from<S, AttentionHeads>;
/// A step that spans a device group.
template <class S>
concept CollectiveStep = std::derived_from<S, step::Collective>;

namespace detail {

struct KindRow {
  OpKind kind;
  std::string_view name;
  std::string_view color;
  bool collective;    ///< spans a device group
  bool communication; ///< moves data between devices (collectives and transfers)
  bool linear;        ///< holds a slice of a full weight
  bool attention;     ///< covers some attention heads
};

template <class S>
constexpr KindRow kind_row() {
  return {S::kind,
          S::name,
          S::color,
          CollectiveStep<S>,
          CollectiveStep<S> || std::same_as<S, step::Transfer>,
          LinearStep<S>,
          AttentionStep<S>};
}

template <std::size_t... I>
constexpr std::array<KindRow, sizeof...(I)> kind_table(std::index_sequence<I...>) {
  return {kind_row<std::variant_alternative_t<I, Step>>()...};
}

} // namespace detail

/// One row per step alternative, in variant order: the kind table every name and colour is read
/// from.
inline constexpr std::array<detail::KindRow, op_kind_count> op_kinds =
    detail::kind_table(std::make_index_sequence<op_kind_count>{});

namespace detail {
constexpr bool kind_table_complete() {
  for (std::size_t i = 0; i < op_kinds.size(); ++i)
    if (static_cast<std::size_t>(op_kinds[i].kind) != i || op_kinds[i].name.empty() ||
        op_kinds[i].color.size() != 7)
      return false;
  return static_cast<std::size_t>(OpKind::output) + 1 == op_kind_count;
}
} // namespace detail
static_assert(
    detail::kind_table_complete(),
    "helix: op kinds: every Step alternative names its own OpKind, in variant order, with "
    "a name and a #rrggbb colour, and OpKind has one enumerator per alternative");

namespace detail {
template <class S, bool Block>
constexpr bool holds_weight_of_scope() {
  if constexpr (LinearStep<S>)
    return is_block_weight(S::weight) == Block;
  else
    return false;
}
template <bool Block, std::size_t... I>
constexpr auto step_weights(std::index_sequence<I...>) {
  constexpr std::size_t count =
      (std::size_t{holds_weight_of_scope<std::variant_alternative_t<I, Step>, Block>()} + ...);
  std::array<Weight, count> weights{};
  std::size_t n = 0;
  const auto add = [&]<class S>(const S*) {
    if constexpr (holds_weight_of_scope<S, Block>())
      weights[n++] = S::weight;
  };
  (add(static_cast<const std::variant_alternative_t<I, Step>*>(nullptr)), ...);
  return weights;
}
} // namespace detail

/// The weights of a block, one per weight-holding step alternative in variant order: what weight
/// tiling checks and memory counts. A new Linear step brings its weight here by itself.
inline constexpr auto block_weights =
    detail::step_weights<true>(std::make_index_sequence<op_kind_count>{});
/// The weights a model with a vocabulary holds once: the embedding and the LM head.
inline constexpr auto vocabulary_weights =
    detail::step_weights<false>(std::make_index_sequence<op_kind_count>{});
/// Every weight kind; memory keys norms after them.
inline constexpr std::size_t weight_count = block_weights.size() + vocabulary_weights.size();

/// Whether `model` holds `weight`: W_gate only with a SwiGLU MLP, the embedding and LM head only
/// with a vocabulary.
constexpr bool uses_weight(const Model& model, Weight weight) {
  if (!is_block_weight(weight))
    return model.vocab > 0;
  return weight != Weight::w_gate || model.activation == Activation::swiglu;
}

namespace detail {
constexpr bool weights_distinct() {
  for (std::size_t i = 0; i < block_weights.size(); ++i)
    for (std::size_t j = i + 1; j < block_weights.size(); ++j)
      if (block_weights[i] == block_weights[j])
        return false;
  return true;
}
} // namespace detail
static_assert(detail::weights_distinct(),
              "helix: op kinds: two Linear steps name the same full weight");

constexpr std::string_view op_kind_name(OpKind kind) {
  return op_kinds[static_cast<std::size_t>(kind)].name;
}
constexpr std::string_view op_kind_color(OpKind kind) {
  return op_kinds[static_cast<std::size_t>(kind)].color;
}

constexpr bool is_collective(OpKind kind) {
  return op_kinds[static_cast<std::size_t>(kind)].collective;
}
constexpr bool is_communication(OpKind kind) {
  return op_kinds[static_cast<std::size_t>(kind)].communication;
}
constexpr bool is_linear(OpKind kind) {
  return op_kinds[static_cast<std::size_t>(kind)].linear;
}
constexpr bool is_attention(OpKind kind) {
  return op_kinds[static_cast<std::size_t>(kind)].attention;
}

} // namespace helix
