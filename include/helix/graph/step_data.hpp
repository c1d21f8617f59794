// What the steps hold: the full weights of a block and a Linear's slice of one, the heads an
// attention op covers, which half of a block an op is in, and what a collective is for, which
// phase of an all-reduce it is and how it moves its data. Plain constexpr values.
#pragma once

#include "helix/model/model.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace helix {

/// The full (unsharded) weights: those of one block, and the token embedding and LM head of a
/// model with a vocabulary; each is held by the step that names it (`block_weights` and
/// `vocabulary_weights` list them from the steps).
enum class Weight : std::uint8_t { wq, wk, wv, wo, w1, w2, w_gate, embedding, lm_head };

/// Whether `weight` belongs to every block (rather than once to the model).
constexpr bool is_block_weight(Weight weight) {
  return weight != Weight::embedding && weight != Weight::lm_head;
}

constexpr std::string_view weight_name(Weight w) {
  switch (w) {
  case Weight::wq:
    return "wq";
  case Weight::wk:
    return "wk";
  case Weight::wv:
    return "wv";
  case Weight::wo:
    return "wo";
  case Weight::w1:
    return "w1";
  case Weight::w2:
    return "w2";
  case Weight::w_gate:
    return "w_gate";
  case Weight::embedding:
    return "embedding";
  case Weight::lm_head:
    return "lm_head";
  }
  return "?";
}

/// Shape [rows, columns] of a full (unsharded) weight of `model`, stored [in, out]; the embedding
/// is a table of one row per (padded) vocabulary entry.
/// Example: `full_weight_shape(models::llama3_70b, Weight::wk)` is {8192, 8 · 128}.
constexpr std::array<std::int64_t, 2> full_weight_shape(const Model& model, Weight weight) {
  switch (weight) {
  case Weight::wq:
    return {model.hidden, attention_width(model)};
  case Weight::wk:
  case Weight::wv:
    return {model.hidden, kv_width(model)};
  case Weight::wo:
    return {attention_width(model), model.hidden};
  case Weight::w1:
  case Weight::w_gate:
    return {model.hidden, model.ffn_hidden};
  case Weight::embedding:
    return {padded_vocab(model), model.hidden};
  case Weight::lm_head:
    return {model.hidden, padded_vocab(model)};
  case Weight::w2:
    break;
  }
  return {model.ffn_hidden, model.hidden};
}

/// A strided set of indices: `count` runs of `size` consecutive indices, run i starting at
/// `begin + i·stride`. Contiguous ranges have count 1.
///
/// Example: HeadPartitions slice s of head_dim 512 into 4, for heads 4..7, is the column set
/// {begin = 4·512 + s·128, size = 128, stride = 512, count = 4} of Wq.
struct IndexRuns {
  std::int64_t begin = 0;
  std::int64_t size = 0;
  std::int64_t stride = 0;
  std::int64_t count = 1;
  friend constexpr bool operator==(const IndexRuns&, const IndexRuns&) = default;
  constexpr std::int64_t total() const { return size * count; }
  static constexpr IndexRuns range(std::int64_t begin, std::int64_t size) {
    return {begin, size, size, 1};
  }
};

/// A Linear's share of a full weight: `y = x @ W[rows, cols]`.
struct LinearSlice {
  IndexRuns rows;
  IndexRuns cols;
  friend constexpr bool operator==(const LinearSlice&, const LinearSlice&) = default;
};

/// The heads an attention op covers: query heads [head_begin, +heads), the key/value heads
/// [kv_head_begin, +kv_heads) they read, and the head_dim slice [dim_begin, +dims).
struct AttentionHeads {
  std::int64_t head_begin = 0;
  std::int64_t heads = 0;
  std::int64_t kv_head_begin = 0;
  std::int64_t kv_heads = 0;
  std::int64_t dim_begin = 0;
  std::int64_t dims = 0;
  friend constexpr bool operator==(const AttentionHeads&, const AttentionHeads&) = default;
};

/// The two halves of a transformer block.
enum class Sublayer : std::uint8_t {
  none,      ///< input, output, transfers: outside every layer
  attention, ///< norm, Q/K/V, KV cache, scores, softmax, context, out-projection, their
             ///< collectives and the residual add x + attention
  mlp,       ///< norm, FC1, GELU, FC2, their collectives and the residual add y + MLP
};

/// What a collective is for, so views and costs can name it: summing partial scores, a
/// sublayer's partial outputs (a parallel block sums attention and MLP together), the
/// vocab-parallel embedding's masked lookups, gathering the vocab-parallel logits, gathering
/// the slices of an activation that crossed a pipeline-stage boundary scatter-gather
/// (`PipelineSend::scatter_gather`), or exchanging KV-parallel decode's partial attention outputs.
enum class CollectivePurpose : std::uint8_t {
  attention_scores,
  attention_output,
  mlp_output,
  block_output,
  embedding,
  logits,
  pipeline_activation,
  attention_partials, ///< KV-parallel decode: partial attention outputs to the shard merging them
};

/// Whether the plan decides how a collective of `purpose` runs (flat or hierarchical): the sums
/// of a stage's partial outputs do; partial scores (a head_dim group) and the all-gathers of the
/// logits and of a pipeline activation (one ring over the stage's tensor devices) do not.
///
/// The pipeline all-gather is one flat ring, not the plan's reduce-scatter → all-reduce →
/// all-gather shape: that shape exists to reduce inside a group before crossing groups, and an
/// all-gather reduces nothing (every member must receive all t − 1 other slices whichever way
/// they travel); Megatron-LM issues it as one all-gather over the tensor-parallel group and
/// leaves its route to NCCL, as the logits' all-gather here does.
constexpr bool follows_plan_all_reduce(CollectivePurpose purpose) {
  return purpose != CollectivePurpose::attention_scores && purpose != CollectivePurpose::logits &&
         purpose != CollectivePurpose::pipeline_activation &&
         purpose != CollectivePurpose::attention_partials;
}

/// Whether a collective of `purpose` sums partial results, so it is (a phase of) one of the
/// logical all-reduces a plan is judged by: every purpose but the all-gathers of the logits and
/// of a pipeline activation and the all-to-all of partial attention outputs, which move slices and
/// add nothing (the log-sum-exp merge after the all-to-all is a compute op).
constexpr bool sums_partial_results(CollectivePurpose purpose) {
  return purpose != CollectivePurpose::logits &&
         purpose != CollectivePurpose::pipeline_activation &&
         purpose != CollectivePurpose::attention_partials;
}

/// Which step of an all-reduce a collective vertex is.
enum class CollectivePhase : std::uint8_t {
  flat,                       ///< a whole all-reduce in one ring over the group
  intra_group_reduce_scatter, ///< hierarchical step 1, inside a tensor group
  inter_group_all_reduce,     ///< hierarchical step 2, same-rank members across groups
  intra_group_all_gather,     ///< hierarchical step 3, inside a tensor group
};

constexpr std::string_view collective_phase_name(CollectivePhase phase) {
  switch (phase) {
  case CollectivePhase::flat:
    return "flat";
  case CollectivePhase::intra_group_reduce_scatter:
    return "intra-group reduce-scatter";
  case CollectivePhase::inter_group_all_reduce:
    return "inter-group all-reduce";
  case CollectivePhase::intra_group_all_gather:
    return "intra-group all-gather";
  }
  return "?";
}

/// The collective a phase runs, as people write it: "all-reduce" for the flat and inter-group
/// phases, "reduce-scatter" and "all-gather" for the intra-group ones.
constexpr std::string_view collective_phase_operation(CollectivePhase phase) {
  switch (phase) {
  case CollectivePhase::flat:
  case CollectivePhase::inter_group_all_reduce:
    return "all-reduce";
  case CollectivePhase::intra_group_reduce_scatter:
    return "reduce-scatter";
  case CollectivePhase::intra_group_all_gather:
    return "all-gather";
  }
  return "?";
}

/// How a collective moves its data. Ring only today; NCCL's tree and NVLS come with the cost
/// model that prices them.
enum class CollectiveAlgorithm : std::uint8_t { ring };

constexpr std::string_view collective_algorithm_name(CollectiveAlgorithm algorithm) {
  switch (algorithm) {
  case CollectiveAlgorithm::ring:
    return "ring";
  }
  return "?";
}

} // namespace helix
