// What one compute op of a Dag computes from its inputs, its weights and the input batch: one
// kernel per compute step alternative, shared by every executor (the single-process one and the
// MPI ranks), so a sharded run anywhere is the very arithmetic of the DAG. Where the weights and
// the batch come from is a parameter: whole tensors in one process, or a rank's own slices.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/weights.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix::numerics {

/// W[rows, cols] of a weight, read where it lies: the runs `runs` of `matrix`, which is either the
/// whole weight (the runs as the step names them) or a slice packed by `pack_slice` (the same runs
/// laid one after another, `packed_runs`). Products read the blocks in place instead of a packed
/// copy per op: Eigen packs a product's operands itself whatever their stride, so a block of the
/// whole weight and the same block of a packed slice give the same bits.
template <std::floating_point Scalar>
struct SliceView {
  const Matrix<Scalar>* matrix = nullptr;
  LinearSlice runs;

  /// Row run `r` × column run `c`: rows.size × cols.size.
  auto block(std::int64_t r, std::int64_t c) const {
    return matrix->block(runs.rows.begin + r * runs.rows.stride,
                         runs.cols.begin + c * runs.cols.stride, runs.rows.size, runs.cols.size);
  }
};

/// The runs of `slice` as `pack_slice` lays them out: run after run from index 0.
constexpr LinearSlice packed_runs(const LinearSlice& slice) {
  return {{0, slice.rows.size, slice.rows.size, slice.rows.count},
          {0, slice.cols.size, slice.cols.size, slice.cols.count}};
}

/// Where compute ops read their weights: `slice(layer, weight, slice)` is W[rows, cols] of the
/// full weight (layer -1 for the embedding and LM head) as a SliceView that stays valid as long as
/// the source, `norm_gain` / `norm_shift(layer, slot)` a norm's parameters (`final_norm_slot` for
/// the norm after the last block).
template <class W, class Scalar>
concept WeightSource = requires(const W& w, std::int64_t layer, Weight which,
                                const LinearSlice& slice) {
  { w.slice(layer, which, slice) } -> std::convertible_to<SliceView<Scalar>>;
  { w.norm_gain(layer, layer) } -> std::convertible_to<const RowVector<Scalar>&>;
  { w.norm_shift(layer, layer) } -> std::convertible_to<const RowVector<Scalar>&>;
};

/// Where the batch comes from: `sequences(op)` is what an Input op emits (its sequences' hidden
/// states, or token ids), `cache(op, step)` what a decode KVCache op reads.
template <class I, class Scalar>
concept InputSource = requires(const I& in, const Op& op, const step::KVCache& cache) {
  { in.sequences(op) } -> std::convertible_to<Matrix<Scalar>>;
  { in.cache(op, cache) } -> std::convertible_to<Matrix<Scalar>>;
};

/// @throws std::logic_error when the runs of `slice` do not fit `full`.
template <std::floating_point Scalar>
void require_fits(const Matrix<Scalar>& full, const LinearSlice& slice) {
  const IndexRuns& rows = slice.rows;
  const IndexRuns& cols = slice.cols;
  if (rows.count < 1 || cols.count < 1 || rows.begin < 0 || cols.begin < 0 || rows.size < 0 ||
      cols.size < 0 || rows.begin + (rows.count - 1) * rows.stride + rows.size > full.rows() ||
      cols.begin + (cols.count - 1) * cols.stride + cols.size > full.cols())
    throw std::logic_error("helix: execute: a linear slice does not fit its weight");
}

/// Packs W[rows, cols] out of a full weight.
/// @throws std::logic_error when the runs do not fit the weight.
template <std::floating_point Scalar>
Matrix<Scalar> pack_slice(const Matrix<Scalar>& full, const LinearSlice& slice) {
  require_fits(full, slice);
  const SliceView<Scalar> whole{&full, slice};
  Matrix<Scalar> packed(slice.rows.total(), slice.cols.total());
  for (std::int64_t r = 0; r < slice.rows.count; ++r)
    for (std::int64_t c = 0; c < slice.cols.count; ++c)
      packed.block(r * slice.rows.size, c * slice.cols.size, slice.rows.size, slice.cols.size) =
          whole.block(r, c);
  return packed;
}

/// The full weights in memory (the single-process executor's): each slice read in place.
template <std::floating_point Scalar>
class FullWeights {
public:
  explicit FullWeights(const Weights<Scalar>& weights) : weights_(weights) {}

  /// @throws std::logic_error when the slice does not fit the weight.
  SliceView<Scalar> slice(std::int64_t layer, Weight which, const LinearSlice& s) const {
    const Matrix<Scalar>& full = which == Weight::embedding ? weights_.embedding
                                 : which == Weight::lm_head ? weights_.lm_head
                                                            : block(layer).weight(which);
    require_fits(full, s);
    return {&full, s};
  }
  const RowVector<Scalar>& norm_gain(std::int64_t layer, std::int64_t slot) const {
    return slot == final_norm_slot ? weights_.final_norm_gain
                                   : block(layer).norm_gain[static_cast<std::size_t>(slot)];
  }
  const RowVector<Scalar>& norm_shift(std::int64_t layer, std::int64_t slot) const {
    return slot == final_norm_slot ? weights_.final_norm_shift
                                   : block(layer).norm_shift[static_cast<std::size_t>(slot)];
  }

private:
  const Weights<Scalar>& weights_;
  const LayerWeights<Scalar>& block(std::int64_t layer) const {
    if (layer < 0 || layer >= static_cast<std::int64_t>(weights_.layers.size()))
      throw std::logic_error("helix: execute: layer " + std::to_string(layer) +
                             " has no block weights");
    return weights_.layers[static_cast<std::size_t>(layer)];
  }
};

/// The whole batch in memory (the single-process executor's).
template <std::floating_point Scalar>
class FullInput {
public:
  FullInput(const Model& model, const Input<Scalar>& input) : model_(model), input_(input) {}

  /// `[b, tokens, hidden]` (or `[b, tokens]` token ids) of sequences [batch_begin, +b).
  Matrix<Scalar> sequences(const Op& op) const {
    if (model_.vocab > 0)
      return input_.token_ids.middleRows(op.batch_begin, op.output[0]);
    return input_.x.middleRows(op.batch_begin * input_.tokens, op.output[0] * input_.tokens);
  }

  /// The op's keys or values of the cached context: its sequences, and for each of its kv heads
  /// the head_dim slice it covers.
  Matrix<Scalar> cache(const Op& op, const step::KVCache& a) const {
    const std::vector<Matrix<Scalar>>& caches =
        a.values ? input_.cached_values : input_.cached_keys;
    if (op.layer < 0 || op.layer >= static_cast<std::int64_t>(caches.size()))
      throw std::logic_error("helix: execute: reads a KV cache the input does not have");
    return cache_columns(caches[static_cast<std::size_t>(op.layer)], op, a, op.batch_begin,
                         model_.head_dim, model_.seq_len);
  }

  /// Rows of sequences [batch_begin, +b) (counted from `first`, the cache's first sequence of
  /// `seq_len` cached tokens each) at the positions of the op's KV shard (all of them outside
  /// KV-parallel decode), and the columns of its kv heads and head_dim slice.
  static Matrix<Scalar> cache_columns(const Matrix<Scalar>& cache, const Op& op,
                                      const step::KVCache& a, std::int64_t first_row_sequence,
                                      std::int64_t head_dim, std::int64_t seq_len) {
    const std::int64_t batch = op.output[0], held = a.shard.cached(seq_len);
    if (op.output[1] != held || (first_row_sequence + batch) * seq_len > cache.rows())
      throw std::logic_error("helix: execute: a KV cache op does not fit the cache");
    Matrix<Scalar> out(batch * held, a.kv_heads * a.dims);
    for (std::int64_t s = 0; s < batch; ++s)
      for (std::int64_t i = 0; i < held; ++i) {
        const std::int64_t row = (first_row_sequence + s) * seq_len + a.shard.position(i, seq_len);
        for (std::int64_t g = 0; g < a.kv_heads; ++g)
          out.block(s * held + i, g * a.dims, 1, a.dims) =
              cache.block(row, (a.kv_head_begin + g) * head_dim + a.dim_begin, 1, a.dims);
      }
    return out;
  }

private:
  const Model& model_;
  const Input<Scalar>& input_;
};

/// `y = x @ W[rows, cols]` as one product: on the slice read in place when its runs lie side by
/// side (a contiguous range, or a slice packed by LocalWeights), on a packed copy otherwise (a
/// strided head_dim slice under hp=, a few columns of every head). Both are the same product of
/// the same numbers, so every executor gets the same bits; one product instead of one per pair
/// of runs keeps Eigen's kernels on wide blocks (a 16-column run of a head_dim slice is slow).
/// Writes into `y` (resized; storage of the right size is reused), which must not be `x`.
template <std::floating_point Scalar>
void linear(const Matrix<Scalar>& x, const SliceView<Scalar>& w, Matrix<Scalar>& y) {
  const IndexRuns& rows = w.runs.rows;
  const IndexRuns& cols = w.runs.cols;
  if (x.cols() != rows.total())
    throw std::logic_error("helix: execute: a linear slice does not fit its weight or input");
  const auto side_by_side = [](const IndexRuns& runs) {
    return runs.count == 1 || runs.stride == runs.size;
  };
  y.resize(x.rows(), cols.total());
  if (side_by_side(rows) && side_by_side(cols))
    y.noalias() = x * w.matrix->block(rows.begin, cols.begin, rows.total(), cols.total());
  else
    y.noalias() = x * pack_slice(*w.matrix, w.runs);
}

/// The compute ops' kernels: `kernels(v, op, step, inputs, out)` writes the output of compute
/// vertex `v` (whose step is `step`) on its inputs by port into `out`, which may hold storage of
/// the output's size from a tensor no longer needed (the runner recycles it: no fresh pages to
/// fault in per op) and never aliases an input. One overload per compute step alternative; the
/// communication steps (collectives, transfers) are the communication backend's.
/// @throws std::logic_error naming the vertex when the op does not fit its inputs or weights.
template <std::floating_point Scalar, WeightSource<Scalar> W, InputSource<Scalar> I>
class OpKernels {
public:
  using Inputs = std::vector<const Matrix<Scalar>*>;
  using Out = Matrix<Scalar>;

  OpKernels(const Model& model, const W& weights, const I& input)
      : model_(model), weights_(weights), input_(input) {}

  void operator()(Vertex, const Op& op, const step::Input&, const Inputs&, Out& out) const {
    out = input_.sequences(op);
  }
  void operator()(Vertex v, const Op& op, const step::Embedding& e, const Inputs& in,
                  Out& out) const {
    embedding_lookup(v, op, e, *in[0], out);
  }
  void operator()(Vertex, const Op& op, const step::LastToken&, const Inputs& in, Out& out) const {
    out = detail::last_rows<Scalar>(*in[0], in[0]->rows() / op.output[0]);
  }
  void operator()(Vertex v, const Op& op, const step::LmHead& s, const Inputs& in, Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex, const Op&, const step::ParallelSum&, const Inputs& in, Out& out) const {
    out = *in[0] + *in[1];
  }
  void operator()(Vertex v, const Op& op, const step::KVCache& c, const Inputs&, Out& out) const {
    guarded(v, op, [&] { out = input_.cache(op, c); });
  }
  void operator()(Vertex v, const Op& op, const step::Norm& n, const Inputs& in, Out& out) const {
    guarded(v, op, [&] {
      apply_norm(model_.norm, *in[0], weights_.norm_gain(op.layer, n.slot),
                 weights_.norm_shift(op.layer, n.slot), out);
    });
  }
  void operator()(Vertex v, const Op& op, const step::QProjection& s, const Inputs& in,
                  Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex v, const Op& op, const step::KProjection& s, const Inputs& in,
                  Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex v, const Op& op, const step::VProjection& s, const Inputs& in,
                  Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex v, const Op& op, const step::OutProjection& s, const Inputs& in,
                  Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex v, const Op& op, const step::Fc1& s, const Inputs& in, Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex v, const Op& op, const step::GateProjection& s, const Inputs& in,
                  Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex v, const Op& op, const step::Fc2& s, const Inputs& in, Out& out) const {
    linear(v, op, s, in, out);
  }
  void operator()(Vertex, const Op& op, const step::KVAppend&, const Inputs& in, Out& out) const {
    out = detail::append_per_sequence<Scalar>(*in[0], *in[1], op.output[0]);
  }
  void operator()(Vertex v, const Op& op, const step::AttentionScores& a, const Inputs& in,
                  Out& out) const {
    scores(v, op, a, *in[0], *in[1], out);
  }
  void operator()(Vertex, const Op& op, const step::Softmax& a, const Inputs& in, Out& out) const {
    out = *in[0];
    softmax_rows(out, op.output[2], model_.head_dim, a.causal);
  }
  void operator()(Vertex v, const Op& op, const step::AttentionContext& a, const Inputs& in,
                  Out& out) const {
    context(v, op, a, *in[0], *in[1], out);
  }
  void operator()(Vertex v, const Op& op, const step::PartialAttention& a, const Inputs& in,
                  Out& out) const {
    const std::int64_t keys = a.shard.keys(model_.seq_len), batch = op.output[0];
    if (in[1]->rows() != batch * keys || in[2]->rows() != batch * keys)
      fail(v, op, "its K or V does not hold the shard's " + std::to_string(keys) + " keys");
    numerics::partial_attention<Scalar>(
        *in[0], *in[1], *in[2], batch, a.heads, a.dims, model_.head_dim,
        [&](std::int64_t h) { return kv_of(v, op, a, h); }, out);
  }
  void operator()(Vertex v, const Op& op, const step::LogSumExpMerge& m, const Inputs& in,
                  Out& out) const {
    const std::int64_t batch = op.output[0];
    if (in[0]->rows() != batch * m.shards * m.heads || in[0]->cols() != m.dims + 1)
      fail(v, op, "its input is not the " + std::to_string(m.shards) + " shards' partials");
    numerics::log_sum_exp_merge<Scalar>(*in[0], batch, m.shards, m.heads, m.dims, out);
  }
  void operator()(Vertex, const Op&, const step::ResidualAdd&, const Inputs& in, Out& out) const {
    out = *in[0] + *in[1];
  }
  void operator()(Vertex, const Op&, const step::Gelu&, const Inputs& in, Out& out) const {
    apply_gelu(*in[0], out);
  }
  void operator()(Vertex, const Op&, const step::SwiGlu&, const Inputs& in, Out& out) const {
    apply_swiglu(*in[0], *in[1], out);
  }
  void operator()(Vertex, const Op&, const step::Output&, const Inputs& in, Out& out) const {
    out = *in[0];
  }

  /// What of `op` the kernels read: two ops equal here compute the same bits from the same input
  /// tensors (how the runner finds the replicas of an op on other devices). Not the device; nor
  /// a softmax's head_dim slice: it normalizes the summed scores every slice's device holds.
  static Op as_computed(const Op& op) {
    Op computed = op;
    computed.device = -1;
    if (step::Softmax* softmax = step_if<step::Softmax>(computed)) {
      softmax->dim_begin = 0;
      softmax->dims = 0;
    }
    return computed;
  }

  [[noreturn]] static void fail(Vertex v, const Op& op, const std::string& what) {
    throw std::logic_error("helix: execute: vertex " + std::to_string(v) + " (" +
                           std::string(op_kind_name(op.kind())) + ", layer " +
                           std::to_string(op.layer) + "): " + what);
  }

private:
  const Model& model_;
  const W& weights_;
  const I& input_;

  /// Runs `compute`, naming the vertex in any logic error it throws.
  template <class Compute>
  static void guarded(Vertex v, const Op& op, Compute&& compute) {
    try {
      compute();
    } catch (const std::logic_error& error) {
      fail(v, op, error.what());
    }
  }

  template <LinearStep S>
  void linear(Vertex v, const Op& op, const S& s, const Inputs& in, Out& out) const {
    guarded(v, op,
            [&] { numerics::linear<Scalar>(*in[0], weights_.slice(op.layer, S::weight, s), out); });
  }

  /// Rows of the device's vocabulary slice of the embedding for the token ids in it, zeros for
  /// the others: summed over the devices, every token gets its row exactly once.
  void embedding_lookup(Vertex v, const Op& op, const step::Embedding& e, const Matrix<Scalar>& ids,
                        Out& x) const {
    const IndexRuns& rows = e.rows;
    if (rows.count != 1 || rows.begin < 0 || rows.begin + rows.size > padded_vocab(model_) ||
        e.cols != IndexRuns::range(0, model_.hidden))
      fail(v, op, "its vocabulary slice does not fit the embedding");
    const SliceView<Scalar> table = weights_.slice(-1, Weight::embedding, e);
    x.setZero(ids.size(), model_.hidden);
    for (std::int64_t b = 0; b < ids.rows(); ++b)
      for (std::int64_t t = 0; t < ids.cols(); ++t) {
        const auto id = static_cast<std::int64_t>(ids(b, t));
        if (id >= rows.begin && id < rows.begin + rows.size)
          x.row(b * ids.cols() + t) = table.block(0, 0).row(id - rows.begin);
      }
  }

  /// Local kv head that local query head `h` reads (the model's grouping g(h) = h / (heads/kv)).
  std::int64_t kv_of(Vertex v, const Op& op, const AttentionHeads& a, std::int64_t h) const {
    const std::int64_t g = (a.head_begin + h) / (model_.heads / model_.kv_heads) - a.kv_head_begin;
    if (g < 0 || g >= a.kv_heads)
      fail(v, op, "query head " + std::to_string(a.head_begin + h) + " reads a kv head it lacks");
    return g;
  }

  /// q kᵀ per (sequence, local head) over this op's head_dim slice: [b, heads, tokens, keys].
  void scores(Vertex v, const Op& op, const AttentionHeads& a, const Matrix<Scalar>& q,
              const Matrix<Scalar>& k, Out& out) const {
    const std::int64_t b = op.output[0], heads = op.output[1], tokens = op.output[2],
                       keys = op.output[3];
    out.resize(b * heads * tokens, keys);
    for (std::int64_t s = 0; s < b; ++s)
      for (std::int64_t h = 0; h < heads; ++h)
        out.middleRows((s * heads + h) * tokens, tokens).noalias() =
            q.block(s * tokens, h * a.dims, tokens, a.dims) *
            k.block(s * keys, kv_of(v, op, a, h) * a.dims, keys, a.dims).transpose();
  }

  /// p v per (sequence, local head): [b, tokens, heads · dims], heads outermost in the columns.
  void context(Vertex v, const Op& op, const AttentionHeads& a, const Matrix<Scalar>& p,
               const Matrix<Scalar>& values, Out& out) const {
    const std::int64_t b = op.output[0], tokens = op.output[1];
    const std::int64_t keys = p.cols();
    out.resize(b * tokens, a.heads * a.dims);
    for (std::int64_t s = 0; s < b; ++s)
      for (std::int64_t h = 0; h < a.heads; ++h)
        out.block(s * tokens, h * a.dims, tokens, a.dims).noalias() =
            p.middleRows((s * a.heads + h) * tokens, tokens) *
            values.block(s * keys, kv_of(v, op, a, h) * a.dims, keys, a.dims);
  }
};

} // namespace helix::numerics
