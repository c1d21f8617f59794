// The unsharded model in Eigen: the README's block equations, one block after another, on one
// "device". It is the yardstick the DAG executor is measured against, and it builds the decode
// KV cache from the context tokens.
#pragma once

#include "helix/model/model.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/weights.hpp"

#include <concepts>
#include <cstdint>
#include <random>
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
  const std::int64_t batch = input.batch, tokens = input.tokens, d = model.head_dim;
  const std::int64_t keys = attended_tokens(model, workload);
  const std::int64_t heads_per_kv = model.heads / model.kv_heads;
  const bool prefill = workload.phase == Phase::prefill;
  ReferenceResult<Scalar> result;
  Matrix<Scalar> x =
      model.vocab > 0 ? detail::embed<Scalar>(input.token_ids, weights.embedding) : input.x;
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    const std::size_t l = static_cast<std::size_t>(layer);
    const LayerWeights<Scalar>& w = weights.layers[l];
    const Matrix<Scalar> a = apply_norm(model.norm, x, w.norm_gain[0], w.norm_shift[0]);
    const Matrix<Scalar> q = a * w.wq;
    Matrix<Scalar> k = a * w.wk;
    Matrix<Scalar> v = a * w.wv;
    if (!prefill) {
      k = detail::append_per_sequence<Scalar>(input.cached_keys[l], k, batch);
      v = detail::append_per_sequence<Scalar>(input.cached_values[l], v, batch);
    }
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
      x = x + (context * w.wo + mlp(a));
    } else {
      const Matrix<Scalar> y = x + context * w.wo;
      x = y + mlp(apply_norm(model.norm, y, w.norm_gain[1], w.norm_shift[1]));
    }
    result.layer_outputs.push_back(x);
    result.keys.push_back(std::move(k));
    result.values.push_back(std::move(v));
  }
  if (model.vocab > 0)
    result.output = apply_norm(model.norm, detail::last_rows<Scalar>(x, tokens),
                               weights.final_norm_gain, weights.final_norm_shift) *
                    weights.lm_head;
  else
    result.output = x;
  return result;
}

/// The input of `workload` for `model`, drawn from `seed`: prefill gets seq_len tokens per
/// sequence; decode draws seq_len context tokens, runs them through the reference to fill each
/// layer's KV cache, then draws the one new token per sequence.
template <std::floating_point Scalar>
Input<Scalar> make_input(const Model& model, const Workload& workload,
                         const Weights<Scalar>& weights, std::uint64_t seed = default_seed) {
  std::mt19937_64 generator = input_generator(seed);
  Input<Scalar> input;
  input.batch = model.batch;
  input.tokens = model.seq_len;
  const auto draw = [&](std::int64_t tokens) {
    if (model.vocab > 0)
      input.token_ids = make_token_ids<Scalar>(model.batch, tokens, model.vocab, generator);
    else
      input.x = make_tokens<Scalar>(model.batch, tokens, model.hidden, generator);
  };
  draw(model.seq_len);
  if (workload.phase == Phase::prefill)
    return input;
  ReferenceResult<Scalar> context = reference_forward(model, Workload::prefill(), weights, input);
  input.cached_keys = std::move(context.keys);
  input.cached_values = std::move(context.values);
  input.tokens = 1;
  draw(1);
  return input;
}

} // namespace helix::numerics
