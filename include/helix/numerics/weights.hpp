// Deterministic full (unsharded) weights and input tokens of a Model, drawn from a seed, in the
// README's layout (`y = x @ W`, W stored [in, out]). Every other numerics piece reads these: the
// reference uses them whole, the executor reads each device's slice out of them.
#pragma once

#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

namespace helix::numerics {

/// Row-major so that a `[batch, tokens, hidden]` tensor is one matrix in C order: row
/// `b·tokens + t` is token t of sequence b, exactly the bytes a `.npy` file holds.
template <std::floating_point Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <std::floating_point Scalar>
using RowVector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

inline constexpr std::uint64_t default_seed = 20240601;

/// One block's weights. Norm parameters are empty when the model has no norm; `norm_shift` is
/// empty for RMSNorm (it has a gain only).
template <std::floating_point Scalar>
struct LayerWeights {
  Matrix<Scalar> wq, wk, wv, wo, w1, w2;
  /// SwiGLU's gate, [hidden, ffn_hidden]; empty for a GELU MLP.
  Matrix<Scalar> w_gate;
  /// Index 0 is the norm before attention, 1 the norm before the MLP (NormSlot::index).
  std::array<RowVector<Scalar>, 2> norm_gain, norm_shift;

  const Matrix<Scalar>& weight(Weight which) const {
    switch (which) {
    case Weight::wq:
      return wq;
    case Weight::wk:
      return wk;
    case Weight::wv:
      return wv;
    case Weight::wo:
      return wo;
    case Weight::w1:
      return w1;
    case Weight::w2:
      break;
    case Weight::w_gate:
      return w_gate;
    case Weight::embedding:
    case Weight::lm_head:
      throw std::logic_error(
          "helix: numerics: the embedding and LM head are not a block's weights");
    }
    return w2;
  }
};

template <std::floating_point Scalar>
struct Weights {
  std::vector<LayerWeights<Scalar>> layers;
  /// With a vocabulary: the token embedding [padded vocab, hidden], the LM head [hidden, padded
  /// vocab] and the final norm; empty otherwise.
  Matrix<Scalar> embedding, lm_head;
  RowVector<Scalar> final_norm_gain, final_norm_shift;
};

/// What enters the model. Decode keeps the KV cache the context tokens produced.
template <std::floating_point Scalar>
struct Input {
  std::int64_t batch = 0;
  std::int64_t tokens = 0; ///< new tokens per sequence: seq_len in prefill, 1 in decode
  /// Without a vocabulary: `[batch, tokens, hidden]` as (batch·tokens) × hidden, row b·tokens + t.
  Matrix<Scalar> x;
  /// With a vocabulary: the token ids `[batch, tokens]`, each in [0, vocab), as batch × tokens.
  /// They are whole numbers held in Scalar so that they flow through the DAG like any tensor.
  Matrix<Scalar> token_ids;
  /// Decode only, per layer: keys and values of the seq_len context tokens as
  /// (batch·seq_len) × (kv_heads·head_dim), row b·seq_len + t, columns head-major.
  std::vector<Matrix<Scalar>> cached_keys, cached_values;
};

namespace detail {

/// Uniform in [-1, 1) from the raw 64-bit draws: std::uniform_real_distribution's algorithm is
/// left to the standard library, and the numbers must be the same wherever helix is built.
inline double symmetric_unit(std::mt19937_64& generator) {
  const double unit = static_cast<double>(generator() >> 11) * 0x1.0p-53;
  return 2 * unit - 1;
}

/// Entries of unit variance scaled by `scale` (√3 · U[-1, 1) has variance 1).
template <std::floating_point Scalar>
Matrix<Scalar> random_matrix(std::int64_t rows, std::int64_t cols, double scale,
                             std::mt19937_64& generator) {
  Matrix<Scalar> m(rows, cols);
  const double unit_variance = std::sqrt(3.0) * scale;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      m(r, c) = static_cast<Scalar>(unit_variance * symmetric_unit(generator));
  return m;
}

/// `center + spread · U[-1, 1)`: gains near 1 and shifts near 0 that still differ per channel, so
/// a slice that picked the wrong channel would show.
template <std::floating_point Scalar>
RowVector<Scalar> random_near(std::int64_t size, double center, double spread,
                              std::mt19937_64& generator) {
  RowVector<Scalar> v(size);
  for (std::int64_t i = 0; i < size; ++i)
    v(i) = static_cast<Scalar>(center + spread * symmetric_unit(generator));
  return v;
}

} // namespace detail

/// Every layer's weights, drawn in order (layer, then wq, wk, wv, wo, w1, w2, for SwiGLU w_gate,
/// row by row, then the norms) from `std::mt19937_64{seed}`; entries have variance 1/fan_in so
/// activations keep their scale through the stack. Double and float weights of one seed are the
/// same numbers up to rounding.
template <std::floating_point Scalar>
Weights<Scalar> make_weights(const Model& model, std::uint64_t seed = default_seed) {
  std::mt19937_64 generator{seed};
  const std::int64_t h = model.hidden, attention = attention_width(model), kv = kv_width(model);
  const auto draw = [&](std::int64_t in, std::int64_t out) {
    return detail::random_matrix<Scalar>(in, out, 1.0 / std::sqrt(static_cast<double>(in)),
                                         generator);
  };
  Weights<Scalar> weights;
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    LayerWeights<Scalar> w;
    w.wq = draw(h, attention);
    w.wk = draw(h, kv);
    w.wv = draw(h, kv);
    w.wo = draw(attention, h);
    w.w1 = draw(h, model.ffn_hidden);
    w.w2 = draw(model.ffn_hidden, h);
    // Drawn last among the matrices, so a GELU model's weights are what they always were.
    if (model.activation == Activation::swiglu)
      w.w_gate = draw(h, model.ffn_hidden);
    for (std::size_t slot = 0; slot < 2 && model.norm != Norm::none; ++slot) {
      w.norm_gain[slot] = detail::random_near<Scalar>(h, 1.0, 0.1, generator);
      if (model.norm == Norm::layernorm)
        w.norm_shift[slot] = detail::random_near<Scalar>(h, 0.0, 0.1, generator);
    }
    weights.layers.push_back(std::move(w));
  }
  // Drawn after every block, so a block stack's weights are the same with or without a vocabulary.
  if (model.vocab > 0) {
    weights.embedding =
        detail::random_matrix<Scalar>(padded_vocab(model), h, 1.0, generator); // unit variance
    weights.lm_head = draw(h, padded_vocab(model));
    if (model.norm != Norm::none) {
      weights.final_norm_gain = detail::random_near<Scalar>(h, 1.0, 0.1, generator);
      if (model.norm == Norm::layernorm)
        weights.final_norm_shift = detail::random_near<Scalar>(h, 0.0, 0.1, generator);
    }
  }
  return weights;
}

/// `[batch, tokens]` token ids, uniform in [0, vocab) from the raw draws (the modulo's bias is
/// below 2^-40 for any vocabulary up to 2^24), as batch × tokens.
template <std::floating_point Scalar>
Matrix<Scalar> make_token_ids(std::int64_t batch, std::int64_t tokens, std::int64_t vocab,
                              std::mt19937_64& generator) {
  Matrix<Scalar> ids(batch, tokens);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = 0; t < tokens; ++t)
      ids(b, t) = static_cast<Scalar>(generator() % static_cast<std::uint64_t>(vocab));
  return ids;
}

/// `[batch, tokens, hidden]` tokens of unit variance, as (batch·tokens) × hidden.
template <std::floating_point Scalar>
Matrix<Scalar> make_tokens(std::int64_t batch, std::int64_t tokens, std::int64_t hidden,
                           std::mt19937_64& generator) {
  return detail::random_matrix<Scalar>(batch * tokens, hidden, 1.0, generator);
}

/// The stream inputs are drawn from: distinct from the weights' stream of the same seed.
inline std::mt19937_64 input_generator(std::uint64_t seed) {
  return std::mt19937_64{seed ^ 0x9e3779b97f4a7c15ULL};
}

} // namespace helix::numerics
