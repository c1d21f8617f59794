// The Dag: a Boost.Graph adjacency_list whose vertices are operators and whose edges are tensors,
// materialized from the lowering. build_dag is the front door, checked at compile time
// (template form) or at run time (value form, throws PlanError with every broken rule).
// Functions over a Dag here and in check, view, cost and io are templates whose graph type
// defaults to Dag: a translation unit that includes them but calls none instantiates none of
// Boost's algorithms (benchmarks/README.md, "Compile time").
#pragma once

#include "helix/graph/lowering.hpp"
#include "helix/graph/op_signature.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/check.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/plan/plan_concepts.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/validate.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace helix {

/// What the whole graph is about: the inputs it was built from and the mesh they imply.
struct DagInfo {
  Model model{};
  PlanSpec plan{};
  Workload workload{};
  Mesh mesh{};
  SchemeVariant variant = SchemeVariant::exact;
};

using Dag =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op, Tensor, DagInfo>;
using Vertex = boost::graph_traits<Dag>::vertex_descriptor;
using Edge = boost::graph_traits<Dag>::edge_descriptor;

/// A plan that breaks rules for its model; `problems()` holds every message from `validate`.
class PlanError : public std::invalid_argument {
public:
  explicit PlanError(std::vector<std::string> problems)
      : std::invalid_argument(join(problems)), problems_(std::move(problems)) {}
  const std::vector<std::string>& problems() const { return problems_; }

private:
  std::vector<std::string> problems_;
  static std::string join(const std::vector<std::string>& lines) {
    std::string text;
    for (const std::string& line : lines)
      text += (text.empty() ? "" : "\n") + line;
    return text;
  }
};

/// The Boost graph of a lowering; vertex i is `lowering.ops[i]`, each tensor with the placement
/// the lowering intends for it. A lowering that breaks a placement rule still materializes;
/// check() derives the placements again and names the op.
template <class Graph = Dag>
[[nodiscard]] Graph materialize(const Lowering& lowering) {
  Graph dag(lowering.ops.size(), DagInfo{lowering.model, lowering.plan, lowering.workload,
                                         lowering.mesh, lowering.variant});
  for (std::size_t i = 0; i < lowering.ops.size(); ++i)
    dag[i] = lowering.ops[i];
  for (const LoweredEdge& e : lowering.edges)
    boost::add_edge(e.source, e.target, e.tensor, dag);
  return dag;
}

/// Builds the operator DAG of `model` partitioned by `plan` for `workload`.
/// @throws PlanError listing every broken rule when the plan does not suit the model.
///
/// Example: `build_dag(models::helix_seed, parse_plan("hp=4x4"), Workload::prefill())` has 492
/// vertices: 16 devices × 2 layers × 14 ops, 12 collectives, 16 inputs and 16 outputs.
template <class Graph = Dag>
[[nodiscard]] Graph build_dag(const Model& model, const PlanSpec& plan,
                              const Workload& workload = {},
                              SchemeVariant variant = SchemeVariant::exact) {
  std::vector<std::string> problems = validate(model, plan, workload);
  if (!problems.empty())
    throw PlanError(std::move(problems));
  return materialize<Graph>(lower(model, plan, workload, variant));
}

/// The same, with the plan checked at compile time (see check_plan).
template <Model M, PlanDescriptor P, Workload W = Workload{}>
[[nodiscard]] Dag build_dag(SchemeVariant variant = SchemeVariant::exact) {
  check_plan<M, P, W>();
  return materialize(lower(M, P::spec, W, variant));
}

/// The plan checked at compile time for one microbatch, and `workload` (known only at run time)
/// at run time: the rules it touches (microbatches dividing the batch) throw PlanError.
///
/// Example: `build_dag<models::helix_seed, Plan<PipelineStages<2>, TensorGroups<4, 4>>>(
/// Workload::prefill(4))` is the optimized seed plan with 4 microbatches.
template <Model M, PlanDescriptor P>
[[nodiscard]] Dag build_dag(const Workload& workload,
                            SchemeVariant variant = SchemeVariant::exact) {
  check_plan<M, P>();
  return build_dag(M, P::spec, workload, variant);
}

/// Whether a decode step's DAG for `plan` can be reshaped to another KV length (reshape_decode)
/// instead of built again: when no mesh axis shards the KV cache along the sequence, whose shards
/// would depend on its length.
constexpr bool decode_reshapes(const PlanSpec& plan) {
  return make_mesh(plan).extent(Role::kv_seq) == 1;
}

/// Re-derives the shapes of `dag`, a decode step's DAG, for `model`, which differs from the model
/// it was built for in `seq_len` (the cached KV length) only. Afterwards `dag` equals
/// `build_dag(model, plan, workload)` vertex for vertex and edge for edge, without lowering again:
/// what a generation needs to cost thousands of steps from one DAG.
///
/// Why this is exact: the sequence length enters a decode lowering through shapes only (the KV
/// cache [b, seq_len, ·], the append, the scores, softmax and context and the scores' all-reduce);
/// the ops, their steps, devices, edges and placements are the same for every length (with no
/// kv_seq axis: decode_reshapes). The lowering stamps every op's inputs from its `signature` and
/// every tensor with its producer's output, and check() holds a built DAG to both, so deriving
/// them again for the new model yields what building would. Outputs come first: an element-wise
/// op's or a collective's signature reads its width from its own output.
/// @throws std::invalid_argument when `dag` is not a decode step's, `model` differs in more than
/// seq_len, or the plan shards the KV cache (kv_seq); PlanError when `model` breaks a rule of the
/// plan, as build_dag would.
template <class Graph = Dag>
void reshape_decode(Graph& dag, const Model& model) {
  DagInfo& info = dag[boost::graph_bundle];
  if (info.workload.phase != Phase::decode || !decode_reshapes(info.plan) ||
      !(model.with_seq_len(info.model.seq_len) == info.model))
    throw std::invalid_argument(
        "helix: reshape_decode: needs a decode DAG without a kv_seq axis and a model that differs "
        "from its own (seq_len " +
        std::to_string(info.model.seq_len) + ") in seq_len only (asked for seq_len " +
        std::to_string(model.seq_len) + ")");
  std::vector<std::string> problems = validate(model, info.plan, info.workload);
  if (!problems.empty())
    throw PlanError(std::move(problems));
  info.model = model;
  const std::size_t n = boost::num_vertices(dag);
  for (std::size_t v = 0; v < n; ++v)
    dag[v].output = signature(dag[v], model, info.workload, info.mesh).output;
  for (std::size_t v = 0; v < n; ++v) {
    const OpSignature expected = signature(dag[v], model, info.workload, info.mesh);
    dag[v].inputs = expected.inputs;
    dag[v].input_count = expected.input_count;
  }
  for (auto e : boost::make_iterator_range(boost::edges(dag)))
    dag[e].shape = dag[boost::source(e, dag)].output;
}

/// Devices a vertex runs on: its device, a collective's members, a transfer's two ends.
template <class Graph = Dag>
inline std::vector<std::int64_t> devices_of(const Graph& dag, Vertex v) {
  const Op& op = dag[v];
  if (const step::Collective* c = collective_of(op)) {
    const Mesh& mesh = dag[boost::graph_bundle].mesh;
    std::vector<std::int64_t> members;
    for (std::int64_t i = 0; i < group_size(mesh, c->group); ++i)
      members.push_back(group_member(mesh, c->group, i));
    return members;
  }
  if (const step::Transfer* t = transfer_of(op))
    return {t->source, t->destination};
  return {op.device};
}

} // namespace helix
