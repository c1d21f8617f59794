// Runs a Dag on the CPU: every vertex in topological order, one kernel per step alternative, a
// tensor per device. Everything about the sharding comes from the vertices' steps and the edges, so
// this executes the very graph that is drawn and costed, collectives in their ring order included.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/collectives.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/weights.hpp"

#include <boost/graph/topological_sort.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix::numerics {

/// A block-stack activation that a device holds for some sequences: an output vertex's tensor, or
/// the residual add that ends a layer.
template <std::floating_point Scalar>
struct SequenceTensor {
  std::int64_t layer = -1; ///< -1 for the stack's output
  std::int64_t device = -1;
  std::int64_t replica = 0;
  std::int64_t microbatch = 0;
  /// Sequences [batch_begin, batch_begin + sequences) of the full batch.
  std::int64_t batch_begin = 0;
  std::int64_t sequences = 0;
  /// `[sequences, tokens, hidden]` as (sequences·tokens) × hidden.
  Matrix<Scalar> value;
};

template <std::floating_point Scalar>
struct Execution {
  std::int64_t batch = 0, tokens = 0, hidden = 0;
  /// Rows per sequence and width of the output: tokens × hidden, or with a vocabulary 1 × padded
  /// vocab (the logits of the last position).
  std::int64_t output_tokens = 0, output_width = 0;
  /// One per output vertex: every device of the last stage holds the output of its sequences.
  std::vector<SequenceTensor<Scalar>> outputs;
  /// One per device, layer, replica and microbatch: the layer's final residual add.
  std::vector<SequenceTensor<Scalar>> layer_outputs;

  /// The full output, `[batch, tokens, hidden]` as (batch·tokens) × hidden (with a vocabulary
  /// batch × padded vocab), each sequence taken from the first device that holds it.
  /// @throws std::runtime_error when a sequence has none.
  Matrix<Scalar> assemble() const {
    return assemble_from(outputs, -1, output_tokens, output_width);
  }
  /// The `[batch, tokens, hidden]` output of `layer`.
  Matrix<Scalar> assemble_layer(std::int64_t layer) const {
    return assemble_from(layer_outputs, layer, tokens, hidden);
  }

private:
  Matrix<Scalar> assemble_from(const std::vector<SequenceTensor<Scalar>>& parts, std::int64_t layer,
                               std::int64_t tokens, std::int64_t width) const {
    Matrix<Scalar> full(batch * tokens, width);
    std::vector<bool> filled(static_cast<std::size_t>(batch), false);
    for (const SequenceTensor<Scalar>& part : parts) {
      if (part.layer != layer || filled[static_cast<std::size_t>(part.batch_begin)])
        continue;
      full.middleRows(part.batch_begin * tokens, part.sequences * tokens) = part.value;
      for (std::int64_t s = 0; s < part.sequences; ++s)
        filled[static_cast<std::size_t>(part.batch_begin + s)] = true;
    }
    for (std::int64_t s = 0; s < batch; ++s)
      if (!filled[static_cast<std::size_t>(s)])
        throw std::runtime_error("helix: execute: no device holds " +
                                 std::string(layer < 0 ? "the output" : "the layer output") +
                                 " of sequence " + std::to_string(s));
    return full;
  }
};

/// Called with every tensor the executor keeps, as it keeps it: the vertex, the device that holds
/// the tensor and the tensor (valid only during the call: the executor frees it after its last
/// reader). In execution order, which is topological; a collective's members in ring order. How
/// numerics/expected.hpp sees every op's output without the executor holding them all.
template <std::floating_point Scalar>
using TensorObserver = std::function<void(Vertex, std::int64_t, const Matrix<Scalar>&)>;

namespace detail {

/// `y = x @ W[rows, cols]` read straight out of the full weight: one block product per pair of
/// row run and column run, row runs summed in order (each is a partial sum over those inputs).
template <std::floating_point Scalar>
Matrix<Scalar> linear(const Matrix<Scalar>& x, const Matrix<Scalar>& weight,
                      const LinearSlice& slice) {
  const IndexRuns& rows = slice.rows;
  const IndexRuns& cols = slice.cols;
  if (x.cols() != rows.total() ||
      rows.begin + (rows.count - 1) * rows.stride + rows.size > weight.rows() ||
      cols.begin + (cols.count - 1) * cols.stride + cols.size > weight.cols())
    throw std::logic_error("helix: execute: a linear slice does not fit its weight or input");
  Matrix<Scalar> y = Matrix<Scalar>::Zero(x.rows(), cols.total());
  for (std::int64_t c = 0; c < cols.count; ++c)
    for (std::int64_t r = 0; r < rows.count; ++r)
      y.middleCols(c * cols.size, cols.size).noalias() +=
          x.middleCols(r * rows.size, rows.size) * weight.block(rows.begin + r * rows.stride,
                                                                cols.begin + c * cols.stride,
                                                                rows.size, cols.size);
  return y;
}

template <std::floating_point Scalar>
class Executor {
public:
  Executor(const Dag& dag, const Weights<Scalar>& weights, const Input<Scalar>& input,
           TensorObserver<Scalar> observer = {})
      : dag_(dag), info_(dag[boost::graph_bundle]), model_(info_.model), weights_(weights),
        input_(input), store_(boost::num_vertices(dag)), pending_reads_(store_.size()),
        observer_(std::move(observer)) {
    require_matching(model_, info_.workload, weights, input);
  }

  Execution<Scalar> run() {
    std::vector<Vertex> reversed;
    boost::topological_sort(dag_, std::back_inserter(reversed));
    for (Vertex v : reversed)
      pending_reads_[v] = boost::out_degree(v, dag_);
    result_.batch = model_.batch;
    result_.tokens = input_.tokens;
    result_.hidden = model_.hidden;
    result_.output_tokens = model_.vocab > 0 ? 1 : input_.tokens;
    result_.output_width = model_.vocab > 0 ? padded_vocab(model_) : model_.hidden;
    for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) {
      const Vertex v = *it;
      const std::vector<const Matrix<Scalar>*> inputs = arguments(v);
      run_vertex(v, inputs);
      // Tensors nobody reads any more are dropped, so memory holds the live tensors only.
      for (auto [e, end] = boost::in_edges(v, dag_); e != end; ++e)
        if (--pending_reads_[boost::source(*e, dag_)] == 0)
          store_[boost::source(*e, dag_)].clear();
      if (pending_reads_[v] == 0)
        store_[v].clear();
    }
    return std::move(result_);
  }

private:
  struct Held {
    std::int64_t device = -1;
    Matrix<Scalar> value;
  };

  const Dag& dag_;
  const DagInfo& info_;
  const Model& model_;
  const Weights<Scalar>& weights_;
  const Input<Scalar>& input_;
  std::vector<std::vector<Held>> store_; ///< per vertex, its output on each device holding it
  std::vector<std::size_t> pending_reads_;
  TensorObserver<Scalar> observer_;
  Execution<Scalar> result_;

  [[noreturn]] void fail(Vertex v, const std::string& what) const {
    const Op& op = dag_[v];
    throw std::logic_error("helix: execute: vertex " + std::to_string(v) + " (" +
                           std::string(op_kind_name(op.kind())) + ", layer " +
                           std::to_string(op.layer) + "): " + what);
  }

  /// The tensors on `v`'s in-edges by port (the member index for a collective), each read from
  /// the device the edge says it lives on.
  std::vector<const Matrix<Scalar>*> arguments(Vertex v) const {
    std::vector<const Matrix<Scalar>*> inputs(boost::in_degree(v, dag_), nullptr);
    for (auto [e, end] = boost::in_edges(v, dag_); e != end; ++e) {
      const Tensor& tensor = dag_[*e];
      const Vertex producer = boost::source(*e, dag_);
      if (tensor.port >= inputs.size() || inputs[tensor.port])
        fail(v, "in-edge ports are not 0.." + std::to_string(inputs.size() - 1) + ", each once");
      for (const Held& held : store_[producer])
        if (held.device == tensor.device)
          inputs[tensor.port] = &held.value;
      if (!inputs[tensor.port])
        fail(v, "its producer " + std::to_string(producer) + " left nothing on device " +
                    std::to_string(tensor.device));
      if (inputs[tensor.port]->size() != tensor.shape.elements() ||
          inputs[tensor.port]->cols() != tensor.shape.last())
        fail(v, "port " + std::to_string(tensor.port) + " holds a tensor of another shape than " +
                    to_string(tensor.shape));
      // The kernels trust their arguments' sizes: a tensor the op does not expect stops here.
      const Op& op = dag_[v];
      const std::size_t slot = is_collective(op.kind()) ? 0 : tensor.port;
      if (slot >= op.input_count || slot >= op.inputs.size() || tensor.shape != op.inputs[slot])
        fail(v, "port " + std::to_string(tensor.port) + " receives " + to_string(tensor.shape) +
                    (slot < op.input_count && slot < op.inputs.size()
                         ? ", but the op expects " + to_string(op.inputs[slot])
                         : ", which the op has no argument for"));
    }
    return inputs;
  }

  void keep(Vertex v, std::int64_t device, Matrix<Scalar> value) {
    const Shape& shape = dag_[v].output;
    if (value.size() != shape.elements() || value.cols() != shape.last())
      fail(v, "computed a tensor of another shape than " + to_string(shape));
    if (observer_)
      observer_(v, device, value);
    store_[v].push_back(Held{device, std::move(value)});
  }

  /// Runs `v`'s step: a compute kernel on its device, a send to the receiver, or a collective
  /// over its members. One handler per step alternative, none by default.
  void run_vertex(Vertex v, const std::vector<const Matrix<Scalar>*>& inputs) {
    const Op& op = dag_[v];
    if (!is_collective(op.kind()) && inputs.size() != op.input_count)
      fail(v, "has " + std::to_string(inputs.size()) + " inputs, expects " +
                  std::to_string(op.input_count));
    const auto in = [&](std::size_t port) -> const Matrix<Scalar>& { return *inputs[port]; };
    const auto computed = [&](Matrix<Scalar> value) { keep(v, op.device, std::move(value)); };
    const auto linear_step = [&]<LinearStep S>(const S& slice) {
      computed(linear(in(0), layer_weights(v).weight(S::weight), slice));
    };
    visit_step(
        op, helix::detail::overloaded{
                [&](const step::Input&) {
                  // [b, tokens, hidden] (or [b, tokens] token ids) of sequences
                  // [batch_begin, +b).
                  if (model_.vocab > 0)
                    computed(input_.token_ids.middleRows(op.batch_begin, op.output[0]));
                  else
                    computed(input_.x.middleRows(op.batch_begin * input_.tokens,
                                                 op.output[0] * input_.tokens));
                },
                [&](const step::Embedding& e) { computed(embedding_lookup(v, e, in(0))); },
                [&](const step::LastToken&) {
                  computed(last_rows<Scalar>(in(0), in(0).rows() / op.output[0]));
                },
                [&](const step::LmHead& s) { computed(linear(in(0), weights_.lm_head, s)); },
                [&](const step::ParallelSum&) { computed(in(0) + in(1)); },
                [&](const step::KVCache& c) { computed(read_cache(v, c)); },
                [&](const step::Norm& n) {
                  if (n.slot == final_norm_slot) {
                    computed(apply_norm(model_.norm, in(0), weights_.final_norm_gain,
                                        weights_.final_norm_shift));
                    return;
                  }
                  const std::size_t slot = static_cast<std::size_t>(n.slot);
                  const LayerWeights<Scalar>& w = layer_weights(v);
                  computed(apply_norm(model_.norm, in(0), w.norm_gain[slot], w.norm_shift[slot]));
                },
                [&](const step::QProjection& s) { linear_step(s); },
                [&](const step::KProjection& s) { linear_step(s); },
                [&](const step::VProjection& s) { linear_step(s); },
                [&](const step::OutProjection& s) { linear_step(s); },
                [&](const step::Fc1& s) { linear_step(s); },
                [&](const step::GateProjection& s) { linear_step(s); },
                [&](const step::Fc2& s) { linear_step(s); },
                [&](const step::KVAppend&) {
                  computed(append_per_sequence<Scalar>(in(0), in(1), op.output[0]));
                },
                [&](const step::AttentionScores& a) { computed(scores(v, a, in(0), in(1))); },
                [&](const step::Softmax& a) {
                  Matrix<Scalar> p = in(0);
                  softmax_rows(p, op.output[2], model_.head_dim, a.causal);
                  computed(std::move(p));
                },
                [&](const step::AttentionContext& a) { computed(context(v, a, in(0), in(1))); },
                [&](const step::ResidualAdd&) {
                  Matrix<Scalar> sum = in(0) + in(1);
                  if (ends_layer(v))
                    record(v, result_.layer_outputs, sum);
                  computed(std::move(sum));
                },
                [&](const step::Gelu&) { computed(apply_gelu(in(0))); },
                [&](const step::SwiGlu&) { computed(apply_swiglu(in(0), in(1))); },
                [&](const step::Output&) {
                  record(v, result_.outputs, in(0));
                  computed(in(0));
                },
                // A send/recv copies the sender's tensor to the receiver.
                [&](const step::Transfer& t) { keep(v, t.destination, in(0)); },
                [&](const step::AllReduce& c) {
                  // Reduce-scatter then all-gather around the ring, for the flat and inter-group
                  // phases.
                  run_collective(v, c, inputs,
                                 [](std::vector<Matrix<Scalar>>& b) { ring_all_reduce(b); });
                },
                [&](const step::ReduceScatter& c) {
                  run_collective(v, c, inputs, [](std::vector<Matrix<Scalar>>& b) {
                    ring_reduce_scatter_to_owners(b);
                  });
                },
                [&](const step::AllGather& c) {
                  run_collective(v, c, inputs, [&](std::vector<Matrix<Scalar>>& b) {
                    try {
                      gather_concatenate(b, op.output.last());
                    } catch (const std::invalid_argument& error) {
                      fail(v, error.what());
                    }
                  });
                },
            });
  }

  /// Rows of the device's vocabulary slice of the embedding for the token ids in it, zeros for
  /// the others: summed over the devices, every token gets its row exactly once.
  Matrix<Scalar> embedding_lookup(Vertex v, const step::Embedding& e,
                                  const Matrix<Scalar>& ids) const {
    const IndexRuns& rows = e.rows;
    if (rows.count != 1 || rows.begin < 0 || rows.begin + rows.size > weights_.embedding.rows() ||
        e.cols != IndexRuns::range(0, model_.hidden))
      fail(v, "its vocabulary slice does not fit the embedding");
    Matrix<Scalar> x = Matrix<Scalar>::Zero(ids.size(), model_.hidden);
    for (std::int64_t b = 0; b < ids.rows(); ++b)
      for (std::int64_t t = 0; t < ids.cols(); ++t) {
        const auto id = static_cast<std::int64_t>(ids(b, t));
        if (id >= rows.begin && id < rows.begin + rows.size)
          x.row(b * ids.cols() + t) = weights_.embedding.row(id);
      }
    return x;
  }

  /// A layer ends with the residual add of its MLP branch.
  bool ends_layer(Vertex v) const {
    const step::ResidualAdd* add = step_if<step::ResidualAdd>(dag_[v]);
    return add && add->branch == Sublayer::mlp;
  }

  void record(Vertex v, std::vector<SequenceTensor<Scalar>>& into, const Matrix<Scalar>& value) {
    const Op& op = dag_[v];
    into.push_back(SequenceTensor<Scalar>{op.kind() == OpKind::output ? -1 : op.layer, op.device,
                                          op.replica, op.microbatch, op.batch_begin, op.output[0],
                                          value});
  }

  const LayerWeights<Scalar>& layer_weights(Vertex v) const {
    const std::int64_t layer = dag_[v].layer;
    if (layer < 0 || layer >= model_.layers)
      fail(v, "has no layer");
    return weights_.layers[static_cast<std::size_t>(layer)];
  }

  /// The op's keys or values of the cached context: its sequences, and for each of its kv heads
  /// the head_dim slice it covers.
  Matrix<Scalar> read_cache(Vertex v, const step::KVCache& a) const {
    const Op& op = dag_[v];
    const std::vector<Matrix<Scalar>>& caches =
        a.values ? input_.cached_values : input_.cached_keys;
    const std::int64_t layer = dag_[v].layer;
    if (layer < 0 || layer >= static_cast<std::int64_t>(caches.size()))
      fail(v, "reads a KV cache the input does not have");
    const Matrix<Scalar>& cache = caches[static_cast<std::size_t>(layer)];
    const std::int64_t cached = op.output[1], rows = op.output[0] * cached;
    Matrix<Scalar> out(rows, a.kv_heads * a.dims);
    for (std::int64_t g = 0; g < a.kv_heads; ++g)
      out.middleCols(g * a.dims, a.dims) =
          cache.block(op.batch_begin * cached,
                      (a.kv_head_begin + g) * model_.head_dim + a.dim_begin, rows, a.dims);
    return out;
  }

  /// Local kv head that local query head `h` reads (the model's grouping g(h) = h / (heads/kv)).
  std::int64_t kv_of(Vertex v, const AttentionHeads& a, std::int64_t h) const {
    const std::int64_t g = (a.head_begin + h) / (model_.heads / model_.kv_heads) - a.kv_head_begin;
    if (g < 0 || g >= a.kv_heads)
      fail(v, "query head " + std::to_string(a.head_begin + h) + " reads a kv head it lacks");
    return g;
  }

  /// q kᵀ per (sequence, local head) over this op's head_dim slice: [b, heads, tokens, keys].
  Matrix<Scalar> scores(Vertex v, const AttentionHeads& a, const Matrix<Scalar>& q,
                        const Matrix<Scalar>& k) const {
    const Op& op = dag_[v];
    const std::int64_t b = op.output[0], heads = op.output[1], tokens = op.output[2],
                       keys = op.output[3];
    Matrix<Scalar> out(b * heads * tokens, keys);
    for (std::int64_t s = 0; s < b; ++s)
      for (std::int64_t h = 0; h < heads; ++h)
        out.middleRows((s * heads + h) * tokens, tokens).noalias() =
            q.block(s * tokens, h * a.dims, tokens, a.dims) *
            k.block(s * keys, kv_of(v, a, h) * a.dims, keys, a.dims).transpose();
    return out;
  }

  /// p v per (sequence, local head): [b, tokens, heads · dims], heads outermost in the columns.
  Matrix<Scalar> context(Vertex v, const AttentionHeads& a, const Matrix<Scalar>& p,
                         const Matrix<Scalar>& values) const {
    const Op& op = dag_[v];
    const std::int64_t b = op.output[0], tokens = op.output[1];
    const std::int64_t keys = p.cols();
    Matrix<Scalar> out(b * tokens, a.heads * a.dims);
    for (std::int64_t s = 0; s < b; ++s)
      for (std::int64_t h = 0; h < a.heads; ++h)
        out.block(s * tokens, h * a.dims, tokens, a.dims).noalias() =
            p.middleRows((s * a.heads + h) * tokens, tokens) *
            values.block(s * keys, kv_of(v, a, h) * a.dims, keys, a.dims);
    return out;
  }

  /// Runs a collective over its group's members in ring order (member i's input is port i) with
  /// `algorithm` over their buffers, and leaves member i's buffer on member i.
  template <class Algorithm>
  void run_collective(Vertex v, const step::Collective& c,
                      const std::vector<const Matrix<Scalar>*>& inputs, Algorithm&& algorithm) {
    const std::int64_t n = group_size(info_.mesh, c.group);
    if (static_cast<std::int64_t>(inputs.size()) != n)
      fail(v, "has " + std::to_string(inputs.size()) + " members' inputs, its group " +
                  std::to_string(n) + " members");
    std::vector<Matrix<Scalar>> buffers;
    for (const Matrix<Scalar>* input : inputs)
      buffers.push_back(*input);
    algorithm(buffers);
    for (std::int64_t i = 0; i < n; ++i)
      keep(v, group_member(info_.mesh, c.group, i),
           std::move(buffers[static_cast<std::size_t>(i)]));
  }
};

} // namespace detail

/// Executes `dag` on `input` with the full `weights` (each vertex reads its slice through its
/// step) and returns every output vertex's tensor and every layer's output per device.
/// The floating-point order of every reduction is the one the DAG's collectives imply.
/// @throws std::invalid_argument when weights or input do not fit the Dag's model and workload;
/// std::logic_error naming the vertex when the graph is inconsistent (a tensor missing on the
/// device an edge reads it from, a shape that differs from the vertex's own); boost::not_a_dag.
///
/// Example: `execute(build_dag(m, parse_plan("hp=4x4")), w, x).assemble()` is `[batch, seq,
/// hidden]` and agrees with `reference_forward(m, {}, w, x).output` to about 1e-15.
template <std::floating_point Scalar>
[[nodiscard]] Execution<Scalar> execute(const Dag& dag, const Weights<Scalar>& weights,
                                        const Input<Scalar>& input) {
  return detail::Executor<Scalar>(dag, weights, input).run();
}

/// The same, calling `observer` with every tensor as it is kept (see TensorObserver).
template <std::floating_point Scalar>
Execution<Scalar> execute(const Dag& dag, const Weights<Scalar>& weights,
                          const Input<Scalar>& input, TensorObserver<Scalar> observer) {
  return detail::Executor<Scalar>(dag, weights, input, std::move(observer)).run();
}

} // namespace helix::numerics
