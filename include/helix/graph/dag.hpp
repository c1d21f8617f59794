// The Dag: a Boost.Graph compressed_sparse_row_graph whose vertices are operators and whose edges
// are tensors, materialized from the lowering (immutable once built: a test that needs a broken
// Dag breaks the Lowering and materializes it). build_dag is the front door, checked at compile
// time (template form) or at run time (value form, throws PlanError with every broken rule).
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

#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/iterator/counting_iterator.hpp>
#include <boost/iterator/transform_iterator.hpp>
#include <boost/range/iterator_range.hpp>

#include <cstdint>
#include <limits>
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

/// Compressed sparse rows with 32-bit vertex and edge indices: per vertex its Op and two row
/// starts, per edge its Tensor, its target and the in-edge index, and no allocation per vertex
/// or edge (an adjacency_list spent 192 B per vertex on its own structure; benchmarks/README.md,
/// "DAG scale"). Out-edges keep the lowering's order; in-edges run by source vertex.
using Dag = boost::compressed_sparse_row_graph<boost::bidirectionalS, Op, Tensor, DagInfo,
                                               std::uint32_t, std::uint32_t>;
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

/// The Boost graph of a lowering, which it consumes; vertex i is `lowering.ops[i]`, each tensor
/// with the placement the lowering intends for it. A lowering that breaks a placement rule still
/// materializes; check() derives the placements again and names the op.
/// @throws std::length_error when the lowering has 2^32 − 1 or more ops or edges (32-bit indices).
///
/// The Op vector is taken whole and the edges are freed as soon as they are in the graph, so the
/// process never holds two copies of either: compressed_sparse_row_graph's constructors
/// value-initialize every vertex bundle before one could be moved in, which at 10^6 vertices would
/// add 216 MB to the peak. This fills the structure through its public members instead, with the
/// same Boost calls its constructor makes (forward rows by a stable histogram sort of the edges,
/// then backward rows of edge indices).
template <class Graph = Dag>
[[nodiscard]] Graph materialize(Lowering&& lowering) {
  using Index = std::uint32_t;
  constexpr std::size_t limit = std::numeric_limits<Index>::max();
  if (lowering.ops.size() >= limit || lowering.edges.size() >= limit)
    throw std::length_error("helix: materialize: " + std::to_string(lowering.ops.size()) +
                            " ops and " + std::to_string(lowering.edges.size()) +
                            " edges; a Dag holds fewer than 2^32 - 1 of each");
  const auto vertices = static_cast<Index>(lowering.ops.size());
  Graph dag;
  boost::get_property(dag, boost::graph_bundle) =
      DagInfo{lowering.model, lowering.plan, lowering.workload, lowering.mesh, lowering.variant};
  {
    const auto ends = [](const LoweredEdge& e) {
      return std::pair<Index, Index>(static_cast<Index>(e.source), static_cast<Index>(e.target));
    };
    const auto tensor = [](const LoweredEdge& e) -> const Tensor& { return e.tensor; };
    const std::vector<LoweredEdge>& edges = lowering.edges;
    dag.m_forward.assign_unsorted_multi_pass_edges(
        boost::make_transform_iterator(edges.begin(), ends),
        boost::make_transform_iterator(edges.end(), ends),
        boost::make_transform_iterator(edges.begin(), tensor), vertices,
        boost::typed_identity_property_map<Index>(), boost::keep_all());
  }
  std::vector<LoweredEdge>().swap(lowering.edges);
  std::vector<TensorPlacement>().swap(lowering.placements);
  {
    // Each forward edge k, as (target, source), with k as its property: the in-edge rows.
    const std::vector<Index>& rows = dag.m_forward.m_rowstart;
    const std::vector<Index>& targets = dag.m_forward.m_column;
    std::vector<std::pair<Index, Index>> reversed(targets.size());
    for (Index source = 0; source < vertices; ++source)
      for (Index k = rows[source]; k < rows[source + 1]; ++k)
        reversed[k] = {targets[k], source};
    dag.m_backward.assign_unsorted_multi_pass_edges(
        reversed.begin(), reversed.end(), boost::counting_iterator<Index>(0), vertices,
        boost::typed_identity_property_map<Index>(), boost::keep_all());
  }
  dag.vertex_properties().m_vertex_properties = std::move(lowering.ops);
  return dag;
}

/// The same from a lowering that stays (a copy of it is consumed).
template <class Graph = Dag>
[[nodiscard]] Graph materialize(const Lowering& lowering) {
  return materialize<Graph>(Lowering(lowering));
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

/// `op` with the input and output shapes it has in a DAG of `model` (the lowering stamps both
/// from `signature`): the output first, because an element-wise op's or a collective's signature
/// reads its width from its own output, then the inputs from the signature with that output.
constexpr Op reshaped_op(const Op& op, const Model& model, const Workload& workload,
                         const Mesh& mesh) {
  Op reshaped = op;
  reshaped.output = signature(reshaped, model, workload, mesh).output;
  const OpSignature expected = signature(reshaped, model, workload, mesh);
  reshaped.inputs = expected.inputs;
  reshaped.input_count = expected.input_count;
  return reshaped;
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
  DagInfo& info = boost::get_property(dag, boost::graph_bundle);
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
    dag[v] = reshaped_op(dag[v], model, info.workload, info.mesh);
  for (auto e : boost::make_iterator_range(boost::edges(dag)))
    dag[e].shape = dag[boost::source(e, dag)].output;
}

/// Devices a vertex runs on: its device, a collective's members, a transfer's two ends.
template <class Graph = Dag>
inline std::vector<std::int64_t> devices_of(const Graph& dag, Vertex v) {
  const Op& op = dag[v];
  if (const step::Collective* c = collective_of(op)) {
    const Mesh& mesh = boost::get_property(dag, boost::graph_bundle).mesh;
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
