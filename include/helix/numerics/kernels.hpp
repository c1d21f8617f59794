// The pointwise and row-wise maths of the README's block equations (norms, GELU, scaled masked
// softmax), written once so the reference and the DAG executor apply the same formula; what they
// differ in is only how the work is split, which is what verification is about.
#pragma once

#include "helix/model/model.hpp"
#include "helix/numerics/weights.hpp"

#include <Eigen/Core>

#include <cmath>
#include <concepts>
#include <cstdint>
#include <numbers>

namespace helix::numerics {

inline constexpr double norm_epsilon = 1e-5;

/// Norm of every row (the hidden dimension). `shift` is ignored for RMSNorm. Each row is worked
/// on in one aligned scratch row, so its bits depend on its numbers only, not on where the row
/// sits in memory (Eigen's vectorized loops peel to the buffer's alignment).
/// Writes into `out` (resized; storage of the right size is reused), which must not be `x`.
template <std::floating_point Scalar>
void apply_norm(Norm norm, const Matrix<Scalar>& x, const RowVector<Scalar>& gain,
                const RowVector<Scalar>& shift, Matrix<Scalar>& out) {
  out.resize(x.rows(), x.cols());
  if (norm == Norm::none) {
    out = x;
    return;
  }
  const Scalar n = static_cast<Scalar>(x.cols());
  const Scalar epsilon = static_cast<Scalar>(norm_epsilon);
  RowVector<Scalar> row(x.cols());
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    row = x.row(r);
    if (norm == Norm::layernorm) {
      const Scalar mean = row.sum() / n;
      row.array() -= mean;
      const Scalar variance = row.squaredNorm() / n;
      row.array() = row.array() / std::sqrt(variance + epsilon) * gain.array() + shift.array();
    } else {
      const Scalar mean_square = row.squaredNorm() / n;
      row.array() = row.array() / std::sqrt(mean_square + epsilon) * gain.array();
    }
    out.row(r) = row;
  }
}

template <std::floating_point Scalar>
Matrix<Scalar> apply_norm(Norm norm, const Matrix<Scalar>& x, const RowVector<Scalar>& gain,
                          const RowVector<Scalar>& shift) {
  Matrix<Scalar> out;
  apply_norm(norm, x, gain, shift, out);
  return out;
}

/// tanh-approximated GELU, element by element: 0.5·v·(1 + tanh(z)) with z = sqrt(2/π)·(v +
/// 0.044715·v³), written as v / (1 + e^(−2z)) (the same function: 1 + tanh(z) = 2 / (1 + e^(−2z)))
/// because Eigen vectorizes exp in float and double but tanh in float only.
/// Writes into `out` (resized; storage of the right size is reused).
template <std::floating_point Scalar>
void apply_gelu(const Matrix<Scalar>& u, Matrix<Scalar>& out) {
  const Scalar minus_two_c = static_cast<Scalar>(-2 * std::sqrt(2.0 / std::numbers::pi));
  const Scalar cubic = static_cast<Scalar>(0.044715);
  const auto v = u.array();
  out.resize(u.rows(), u.cols());
  out.array() = v / (1 + (minus_two_c * (v + cubic * v.cube())).exp());
}

template <std::floating_point Scalar>
Matrix<Scalar> apply_gelu(const Matrix<Scalar>& u) {
  Matrix<Scalar> out;
  apply_gelu(u, out);
  return out;
}

/// SwiGLU's gating, element by element: SiLU(gate) ⊙ up = gate · up / (1 + e^(−gate)).
/// Writes into `out` (resized; storage of the right size is reused).
template <std::floating_point Scalar>
void apply_swiglu(const Matrix<Scalar>& gate, const Matrix<Scalar>& up, Matrix<Scalar>& out) {
  out.resize(gate.rows(), gate.cols());
  out.array() = gate.array() * up.array() / (1 + (-gate.array()).exp());
}

template <std::floating_point Scalar>
Matrix<Scalar> apply_swiglu(const Matrix<Scalar>& gate, const Matrix<Scalar>& up) {
  Matrix<Scalar> out;
  apply_swiglu(gate, up, out);
  return out;
}

/// In place: each row of `scores` holds one query's raw dot products with `keys` keys; divides by
/// sqrt(head_dim), masks keys after the query when `causal`, and takes the softmax. Row r is query
/// r mod `queries` of its (sequence, head), and the queries are the last `queries` positions of
/// the keys (prefill: queries = keys; decode: the one new token, which sees every key). Each row
/// is worked on in one aligned scratch row (see apply_norm): its bits depend on its numbers only.
template <std::floating_point Scalar>
void softmax_rows(Matrix<Scalar>& scores, std::int64_t queries, std::int64_t head_dim,
                  bool causal) {
  const Scalar divisor = std::sqrt(static_cast<Scalar>(head_dim));
  const std::int64_t keys = scores.cols();
  RowVector<Scalar> scratch(keys);
  for (Eigen::Index r = 0; r < scores.rows(); ++r) {
    const std::int64_t query = keys - queries + r % queries;
    const std::int64_t visible = causal ? query + 1 : keys;
    auto row = scratch.head(visible).array();
    row = scores.row(r).head(visible).array() / divisor;
    row = (row - row.maxCoeff()).exp();
    scores.row(r).head(visible) = row / row.sum();
    scores.row(r).tail(keys - visible).setZero();
  }
}

} // namespace helix::numerics
