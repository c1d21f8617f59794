// The transformer being partitioned: a constexpr value type usable as a template argument, so a
// plan can be checked against it at compile time. Holds sizes only; no weights, no devices.
#pragma once

#include "helix/model/data_type.hpp"
#include "helix/model/kv_placement.hpp"

#include <cstdint>
#include <string_view>

namespace helix {

enum class Norm : std::uint8_t { none, layernorm, rmsnorm };

constexpr std::string_view norm_name(Norm norm) {
  return norm == Norm::layernorm ? "layernorm" : norm == Norm::rmsnorm ? "rmsnorm" : "none";
}
/// The MLP: `gelu` is GELU(a W1) W2 (GPT-3); `swiglu` is (SiLU(a W_gate) ⊙ a W1) W2 (LLaMA, PaLM),
/// a third weight of the same shape as W1.
enum class Activation : std::uint8_t { gelu, swiglu };

constexpr std::string_view activation_name(Activation activation) {
  return activation == Activation::swiglu ? "swiglu" : "gelu";
}

/// A decoder-only transformer block stack, with every size a named field.
/// Attention width is `heads * head_dim`, which need not equal `hidden`.
/// Linear layers carry no bias (see README, "Block equations").
///
/// Example: `constexpr Model m = models::llama3_70b.with_batch(4).with_seq_len(4096);`
struct Model {
  std::int64_t layers = 1;
  std::int64_t hidden = 1;
  std::int64_t heads = 1;
  std::int64_t kv_heads = 1;
  std::int64_t head_dim = 1;
  std::int64_t ffn_hidden = 1;
  std::int64_t batch = 1;
  std::int64_t seq_len = 1;
  /// Format of weights and activations.
  DataType dtype = DataType::bf16;
  /// Format of the KV cache (servers often keep it in fp8 while computing in bf16).
  DataType kv_dtype = DataType::bf16;
  Norm norm = Norm::none;
  Activation activation = Activation::gelu;
  /// Token vocabulary: 0 is a bare block stack (input and output are hidden states); otherwise a
  /// token embedding comes first and a final norm and LM head last (see `padded_vocab`).
  std::int64_t vocab = 0;
  /// GPT-J / Falcon / PaLM block: attention and MLP read the same normed input and are added to
  /// the residual together, y = x + Attention(n(x)) + MLP(n(x)), with one norm per layer.
  bool parallel_block = false;

  friend constexpr bool operator==(const Model&, const Model&) = default;

  constexpr Model with_layers(std::int64_t v) const { return with(&Model::layers, v); }
  constexpr Model with_hidden(std::int64_t v) const { return with(&Model::hidden, v); }
  constexpr Model with_heads(std::int64_t v) const { return with(&Model::heads, v); }
  constexpr Model with_kv_heads(std::int64_t v) const { return with(&Model::kv_heads, v); }
  constexpr Model with_head_dim(std::int64_t v) const { return with(&Model::head_dim, v); }
  constexpr Model with_ffn_hidden(std::int64_t v) const { return with(&Model::ffn_hidden, v); }
  constexpr Model with_batch(std::int64_t v) const { return with(&Model::batch, v); }
  constexpr Model with_seq_len(std::int64_t v) const { return with(&Model::seq_len, v); }
  constexpr Model with_vocab(std::int64_t v) const { return with(&Model::vocab, v); }
  constexpr Model with_dtype(DataType v) const {
    Model copy = *this;
    copy.dtype = v;
    copy.kv_dtype = v;
    return copy;
  }
  constexpr Model with_kv_dtype(DataType v) const {
    Model copy = *this;
    copy.kv_dtype = v;
    return copy;
  }
  constexpr Model with_parallel_block(bool v) const {
    Model copy = *this;
    copy.parallel_block = v;
    return copy;
  }
  constexpr Model with_activation(Activation v) const {
    Model copy = *this;
    copy.activation = v;
    return copy;
  }
  constexpr Model with_norm(Norm v) const {
    Model copy = *this;
    copy.norm = v;
    return copy;
  }

private:
  constexpr Model with(std::int64_t Model::*field, std::int64_t v) const {
    Model copy = *this;
    copy.*field = v;
    return copy;
  }
};

/// Width of the concatenated attention heads (rows of the out-projection).
constexpr std::int64_t attention_width(const Model& m) {
  return m.heads * m.head_dim;
}
/// Width of the concatenated key (or value) heads.
constexpr std::int64_t kv_width(const Model& m) {
  return m.kv_heads * m.head_dim;
}

/// Parameters of one norm: a gain per hidden unit, and for layernorm a shift as well; none for
/// `Norm::none`. The one place that counts them (parameters, memory and work read it).
constexpr std::int64_t norm_parameters(const Model& m) {
  switch (m.norm) {
  case Norm::none:
    return 0;
  case Norm::layernorm:
    return 2 * m.hidden;
  case Norm::rmsnorm:
    return m.hidden;
  }
  return 0;
}

/// Norms in one block: two (before attention, before the MLP), one in a parallel block.
constexpr std::int64_t norms_per_layer(const Model& m) {
  return m.parallel_block ? 1 : 2;
}

/// Weights of one block: Wq [h, heads*d], Wk and Wv [h, kv*d], Wo [heads*d, h], W1 [h, f],
/// W2 [f, h] (and W_gate [h, f] for SwiGLU), plus one gain vector per norm (layernorm: gain and
/// shift).
/// @post for gpt3_175b this is 12·h² = 1,811,939,328 (Narayanan et al. 2021, no biases).
constexpr std::int64_t parameters_per_layer(const Model& m) {
  const std::int64_t attention =
      m.hidden * attention_width(m) + 2 * m.hidden * kv_width(m) + attention_width(m) * m.hidden;
  const std::int64_t mlp = (m.activation == Activation::swiglu ? 3 : 2) * m.hidden * m.ffn_hidden;
  return attention + mlp + norms_per_layer(m) * norm_parameters(m);
}

/// Megatron-LM pads the vocabulary to a multiple of 128 (`--make-vocab-size-divisible-by`, times
/// the tensor degree, which divides 128 for every power-of-two degree up to 128) so the embedding
/// and LM head split evenly; the padded rows are never looked up and their logits are ignored.
inline constexpr std::int64_t vocab_padding_multiple = 128;

/// The vocabulary rows the embedding and LM head hold: `vocab` rounded up to a multiple of 128.
///
/// Example: GPT-3's 50,257 tokens are held as 50,304 rows; Llama 3's 128,256 need no padding.
constexpr std::int64_t padded_vocab(const Model& m) {
  return (m.vocab + vocab_padding_multiple - 1) / vocab_padding_multiple * vocab_padding_multiple;
}

/// Weights outside the blocks: the token embedding [padded vocab, h], the final norm and the LM
/// head [h, padded vocab] (not tied to the embedding); none when `vocab` is 0.
constexpr std::int64_t vocabulary_parameters(const Model& m) {
  if (m.vocab == 0)
    return 0;
  return 2 * padded_vocab(m) * m.hidden + norm_parameters(m);
}

/// Every weight of the model.
/// @post for llama2_7b (32 layers, h 4096, f 11008, vocab 32000) this is 6,738,415,616, the count
/// Meta publishes as "7B" (Touvron et al. 2023).
constexpr std::int64_t parameters(const Model& m) {
  return m.layers * parameters_per_layer(m) + vocabulary_parameters(m);
}

enum class Phase : std::uint8_t { prefill, decode };

constexpr std::string_view phase_name(Phase phase) {
  return phase == Phase::prefill ? "prefill" : "decode";
}

/// How attention is computed. `flash` (FlashAttention; what production servers run) keeps no
/// scores or probabilities in device memory: it reads Q, K and V and writes the context once, and
/// skips the masked half of a causal prefill. `materialized` writes the [b, heads, T, K] scores
/// and probabilities as the DAG draws them. The DAG is the same; only cost and memory differ.
enum class AttentionKernel : std::uint8_t { flash, materialized };

constexpr std::string_view attention_kernel_name(AttentionKernel kernel) {
  return kernel == AttentionKernel::flash ? "flash" : "materialized";
}

/// How an activation crosses a pipeline-stage boundary, where every one of the t tensor devices of
/// a stage holds it whole. `scatter_gather` is Megatron-LM's scatter/gather optimization
/// (Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters Using
/// Megatron-LM", §4.1): each tensor device sends its 1/t slice to its peer in the next stage,
/// whose tensor devices all-gather the slices, so 1/t of the bytes crosses the (inter-node)
/// boundary and the rest moves over the fast links inside the stage. `full`: each device sends
/// the whole activation, t copies across the boundary; kept for comparison. The result is the
/// same; the DAG differs (slices sent, an all-gather per boundary), so check and verify see both.
enum class PipelineSend : std::uint8_t { scatter_gather, full };

constexpr std::string_view pipeline_send_name(PipelineSend send) {
  return send == PipelineSend::scatter_gather ? "scatter_gather" : "full";
}

/// What one forward step does: prefill runs all `seq_len` tokens; decode runs one new token per
/// sequence against a KV cache of `seq_len` tokens. The batch is split into `microbatches` that
/// flow through the pipeline one after another. `attention` and `pipeline_send` say how it is run.
struct Workload {
  Phase phase = Phase::prefill;
  std::int64_t microbatches = 1;
  AttentionKernel attention = AttentionKernel::flash;
  PipelineSend pipeline_send = PipelineSend::scatter_gather;
  /// Decode under KVParallel: how the cache is dealt to the KV shards.
  KVPlacement kv_placement{};

  friend constexpr bool operator==(const Workload&, const Workload&) = default;

  static constexpr Workload prefill(std::int64_t microbatches = 1) {
    return {Phase::prefill, microbatches, AttentionKernel::flash, PipelineSend::scatter_gather, {}};
  }
  static constexpr Workload decode(std::int64_t microbatches = 1) {
    return {Phase::decode, microbatches, AttentionKernel::flash, PipelineSend::scatter_gather, {}};
  }
  constexpr Workload with_attention(AttentionKernel kernel) const {
    Workload copy = *this;
    copy.attention = kernel;
    return copy;
  }
  constexpr Workload with_kv_placement(KVPlacement placement) const {
    Workload copy = *this;
    copy.kv_placement = placement;
    return copy;
  }
  constexpr Workload with_pipeline_send(PipelineSend send) const {
    Workload copy = *this;
    copy.pipeline_send = send;
    return copy;
  }
};

/// Tokens that enter the model per sequence in one step.
constexpr std::int64_t new_tokens(const Model& m, const Workload& w) {
  return w.phase == Phase::prefill ? m.seq_len : 1;
}

/// Tokens each new token attends to (the KV length).
constexpr std::int64_t attended_tokens(const Model& m, const Workload& w) {
  return w.phase == Phase::prefill ? m.seq_len : m.seq_len + 1;
}

} // namespace helix
