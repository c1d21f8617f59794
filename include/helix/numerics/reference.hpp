// The unsharded model in Eigen: the README's block equations, one block after another, on one
// "device". It is the yardstick the DAG executors are measured against; it builds the decode KV
// cache from the context tokens, and (reference_sample) checks a sample of a model too large for
// one process, block by block with one block's weights in memory.
#pragma once

#include "helix/model/model.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/weights.hpp"

#include <concepts>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix::numerics {

template <std::floating_point Scalar>
struct ReferenceResult {
  /// `[batch, tokens, hidden]` as (batch·tokens) × hidden; with a vocabulary the logits of each
  /// sequence's last position, `[batch, 1, padded vocab]` as batch × padded vocab.
  Matrix<Scalar> output;
  /// Per layer, the block's output z (same layout); the last equals `output`.
  std::vector<Matrix<Scalar>> layer_outputs;
  /// Per layer, every key and value attended to (decode: cache then the new token), as
  /// (batch·keys) × (kv_heads·head_dim).
  std::vector<Matrix<Scalar>> keys, values;
};

namespace detail {

/// Throws when `weights` or `input` were not made for `model` and `workload`: a mismatch would
/// otherwise show up as an Eigen assertion or, in Release, as garbage.
template <std::floating_point Scalar>
void require_matching(const Model& model, const Workload& workload, const Weights<Scalar>& weights,
                      const Input<Scalar>& input) {
  const auto fail = [](const std::string& what) {
    throw std::invalid_argument("helix: numerics: " + what);
  };
  if (static_cast<std::int64_t>(weights.layers.size()) != model.layers)
    fail("weights have " + std::to_string(weights.layers.size()) + " layers, the model " +
         std::to_string(model.layers));
  for (const LayerWeights<Scalar>& w : weights.layers)
    if (w.wq.rows() != model.hidden || w.wq.cols() != attention_width(model) ||
        w.wk.cols() != kv_width(model) || w.w1.cols() != model.ffn_hidden ||
        (model.activation == Activation::swiglu && w.w_gate.cols() != model.ffn_hidden))
      fail("weights do not have the model's sizes");
  if (model.vocab > 0) {
    if (weights.embedding.rows() != padded_vocab(model) ||
        weights.embedding.cols() != model.hidden || weights.lm_head.rows() != model.hidden ||
        weights.lm_head.cols() != padded_vocab(model))
      fail("the embedding or LM head is not [padded vocab, hidden] / [hidden, padded vocab]");
    if (input.batch != model.batch || input.tokens != new_tokens(model, workload) ||
        input.token_ids.rows() != input.batch || input.token_ids.cols() != input.tokens)
      fail("input is not [batch, tokens] token ids of the model and workload");
    for (std::int64_t i = 0; i < input.token_ids.size(); ++i)
      if (!(input.token_ids.data()[i] >= 0 &&
            input.token_ids.data()[i] < static_cast<Scalar>(model.vocab)))
        fail("token id " + std::to_string(input.token_ids.data()[i]) + " is outside [0, " +
             std::to_string(model.vocab) + ")");
  } else if (input.batch != model.batch || input.tokens != new_tokens(model, workload) ||
             input.x.rows() != input.batch * input.tokens || input.x.cols() != model.hidden) {
    fail("input is not [batch, tokens, hidden] of the model and workload");
  }
  if (workload.phase == Phase::decode) {
    if (static_cast<std::int64_t>(input.cached_keys.size()) != model.layers ||
        static_cast<std::int64_t>(input.cached_values.size()) != model.layers)
      fail("decode needs a cached key and value matrix per layer");
    for (std::int64_t l = 0; l < model.layers; ++l)
      for (const Matrix<Scalar>* cache : {&input.cached_keys[static_cast<std::size_t>(l)],
                                          &input.cached_values[static_cast<std::size_t>(l)]})
        if (cache->rows() != model.batch * model.seq_len || cache->cols() != kv_width(model))
          fail("a KV cache is not (batch·seq_len) × (kv_heads·head_dim)");
  }
}

/// Cache rows of each sequence followed by its new rows: (batch·(cached + fresh)) × width.
template <std::floating_point Scalar>
Matrix<Scalar> append_per_sequence(const Matrix<Scalar>& cache, const Matrix<Scalar>& fresh,
                                   std::int64_t batch) {
  const std::int64_t cached = cache.rows() / batch, added = fresh.rows() / batch;
  Matrix<Scalar> all(batch * (cached + added), cache.cols());
  for (std::int64_t b = 0; b < batch; ++b) {
    all.middleRows(b * (cached + added), cached) = cache.middleRows(b * cached, cached);
    all.middleRows(b * (cached + added) + cached, added) = fresh.middleRows(b * added, added);
  }
  return all;
}

/// Rows E[id] of the embedding for every token id, (batch·tokens) × hidden.
template <std::floating_point Scalar>
Matrix<Scalar> embed(const Matrix<Scalar>& token_ids, const Matrix<Scalar>& embedding) {
  Matrix<Scalar> x(token_ids.size(), embedding.cols());
  for (std::int64_t b = 0; b < token_ids.rows(); ++b)
    for (std::int64_t t = 0; t < token_ids.cols(); ++t)
      x.row(b * token_ids.cols() + t) = embedding.row(static_cast<std::int64_t>(token_ids(b, t)));
  return x;
}

/// The last of every `tokens` rows: each sequence's last position.
template <std::floating_point Scalar>
Matrix<Scalar> last_rows(const Matrix<Scalar>& x, std::int64_t tokens) {
  const std::int64_t batch = x.rows() / tokens;
  Matrix<Scalar> last(batch, x.cols());
  for (std::int64_t b = 0; b < batch; ++b)
    last.row(b) = x.row(b * tokens + tokens - 1);
  return last;
}

} // namespace detail

namespace detail {

/// One block's output on `batch` sequences of `tokens` new tokens, and the keys and values it
/// attended to (decode: the cache, then the new token's).
template <std::floating_point Scalar>
struct BlockResult {
  Matrix<Scalar> output, keys, values;
};

/// Block `w` on x (`batch`·`tokens` × hidden): the README's block equations. In decode,
/// `cached_keys` and `cached_values` are the context's (batch·seq_len × kv width) and the new
/// tokens' keys and values are appended to them.
template <std::floating_point Scalar>
BlockResult<Scalar> reference_block(const Model& model, bool prefill, const LayerWeights<Scalar>& w,
                                    const Matrix<Scalar>& x, std::int64_t batch,
                                    std::int64_t tokens, const Matrix<Scalar>* cached_keys,
                                    const Matrix<Scalar>* cached_values) {
  const std::int64_t d = model.head_dim;
  const std::int64_t heads_per_kv = model.heads / model.kv_heads;
  const Matrix<Scalar> a = apply_norm(model.norm, x, w.norm_gain[0], w.norm_shift[0]);
  const Matrix<Scalar> q = a * w.wq;
  BlockResult<Scalar> result;
  result.keys = a * w.wk;
  result.values = a * w.wv;
  if (!prefill) {
    result.keys = append_per_sequence<Scalar>(*cached_keys, result.keys, batch);
    result.values = append_per_sequence<Scalar>(*cached_values, result.values, batch);
  }
  const Matrix<Scalar>& k = result.keys;
  const Matrix<Scalar>& v = result.values;
  const std::int64_t keys = k.rows() / batch;
  Matrix<Scalar> context(batch * tokens, attention_width(model));
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < model.heads; ++h) {
      const std::int64_t g = h / heads_per_kv;
      Matrix<Scalar> p =
          q.block(b * tokens, h * d, tokens, d) * k.block(b * keys, g * d, keys, d).transpose();
      softmax_rows(p, tokens, d, prefill);
      context.block(b * tokens, h * d, tokens, d) = p * v.block(b * keys, g * d, keys, d);
    }
  const auto mlp = [&](const Matrix<Scalar>& normed) -> Matrix<Scalar> {
    const Matrix<Scalar> up = normed * w.w1;
    if (model.activation == Activation::swiglu)
      return apply_swiglu<Scalar>(normed * w.w_gate, up) * w.w2;
    return apply_gelu<Scalar>(up) * w.w2;
  };
  if (model.parallel_block) {
    result.output = x + (context * w.wo + mlp(a));
  } else {
    const Matrix<Scalar> y = x + context * w.wo;
    result.output = y + mlp(apply_norm(model.norm, y, w.norm_gain[1], w.norm_shift[1]));
  }
  return result;
}

/// The logits of each sequence's last position: Norm_final(x_last) W_lm_head.
template <std::floating_point Scalar>
Matrix<Scalar> reference_logits(const Model& model, const Matrix<Scalar>& x, std::int64_t tokens,
                                const RowVector<Scalar>& gain, const RowVector<Scalar>& shift,
                                const Matrix<Scalar>& lm_head) {
  return apply_norm(model.norm, last_rows<Scalar>(x, tokens), gain, shift) * lm_head;
}

} // namespace detail

/// Runs `input` through every block of `model`:
///
///     a = Norm1(x);  q, k, v = a Wq, a Wk, a Wv   (decode: k, v appended to the layer's cache)
///     c_h = softmax(q_h k_g(h)ᵀ / sqrt(head_dim) + causal mask) v_g(h),  g(h) = h / (heads/kv)
///     y = x + concat_h(c_h) Wo;  z = y + GELU(Norm2(y) W1) W2
///
/// with the causal mask in prefill only (the decode token sees the whole cache and itself).
/// A parallel block is z = x + concat_h(c_h) Wo + MLP(a), the MLP reading Norm1's output. With
/// a vocabulary, x = E[token ids] and the result is the logits of each sequence's last position:
/// Norm_final(z_last) W_lm_head.
/// @throws std::invalid_argument when weights or input do not match model and workload.
template <std::floating_point Scalar>
ReferenceResult<Scalar> reference_forward(const Model& model, const Workload& workload,
                                          const Weights<Scalar>& weights,
                                          const Input<Scalar>& input) {
  detail::require_matching(model, workload, weights, input);
  const std::int64_t batch = input.batch, tokens = input.tokens;
  const bool prefill = workload.phase == Phase::prefill;
  ReferenceResult<Scalar> result;
  Matrix<Scalar> x =
      model.vocab > 0 ? detail::embed<Scalar>(input.token_ids, weights.embedding) : input.x;
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    const std::size_t l = static_cast<std::size_t>(layer);
    detail::BlockResult<Scalar> block = detail::reference_block(
        model, prefill, weights.layers[l], x, batch, tokens,
        prefill ? nullptr : &input.cached_keys[l], prefill ? nullptr : &input.cached_values[l]);
    x = std::move(block.output);
    result.layer_outputs.push_back(x);
    result.keys.push_back(std::move(block.keys));
    result.values.push_back(std::move(block.values));
  }
  if (model.vocab > 0)
    result.output = detail::reference_logits(model, x, tokens, weights.final_norm_gain,
                                             weights.final_norm_shift, weights.lm_head);
  else
    result.output = x;
  return result;
}

/// The hidden states entering the first block for sequences [first, first + count) of `tokens`
/// tokens each: drawn directly, or the embedding rows of drawn token ids (`embed(ids)`).
template <std::floating_point Scalar, class Embed>
Matrix<Scalar> first_block_input(const Model& model, std::int64_t first, std::int64_t count,
                                 std::int64_t tokens, bool fresh, std::uint64_t seed,
                                 Embed&& embed) {
  if (model.vocab > 0)
    return embed(draw_token_ids<Scalar>(model, first, count, tokens, fresh, seed));
  return draw_tokens<Scalar>(model, first, count, tokens, fresh, seed);
}

/// Keys and values of the seq_len context tokens of sequences `sequences`, per layer for the
/// first `layers` layers, as (sequences·seq_len) × kv width each. Each sequence runs through the
/// blocks alone, so a sequence's cache is the same bits whatever else is computed beside it;
/// `block(l)` gives block l's weights and is called once per layer, in order, so a caller may hold
/// one block at a time; `embed(ids)` looks token ids up in the embedding.
template <std::floating_point Scalar, class Blocks, class Embed>
std::pair<std::vector<Matrix<Scalar>>, std::vector<Matrix<Scalar>>>
context_cache(const Model& model, const std::vector<std::int64_t>& sequences, std::int64_t layers,
              std::uint64_t seed, Blocks&& block, Embed&& embed) {
  std::vector<Matrix<Scalar>> x;
  for (const std::int64_t s : sequences)
    x.push_back(first_block_input<Scalar>(model, s, 1, model.seq_len, false, seed, embed));
  std::pair<std::vector<Matrix<Scalar>>, std::vector<Matrix<Scalar>>> cache;
  const auto n = static_cast<std::int64_t>(sequences.size());
  for (std::int64_t layer = 0; layer < layers; ++layer) {
    const auto& w = block(layer);
    Matrix<Scalar> keys(n * model.seq_len, kv_width(model)), values(keys.rows(), keys.cols());
    for (std::int64_t i = 0; i < n; ++i) {
      auto& xi = x[static_cast<std::size_t>(i)];
      detail::BlockResult<Scalar> r =
          detail::reference_block<Scalar>(model, true, w, xi, 1, model.seq_len, nullptr, nullptr);
      keys.middleRows(i * model.seq_len, model.seq_len) = r.keys;
      values.middleRows(i * model.seq_len, model.seq_len) = r.values;
      xi = std::move(r.output);
    }
    cache.first.push_back(std::move(keys));
    cache.second.push_back(std::move(values));
  }
  return cache;
}

/// The input of `workload` for `model`, drawn from `seed`: prefill gets seq_len tokens per
/// sequence; decode draws seq_len context tokens, runs them through the reference (one sequence
/// at a time) to fill each layer's KV cache, then draws the one new token per sequence. Every
/// sequence's tokens are a pure function of the seed and its index (weights.hpp).
template <std::floating_point Scalar>
Input<Scalar> make_input(const Model& model, const Workload& workload,
                         const Weights<Scalar>& weights, std::uint64_t seed = default_seed) {
  Input<Scalar> input;
  input.batch = model.batch;
  const bool prefill = workload.phase == Phase::prefill;
  input.tokens = prefill ? model.seq_len : 1;
  const auto embed = [&](const Matrix<Scalar>& ids) {
    return detail::embed<Scalar>(ids, weights.embedding);
  };
  if (model.vocab > 0)
    input.token_ids = draw_token_ids<Scalar>(model, 0, model.batch, input.tokens, !prefill, seed);
  else
    input.x = draw_tokens<Scalar>(model, 0, model.batch, input.tokens, !prefill, seed);
  if (prefill)
    return input;
  std::vector<std::int64_t> all(static_cast<std::size_t>(model.batch));
  for (std::int64_t s = 0; s < model.batch; ++s)
    all[static_cast<std::size_t>(s)] = s;
  auto [keys, values] = context_cache<Scalar>(
      model, all, model.layers, seed,
      [&](std::int64_t l) -> const LayerWeights<Scalar>& {
        return weights.layers[static_cast<std::size_t>(l)];
      },
      embed);
  input.cached_keys = std::move(keys);
  input.cached_values = std::move(values);
  return input;
}

/// The unsharded output of sequences `sequences` only (rows in that order: tokens × hidden each,
/// or one row of logits each with a vocabulary), computed block by block with one block's
/// weights in memory at a time, drawn from `seed` as `make_weights` draws them. This is the
/// reference at scale: it verifies a model whose weights do not fit one process, on a sample of
/// its batch, in the memory of one layer plus the sample's activations.
template <std::floating_point Scalar>
Matrix<Scalar> reference_sample(const Model& model, const Workload& workload,
                                const std::vector<std::int64_t>& sequences,
                                std::uint64_t seed = default_seed) {
  const bool prefill = workload.phase == Phase::prefill;
  const std::int64_t tokens = prefill ? model.seq_len : 1;
  const auto embed = [&](const Matrix<Scalar>& ids) {
    Matrix<Scalar> x(ids.size(), model.hidden);
    for (std::int64_t b = 0; b < ids.rows(); ++b)
      for (std::int64_t t = 0; t < ids.cols(); ++t) {
        const auto id = static_cast<std::int64_t>(ids(b, t));
        x.row(b * ids.cols() + t) = draw_weight_slice<Scalar>(
            model, -1, Weight::embedding,
            LinearSlice{IndexRuns::range(id, 1), IndexRuns::range(0, model.hidden)}, seed);
      }
    return x;
  };
  std::vector<Matrix<Scalar>> x, context;
  for (const std::int64_t s : sequences) {
    x.push_back(first_block_input<Scalar>(model, s, 1, tokens, !prefill, seed, embed));
    if (!prefill)
      context.push_back(first_block_input<Scalar>(model, s, 1, model.seq_len, false, seed, embed));
  }
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    const LayerWeights<Scalar> w = make_layer_weights<Scalar>(model, layer, seed);
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (prefill) {
        x[i] = detail::reference_block<Scalar>(model, true, w, x[i], 1, tokens, nullptr, nullptr)
                   .output;
        continue;
      }
      detail::BlockResult<Scalar> cached = detail::reference_block<Scalar>(
          model, true, w, context[i], 1, model.seq_len, nullptr, nullptr);
      x[i] = detail::reference_block<Scalar>(model, false, w, x[i], 1, tokens, &cached.keys,
                                             &cached.values)
                 .output;
      context[i] = std::move(cached.output);
    }
  }
  const std::int64_t rows = model.vocab > 0 ? 1 : tokens;
  const std::int64_t width = model.vocab > 0 ? padded_vocab(model) : model.hidden;
  Matrix<Scalar> out(static_cast<std::int64_t>(x.size()) * rows, width);
  if (model.vocab > 0) {
    const Matrix<Scalar> lm_head = draw_weight<Scalar>(model, -1, Weight::lm_head, seed);
    RowVector<Scalar> gain, shift;
    if (model.norm != Norm::none)
      gain = draw_norm_parameter<Scalar>(model, -1, final_norm_slot, false, seed);
    if (model.norm == Norm::layernorm)
      shift = draw_norm_parameter<Scalar>(model, -1, final_norm_slot, true, seed);
    for (std::size_t i = 0; i < x.size(); ++i)
      out.row(static_cast<std::int64_t>(i)) =
          detail::reference_logits(model, x[i], tokens, gain, shift, lm_head);
  } else {
    for (std::size_t i = 0; i < x.size(); ++i)
      out.middleRows(static_cast<std::int64_t>(i) * rows, rows) = x[i];
  }
  return out;
}

} // namespace helix::numerics
