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

/// Attention of one query per (sequence, head) over a shard of keys, the split-KV pass of
/// FlashAttention: row (s·heads + h) of `out` is [O, L] with O = softmax(q kᵀ / sqrt(head_dim)) v
/// over the shard's keys and L = log Σ_j exp(q·k_j / sqrt(head_dim)), computed as m + log Σ
/// exp(· − m) with m the row's maximum. `q` is [b, 1, heads·dims], `k` and `v` [b, keys,
/// kv_heads·dims]; `kv_of(h)` is the local kv head query head h reads.
template <std::floating_point Scalar, class KvOf>
void partial_attention(const Matrix<Scalar>& q, const Matrix<Scalar>& k, const Matrix<Scalar>& v,
                       std::int64_t batch, std::int64_t heads, std::int64_t dims,
                       std::int64_t head_dim, KvOf&& kv_of, Matrix<Scalar>& out) {
  const std::int64_t keys = k.rows() / batch;
  const Scalar divisor = std::sqrt(static_cast<Scalar>(head_dim));
  out.resize(batch * heads, dims + 1);
  RowVector<Scalar> p(keys);
  for (std::int64_t s = 0; s < batch; ++s)
    for (std::int64_t h = 0; h < heads; ++h) {
      const std::int64_t g = kv_of(h);
      p.noalias() =
          q.block(s, h * dims, 1, dims) * k.block(s * keys, g * dims, keys, dims).transpose();
      p.array() /= divisor;
      const Scalar m = p.maxCoeff();
      p.array() = (p.array() - m).exp();
      const Scalar sum = p.sum();
      const std::int64_t row = s * heads + h;
      out.block(row, 0, 1, dims).noalias() = p * v.block(s * keys, g * dims, keys, dims);
      out.block(row, 0, 1, dims) /= sum;
      out(row, dims) = m + std::log(sum);
    }
}

/// The exact merge of `shards` partial attentions per (sequence, head): `in` is [b, shards,
/// heads, dims + 1] (rows (s·shards + k)·heads + h), `out` the context [b, 1, heads·dims]:
/// L = log Σ_k exp(L_k) (as max + log Σ exp(L_k − max)), O = Σ_k exp(L_k − L)·O_k.
template <std::floating_point Scalar>
void log_sum_exp_merge(const Matrix<Scalar>& in, std::int64_t batch, std::int64_t shards,
                       std::int64_t heads, std::int64_t dims, Matrix<Scalar>& out) {
  out.setZero(batch, heads * dims);
  for (std::int64_t s = 0; s < batch; ++s)
    for (std::int64_t h = 0; h < heads; ++h) {
      const auto row = [&](std::int64_t k) { return (s * shards + k) * heads + h; };
      Scalar m = in(row(0), dims);
      for (std::int64_t k = 1; k < shards; ++k)
        m = std::max(m, in(row(k), dims));
      Scalar sum = 0;
      for (std::int64_t k = 0; k < shards; ++k)
        sum += std::exp(in(row(k), dims) - m);
      const Scalar total = m + std::log(sum);
      for (std::int64_t k = 0; k < shards; ++k)
        out.block(s, h * dims, 1, dims) +=
            std::exp(in(row(k), dims) - total) * in.block(row(k), 0, 1, dims);
    }
}

} // namespace helix::numerics
