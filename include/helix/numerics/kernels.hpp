// The pointwise and row-wise maths of the README's block equations (norms, GELU, scaled masked
// softmax), written once so the reference and the DAG executor apply the same formula; what they
// differ in is only how the work is split, which is what verification is about.
#pragma once

#include "helix/model/model.hpp"
#include "helix/numerics/weights.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <numbers>

namespace helix::numerics {

inline constexpr double norm_epsilon = 1e-5;

/// Norm of every row (the hidden dimension). `shift` is ignored for RMSNorm.
template <std::floating_point Scalar>
Matrix<Scalar> apply_norm(Norm norm, const Matrix<Scalar>& x, const RowVector<Scalar>& gain,
                          const RowVector<Scalar>& shift) {
  if (norm == Norm::none)
    return x;
  const Scalar n = static_cast<Scalar>(x.cols());
  const Scalar epsilon = static_cast<Scalar>(norm_epsilon);
  Matrix<Scalar> out(x.rows(), x.cols());
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    if (norm == Norm::layernorm) {
      const Scalar mean = x.row(r).sum() / n;
      const RowVector<Scalar> centered = x.row(r).array() - mean;
      const Scalar variance = centered.squaredNorm() / n;
      out.row(r) = (centered / std::sqrt(variance + epsilon)).cwiseProduct(gain) + shift;
    } else {
      const Scalar mean_square = x.row(r).squaredNorm() / n;
      out.row(r) = (x.row(r) / std::sqrt(mean_square + epsilon)).cwiseProduct(gain);
    }
  }
  return out;
}

/// tanh-approximated GELU, element by element.
template <std::floating_point Scalar>
Matrix<Scalar> apply_gelu(const Matrix<Scalar>& u) {
  const Scalar c = static_cast<Scalar>(std::sqrt(2.0 / std::numbers::pi));
  const Scalar cubic = static_cast<Scalar>(0.044715);
  return u.unaryExpr([=](Scalar v) {
    return static_cast<Scalar>(0.5) * v * (1 + std::tanh(c * (v + cubic * v * v * v)));
  });
}

/// SwiGLU's gating, element by element: SiLU(gate) ⊙ up = gate · up / (1 + e^(−gate)).
template <std::floating_point Scalar>
Matrix<Scalar> apply_swiglu(const Matrix<Scalar>& gate, const Matrix<Scalar>& up) {
  return gate.binaryExpr(up, [](Scalar g, Scalar u) { return g * u / (1 + std::exp(-g)); });
}

/// In place: each row of `scores` holds one query's raw dot products with `keys` keys; divides by
/// sqrt(head_dim), masks keys after the query when `causal`, and takes the softmax. Row r is query
/// r mod `queries` of its (sequence, head), and the queries are the last `queries` positions of
/// the keys (prefill: queries = keys; decode: the one new token, which sees every key).
template <std::floating_point Scalar>
void softmax_rows(Matrix<Scalar>& scores, std::int64_t queries, std::int64_t head_dim,
                  bool causal) {
  const Scalar divisor = std::sqrt(static_cast<Scalar>(head_dim));
  const std::int64_t keys = scores.cols();
  for (Eigen::Index r = 0; r < scores.rows(); ++r) {
    const std::int64_t query = keys - queries + r % queries;
    const std::int64_t visible = causal ? query + 1 : keys;
    Scalar largest = -std::numeric_limits<Scalar>::infinity();
    for (std::int64_t k = 0; k < visible; ++k) {
      scores(r, k) /= divisor;
      largest = std::max(largest, scores(r, k));
    }
    Scalar sum = 0;
    for (std::int64_t k = 0; k < visible; ++k) {
      scores(r, k) = std::exp(scores(r, k) - largest);
      sum += scores(r, k);
    }
    for (std::int64_t k = 0; k < visible; ++k)
      scores(r, k) /= sum;
    for (std::int64_t k = visible; k < keys; ++k)
      scores(r, k) = 0;
  }
}

} // namespace helix::numerics
