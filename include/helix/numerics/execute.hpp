// Runs a Dag on the CPU: every vertex in one deterministic topological order, a kernel per compute
// step (op_kernels.hpp), a communication backend for collectives and transfers, a tensor per
// device. The single-process executor's backend runs the rings in memory; the MPI backend
// (helix/distributed) runs the same vertices on the ranks. Everything about the sharding comes
// from the vertices' steps and the edges, so this executes the very graph that is drawn and costed.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/collectives.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/op_kernels.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/weights.hpp"

#include <boost/graph/exception.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
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
  /// `[sequences, tokens, hidden]` as (sequences·tokens) × hidden. Read only, and shared: the
  /// devices of one process that hold the same tensor object (the output of an op run once for
  /// its replicas, see RunOptions) record that one object, not a copy each.
  std::shared_ptr<const Matrix<Scalar>> value;
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
      full.middleRows(part.batch_begin * tokens, part.sequences * tokens) = *part.value;
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

/// One tensor a communication vertex leaves on a device of this process: `value`, or when
/// `shared` is set that tensor instead, which other devices of this process may hold too (an
/// in-process all-reduce leaves one sum that every member reads, a transfer the sender's tensor).
template <std::floating_point Scalar>
struct Placed {
  std::int64_t device = -1;
  Matrix<Scalar> value;
  std::shared_ptr<const Matrix<Scalar>> shared = {};
};

/// One input of a communication vertex that this process holds: the port it arrives on (a
/// collective's member index in ring order), the device it lives on, the tensor (`shared` owns
/// it, for a backend that leaves it on another device without copying it).
template <std::floating_point Scalar>
struct Arrival {
  std::size_t port = 0;
  std::int64_t device = -1;
  const Matrix<Scalar>* value = nullptr;
  std::shared_ptr<const Matrix<Scalar>> shared = {};
};

namespace detail {
template <class S>
inline constexpr bool moves_data = helix::detail::kind_row<S>().communication;
} // namespace detail

/// A step that moves data between devices (a collective or a transfer): a communication
/// backend's to run, never a kernel's.
template <class S>
concept CommunicationStep = detail::moves_data<S>;

/// A backend that runs communication step `S`: given the vertex, its op and the arrivals this
/// process holds, it returns the tensors the step leaves on this process's devices.
template <class C, class Scalar, class S>
concept Communicates = requires(C& c, Vertex v, const Op& op, const S& s,
                                const std::vector<Arrival<Scalar>>& in) {
  { c.communicate(v, op, s, in) } -> std::same_as<std::vector<Placed<Scalar>>>;
};

namespace detail {
template <class C, class Scalar, std::size_t... I>
constexpr bool communicates_every_step(std::index_sequence<I...>) {
  constexpr bool handled[] = {!CommunicationStep<std::variant_alternative_t<I, Step>> ||
                              Communicates<C, Scalar, std::variant_alternative_t<I, Step>>...};
  for (const bool h : handled)
    if (!h)
      return false;
  return true;
}
template <class C, class Scalar>
inline constexpr bool runs_every_communication_step =
    communicates_every_step<C, Scalar>(std::make_index_sequence<op_kind_count>{});
template <class C>
concept KnowsLocalDevices = requires(const C& c, std::int64_t device) {
  { c.is_local(device) } -> std::convertible_to<bool>;
};
} // namespace detail

/// A communication backend: which devices live in this process (`is_local(device)`), and a
/// `communicate` for every communication alternative of `Step`, so a new collective kind does not
/// compile until every backend (the in-process rings, MPI) runs it.
template <class C, class Scalar>
concept Communication =
    detail::KnowsLocalDevices<C> && detail::runs_every_communication_step<C, Scalar>;

/// The order every interpreter walks a Dag in: a topological order fixed by the graph alone
/// (Kahn's algorithm, the smallest ready vertex first), so every process that builds the same Dag
/// walks the same order, which is what makes a distributed run deadlock-free (README).
/// @throws boost::not_a_dag when the graph has a cycle.
template <class Graph = Dag>
std::vector<Vertex> execution_order(const Graph& dag) {
  const std::size_t n = boost::num_vertices(dag);
  std::vector<std::size_t> waiting(n);
  std::priority_queue<Vertex, std::vector<Vertex>, std::greater<>> ready;
  for (Vertex v = 0; v < n; ++v)
    if ((waiting[v] = boost::in_degree(v, dag)) == 0)
      ready.push(v);
  std::vector<Vertex> order;
  order.reserve(n);
  while (!ready.empty()) {
    const Vertex v = ready.top();
    ready.pop();
    order.push_back(v);
    for (auto [e, end] = boost::out_edges(v, dag); e != end; ++e)
      if (--waiting[boost::target(*e, dag)] == 0)
        ready.push(boost::target(*e, dag));
  }
  if (order.size() != n)
    throw boost::not_a_dag();
  return order;
}

/// What a run may skip.
struct RunOptions {
  /// Keep a copy of every layer's output (`Execution::layer_outputs`, for per-layer errors).
  bool record_layer_outputs = true;
  /// Run a compute op once for all the devices of this process that run the same op (the same
  /// step, layer, sequences and shapes) on the very same input tensors, and let them all hold
  /// its one output: a replicated norm or residual add under tensor parallelism, the softmax of
  /// the head_dim slices' summed scores. A kernel is a function of the op (not of its device),
  /// its inputs and the weight and input sources, so every replica would compute the same bits;
  /// off, each device computes its own (the tests compare the two).
  bool compute_replicas_once = true;
};

/// Called with every tensor the runner keeps, as it keeps it: the vertex, the device that holds
/// the tensor and the tensor (valid only during the call: the runner frees it after its last
/// reader). In execution order, which is topological; a collective's members in ring order. How
/// numerics/expected.hpp sees every op's output without the runner holding them all.
template <std::floating_point Scalar>
using TensorObserver = std::function<void(Vertex, std::int64_t, const Matrix<Scalar>&)>;

/// Runs the vertices of a Dag that a process takes part in, in `execution_order`: compute ops on
/// its devices through `OpKernels`, collectives and transfers through the communication backend.
/// One handler per step alternative: the compute kinds are the kernels', the communication kinds
/// the backend's. Tensors are dropped as soon as every local reader has run, so memory holds the
/// live tensors only (`peak_live_bytes`). Devices of this process may hold one tensor object
/// together (an in-process all-reduce's sum, the output of a replicated op: see RunOptions).
template <std::floating_point Scalar, WeightSource<Scalar> W, InputSource<Scalar> I, class C>
class DagRunner {
  static_assert(detail::KnowsLocalDevices<C>,
                "helix: communication: the backend has no is_local(device) saying which devices "
                "live in this process");
  static_assert(detail::runs_every_communication_step<C, Scalar>,
                "helix: communication: the backend has no communicate() for a communication step "
                "(a collective or transfer kind): every backend runs every kind");

public:
  DagRunner(const Dag& dag, const W& weights, const I& input, C& communication,
            RunOptions options = {}, TensorObserver<Scalar> observer = {})
      : dag_(dag), info_(boost::get_property(dag, boost::graph_bundle)), model_(info_.model),
        kernels_(model_, weights, input), communication_(communication), options_(options),
        store_(boost::num_vertices(dag)), pending_reads_(store_.size(), 0),
        observer_(std::move(observer)) {}

  Execution<Scalar> run() { return run(execution_order(dag_)); }

  /// Runs the vertices of `order` (a topological order) this process takes part in.
  Execution<Scalar> run(const std::vector<Vertex>& order) {
    for (auto [e, end] = boost::edges(dag_); e != end; ++e)
      if (communication_.is_local(dag_[*e].device))
        ++pending_reads_[boost::source(*e, dag_)];
    if (options_.compute_replicas_once)
      group_replicas(order);
    const std::int64_t tokens = new_tokens(model_, info_.workload);
    result_.batch = model_.batch;
    result_.tokens = tokens;
    result_.hidden = model_.hidden;
    result_.output_tokens = model_.vocab > 0 ? 1 : tokens;
    result_.output_width = model_.vocab > 0 ? padded_vocab(model_) : model_.hidden;
    for (const Vertex v : order) {
      if (!takes_part(v))
        continue;
      run_vertex(v);
      ++vertices_run_;
      for (auto [e, end] = boost::in_edges(v, dag_); e != end; ++e)
        if (communication_.is_local(dag_[*e].device) &&
            --pending_reads_[boost::source(*e, dag_)] == 0)
          drop(boost::source(*e, dag_));
      if (pending_reads_[v] == 0)
        drop(v);
    }
    return std::move(result_);
  }

  /// Most bytes of tensors held at once, each tensor object once however many devices hold it
  /// (outputs recorded in the Execution not counted). Freed tensors' storage kept for reuse adds
  /// at most as much again.
  std::int64_t peak_live_bytes() const { return peak_live_bytes_; }
  /// Vertices this process ran.
  std::size_t vertices_run() const { return vertices_run_; }
  /// Kernel calls: the compute vertices run, less those that took a replica's output.
  std::size_t kernels_run() const { return kernels_run_; }

private:
  using Stored = std::shared_ptr<const Matrix<Scalar>>;
  using Kernels = OpKernels<Scalar, W, I>;
  struct Held {
    std::int64_t device = -1;
    Stored value;
  };
  /// A tensor object this process holds: its number (never reused, unlike its address), its bytes
  /// and how many holders it has (a vertex's output on a device, a replica group's entry).
  struct Record {
    std::uint64_t id = 0;
    std::int64_t bytes = 0;
    std::size_t holders = 0;
    bool recyclable = false;
  };
  /// One output a replica group computed, and the ids of the tensors it was computed from.
  struct Computed {
    std::vector<std::uint64_t> inputs;
    Stored output;
  };
  /// The local compute vertices that run the same op but for their device: the outputs they
  /// computed, kept until the last of them has run.
  struct ReplicaGroup {
    Op op; ///< as the kernels see it (OpKernels::as_computed)
    std::size_t waiting = 0;
    std::vector<Computed> computed;
  };
  static constexpr std::size_t no_group = static_cast<std::size_t>(-1);

  const Dag& dag_;
  const DagInfo& info_;
  const Model& model_;
  Kernels kernels_;
  C& communication_;
  RunOptions options_;
  std::vector<std::vector<Held>> store_; ///< per vertex, its output on each local device
  std::unordered_map<const Matrix<Scalar>*, Record> records_; ///< every tensor object held
  std::uint64_t next_id_ = 0;
  std::vector<std::size_t> group_of_; ///< per vertex, its replica group (or no_group)
  std::vector<ReplicaGroup> groups_;
  std::vector<std::size_t> pending_reads_;
  TensorObserver<Scalar> observer_;
  Execution<Scalar> result_;
  std::int64_t live_bytes_ = 0, peak_live_bytes_ = 0;
  std::vector<Matrix<Scalar>> spare_; ///< storage of freed tensors, for outputs of their size
  std::int64_t spare_bytes_ = 0;
  std::size_t vertices_run_ = 0, kernels_run_ = 0;

  [[noreturn]] void fail(Vertex v, const std::string& what) const {
    Kernels::fail(v, dag_[v], what);
  }

  bool takes_part(Vertex v) const {
    for (const std::int64_t device : devices_of(dag_, v))
      if (communication_.is_local(device))
        return true;
    return false;
  }

  /// Groups the local compute vertices of `order` that run the same op on different devices
  /// (`OpKernels::as_computed`); none when this process holds one device (an MPI rank), where no
  /// op has a replica here.
  void group_replicas(const std::vector<Vertex>& order) {
    std::vector<Vertex> compute;
    std::int64_t a_device = -1;
    bool several_devices = false;
    for (const Vertex v : order) {
      const Op& op = dag_[v];
      if (is_communication(op.kind()) || !communication_.is_local(op.device))
        continue;
      compute.push_back(v);
      several_devices = several_devices || (a_device >= 0 && op.device != a_device);
      a_device = op.device;
    }
    if (!several_devices)
      return;
    group_of_.assign(store_.size(), no_group);
    std::unordered_multimap<std::size_t, std::size_t> by_hash;
    for (const Vertex v : compute) {
      Op op = Kernels::as_computed(dag_[v]);
      std::size_t hash = static_cast<std::size_t>(op.kind());
      for (const std::int64_t field :
           {op.layer, op.stage, op.replica, op.microbatch, op.batch_begin, op.output.last()})
        hash = hash * 1000003 ^ static_cast<std::size_t>(field);
      std::size_t group = no_group;
      for (auto [it, end] = by_hash.equal_range(hash); it != end && group == no_group; ++it)
        if (groups_[it->second].op == op)
          group = it->second;
      if (group == no_group) {
        group = groups_.size();
        groups_.push_back(ReplicaGroup{std::move(op), 0, {}});
        by_hash.emplace(hash, group);
      }
      group_of_[v] = group;
      ++groups_[group].waiting;
    }
  }

  /// One holder more of `value`; a new tensor object gets its number and its bytes count.
  /// `recyclable`: the runner made it (not const), so its storage may be reused once free.
  void hold(const Stored& value, bool recyclable = false) {
    Record& record = records_[value.get()];
    if (record.holders++ > 0)
      return;
    record.id = next_id_++;
    record.bytes = static_cast<std::int64_t>(value->size() * sizeof(Scalar));
    record.recyclable = recyclable;
    live_bytes_ += record.bytes;
    peak_live_bytes_ = std::max(peak_live_bytes_, live_bytes_);
  }

  /// One holder less of `value`; the last one's leaving frees it. True when its storage may then
  /// be reused (see `recycle`).
  bool release(const Stored& value) {
    const auto record = records_.find(value.get());
    if (--record->second.holders > 0)
      return false;
    const bool recyclable = record->second.recyclable;
    live_bytes_ -= record->second.bytes;
    records_.erase(record);
    return recyclable;
  }

  void drop(Vertex v) {
    std::vector<Stored> freed;
    for (Held& held : store_[v])
      if (release(held.value))
        freed.push_back(std::move(held.value));
    store_[v].clear();
    for (Stored& value : freed)
      recycle(std::move(value));
  }

  /// Keeps the storage of a tensor nobody refers to any more (not an Execution record either) for
  /// a later output of the same size, up to the peak of live bytes: a kernel writing into it
  /// spares the allocator's fresh pages, each faulted in on first touch.
  void recycle(Stored value) {
    const std::int64_t bytes = static_cast<std::int64_t>(value->size() * sizeof(Scalar));
    if (value.use_count() != 1 || spare_bytes_ + bytes > peak_live_bytes_)
      return;
    // The object was made as a non-const Matrix (`fresh`), and nobody else holds it.
    spare_.push_back(std::move(const_cast<Matrix<Scalar>&>(*value)));
    spare_bytes_ += bytes;
  }

  /// An output matrix for `op`: a spare one of its size when there is one.
  Matrix<Scalar> fresh(const Op& op) {
    const std::int64_t elements = op.output.elements();
    for (std::size_t i = 0; i < spare_.size(); ++i)
      if (spare_[i].size() == elements) {
        Matrix<Scalar> out = std::move(spare_[i]);
        spare_[i] = std::move(spare_.back());
        spare_.pop_back();
        spare_bytes_ -= static_cast<std::int64_t>(elements * sizeof(Scalar));
        return out;
      }
    return {};
  }

  template <class S>
  std::shared_ptr<Matrix<Scalar>> run_kernel(Vertex v, const Op& op, const S& s,
                                             const typename Kernels::Inputs& inputs) {
    auto out = std::make_shared<Matrix<Scalar>>(fresh(op));
    kernels_(v, op, s, inputs, *out);
    ++kernels_run_;
    return out;
  }

  /// The tensors on `v`'s in-edges that this process holds, by port (the member index for a
  /// collective), each read from the device the edge says it lives on.
  std::vector<Arrival<Scalar>> arrivals(Vertex v) const {
    const Op& op = dag_[v];
    const std::size_t ports = boost::in_degree(v, dag_);
    std::vector<bool> seen(ports, false);
    std::vector<Arrival<Scalar>> arrived;
    for (auto [e, end] = boost::in_edges(v, dag_); e != end; ++e) {
      const Tensor& tensor = dag_[*e];
      const Vertex producer = boost::source(*e, dag_);
      if (tensor.port >= ports || seen[tensor.port])
        fail(v, "in-edge ports are not 0.." + std::to_string(ports - 1) + ", each once");
      seen[tensor.port] = true;
      if (!communication_.is_local(tensor.device)) {
        if (!is_communication(op.kind()))
          fail(v, "port " + std::to_string(tensor.port) + " is read on device " +
                      std::to_string(tensor.device) + ", which another process holds");
        continue;
      }
      const Stored* value = nullptr;
      for (const Held& held : store_[producer])
        if (held.device == tensor.device)
          value = &held.value;
      if (!value)
        fail(v, "its producer " + std::to_string(producer) + " left nothing on device " +
                    std::to_string(tensor.device));
      if ((*value)->size() != tensor.shape.elements() || (*value)->cols() != tensor.shape.last())
        fail(v, "port " + std::to_string(tensor.port) + " holds a tensor of another shape than " +
                    to_string(tensor.shape));
      // The kernels trust their arguments' sizes: a tensor the op does not expect stops here.
      const std::size_t slot = is_collective(op.kind()) ? 0 : tensor.port;
      if (slot >= op.input_count || slot >= op.inputs.size() || tensor.shape != op.inputs[slot])
        fail(v, "port " + std::to_string(tensor.port) + " receives " + to_string(tensor.shape) +
                    (slot < op.input_count && slot < op.inputs.size()
                         ? ", but the op expects " + to_string(op.inputs[slot])
                         : ", which the op has no argument for"));
      arrived.push_back(Arrival<Scalar>{tensor.port, tensor.device, value->get(), *value});
    }
    return arrived;
  }

  /// `v`'s output on `device`: possibly a tensor object this process already holds.
  void keep(Vertex v, std::int64_t device, Stored value, bool recyclable = false) {
    const Shape& shape = dag_[v].output;
    if (value->size() != shape.elements() || value->cols() != shape.last())
      fail(v, "computed a tensor of another shape than " + to_string(shape));
    hold(value, recyclable);
    if (observer_)
      observer_(v, device, *value);
    store_[v].push_back(Held{device, std::move(value)});
  }

  /// The output of compute vertex `v`: the one a replica (the same op on another device)
  /// computed from the same tensor objects, or the kernel's. A group keeps its outputs until its
  /// last vertex has run (`finish_replica`).
  template <class S>
  Stored compute(Vertex v, const Op& op, const S& s, const typename Kernels::Inputs& inputs) {
    const std::size_t g = group_of_.empty() ? no_group : group_of_[v];
    if (g == no_group)
      return run_kernel(v, op, s, inputs);
    ReplicaGroup& group = groups_[g];
    std::vector<std::uint64_t> ids;
    for (const Matrix<Scalar>* input : inputs)
      ids.push_back(records_.at(input).id);
    for (const Computed& c : group.computed)
      if (c.inputs == ids)
        return c.output;
    Stored output = run_kernel(v, op, s, inputs);
    if (group.waiting > 1) {
      hold(output, true);
      group.computed.push_back(Computed{std::move(ids), output});
    }
    return output;
  }

  /// After compute vertex `v` has kept its output: the last of its replica group lets go of the
  /// group's outputs.
  void finish_replica(Vertex v) {
    const std::size_t g = group_of_.empty() ? no_group : group_of_[v];
    if (g == no_group || --groups_[g].waiting > 0)
      return;
    std::vector<Computed> computed = std::move(groups_[g].computed);
    groups_[g].computed.clear();
    for (Computed& c : computed)
      if (release(c.output))
        recycle(std::move(c.output));
  }

  void record(Vertex v, std::vector<SequenceTensor<Scalar>>& into, const Stored& value) {
    const Op& op = dag_[v];
    into.push_back(SequenceTensor<Scalar>{op.kind() == OpKind::output ? -1 : op.layer, op.device,
                                          op.replica, op.microbatch, op.batch_begin, op.output[0],
                                          value});
  }

  /// Runs `v`'s step: a kernel on its device, or the backend's transfer or collective. One
  /// handler for the communication kinds and one for the compute kinds, each checked to exist
  /// for every alternative.
  void run_vertex(Vertex v) {
    const Op& op = dag_[v];
    const std::vector<Arrival<Scalar>> arrived = arrivals(v);
    if (const step::Collective* c = collective_of(op)) {
      const std::int64_t n = group_size(info_.mesh, c->group);
      if (static_cast<std::int64_t>(boost::in_degree(v, dag_)) != n)
        fail(v, "has " + std::to_string(boost::in_degree(v, dag_)) +
                    " members' inputs, its group " + std::to_string(n) + " members");
    }
    visit_step(op, [&]<class S>(const S& s) {
      if constexpr (CommunicationStep<S>) {
        static_assert(Communicates<C, Scalar, S>,
                      "helix: communication: the backend has no communicate() for this step");
        std::vector<Placed<Scalar>> placed;
        try {
          placed = communication_.communicate(v, op, s, arrived);
        } catch (const std::invalid_argument& error) {
          fail(v, error.what());
        }
        for (Placed<Scalar>& p : placed)
          if (p.shared)
            keep(v, p.device, std::move(p.shared));
          else
            keep(v, p.device, std::make_shared<Matrix<Scalar>>(std::move(p.value)), true);
      } else {
        static_assert(std::is_invocable_v<const Kernels&, Vertex, const Op&, const S&,
                                          const typename Kernels::Inputs&, Matrix<Scalar>&>,
                      "helix: execute: OpKernels has no kernel for this compute step");
        if (arrived.size() != op.input_count)
          fail(v, "has " + std::to_string(arrived.size()) + " inputs, expects " +
                      std::to_string(op.input_count));
        typename Kernels::Inputs inputs(arrived.size(), nullptr);
        for (const Arrival<Scalar>& a : arrived)
          inputs[a.port] = a.value;
        Stored value = compute(v, op, s, inputs);
        if constexpr (std::same_as<S, step::Output>)
          record(v, result_.outputs, value);
        if constexpr (std::same_as<S, step::ResidualAdd>)
          if (options_.record_layer_outputs && s.branch == Sublayer::mlp)
            record(v, result_.layer_outputs, value); // a layer ends with its MLP's residual add
        keep(v, op.device, std::move(value), true);
        finish_replica(v);
      }
    });
  }
};

/// What transfer `t` carries of the sender's `tensor` ((b·T) × h): its columns, run after run (all
/// of them in a full send, one slice of hidden in a scatter-gather send). Every backend sends this.
/// @throws std::invalid_argument when the columns do not fit the tensor.
template <std::floating_point Scalar>
Matrix<Scalar> sent_columns(const Matrix<Scalar>& tensor, const step::Transfer& t) {
  const IndexRuns& c = t.columns;
  if (c.count < 1 || c.size < 0 || c.begin < 0 ||
      c.begin + (c.count - 1) * c.stride + c.size > tensor.cols())
    throw std::invalid_argument("helix: transfer: its columns do not fit the sender's tensor of " +
                                std::to_string(tensor.cols()) + " columns");
  if (c.count == 1)
    return tensor.middleCols(c.begin, c.size);
  Matrix<Scalar> packed(tensor.rows(), c.total());
  for (std::int64_t r = 0; r < c.count; ++r)
    packed.middleCols(r * c.size, c.size) = tensor.middleCols(c.begin + r * c.stride, c.size);
  return packed;
}

/// The single-process backend: every device lives here. Each collective leaves on its members
/// the very bits its ring leaves (collectives.hpp), computed once from the members' tensors: an
/// all-reduce's or all-gather's one result is shared by every member, a transfer shares the
/// sender's tensor, a reduce-scatter computes each member's slice.
template <std::floating_point Scalar>
class InProcessRing {
public:
  explicit InProcessRing(const Mesh& mesh) : mesh_(mesh) {}

  bool is_local(std::int64_t) const { return true; }

  /// A send/recv: the receiver holds the columns the transfer carries of the sender's tensor;
  /// the sender's very tensor when it carries all of them (a full send).
  std::vector<Placed<Scalar>> communicate(Vertex, const Op&, const step::Transfer& t,
                                          const std::vector<Arrival<Scalar>>& in) const {
    std::vector<Placed<Scalar>> out;
    const Arrival<Scalar>& sent = in.at(0);
    const bool whole =
        t.columns.count == 1 && t.columns.begin == 0 && t.columns.size == sent.value->cols();
    if (whole && sent.shared)
      out.push_back(Placed<Scalar>{t.destination, {}, sent.shared});
    else
      out.push_back(Placed<Scalar>{t.destination, sent_columns(*sent.value, t)});
    return out;
  }
  /// Reduce-scatter then all-gather around the ring, for the flat and inter-group phases.
  std::vector<Placed<Scalar>> communicate(Vertex, const Op&, const step::AllReduce& c,
                                          const std::vector<Arrival<Scalar>>& in) const {
    return to_every_member(
        c, std::make_shared<const Matrix<Scalar>>(ring_all_reduce_sum<Scalar>(by_member(in))));
  }
  std::vector<Placed<Scalar>> communicate(Vertex, const Op&, const step::ReduceScatter& c,
                                          const std::vector<Arrival<Scalar>>& in) const {
    const std::vector<const Matrix<Scalar>*> members = by_member(in);
    std::vector<Placed<Scalar>> out;
    for (std::size_t i = 0; i < members.size(); ++i)
      out.push_back(
          Placed<Scalar>{group_member(mesh_, c.group, static_cast<std::int64_t>(i)),
                         ring_reduce_scatter_share<Scalar>(members, static_cast<std::int64_t>(i))});
    return out;
  }
  std::vector<Placed<Scalar>> communicate(Vertex, const Op& op, const step::AllGather& c,
                                          const std::vector<Arrival<Scalar>>& in) const {
    return to_every_member(c, std::make_shared<const Matrix<Scalar>>(
                                  gathered<Scalar>(by_member(in), op.output.last())));
  }
  /// Member j receives block j of every member's partials (all_to_all_block), in member order.
  std::vector<Placed<Scalar>> communicate(Vertex, const Op& op, const step::AllToAll& c,
                                          const std::vector<Arrival<Scalar>>& in) const {
    const std::vector<const Matrix<Scalar>*> members = by_member(in);
    const auto n = static_cast<std::int64_t>(members.size());
    std::vector<Placed<Scalar>> out;
    for (std::int64_t j = 0; j < n; ++j) {
      std::vector<Matrix<Scalar>> blocks;
      for (const Matrix<Scalar>* member : members)
        blocks.push_back(all_to_all_block<Scalar>(*member, op.output[0], n, j));
      std::vector<const Matrix<Scalar>*> received;
      for (const Matrix<Scalar>& block : blocks)
        received.push_back(&block);
      out.push_back(Placed<Scalar>{group_member(mesh_, c.group, j),
                                   all_to_all_assemble<Scalar>(received, op.output[0])});
    }
    return out;
  }

private:
  const Mesh& mesh_;

  /// Member i's input is port i.
  static std::vector<const Matrix<Scalar>*> by_member(const std::vector<Arrival<Scalar>>& in) {
    std::vector<const Matrix<Scalar>*> members(in.size(), nullptr);
    for (const Arrival<Scalar>& a : in)
      members.at(a.port) = a.value;
    for (const Matrix<Scalar>* m : members)
      if (!m)
        throw std::invalid_argument("helix: collective: a member's input is missing");
    return members;
  }

  /// Every member of the group holds `result`.
  std::vector<Placed<Scalar>> to_every_member(const step::Collective& c,
                                              std::shared_ptr<const Matrix<Scalar>> result) const {
    std::vector<Placed<Scalar>> out;
    const std::int64_t n = group_size(mesh_, c.group);
    for (std::int64_t i = 0; i < n; ++i)
      out.push_back(Placed<Scalar>{group_member(mesh_, c.group, i), {}, result});
    return out;
  }
};

/// Runs `dag` in this process with any weight source, input source and communication backend
/// (the MPI backend runs a rank's share this way).
template <std::floating_point Scalar, WeightSource<Scalar> W, InputSource<Scalar> I, class C>
[[nodiscard]] Execution<Scalar> run_dag(const Dag& dag, const W& weights, const I& input,
                                        C& communication, RunOptions options = {}) {
  return DagRunner<Scalar, W, I, C>(dag, weights, input, communication, options).run();
}

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
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  detail::require_matching(info.model, info.workload, weights, input);
  const FullWeights<Scalar> full(weights);
  const FullInput<Scalar> batch(info.model, input);
  InProcessRing<Scalar> rings(info.mesh);
  return run_dag<Scalar>(dag, full, batch, rings);
}

/// The same, calling `observer` with every tensor as it is kept (see TensorObserver).
template <std::floating_point Scalar>
[[nodiscard]] Execution<Scalar> execute(const Dag& dag, const Weights<Scalar>& weights,
                                        const Input<Scalar>& input,
                                        TensorObserver<Scalar> observer) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  detail::require_matching(info.model, info.workload, weights, input);
  const FullWeights<Scalar> full(weights);
  const FullInput<Scalar> batch(info.model, input);
  InProcessRing<Scalar> rings(info.mesh);
  using Runner = DagRunner<Scalar, FullWeights<Scalar>, FullInput<Scalar>, InProcessRing<Scalar>>;
  return Runner(dag, full, batch, rings, {}, std::move(observer)).run();
}

} // namespace helix::numerics
