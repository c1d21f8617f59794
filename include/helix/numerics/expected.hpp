// helix as the oracle for someone else's sharded code: the tensor a correct implementation holds
// on every device after every op (as the executor computes it, named by graph/op_names.hpp), and
// the weight slices each device holds. io/expected_dump.hpp writes them to files.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/op_names.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/numerics/weights.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace helix::numerics {

/// What one device holds after one op.
template <std::floating_point Scalar>
struct ExpectedTensor {
  Vertex vertex = 0;
  std::int64_t device = -1;
  std::string name; ///< "layer03.out_projection.dev05" (OpNames::name)
  std::string file; ///< "dev05/layer03_out_projection.npy" (OpNames::file)
  Shape shape;      ///< the op's output shape; `value` holds it in C order
  Matrix<Scalar> value;
};

namespace detail {

/// @throws std::logic_error naming the first name two tensors share: a dump keyed by name must not
/// merge two.
template <class Graph>
void require_unique_names(const Graph& dag) {
  if (const auto duplicates = duplicate_op_names(dag); !duplicates.empty())
    throw std::logic_error("helix: expected: " + std::to_string(duplicates.size()) +
                           " op names are given to several tensors, first '" +
                           duplicates.front().first + "' (" +
                           std::to_string(duplicates.front().second) + " times)");
}

} // namespace detail

/// Executes `dag` and hands `sink` every op's output on every device holding it, as an
/// ExpectedTensor, the moment it is computed: in execution order, which is topological (an op
/// comes after everything that feeds it), a collective's members in ring order. Nothing is kept
/// here, so a dump streamed to files needs only the executor's live tensors in memory.
/// @returns the execution (outputs and layer outputs, as `execute` gives them).
/// @throws what `execute` throws; std::logic_error when two tensors would share a name.
template <std::floating_point Scalar, class Sink>
requires std::invocable<Sink&, ExpectedTensor<Scalar> &&> Execution<Scalar>
stream_expected(const Dag& dag, const Weights<Scalar>& weights, const Input<Scalar>& input,
                Sink&& sink) {
  detail::require_unique_names(dag);
  const OpNames names(dag);
  return execute<Scalar>(dag, weights, input,
                         [&](Vertex v, std::int64_t device, const Matrix<Scalar>& value) {
                           const Op& op = dag[v];
                           sink(ExpectedTensor<Scalar>{v, device, names.name(op, device),
                                                       names.file(op, device), op.output, value});
                         });
}

/// Every expected tensor of `dag`, in execution order, looked up by name.
template <std::floating_point Scalar>
struct ExpectedTensors {
  std::vector<ExpectedTensor<Scalar>> tensors;
  /// The tensor called `name`, or null.
  const ExpectedTensor<Scalar>* find(std::string_view name) const {
    const auto it = index.find(name);
    return it == index.end() ? nullptr : &tensors[it->second];
  }
  std::map<std::string, std::size_t, std::less<>> index;
};

/// All of them in memory (stream_expected writes them one by one instead).
///
/// Example: for `tp=4` on shrunk helix_seed, `expected(dag, w, x).find("layer01.fc2.dev03")`
/// is device 3's partial FC2 output, [2, 16, 128].
template <std::floating_point Scalar>
[[nodiscard]] ExpectedTensors<Scalar> expected(const Dag& dag, const Weights<Scalar>& weights,
                                               const Input<Scalar>& input) {
  ExpectedTensors<Scalar> all;
  stream_expected<Scalar>(dag, weights, input, [&](ExpectedTensor<Scalar>&& t) {
    all.index.emplace(t.name, all.tensors.size());
    all.tensors.push_back(std::move(t));
  });
  return all;
}

/// The order a dump lists its tensors in: topological (an op after every op it reads), ties
/// broken by the lowering's order (vertex id), so that a report walks the forward layer by layer
/// and, inside a step, device by device, however the executor happened to schedule it.
/// @throws std::logic_error when `dag` has a cycle.
template <class Graph = Dag>
std::vector<Vertex> dump_order(const Graph& dag) {
  const std::size_t n = boost::num_vertices(dag);
  std::vector<std::size_t> unread(n);
  std::set<Vertex> ready;
  for (Vertex v = 0; v < n; ++v)
    if ((unread[v] = boost::in_degree(v, dag)) == 0)
      ready.insert(v);
  std::vector<Vertex> order;
  order.reserve(n);
  while (!ready.empty()) {
    const Vertex v = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(v);
    for (auto [e, end] = boost::out_edges(v, dag); e != end; ++e)
      if (--unread[boost::target(*e, dag)] == 0)
        ready.insert(boost::target(*e, dag));
  }
  if (order.size() != n)
    throw std::logic_error("helix: dump_order: the graph has a cycle");
  return order;
}

/// Which parameter of a full weight a device holds.
enum class HeldParameter : std::uint8_t {
  slice,      ///< a Linear's (or the embedding's) rows and columns of a full weight
  norm_gain,  ///< a norm's gain, replicated: every device holds it whole
  norm_shift, ///< a layernorm's shift, replicated
};

/// One weight a device holds, without its numbers: what a dump writes as
/// `devDD/weights/<name>.npy`.
struct WeightHolding {
  std::int64_t device = -1;
  std::int64_t layer = -1; ///< -1 for the embedding, LM head and final norm
  /// "layer03_wq", "layer03_norm1_gain", "embedding", "final_norm_gain".
  std::string name;
  std::string file; ///< "dev05/weights/layer03_wq.npy"
  HeldParameter parameter = HeldParameter::slice;
  Weight weight = Weight::wq;          ///< for a slice
  LinearSlice slice;                   ///< for a slice
  std::int64_t norm_slot = 0;          ///< for a norm parameter (step::Norm::slot)
  std::array<std::int64_t, 2> shape{}; ///< a slice's [rows, cols]; a norm parameter's [hidden, 1]
  /// The .npy shape: [rows, cols], or [hidden] for a norm parameter.
  std::vector<std::int64_t> file_shape() const {
    if (parameter == HeldParameter::slice)
      return {shape[0], shape[1]};
    return {shape[0]};
  }
};

/// Every weight each device holds, once per device (ops of other microbatches read the same
/// slice), in vertex order: every Linear's slice and every norm's parameters.
/// @throws std::logic_error when two ops of one device read different slices under one name.
template <class Graph = Dag>
std::vector<WeightHolding> weight_holdings(const Graph& dag) {
  const Model& model = boost::get_property(dag, boost::graph_bundle).model;
  const OpNames names(dag);
  std::vector<WeightHolding> out;
  std::map<std::pair<std::int64_t, std::string>, std::size_t> seen;
  const auto add = [&](WeightHolding h) {
    h.file = names.device(h.device) + "/weights/" + h.name + ".npy";
    const auto [it, fresh] = seen.emplace(std::pair{h.device, h.name}, out.size());
    if (fresh) {
      out.push_back(std::move(h));
      return;
    }
    const WeightHolding& first = out[it->second];
    if (first.parameter != h.parameter || !(first.slice == h.slice))
      throw std::logic_error("helix: expected: device " + std::to_string(h.device) +
                             " reads two different slices called '" + h.name + "'");
  };
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const Op& op = dag[v];
    const std::string prefix = op.layer >= 0 ? names.layer(op.layer) + "_" : std::string();
    if (const std::optional<WeightSlice> w = weight_slice_of(op)) {
      WeightHolding h;
      h.device = op.device;
      h.layer = op.layer;
      h.name = prefix + std::string(weight_name(w->weight));
      h.weight = w->weight;
      h.slice = w->slice;
      h.shape = {w->slice.rows.total(), w->slice.cols.total()};
      add(std::move(h));
    } else if (const step::Norm* n = step_if<step::Norm>(op); n && model.norm != Norm::none) {
      const std::string norm =
          n->slot == final_norm_slot ? "final_norm" : "norm" + std::to_string(n->slot + 1);
      for (HeldParameter p : {HeldParameter::norm_gain, HeldParameter::norm_shift}) {
        if (p == HeldParameter::norm_shift && model.norm != Norm::layernorm)
          continue;
        WeightHolding h;
        h.device = op.device;
        h.layer = op.layer;
        h.name = prefix + norm + (p == HeldParameter::norm_gain ? "_gain" : "_shift");
        h.parameter = p;
        h.norm_slot = n->slot;
        h.shape = {model.hidden, 1};
        add(std::move(h));
      }
    }
  }
  return out;
}

namespace detail {
/// The indices `runs` covers, in order.
inline std::vector<std::int64_t> indices_of(const IndexRuns& runs) {
  std::vector<std::int64_t> out;
  for (std::int64_t r = 0; r < runs.count; ++r)
    for (std::int64_t i = 0; i < runs.size; ++i)
      out.push_back(runs.begin + r * runs.stride + i);
  return out;
}
} // namespace detail

/// The numbers of a holding: a slice is `W[rows, cols]` with the runs concatenated in order, so
/// that the device computes `y = x @ slice` (what the executor does run by run); a norm
/// parameter is 1 × hidden.
/// @throws std::out_of_range when the slice does not fit the weight.
template <std::floating_point Scalar>
Matrix<Scalar> weight_value(const WeightHolding& h, const Weights<Scalar>& weights) {
  const auto layer = [&]() -> const LayerWeights<Scalar>& {
    return weights.layers.at(static_cast<std::size_t>(h.layer));
  };
  switch (h.parameter) {
  case HeldParameter::slice: {
    const Matrix<Scalar>& full = h.weight == Weight::embedding ? weights.embedding
                                 : h.weight == Weight::lm_head ? weights.lm_head
                                                               : layer().weight(h.weight);
    const std::vector<std::int64_t> rows = detail::indices_of(h.slice.rows);
    const std::vector<std::int64_t> cols = detail::indices_of(h.slice.cols);
    Matrix<Scalar> value(static_cast<std::int64_t>(rows.size()),
                         static_cast<std::int64_t>(cols.size()));
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::size_t c = 0; c < cols.size(); ++c) {
        if (rows[r] >= full.rows() || cols[c] >= full.cols())
          throw std::out_of_range("helix: expected: '" + h.name + "' reaches past its full weight");
        value(static_cast<std::int64_t>(r), static_cast<std::int64_t>(c)) = full(rows[r], cols[c]);
      }
    return value;
  }
  case HeldParameter::norm_gain:
  case HeldParameter::norm_shift:
    break;
  }
  const bool gain = h.parameter == HeldParameter::norm_gain;
  if (h.norm_slot == final_norm_slot)
    return gain ? weights.final_norm_gain : weights.final_norm_shift;
  const std::size_t slot = static_cast<std::size_t>(h.norm_slot);
  return gain ? layer().norm_gain.at(slot) : layer().norm_shift.at(slot);
}

/// How much a dump of `dag` holds, in elements, counted from the graph before anything runs.
struct ExpectedSize {
  std::int64_t tensors = 0;         ///< (op, device) pairs: one file each
  std::int64_t tensor_elements = 0; ///< their elements
  std::int64_t weights = 0;         ///< weight files
  std::int64_t weight_elements = 0;
  std::int64_t input_elements = 0; ///< the whole input (and a decode step's KV cache)

  /// Bytes on disk with `scalar_bytes` per element, each file's header counted as 128 bytes.
  std::int64_t bytes(std::int64_t scalar_bytes) const {
    const std::int64_t files = tensors + weights + 3;
    return (tensor_elements + weight_elements + input_elements) * scalar_bytes + 128 * files;
  }
};

template <class Graph = Dag>
ExpectedSize expected_size(const Graph& dag) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Model& model = info.model;
  ExpectedSize size;
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const std::int64_t holders = static_cast<std::int64_t>(holders_of(dag, v).size());
    size.tensors += holders;
    size.tensor_elements += holders * dag[v].output.elements();
  }
  for (const WeightHolding& h : weight_holdings(dag)) {
    ++size.weights;
    size.weight_elements += h.shape[0] * h.shape[1];
  }
  const std::int64_t tokens = new_tokens(model, info.workload);
  size.input_elements = model.batch * tokens * (model.vocab > 0 ? 1 : model.hidden);
  if (info.workload.phase == Phase::decode)
    size.input_elements += 2 * model.layers * model.batch * model.seq_len * kv_width(model);
  return size;
}

} // namespace helix::numerics
