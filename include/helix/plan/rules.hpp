// The one rule set that decides whether a (model, plan, workload) can be built. The compile-time
// checks (check_plan, is_valid_plan) and the run-time `validate` both evaluate `evaluate_rules`;
// each rule's words are written once, in HELIX_PLAN_RULES.
#pragma once

#include "helix/model/model.hpp"
#include "helix/plan/spec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string_view>

namespace helix {

// X(identifier, rule name, what must hold, name of the first number, name of the second number)
// A compile error reads "helix: <rule name>: <what must hold>"; a run-time message appends the
// numbers: "(<first name> = 16, <second name> = 3)".
#define HELIX_PLAN_RULES(X)                                                                        \
  X(descriptor_given_once, "descriptor given once",                                                \
    "each descriptor may appear at most once in a plan", "times given", "allowed")                 \
  X(one_tensor_scheme, "one tensor scheme",                                                        \
    "TensorGroups, TensorParallel and HeadPartitions exclude one another", "schemes given",        \
    "allowed")                                                                                     \
  X(degree_at_least_one, "degree at least one", "every parallel degree must be at least 1",        \
    "degree", "minimum")                                                                           \
  X(model_size_positive, "model size positive", "every model size must be at least 1", "value",    \
    "minimum")                                                                                     \
  X(kv_parallel_decode_only, "kv parallel decode only",                                            \
    "KVParallel shards the KV cache of decode; a prefill has no cache to shard (cost the "         \
    "prefill with a plan without kvp=)",                                                           \
    "kv parallel degree", "allowed in prefill")                                                    \
  X(kv_parallel_tensor_scheme, "kv parallel tensor scheme",                                        \
    "KVParallel combines with TensorParallel or TensorGroups, not with HeadPartitions (its "       \
    "partial scores would need a sum before each shard's softmax)",                                \
    "kv parallel degree", "head_dim slices allowed")                                               \
  X(kv_heads_vs_attention_degree, "kv heads vs attention degree",                                  \
    "under KVParallel the attention's tensor degree (TPA) must not exceed the kv heads, so no kv " \
    "head is duplicated across devices (Helix: TPA at most the KV heads)",                         \
    "attention tensor degree", "kv heads")                                                         \
  X(heads_vs_kv_parallel, "heads vs kv parallel",                                                  \
    "each device's query heads (heads / TPA) must divide by the KV-parallel degree: the "          \
    "all-to-all hands each KV shard an equal share of them to merge",                              \
    "heads per device", "kv parallel degree")                                                      \
  X(kv_length_vs_kv_parallel, "kv length vs kv parallel",                                          \
    "every KV shard must hold at least one cached token", "cached tokens",                         \
    "tokens the placement needs")                                                                  \
  X(heads_vs_kv_heads, "heads vs kv heads", "attention heads must divide by the kv heads",         \
    "heads", "kv heads")                                                                           \
  X(heads_vs_tensor_degree, "heads vs tensor degree",                                              \
    "attention heads must divide by the tensor-parallel degree", "heads", "tensor degree")         \
  X(kv_heads_vs_tensor_degree, "kv heads vs tensor degree",                                        \
    "kv heads must divide by the tensor-parallel degree, or the degree by the kv heads "           \
    "(replicated kv heads)",                                                                       \
    "kv heads", "tensor degree")                                                                   \
  X(head_dim_vs_dim_slices, "head_dim vs dimension slices",                                        \
    "head_dim must divide by the number of dimension slices", "head_dim", "dimension slices")      \
  X(ffn_vs_tensor_degree, "ffn vs tensor degree",                                                  \
    "the MLP hidden size must divide by the tensor-parallel degree", "ffn hidden",                 \
    "tensor degree")                                                                               \
  X(vocab_vs_tensor_degree, "vocab vs tensor degree",                                              \
    "the padded vocabulary (a multiple of 128) must divide by the tensor-parallel degree, which "  \
    "splits the embedding and the LM head",                                                        \
    "padded vocab", "tensor degree")                                                               \
  X(hidden_vs_group_size, "hidden vs group size",                                                  \
    "hidden must divide by the tensor group size (reduce-scatter splits the hidden dimension)",    \
    "hidden", "group size")                                                                        \
  X(hidden_vs_pipeline_slices, "hidden vs pipeline slices",                                        \
    "hidden must divide by the tensor-parallel degree when pipeline stages send scatter-gather "   \
    "(each tensor device sends hidden / degree columns; a full send, PipelineSend::full, does "    \
    "not split)",                                                                                  \
    "hidden", "tensor degree")                                                                     \
  X(groups_vs_stages, "groups vs stages",                                                          \
    "tensor groups must be dealt evenly to the pipeline stages", "groups", "stages")               \
  X(layers_vs_stages, "layers vs pipeline stages",                                                 \
    "every pipeline stage needs at least one layer", "layers", "stages")                           \
  X(layer_split_vs_stages, "layer split vs stages",                                                \
    "an explicit layer split lists one layer count per pipeline stage", "counts listed", "stages") \
  X(layer_split_vs_layers, "layer split vs layers",                                                \
    "an explicit layer split must add up to the model's layers", "layers in split", "layers")      \
  X(batch_vs_data_microbatches, "batch vs data parallel and microbatches",                         \
    "batch must divide by data-parallel degree times microbatches", "batch",                       \
    "data parallel x microbatches")                                                                \
  X(sizes_fit_64_bit, "sizes fit 64-bit",                                                          \
    "every tensor's elements and bytes, the forward's FLOPs and the product of the plan's "        \
    "degrees must fit in a signed 64-bit integer",                                                 \
    "product so far", "next factor")                                                               \
  X(dag_size, "DAG size",                                                                          \
    "the operator DAG may have at most 2^24 vertices (about 16 GB to build)",                      \
    "vertices (upper bound)", "limit")

enum class Rule : std::uint8_t {
#define HELIX_RULE_ENUM(id, name, text, a, b) id,
  HELIX_PLAN_RULES(HELIX_RULE_ENUM)
#undef HELIX_RULE_ENUM
};

struct RuleText {
  std::string_view name, requirement, first, second;
};

inline constexpr std::array rule_texts{
#define HELIX_RULE_TEXT(id, name, text, a, b) RuleText{name, text, a, b},
    HELIX_PLAN_RULES(HELIX_RULE_TEXT)
#undef HELIX_RULE_TEXT
};
inline constexpr std::size_t rule_count = rule_texts.size();

constexpr const RuleText& text_of(Rule rule) {
  return rule_texts[static_cast<std::size_t>(rule)];
}

/// What one rule found. `subject` names the field or descriptor the numbers belong to when the
/// rule's generic number names are not enough ("ffn_hidden", "PipelineStages").
struct Finding {
  Rule rule{};
  bool ok = true;
  std::int64_t first = 0;
  std::int64_t second = 0;
  std::string_view subject{};
};

using Findings = std::array<Finding, rule_count>;

namespace detail {

struct RuleSheet {
  Findings findings;
  // Filled explicitly: g++ 12 zero-fills `std::array<Finding, N>{}` at run time in a translation
  // unit that also evaluated it in a constant expression, skipping the member initializers.
  constexpr RuleSheet() {
    for (std::size_t i = 0; i < rule_count; ++i)
      findings[i] = Finding{static_cast<Rule>(i), true, 0, 0, {}};
  }
  constexpr void fail(Rule rule, std::int64_t first, std::int64_t second,
                      std::string_view subject = {}) {
    Finding& f = findings[static_cast<std::size_t>(rule)];
    if (f.ok)
      f = Finding{rule, false, first, second, subject};
  }
  constexpr bool failed(std::initializer_list<Rule> rules) const {
    for (Rule r : rules)
      if (!findings[static_cast<std::size_t>(r)].ok)
        return true;
    return false;
  }
};

/// Multiplies positive factors; reports the first pair whose product leaves int64.
struct CheckedProduct {
  std::int64_t value = 1;
  bool overflow = false;
  std::int64_t culprit_a = 0, culprit_b = 0;
  constexpr CheckedProduct(std::initializer_list<std::int64_t> factors) {
    for (std::int64_t f : factors) {
      std::int64_t next = 0;
      if (!overflow && __builtin_mul_overflow(value, f, &next)) {
        overflow = true;
        culprit_a = value;
        culprit_b = f;
      }
      value = next;
    }
  }
};

constexpr bool divides(std::int64_t divisor, std::int64_t n) {
  return n % divisor == 0;
}

} // namespace detail

/// The most vertices `build_dag` will build: about 1 KB each with their edges, so 16 GB.
inline constexpr std::int64_t max_dag_vertices = std::int64_t{1} << 24;

/// Evaluates every rule for `model` partitioned by `plan` running `workload`.
/// Rules that would divide by a zero or negative size are skipped while that size is reported
/// by its own rule, so this never traps.
/// @post `findings[r].ok` is true for every rule that holds.
///
/// Example: helix_seed with `tp=3` fails heads_vs_tensor_degree with (16, 3).
[[nodiscard]] constexpr Findings evaluate_rules(const Model& m, const PlanSpec& p,
                                                const Workload& w = {}) {
  using enum Rule;
  using detail::divides;
  detail::RuleSheet sheet;
  for (std::size_t k = 0; k < descriptor_kind_count; ++k)
    if (p.given[k] > 1)
      sheet.fail(descriptor_given_once, p.given[k], 1,
                 descriptor_name(static_cast<DescriptorKind>(k)));
  const std::int64_t tensor_schemes = (p.has(DescriptorKind::tensor_groups) ? 1 : 0) +
                                      (p.has(DescriptorKind::tensor_parallel) ? 1 : 0) +
                                      (p.has(DescriptorKind::head_partitions) ? 1 : 0);
  if (tensor_schemes > 1)
    sheet.fail(one_tensor_scheme, tensor_schemes, 1);

  struct Degree {
    std::string_view name;
    std::int64_t value;
  };
  for (const Degree& d :
       {Degree{"PipelineStages", p.pipeline_stages}, Degree{"TensorGroups groups", p.tensor_groups},
        Degree{"TensorGroups group size", p.tensor_group_size},
        Degree{"HeadPartitions head groups", p.head_groups},
        Degree{"HeadPartitions dimension slices", p.dim_slices},
        Degree{"DataParallel", p.data_parallel}, Degree{"KVParallel", p.kv_parallel},
        Degree{"microbatches", w.microbatches}, Degree{"KV placement chunk", w.kv_placement.chunk}})
    if (d.value < 1)
      sheet.fail(degree_at_least_one, d.value, 1, d.name);

  for (const Degree& d :
       {Degree{"layers", m.layers}, Degree{"hidden", m.hidden}, Degree{"heads", m.heads},
        Degree{"kv_heads", m.kv_heads}, Degree{"head_dim", m.head_dim},
        Degree{"ffn_hidden", m.ffn_hidden}, Degree{"batch", m.batch}, Degree{"seq_len", m.seq_len}})
    if (d.value < 1)
      sheet.fail(model_size_positive, d.value, 1, d.name);
  if (m.vocab < 0) // 0 is a block stack without a vocabulary
    sheet.fail(model_size_positive, m.vocab, 0, "vocab");

  if (p.kv_parallel > 1 && w.phase != Phase::decode)
    sheet.fail(kv_parallel_decode_only, p.kv_parallel, 1, "workload prefill");
  if (p.kv_parallel > 1 && p.has(DescriptorKind::head_partitions))
    sheet.fail(kv_parallel_tensor_scheme, p.kv_parallel, 1);

  // Everything below divides by sizes checked above.
  if (sheet.failed(
          {descriptor_given_once, one_tensor_scheme, degree_at_least_one, model_size_positive}))
    return sheet.findings;
  // The degrees multiply into the tensor degree, the world size and the forward count: bounded
  // by the product of all of them, which must fit before any of those is formed below.
  const detail::CheckedProduct degrees{p.pipeline_stages, p.tensor_groups, p.tensor_group_size,
                                       p.head_groups,     p.dim_slices,    p.data_parallel,
                                       p.kv_parallel,     w.microbatches};
  if (degrees.overflow) {
    sheet.fail(sizes_fit_64_bit, degrees.culprit_a, degrees.culprit_b,
               "product of the plan's degrees (stages, groups, group size, head groups, dimension "
               "slices, data parallel, kv parallel, microbatches)");
    return sheet.findings;
  }

  if (!divides(m.kv_heads, m.heads))
    sheet.fail(heads_vs_kv_heads, m.heads, m.kv_heads);

  if (p.has(DescriptorKind::tensor_groups) && !divides(p.pipeline_stages, p.tensor_groups))
    sheet.fail(groups_vs_stages, p.tensor_groups, p.pipeline_stages);
  if (sheet.failed({groups_vs_stages}))
    return sheet.findings;

  const std::int64_t heads_degree = head_split(p);
  if (!divides(heads_degree, m.heads))
    sheet.fail(heads_vs_tensor_degree, m.heads, heads_degree);
  if (!divides(heads_degree, m.kv_heads) && !divides(m.kv_heads, heads_degree))
    sheet.fail(kv_heads_vs_tensor_degree, m.kv_heads, heads_degree);
  if (p.kv_parallel > 1) {
    if (heads_degree > m.kv_heads)
      sheet.fail(kv_heads_vs_attention_degree, heads_degree, m.kv_heads);
    if (divides(heads_degree, m.heads) && !divides(p.kv_parallel, m.heads / heads_degree))
      sheet.fail(heads_vs_kv_parallel, m.heads / heads_degree, p.kv_parallel);
    const bool interleaved = w.kv_placement.layout == KVLayout::interleaved;
    const detail::CheckedProduct first_of_last{p.kv_parallel - 1,
                                               interleaved ? w.kv_placement.chunk : 1};
    const std::int64_t needed =
        first_of_last.overflow ? std::numeric_limits<std::int64_t>::max() : first_of_last.value + 1;
    if (m.seq_len < needed)
      sheet.fail(kv_length_vs_kv_parallel, m.seq_len, needed,
                 interleaved ? "seq_len (interleaved placement deals chunks round robin: the last "
                               "shard's first chunk starts at (kvp - 1) x chunk)"
                             : "seq_len (contiguous placement)");
  }
  if (!divides(head_dim_split(p), m.head_dim))
    sheet.fail(head_dim_vs_dim_slices, m.head_dim, head_dim_split(p));
  if (!divides(tensor_degree(p), m.ffn_hidden))
    sheet.fail(ffn_vs_tensor_degree, m.ffn_hidden, tensor_degree(p));
  const detail::CheckedProduct embedding{m.vocab, m.hidden, bits(m.dtype)};
  if (embedding.overflow) {
    sheet.fail(sizes_fit_64_bit, embedding.culprit_a, embedding.culprit_b,
               "embedding bits = vocab × hidden × dtype bits");
    return sheet.findings;
  }
  if (m.vocab > 0 && !divides(tensor_degree(p), padded_vocab(m)))
    sheet.fail(vocab_vs_tensor_degree, padded_vocab(m), tensor_degree(p));
  // Only a hierarchical all-reduce materializes the reduce-scatter shard [.., hidden / S].
  if (groups_per_stage(p) > 1 && !divides(tensor_group_size(p), m.hidden))
    sheet.fail(hidden_vs_group_size, m.hidden, tensor_group_size(p));
  // Megatron's pipeline sends cut the activation's hidden dimension into one equal slice per
  // tensor device; the all-gather that rebuilds it takes equal shares.
  if (p.pipeline_stages > 1 && w.pipeline_send == PipelineSend::scatter_gather &&
      !divides(tensor_degree(p), m.hidden))
    sheet.fail(hidden_vs_pipeline_slices, m.hidden, tensor_degree(p));

  if (p.layer_split_count == 0) {
    if (m.layers < p.pipeline_stages)
      sheet.fail(layers_vs_stages, m.layers, p.pipeline_stages);
  } else {
    if (p.layer_split_count != p.pipeline_stages)
      sheet.fail(layer_split_vs_stages, p.layer_split_count, p.pipeline_stages);
    std::int64_t sum = 0;
    for (std::int64_t s = 0; s < p.layer_split_count; ++s) {
      const std::int64_t layers = p.layer_split[static_cast<std::size_t>(s)];
      if (layers < 1)
        sheet.fail(layers_vs_stages, layers, p.pipeline_stages, "layers of a stage in the split");
      sum += layers;
    }
    if (sum != m.layers)
      sheet.fail(layer_split_vs_layers, sum, m.layers);
  }

  const detail::CheckedProduct replicas{p.data_parallel, w.microbatches};
  if (!replicas.overflow && !divides(replicas.value, m.batch))
    sheet.fail(batch_vs_data_microbatches, m.batch, replicas.value);

  struct Size {
    std::string_view name;
    detail::CheckedProduct product;
  };
  if (m.seq_len == std::numeric_limits<std::int64_t>::max()) { // decode attends to seq_len + 1
    sheet.fail(sizes_fit_64_bit, m.seq_len, 1, "seq_len + 1");
    return sheet.findings;
  }
  // Per new token (T = seq_len in prefill, 1 in decode), but for the KV cache.
  const std::int64_t tokens = new_tokens(m, w);
  for (const Size& s : {
           Size{"world size = pipeline × data × kv × head groups × dimension slices",
                {p.pipeline_stages, p.data_parallel, p.kv_parallel, head_split(p),
                 head_dim_split(p)}},
           Size{"attention width = heads × head_dim", {m.heads, m.head_dim}},
           Size{"activation bits = batch × new tokens × hidden × dtype bits",
                {m.batch, tokens, m.hidden, bits(m.dtype)}},
           Size{"attention activation bits = batch × new tokens × heads × head_dim × dtype bits",
                {m.batch, tokens, m.heads, m.head_dim, bits(m.dtype)}},
           Size{"MLP activation bits = batch × new tokens × ffn_hidden × dtype bits",
                {m.batch, tokens, m.ffn_hidden, bits(m.dtype)}},
           Size{"attention score bits = batch × heads × new tokens × (seq_len + 1) × dtype bits",
                {m.batch, m.heads, tokens, m.seq_len + 1, bits(m.dtype)}},
           Size{"Wq bits = hidden × heads × head_dim × dtype bits",
                {m.hidden, m.heads, m.head_dim, bits(m.dtype)}},
           Size{"W1 bits = hidden × ffn_hidden × dtype bits",
                {m.hidden, m.ffn_hidden, bits(m.dtype)}},
           Size{"KV cache bits = 2 × layers × batch × (seq_len + 1) × kv_heads × head_dim × "
                "dtype bits",
                {2, m.layers, m.batch, m.seq_len + 1, m.kv_heads, m.head_dim, bits(m.dtype)}},
       })
    if (s.product.overflow) {
      sheet.fail(sizes_fit_64_bit, s.product.culprit_a, s.product.culprit_b, s.name);
      return sheet.findings;
    }
  // FLOPs of the whole forward, each term an upper bound and the sum checked, with T new tokens
  // per sequence (S in prefill, 1 in decode): Q/K/V/out projections ≤ 8·B·T·h·heads·head_dim per
  // layer, scores and context 4·B·heads·T·(S+1)·head_dim, MLP ≤ 6·B·T·h·ffn (SwiGLU's three
  // matrices; GELU's two make 4), softmax 5·B·heads·T·(S+1), activation ≤ 8·B·T·ffn (GELU;
  // SwiGLU 5), two norms and two residual adds ≤ 12·B·T·h.
  const std::int64_t keys = m.seq_len + 1;
  std::int64_t forward_flops = 0;
  for (const Size& s : {
           Size{"projection FLOPs = 8 × layers × batch × new tokens × hidden × heads × head_dim",
                {8, m.layers, m.batch, tokens, m.hidden, m.heads, m.head_dim}},
           Size{"attention FLOPs = 4 × layers × batch × heads × new tokens × (seq_len + 1) × "
                "head_dim",
                {4, m.layers, m.batch, m.heads, tokens, keys, m.head_dim}},
           Size{"MLP FLOPs = 6 × layers × batch × new tokens × hidden × ffn_hidden",
                {6, m.layers, m.batch, tokens, m.hidden, m.ffn_hidden}},
           Size{"softmax FLOPs = 5 × layers × batch × heads × new tokens × (seq_len + 1)",
                {5, m.layers, m.batch, m.heads, tokens, keys}},
           Size{"GELU FLOPs = 8 × layers × batch × new tokens × ffn_hidden",
                {8, m.layers, m.batch, tokens, m.ffn_hidden}},
           Size{"norm and residual FLOPs = 12 × layers × batch × new tokens × hidden",
                {12, m.layers, m.batch, tokens, m.hidden}},
           Size{"LM head FLOPs = 2 × batch × hidden × padded vocab",
                {2, m.batch, m.hidden, padded_vocab(m)}},
       }) {
    if (s.product.overflow) {
      sheet.fail(sizes_fit_64_bit, s.product.culprit_a, s.product.culprit_b, s.name);
      return sheet.findings;
    }
    if (__builtin_add_overflow(forward_flops, s.product.value, &forward_flops)) {
      sheet.fail(sizes_fit_64_bit, forward_flops, s.product.value,
                 "forward FLOPs = the terms summed (the numbers: sum so far, next term)");
      return sheet.findings;
    }
  }

  // Vertices per forward (one replica, one microbatch): per layer and device at most 20 compute
  // ops (14, a gate and SwiGLU, a KV cache and append for K and V in decode) and at most 9
  // collective vertices (3 all-reduces of 3 phases, each phase at most one vertex per device);
  // per device an input, an output, and per stage boundary a transfer and at most one all-gather
  // vertex (scatter-gather sends), and with a vocabulary at most 10 more (embedding and its 3
  // all-reduce phases, last token, final norm, LM head, gather).
  // 41·max(layers, stages) ≥ 29·layers + 2·stages + 10, without a sum that could overflow.
  const detail::CheckedProduct vertices{p.data_parallel, w.microbatches, tensor_degree(p), 41,
                                        m.layers > p.pipeline_stages ? m.layers
                                                                     : p.pipeline_stages};
  if (vertices.overflow)
    sheet.fail(dag_size, vertices.culprit_a, vertices.culprit_b,
               "vertex bound = data parallel × microbatches × tensor degree × 41 × "
               "max(layers, stages), past 64 bits");
  else if (vertices.value > max_dag_vertices)
    sheet.fail(dag_size, vertices.value, max_dag_vertices);
  return sheet.findings;
}

[[nodiscard]] constexpr bool all_hold(const Findings& findings) {
  for (const Finding& f : findings)
    if (!f.ok)
      return false;
  return true;
}

} // namespace helix
