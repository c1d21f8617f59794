// Deterministic weights and input tokens of a Model, drawn from a seed, in the README's layout
// (`y = x @ W`, W stored [in, out]). Every number is a pure function of the seed and its indices
// (counter-based, SplitMix64), so a whole weight, one device's slice of it, or one sequence's
// tokens can be drawn alone and are the same bits: the reference and the single-process executor
// draw whole weights, an MPI rank only the slices its ops name.
#pragma once

#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <stdexcept>
#include <string>
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

/// The streams numbers are drawn from; with the layer (-1 outside the blocks) they name a stream,
/// and an element's index within its full tensor names its draw.
enum class DrawStream : std::uint8_t {
  weight = 0,          ///< + Weight: the entries of a full weight, index row · cols + col
  norm_gain = 16,      ///< + norm slot (0, 1, final_norm_slot)
  norm_shift = 24,     ///< + norm slot
  context_tokens = 32, ///< hidden states of the seq_len tokens (prefill, decode's context)
  new_tokens = 33,     ///< hidden states of decode's one new token per sequence
  context_ids = 34,    ///< token ids of the seq_len tokens
  new_ids = 35,        ///< token ids of decode's new token
};

namespace detail {

/// SplitMix64's output function (Steele, Lea, Flood 2014): a bijection of 64-bit words whose
/// outputs for consecutive inputs pass BigCrush.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline constexpr std::uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;

/// The key of one stream: the seed, the layer and the stream tag hashed together.
constexpr std::uint64_t stream_key(std::uint64_t seed, std::int64_t layer, std::uint64_t tag) {
  const std::uint64_t id = (static_cast<std::uint64_t>(layer + 1) << 8) | tag;
  return mix64(mix64(seed) ^ mix64(id + golden_gamma));
}

/// Draw `index` of the stream `key`: element `index` of the SplitMix64 sequence seeded with `key`,
/// computed directly, so draws need no order.
constexpr std::uint64_t draw(std::uint64_t key, std::uint64_t index) {
  return mix64(key + (index + 1) * golden_gamma);
}

/// Uniform in [-1, 1) from a raw 64-bit draw (its top 53 bits): the standard library's
/// distributions are left to each implementation, and the numbers must be the same wherever
/// helix is built.
constexpr double symmetric_unit(std::uint64_t bits) {
  const double unit = static_cast<double>(bits >> 11) * 0x1.0p-53;
  return 2 * unit - 1;
}

constexpr std::uint64_t weight_tag(Weight w) {
  return static_cast<std::uint64_t>(DrawStream::weight) + static_cast<std::uint64_t>(w);
}

/// Entries of unit variance scaled by 1/sqrt(fan_in) (√3 · U[-1, 1) has variance 1), so
/// activations keep their scale through the stack; the embedding's rows have unit variance.
inline double weight_scale(const Model& model, Weight w) {
  if (w == Weight::embedding)
    return std::sqrt(3.0);
  return std::sqrt(3.0) / std::sqrt(static_cast<double>(full_weight_shape(model, w)[0]));
}

inline void require_runs_fit(const IndexRuns& runs, std::int64_t extent, const char* what,
                             Weight w) {
  if (runs.size < 0 || runs.count < 1 || runs.begin < 0 ||
      runs.begin + (runs.count - 1) * runs.stride + runs.size > extent)
    throw std::invalid_argument(
        "helix: weights: the " + std::string(what) + " of a slice of " +
        std::string(weight_name(w)) + " (begin " + std::to_string(runs.begin) + ", size " +
        std::to_string(runs.size) + ", stride " + std::to_string(runs.stride) + ", count " +
        std::to_string(runs.count) + ") do not fit its " + std::to_string(extent));
}

} // namespace detail

/// `W[rows, cols]` of the full weight `w` of `layer` (-1 for the embedding and LM head), packed:
/// row runs one after another, column runs likewise, as rows.total() × cols.total(). Entry
/// (i, j) of the full weight is drawn from (seed, layer, w, i · cols + j) alone, so a slice holds
/// exactly the numbers the whole weight holds there, and drawing it costs only its own size.
/// @throws std::invalid_argument when the runs do not fit the weight's shape.
template <std::floating_point Scalar>
Matrix<Scalar> draw_weight_slice(const Model& model, std::int64_t layer, Weight w,
                                 const LinearSlice& slice, std::uint64_t seed = default_seed) {
  const auto [full_rows, full_cols] = full_weight_shape(model, w);
  detail::require_runs_fit(slice.rows, full_rows, "rows", w);
  detail::require_runs_fit(slice.cols, full_cols, "columns", w);
  const std::uint64_t key = detail::stream_key(seed, layer, detail::weight_tag(w));
  const double scale = detail::weight_scale(model, w);
  Matrix<Scalar> packed(slice.rows.total(), slice.cols.total());
  for (std::int64_t r = 0; r < packed.rows(); ++r) {
    const std::int64_t i =
        slice.rows.begin + (r / slice.rows.size) * slice.rows.stride + r % slice.rows.size;
    for (std::int64_t c = 0; c < packed.cols(); ++c) {
      const std::int64_t j =
          slice.cols.begin + (c / slice.cols.size) * slice.cols.stride + c % slice.cols.size;
      const auto index = static_cast<std::uint64_t>(i * full_cols + j);
      packed(r, c) = static_cast<Scalar>(scale * detail::symmetric_unit(detail::draw(key, index)));
    }
  }
  return packed;
}

/// The whole weight `w` of `layer`, [in, out].
template <std::floating_point Scalar>
Matrix<Scalar> draw_weight(const Model& model, std::int64_t layer, Weight w,
                           std::uint64_t seed = default_seed) {
  const auto [rows, cols] = full_weight_shape(model, w);
  return draw_weight_slice<Scalar>(
      model, layer, w, LinearSlice{IndexRuns::range(0, rows), IndexRuns::range(0, cols)}, seed);
}

/// A norm's gain (`center` 1) or shift (`center` 0) over hidden: `center + 0.1 · U[-1, 1)` per
/// channel, so a slice that picked the wrong channel would show.
template <std::floating_point Scalar>
RowVector<Scalar> draw_norm_parameter(const Model& model, std::int64_t layer, std::int64_t slot,
                                      bool shift, std::uint64_t seed = default_seed) {
  const DrawStream stream = shift ? DrawStream::norm_shift : DrawStream::norm_gain;
  const std::uint64_t key = detail::stream_key(
      seed, layer, static_cast<std::uint64_t>(stream) + static_cast<std::uint64_t>(slot));
  const double center = shift ? 0.0 : 1.0;
  RowVector<Scalar> v(model.hidden);
  for (std::int64_t i = 0; i < model.hidden; ++i)
    v(i) = static_cast<Scalar>(
        center + 0.1 * detail::symmetric_unit(detail::draw(key, static_cast<std::uint64_t>(i))));
  return v;
}

/// Block `layer`'s weights: the same numbers as `make_weights(model, seed).layers[layer]`, drawn
/// without the others (the reference at scale holds one block at a time).
template <std::floating_point Scalar>
LayerWeights<Scalar> make_layer_weights(const Model& model, std::int64_t layer,
                                        std::uint64_t seed = default_seed) {
  LayerWeights<Scalar> w;
  w.wq = draw_weight<Scalar>(model, layer, Weight::wq, seed);
  w.wk = draw_weight<Scalar>(model, layer, Weight::wk, seed);
  w.wv = draw_weight<Scalar>(model, layer, Weight::wv, seed);
  w.wo = draw_weight<Scalar>(model, layer, Weight::wo, seed);
  w.w1 = draw_weight<Scalar>(model, layer, Weight::w1, seed);
  w.w2 = draw_weight<Scalar>(model, layer, Weight::w2, seed);
  if (model.activation == Activation::swiglu)
    w.w_gate = draw_weight<Scalar>(model, layer, Weight::w_gate, seed);
  for (std::size_t slot = 0; slot < 2 && model.norm != Norm::none; ++slot) {
    const auto s = static_cast<std::int64_t>(slot);
    w.norm_gain[slot] = draw_norm_parameter<Scalar>(model, layer, s, false, seed);
    if (model.norm == Norm::layernorm)
      w.norm_shift[slot] = draw_norm_parameter<Scalar>(model, layer, s, true, seed);
  }
  return w;
}

/// Every weight of `model`: entries of variance 1/fan_in (the embedding's 1), norm gains near 1
/// and shifts near 0, each entry a pure function of the seed, its weight and its indices. Double
/// and float weights of one seed are the same numbers up to rounding; a block's weights do not
/// depend on the other blocks or on the vocabulary.
template <std::floating_point Scalar>
Weights<Scalar> make_weights(const Model& model, std::uint64_t seed = default_seed) {
  Weights<Scalar> weights;
  for (std::int64_t layer = 0; layer < model.layers; ++layer)
    weights.layers.push_back(make_layer_weights<Scalar>(model, layer, seed));
  if (model.vocab > 0) {
    weights.embedding = draw_weight<Scalar>(model, -1, Weight::embedding, seed);
    weights.lm_head = draw_weight<Scalar>(model, -1, Weight::lm_head, seed);
    if (model.norm != Norm::none) {
      weights.final_norm_gain =
          draw_norm_parameter<Scalar>(model, -1, final_norm_slot, false, seed);
      if (model.norm == Norm::layernorm)
        weights.final_norm_shift =
            draw_norm_parameter<Scalar>(model, -1, final_norm_slot, true, seed);
    }
  }
  return weights;
}

/// Hidden states of unit variance for sequences [first, first + count) of `tokens` tokens each,
/// as (count·tokens) × hidden: the rows the whole batch has there, drawn alone. `fresh` picks
/// decode's new tokens rather than the context.
template <std::floating_point Scalar>
Matrix<Scalar> draw_tokens(const Model& model, std::int64_t first, std::int64_t count,
                           std::int64_t tokens, bool fresh, std::uint64_t seed = default_seed) {
  const std::uint64_t key = detail::stream_key(
      seed, -1,
      static_cast<std::uint64_t>(fresh ? DrawStream::new_tokens : DrawStream::context_tokens));
  Matrix<Scalar> x(count * tokens, model.hidden);
  const double scale = std::sqrt(3.0);
  for (std::int64_t r = 0; r < x.rows(); ++r)
    for (std::int64_t j = 0; j < model.hidden; ++j) {
      const auto index = static_cast<std::uint64_t>((first * tokens + r) * model.hidden + j);
      x(r, j) = static_cast<Scalar>(scale * detail::symmetric_unit(detail::draw(key, index)));
    }
  return x;
}

/// Token ids uniform in [0, vocab) for sequences [first, first + count), as count × tokens (the
/// modulo's bias is below 2^-40 for any vocabulary up to 2^24).
template <std::floating_point Scalar>
Matrix<Scalar> draw_token_ids(const Model& model, std::int64_t first, std::int64_t count,
                              std::int64_t tokens, bool fresh, std::uint64_t seed = default_seed) {
  const std::uint64_t key = detail::stream_key(
      seed, -1, static_cast<std::uint64_t>(fresh ? DrawStream::new_ids : DrawStream::context_ids));
  Matrix<Scalar> ids(count, tokens);
  for (std::int64_t b = 0; b < count; ++b)
    for (std::int64_t t = 0; t < tokens; ++t)
      ids(b, t) = static_cast<Scalar>(
          detail::draw(key, static_cast<std::uint64_t>((first + b) * tokens + t)) %
          static_cast<std::uint64_t>(model.vocab));
  return ids;
}

} // namespace helix::numerics
