// check(dag): the DAG invariants of DESIGN.md as diagnostics. Run after building, and after any
// transformation of a Dag; a corrupt graph yields messages naming the rule, never a crash.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/placement.hpp"
#include "helix/graph/placement_rules.hpp"
#include "helix/graph/shape_rules.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/plan/parse.hpp"
#include "helix/plan/spec.hpp"

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/depth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <boost/range/iterator_range.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace helix {

enum class CheckRule : std::uint8_t {
  acyclic,          ///< no cycle
  connected,        ///< every vertex on a path from an input (or KV cache) to an output
  op_shape,         ///< an op's inputs and output are what its step implies
  edge_shape,       ///< a tensor is what its producer makes and its consumer expects, port by port
  edge_device,      ///< a tensor lives on a device its producer writes and its consumer reads
  collective_group, ///< a collective spans exactly the group the mesh prescribes for its phase
  device_works,     ///< every device of the mesh runs at least one compute op
  weight_tiling,    ///< per replica, the devices' slices tile each full weight uniformly
  placement,        ///< every op takes its inputs placed as its step needs; edges say so
  step_data,        ///< a step agrees with the model, the workload and the slices around it
  kv_shards,        ///< KV-parallel decode merges every KV shard of its heads exactly once
  built_from,       ///< the graph was built from the model and plan it is checked against
};

constexpr std::string_view check_rule_name(CheckRule rule) {
  switch (rule) {
  case CheckRule::acyclic:
    return "acyclic";
  case CheckRule::connected:
    return "connected";
  case CheckRule::op_shape:
    return "op shape";
  case CheckRule::edge_shape:
    return "edge shape";
  case CheckRule::edge_device:
    return "edge device";
  case CheckRule::collective_group:
    return "collective group";
  case CheckRule::device_works:
    return "device works";
  case CheckRule::weight_tiling:
    return "weight tiling";
  case CheckRule::placement:
    return "placement";
  case CheckRule::step_data:
    return "step data";
  case CheckRule::kv_shards:
    return "kv shards";
  case CheckRule::built_from:
    return "built from";
  }
  return "?";
}

struct Diagnostic {
  CheckRule rule;
  std::string message; ///< "helix: check: <rule>: <what is wrong, with vertex ids and numbers>"
};

namespace detail {

template <class Graph = Dag>
inline std::string describe_vertex(const Graph& dag, Vertex v) {
  const Op& op = dag[v];
  std::string text = "vertex " + std::to_string(v) + " (" + std::string(op_kind_name(op.kind()));
  if (op.layer >= 0)
    text += ", layer " + std::to_string(op.layer);
  if (op.device >= 0)
    text += ", GPU " + std::to_string(op.device);
  return text + ")";
}

struct DiagnosticSink {
  std::vector<Diagnostic>& out;
  void operator()(CheckRule rule, const std::string& what) const {
    out.push_back({rule, "helix: check: " + std::string(check_rule_name(rule)) + ": " + what});
  }
};

template <class Graph = Dag>
inline void check_acyclic(const Graph& dag, const DiagnosticSink& report) {
  struct BackEdgeFinder : boost::default_dfs_visitor {
    std::vector<Edge>* found;
    void back_edge(Edge e, const Dag&) const { found->push_back(e); }
  };
  // No edge against index order: no cycle, without a depth-first search of 10^6 vertices.
  if (index_order_is_topological(dag))
    return;
  std::vector<Edge> back_edges;
  BackEdgeFinder finder;
  finder.found = &back_edges;
  boost::depth_first_search(dag, boost::visitor(finder));
  for (Edge e : back_edges)
    report(CheckRule::acyclic, "edge " + describe_vertex(dag, boost::source(e, dag)) + " → " +
                                   describe_vertex(dag, boost::target(e, dag)) + " closes a cycle");
}

/// Marks every vertex reachable from `sources` in `graph` (the Dag, or its reverse to find what
/// reaches the outputs): one multi-source breadth-first search.
template <class Graph>
std::vector<char> reachable(const Graph& graph, const std::vector<Vertex>& sources) {
  struct Marker : boost::default_bfs_visitor {
    std::vector<char>* seen;
    void discover_vertex(Vertex v, const Graph&) const { (*seen)[v] = 1; }
  };
  std::vector<char> seen(boost::num_vertices(graph), 0);
  Marker marker;
  marker.seen = &seen;
  std::vector<boost::default_color_type> colors(boost::num_vertices(graph));
  boost::queue<Vertex> queue;
  boost::breadth_first_search(
      graph, sources.begin(), sources.end(), queue, marker,
      boost::make_iterator_property_map(colors.begin(), boost::get(boost::vertex_index, graph)));
  return seen;
}

template <class Graph = Dag>
inline void check_connected(const Graph& dag, const DiagnosticSink& report) {
  std::vector<Vertex> inputs, outputs;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const OpKind kind = dag[v].kind();
    if (kind == OpKind::input || kind == OpKind::kv_cache)
      inputs.push_back(v);
    if (kind == OpKind::output)
      outputs.push_back(v);
  }
  const std::vector<char> from_input = reachable(dag, inputs);
  const std::vector<char> to_output = reachable(boost::make_reverse_graph(dag), outputs);
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    if (!from_input[v] && !to_output[v])
      report(CheckRule::connected, describe_vertex(dag, v) + " is isolated");
    else if (!from_input[v])
      report(CheckRule::connected, describe_vertex(dag, v) + " is not reached from any input");
    else if (!to_output[v])
      report(CheckRule::connected, describe_vertex(dag, v) + " is dangling: no path to an output");
  }
}

template <class Graph = Dag>
inline void check_op_shapes(const Graph& dag, const DiagnosticSink& report) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    const OpSignature expected = signature(op, info.model, info.workload, info.mesh);
    switch (op_shape_problem(op, expected)) {
    case OpShapeProblem::none:
      break;
    case OpShapeProblem::output_differs_from_step:
      report(CheckRule::op_shape, describe_vertex(dag, v) + " makes " + to_string(op.output) +
                                      " but its step implies " + to_string(expected.output));
      break;
    case OpShapeProblem::inputs_differ_from_step: {
      std::string have, want;
      for (std::size_t i = 0; i < std::min(op.input_count, op.inputs.size()); ++i)
        have += (i ? ", " : "") + to_string(op.inputs[i]);
      for (std::size_t i = 0; i < expected.input_count; ++i)
        want += (i ? ", " : "") + to_string(expected.inputs[i]);
      report(CheckRule::op_shape, describe_vertex(dag, v) + " expects (" + have +
                                      ") but its step implies (" + want + ")");
      break;
    }
    }
  }
}

template <class Graph = Dag>
inline void check_edges(const Graph& dag, const DiagnosticSink& report) {
  const Mesh& mesh = boost::get_property(dag, boost::graph_bundle).mesh;
  for (Edge e : boost::make_iterator_range(boost::edges(dag))) {
    const Vertex s = boost::source(e, dag), t = boost::target(e, dag);
    const Op& producer = dag[s];
    const Op& consumer = dag[t];
    const Tensor& tensor = dag[e];
    // Built only for a message: a 10^6-vertex DAG has more than 10^6 edges.
    const auto where = [&] {
      return "edge " + describe_vertex(dag, s) + " → " + describe_vertex(dag, t);
    };
    switch (edge_shape_problem(producer, consumer, tensor)) {
    case EdgeShapeProblem::none:
      break;
    case EdgeShapeProblem::differs_from_producer:
      report(CheckRule::edge_shape, where() + " carries " + to_string(tensor.shape) +
                                        " but the producer makes " + to_string(producer.output));
      break;
    case EdgeShapeProblem::differs_from_consumer:
      report(CheckRule::edge_shape,
             where() + " carries " + to_string(tensor.shape) + " into port " +
                 std::to_string(tensor.port) + ", which expects " +
                 (tensor.port < std::min(consumer.input_count, consumer.inputs.size()) ||
                          is_collective(consumer.kind())
                      ? to_string(consumer.inputs[is_collective(consumer.kind()) ? 0 : tensor.port])
                      : std::string("no input")));
      break;
    }
    // Where the tensor must live, seen from each end.
    bool producer_side = true, consumer_side = true;
    if (const step::Collective* c = collective_of(producer))
      producer_side = group_index(mesh, c->group, tensor.device) >= 0;
    else if (const step::Transfer* transfer = transfer_of(producer))
      producer_side = tensor.device == transfer->destination;
    else
      producer_side = tensor.device == producer.device;
    if (const step::Collective* c = collective_of(consumer)) {
      consumer_side =
          tensor.device == group_member(mesh, c->group, static_cast<std::int64_t>(tensor.port));
    } else if (const step::Transfer* transfer = transfer_of(consumer)) {
      consumer_side = tensor.device == transfer->source;
    } else {
      consumer_side = tensor.device == consumer.device;
    }
    if (!producer_side || !consumer_side)
      report(CheckRule::edge_device,
             where() + " lives on GPU " + std::to_string(tensor.device) + ", which the " +
                 (producer_side ? "consumer does not read" : "producer does not write"));
  }
  // Each compute argument arrives exactly once.
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const Op& op = dag[v];
    if (is_collective(op.kind()))
      continue;
    const std::size_t ports = std::min(op.input_count, op.inputs.size());
    std::vector<int> arrivals(ports, 0);
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag))) {
      const std::size_t port = dag[e].port;
      if (port < ports)
        ++arrivals[port];
    }
    for (std::size_t port = 0; port < ports; ++port)
      if (arrivals[port] != 1)
        report(CheckRule::edge_shape, describe_vertex(dag, v) + " receives " +
                                          std::to_string(arrivals[port]) + " tensors at port " +
                                          std::to_string(port) + " instead of 1");
  }
}

/// The axes a collective of this phase and purpose must span.
constexpr AxisMask prescribed_axes(const step::Collective& c) {
  switch (c.phase) {
  case CollectivePhase::flat:
    if (c.purpose == CollectivePurpose::attention_scores)
      return axis_bit(Role::head_dim);
    if (c.purpose == CollectivePurpose::attention_partials)
      return axis_bit(Role::kv_seq);
    return tensor_axes;
  case CollectivePhase::intra_group_reduce_scatter:
  case CollectivePhase::intra_group_all_gather:
    return axis_bit(Role::tensor);
  case CollectivePhase::inter_group_all_reduce:
    return outer_group_axes;
  }
  return 0;
}

/// Whether `plan` sums a stage's partial outputs hierarchically (reduce-scatter in each tensor
/// group, all-reduce across groups, all-gather) rather than in one flat ring: when a stage has
/// several tensor groups of several devices.
constexpr bool prescribes_hierarchical_all_reduce(const PlanSpec& plan) {
  return groups_per_stage(plan) > 1 && tensor_group_size(plan) > 1;
}

/// What `plan` prescribes for the stage's all-reduces, in words, for messages.
inline std::string prescribed_all_reduce_text(const PlanSpec& plan) {
  if (prescribes_hierarchical_all_reduce(plan))
    return "a hierarchical all-reduce (ring reduce-scatter inside each tensor group of " +
           std::to_string(tensor_group_size(plan)) + ", ring all-reduce across the " +
           std::to_string(groups_per_stage(plan)) + " groups, ring all-gather)";
  return "one flat ring all-reduce over the stage's " + std::to_string(tensor_degree(plan)) +
         " devices";
}

template <class Graph = Dag>
inline void check_collectives(const Graph& dag, const DiagnosticSink& report) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Mesh& mesh = info.mesh;
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const Op& op = dag[v];
    const step::Collective* c = collective_of(op);
    if (!c)
      continue;
    const std::int64_t members = group_size(mesh, c->group);
    // The algorithm the plan prescribes: flat or hierarchical for a stage's all-reduces, ring
    // for every phase.
    const bool flat = c->phase == CollectivePhase::flat;
    if (follows_plan_all_reduce(c->purpose) &&
        flat == prescribes_hierarchical_all_reduce(info.plan))
      report(CheckRule::collective_group,
             describe_vertex(dag, v) + " is a " + (flat ? "flat " : "") + "ring " +
                 std::string(op_kind_name(op.kind())) + " (" +
                 std::string(collective_phase_name(c->phase)) + ") over " +
                 std::to_string(members) + " GPUs, but plan '" + to_string(info.plan) +
                 "' prescribes " + prescribed_all_reduce_text(info.plan));
    if (c->algorithm != CollectiveAlgorithm::ring)
      report(CheckRule::collective_group, describe_vertex(dag, v) + " runs the " +
                                              std::string(collective_algorithm_name(c->algorithm)) +
                                              " algorithm, but plan '" + to_string(info.plan) +
                                              "' prescribes ring");
    const DeviceGroup expected{c->group.anchor, prescribed_axes(*c)};
    const bool same_stage = mesh.coordinate(c->group.anchor, Role::pipeline) == op.stage &&
                            mesh.coordinate(c->group.anchor, Role::data) == op.replica;
    bool same_members = group_size(mesh, expected) == members;
    for (std::int64_t i = 0; same_members && i < members; ++i)
      same_members = group_member(mesh, expected, i) == group_member(mesh, c->group, i);
    if (!same_stage || !same_members || members < 2)
      report(CheckRule::collective_group,
             describe_vertex(dag, v) + " (" + std::string(collective_phase_name(c->phase)) +
                 ") spans " + std::to_string(members) + " GPUs from GPU " +
                 std::to_string(c->group.anchor) + ", not the group the mesh prescribes (" +
                 std::to_string(group_size(mesh, expected)) + " GPUs of stage " +
                 std::to_string(op.stage) + ", replica " + std::to_string(op.replica) + ")");
    std::vector<int> contributed(static_cast<std::size_t>(std::max<std::int64_t>(members, 0)), 0);
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag))) {
      const std::size_t port = dag[e].port;
      if (port < contributed.size())
        ++contributed[port];
      else
        report(CheckRule::collective_group,
               describe_vertex(dag, v) + " has an input from a " + "member index " +
                   std::to_string(port) + " outside its " + std::to_string(members) + " members");
    }
    std::vector<int> receives(contributed.size(), 0);
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag))) {
      const std::int64_t index = group_index(mesh, c->group, dag[e].device);
      if (index >= 0)
        ++receives[static_cast<std::size_t>(index)];
    }
    for (std::size_t i = 0; i < contributed.size(); ++i) {
      if (contributed[i] != 1)
        report(CheckRule::collective_group,
               describe_vertex(dag, v) + ": member " + std::to_string(i) + " (GPU " +
                   std::to_string(group_member(mesh, c->group, static_cast<std::int64_t>(i))) +
                   ") contributes " + std::to_string(contributed[i]) + " inputs instead of 1");
      if (receives[i] == 0)
        report(CheckRule::collective_group,
               describe_vertex(dag, v) + ": member " + std::to_string(i) + " (GPU " +
                   std::to_string(group_member(mesh, c->group, static_cast<std::int64_t>(i))) +
                   ") never uses the result");
    }
  }
}

template <class Graph = Dag>
inline void check_devices(const Graph& dag, const DiagnosticSink& report) {
  const Mesh& mesh = boost::get_property(dag, boost::graph_bundle).mesh;
  std::vector<char> works(static_cast<std::size_t>(mesh.size()), 0);
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const Op& op = dag[v];
    if (is_communication(op.kind()))
      continue;
    if (op.device < 0 || op.device >= mesh.size())
      report(CheckRule::device_works, describe_vertex(dag, v) + " runs on GPU " +
                                          std::to_string(op.device) + ", outside the mesh of " +
                                          std::to_string(mesh.size()));
    else
      works[static_cast<std::size_t>(op.device)] = 1;
  }
  for (std::size_t d = 0; d < works.size(); ++d)
    if (!works[d])
      report(CheckRule::device_works, "GPU " + std::to_string(d) + " runs no operator");
}

/// Calls `f(begin, end)` for each index range [begin, end) covered by `runs`.
template <class F>
void for_each_range(const IndexRuns& runs, F&& f) {
  for (std::int64_t i = 0; i < runs.count; ++i)
    f(runs.begin + i * runs.stride, runs.begin + i * runs.stride + runs.size);
}

/// Compresses the slices into a grid of row and column breakpoints and counts how often each
/// cell is held; every cell of the full weight must be held `copies` times.
template <class Graph = Dag>
inline void check_tiling(const Graph& dag, const DiagnosticSink& report) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Model& m = info.model;
  // Each kv head is held by head_split / kv_heads devices when the split exceeds the kv heads.
  const std::int64_t kv_copies =
      m.kv_heads > 0 && head_split(info.plan) > m.kv_heads ? head_split(info.plan) / m.kv_heads : 1;
  // The slices of each (replica, microbatch, layer or -1, weight) the rule visits, bucketed by a
  // dense index over those ranges (a counting sort): a 10^6-vertex DAG holds about 5·10^5 slices,
  // and a map or a comparison sort of them costs more than the rule. A slice outside the ranges
  // is in no visited bucket, as it was in no visited key of a map.
  const std::int64_t replicas = info.plan.data_parallel, microbatches = info.workload.microbatches;
  const auto bucket_of = [&](std::int64_t replica, std::int64_t mb, std::int64_t layer,
                             Weight weight) -> std::int64_t {
    if (replica < 0 || replica >= replicas || mb < 0 || mb >= microbatches || layer < -1 ||
        layer >= m.layers)
      return -1;
    return ((replica * microbatches + mb) * (m.layers + 1) + layer + 1) *
               static_cast<std::int64_t>(weight_count) +
           static_cast<std::int64_t>(weight);
  };
  const std::size_t buckets = static_cast<std::size_t>(
      std::max<std::int64_t>(replicas * microbatches * (m.layers + 1), 0) * weight_count);
  std::vector<std::size_t> bucket_begin(buckets + 1, 0);
  std::vector<std::pair<std::int64_t, LinearSlice>> found_slices;
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v)
    if (const std::optional<WeightSlice> s = weight_slice_of(dag[v])) {
      const std::int64_t b = bucket_of(dag[v].replica, dag[v].microbatch, dag[v].layer, s->weight);
      if (b >= 0) {
        found_slices.push_back({b, s->slice});
        ++bucket_begin[static_cast<std::size_t>(b) + 1];
      }
    }
  for (std::size_t b = 0; b < buckets; ++b)
    bucket_begin[b + 1] += bucket_begin[b];
  std::vector<LinearSlice> slices(found_slices.size());
  {
    std::vector<std::size_t> next(bucket_begin.begin(), bucket_begin.end() - 1);
    for (const auto& [b, slice] : found_slices)
      slices[next[static_cast<std::size_t>(b)]++] = slice;
  }
  // Every block's weights, and once per model (layer -1) the embedding and the LM head.
  std::vector<std::pair<std::int64_t, Weight>> weights;
  for (std::int64_t layer = 0; layer < m.layers; ++layer)
    for (const Weight weight : block_weights)
      weights.emplace_back(layer, weight);
  for (const Weight weight : vocabulary_weights)
    weights.emplace_back(-1, weight);
  std::vector<std::int64_t> row_cuts, col_cuts, held;
  for (std::int64_t replica = 0; replica < replicas; ++replica)
    for (std::int64_t mb = 0; mb < microbatches; ++mb)
      for (const auto& entry : weights) {
        // Named copies, not structured bindings: the lambdas below capture them (clang < 16
        // cannot capture a structured binding).
        const std::int64_t layer = entry.first;
        const Weight weight = entry.second;
        if (!uses_weight(m, weight))
          continue;
        const auto what = [&] {
          return std::string(weight_name(weight)) +
                 (layer < 0 ? std::string() : " of layer " + std::to_string(layer)) + " (replica " +
                 std::to_string(replica) + ", microbatch " + std::to_string(mb) + ")";
        };
        const auto b = static_cast<std::size_t>(bucket_of(replica, mb, layer, weight));
        if (bucket_begin[b] == bucket_begin[b + 1]) {
          report(CheckRule::weight_tiling, what() + " is held by no device");
          continue;
        }
        const std::span<const LinearSlice> held_by(slices.data() + bucket_begin[b],
                                                   bucket_begin[b + 1] - bucket_begin[b]);
        const std::array<std::int64_t, 2> full = full_weight_shape(m, weight);
        const std::int64_t rows = full[0], cols = full[1];
        row_cuts.assign({0, rows});
        col_cuts.assign({0, cols});
        for (const LinearSlice& s : held_by) {
          for_each_range(s.rows, [&](std::int64_t b, std::int64_t e) {
            row_cuts.insert(row_cuts.end(), {b, e});
          });
          for_each_range(s.cols, [&](std::int64_t b, std::int64_t e) {
            col_cuts.insert(col_cuts.end(), {b, e});
          });
        }
        for (auto* cuts : {&row_cuts, &col_cuts}) {
          std::sort(cuts->begin(), cuts->end());
          cuts->erase(std::unique(cuts->begin(), cuts->end()), cuts->end());
        }
        const auto index = [](const std::vector<std::int64_t>& cuts, std::int64_t at) {
          return static_cast<std::size_t>(std::lower_bound(cuts.begin(), cuts.end(), at) -
                                          cuts.begin());
        };
        const std::size_t nr = row_cuts.size() - 1, nc = col_cuts.size() - 1;
        held.assign(nr * nc, 0);
        bool outside = false;
        for (const LinearSlice& s : held_by)
          for_each_range(s.rows, [&](std::int64_t rb, std::int64_t re) {
            for_each_range(s.cols, [&](std::int64_t cb, std::int64_t ce) {
              outside = outside || rb < 0 || cb < 0 || re > rows || ce > cols;
              for (std::size_t i = index(row_cuts, rb); i < index(row_cuts, re); ++i)
                for (std::size_t j = index(col_cuts, cb); j < index(col_cuts, ce); ++j)
                  ++held[i * nc + j];
            });
          });
        // Under KVParallel every KV shard projects Q for its heads (Helix's redundant QKV), while
        // only the shard the new token lands on projects its K and V.
        const std::int64_t copies = weight == Weight::wk || weight == Weight::wv ? kv_copies
                                    : weight == Weight::wq ? info.plan.kv_parallel
                                                           : 1;
        if (outside)
          report(CheckRule::weight_tiling, what() + ": a slice reaches outside the full [" +
                                               std::to_string(rows) + ", " + std::to_string(cols) +
                                               "] weight");
        for (std::size_t i = 0; i < nr; ++i)
          for (std::size_t j = 0; j < nc; ++j)
            if (row_cuts[i] >= 0 && row_cuts[i + 1] <= rows && col_cuts[j] >= 0 &&
                col_cuts[j + 1] <= cols && held[i * nc + j] != copies) {
              report(CheckRule::weight_tiling,
                     what() + ": rows [" + std::to_string(row_cuts[i]) + ", " +
                         std::to_string(row_cuts[i + 1]) + ") × cols [" +
                         std::to_string(col_cuts[j]) + ", " + std::to_string(col_cuts[j + 1]) +
                         ") are held " + std::to_string(held[i * nc + j]) + " times, not " +
                         std::to_string(copies));
              i = nr; // one message per weight is enough
              break;
            }
      }
}

/// Derives every op's output placement again and reports the ops that cannot take their inputs
/// as placed, and the edges whose stored placement differs from what their producer makes.
/// @pre the graph is acyclic (check() skips this rule otherwise).
template <class Graph = Dag>
inline void check_placements(const Graph& dag, const DiagnosticSink& report) {
  const Mesh& mesh = boost::get_property(dag, boost::graph_bundle).mesh;
  const auto [made, problems] = derive_placements(dag, mesh);
  for (const PlacementProblem<Vertex>& p : problems)
    report(CheckRule::placement, describe_vertex(dag, p.vertex) + ": " + p.what);
  for (Edge e : boost::make_iterator_range(boost::edges(dag))) {
    const TensorPlacement& stored = dag[e].placement;
    const TensorPlacement& derived = made[boost::source(e, dag)];
    if (stored != derived)
      report(CheckRule::placement, "edge " + describe_vertex(dag, boost::source(e, dag)) + " → " +
                                       describe_vertex(dag, boost::target(e, dag)) + " says " +
                                       placement_text(stored, mesh) + " but its producer makes " +
                                       placement_text(derived, mesh));
  }
}

/// The producer of `v`'s argument `port`, or `v` itself when nothing arrives there.
template <class Graph = Dag>
Vertex producer_at(const Graph& dag, Vertex v, std::size_t port) {
  for (auto e : boost::make_iterator_range(boost::in_edges(v, dag)))
    if (dag[e].port == port)
      return boost::source(e, dag);
  return v;
}

inline std::string runs_words(const IndexRuns& r) {
  return "{begin " + std::to_string(r.begin) + ", size " + std::to_string(r.size) + ", stride " +
         std::to_string(r.stride) + ", count " + std::to_string(r.count) + "}";
}

/// The Wq columns (or Wo rows) of heads `a`: each head's head_dim slice, head after head.
constexpr IndexRuns head_columns(const AttentionHeads& a, std::int64_t head_dim) {
  return {a.head_begin * head_dim + a.dim_begin, a.dims, head_dim, a.heads};
}
/// The Wk / Wv columns of the kv heads `a` reads.
constexpr IndexRuns kv_columns(const AttentionHeads& a, std::int64_t head_dim) {
  return {a.kv_head_begin * head_dim + a.dim_begin, a.dims, head_dim, a.kv_heads};
}
constexpr bool same_kv(const AttentionHeads& a, const AttentionHeads& b) {
  return a.kv_head_begin == b.kv_head_begin && a.kv_heads == b.kv_heads &&
         a.dim_begin == b.dim_begin && a.dims == b.dims;
}

/// Attention ops and the Linears around them must agree on which heads they hold: Q's columns
/// and the out-projection's rows are the op's query heads, K's and V's columns (through the KV
/// cache in decode) its kv heads, each with its head_dim slice.
template <class Graph = Dag>
void check_slices_agree(const Graph& dag, const DiagnosticSink& report) {
  const std::int64_t d = boost::get_property(dag, boost::graph_bundle).model.head_dim;
  const auto mismatch = [&](Vertex consumer, Vertex producer, const std::string& what,
                            const IndexRuns& have, const IndexRuns& want) {
    report(CheckRule::step_data, describe_vertex(dag, consumer) + " reads " + what + " " +
                                     runs_words(have) + " from " + describe_vertex(dag, producer) +
                                     ", but its heads need " + runs_words(want));
  };
  // K or V at `port` of `consumer`, straight from a projection or through a KV append.
  const auto kv_source = [&](Vertex consumer, std::size_t port, const AttentionHeads& a,
                             std::string_view name) {
    Vertex source = producer_at(dag, consumer, port);
    if (const step::KVAppend* append = step_if<step::KVAppend>(dag[source])) {
      const Vertex cache = producer_at(dag, source, 0);
      const step::KVCache* cached = step_if<step::KVCache>(dag[cache]);
      if (!same_kv(*append, a) || (cached && !same_kv(*cached, a)))
        report(CheckRule::step_data,
               describe_vertex(dag, consumer) + " reads " + std::string(name) +
                   " of other kv heads or dims from " +
                   describe_vertex(dag, cached && !same_kv(*cached, a) ? cache : source));
      source = producer_at(dag, source, 1);
    }
    if (const LinearSlice* l = linear_slice_of(dag[source]))
      if (l->cols != kv_columns(a, d))
        mismatch(consumer, source, std::string(name) + " columns", l->cols, kv_columns(a, d));
  };
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (const step::AttentionScores* a = step_if<step::AttentionScores>(op)) {
      const Vertex q = producer_at(dag, v, 0);
      if (const LinearSlice* l = linear_slice_of(dag[q]); l && l->cols != head_columns(*a, d))
        mismatch(v, q, "Q columns", l->cols, head_columns(*a, d));
      kv_source(v, 1, *a, "K");
    } else if (const step::PartialAttention* pa = step_if<step::PartialAttention>(op)) {
      const Vertex q = producer_at(dag, v, 0);
      if (const LinearSlice* l = linear_slice_of(dag[q]); l && l->cols != head_columns(*pa, d))
        mismatch(v, q, "Q columns", l->cols, head_columns(*pa, d));
      kv_source(v, 1, *pa, "K");
      kv_source(v, 2, *pa, "V");
    } else if (const step::AttentionContext* c = step_if<step::AttentionContext>(op)) {
      kv_source(v, 1, *c, "V");
    } else if (step_if<step::OutProjection>(op)) {
      const Vertex context = producer_at(dag, v, 0);
      const AttentionHeads* c = attention_heads_of(dag[context]);
      if (c && (step_if<step::AttentionContext>(dag[context]) ||
                step_if<step::LogSumExpMerge>(dag[context])))
        if (linear_slice_of(op)->rows != head_columns(*c, d))
          report(CheckRule::step_data,
                 describe_vertex(dag, v) + " holds Wo rows " +
                     runs_words(linear_slice_of(op)->rows) + " but reads the context of rows " +
                     runs_words(head_columns(*c, d)) + " from " + describe_vertex(dag, context));
    }
  }
}

/// Steps that disagree with the model or workload: query heads reading a kv head outside their
/// group (the model's grouping: query head h reads kv head h / (heads / kv_heads)), a prefill
/// softmax without the causal mask, a transfer that sends slices when the workload sends whole
/// activations or the other way round.
template <class Graph = Dag>
inline void check_step_data(const Graph& dag, const DiagnosticSink& report) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Model& m = info.model;
  const std::int64_t group = m.kv_heads > 0 ? m.heads / m.kv_heads : 0;
  const bool scatters =
      info.workload.pipeline_send == PipelineSend::scatter_gather && tensor_degree(info.plan) > 1;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (const step::Transfer* t = transfer_of(op);
        t && (t->columns == IndexRuns::range(0, m.hidden)) == scatters)
      report(CheckRule::step_data,
             describe_vertex(dag, v) + " sends " +
                 (scatters ? "the whole activation, but the workload sends pipeline activations "
                             "scatter-gather (each of the " +
                                 std::to_string(tensor_degree(info.plan)) + " tensor devices 1/" +
                                 std::to_string(tensor_degree(info.plan)) + " of hidden)"
                           : std::to_string(t->columns.total()) + " of hidden's " +
                                 std::to_string(m.hidden) +
                                 " columns, but the workload sends pipeline activations whole "
                                 "(full)"));
    if (const AttentionHeads* a = attention_heads_of(op); a && group > 0)
      for (std::int64_t h = a->head_begin; h < a->head_begin + a->heads; ++h) {
        const std::int64_t kv = h / group;
        if (kv < a->kv_head_begin || kv >= a->kv_head_begin + a->kv_heads) {
          report(CheckRule::step_data,
                 describe_vertex(dag, v) + ": query head " + std::to_string(h) + " reads kv head " +
                     std::to_string(kv) + " (heads / kv_heads = " + std::to_string(group) +
                     "), which the op's kv heads [" + std::to_string(a->kv_head_begin) + ", " +
                     std::to_string(a->kv_head_begin + a->kv_heads) + ") do not hold");
          break;
        }
      }
    // A mask aligned to the query's position (the last one in decode) hides nothing from decode's
    // one new token, so only a missing mask in prefill changes the result.
    if (const step::Softmax* s = step_if<step::Softmax>(op);
        s && !s->causal && info.workload.phase == Phase::prefill)
      report(CheckRule::step_data,
             describe_vertex(dag, v) +
                 " does not mask keys after the query's position, but prefill needs the causal "
                 "mask");
  }
}

/// KV-parallel decode: each all-to-all gathers, member by member, the partial attention of KV
/// shard i of i = 0 … n−1 (so every shard's keys count exactly once in the merge), all of the
/// same heads; each member's merge takes its 1/n share of those heads from all n shards; every
/// KV shard is the one its device's kv_seq coordinate names, dealt as the workload says; and
/// the new token is appended on the shard the placement gives it and nowhere else.
template <class Graph = Dag>
inline void check_kv_shards(const Graph& dag, const DiagnosticSink& report) {
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  const Mesh& mesh = info.mesh;
  const std::int64_t n_cached = info.model.seq_len;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    // A plan without KV shards holds every cache whole: only its all-to-alls (none, unless
    // corrupted) are checked, and the per-vertex shard lookup is skipped on this hot path.
    const KVShard* shard = info.plan.kv_parallel > 1 ? kv_shard_of(op) : nullptr;
    if (shard) {
      const std::int64_t coordinate = mesh.coordinate(op.device, Role::kv_seq);
      if (shard->index != coordinate || shard->count != info.plan.kv_parallel ||
          !(shard->placement == info.workload.kv_placement))
        report(CheckRule::kv_shards,
               describe_vertex(dag, v) + " holds KV shard " + std::to_string(shard->index) +
                   " of " + std::to_string(shard->count) + " (" +
                   std::string(kv_layout_name(shard->placement.layout)) + "), but its GPU is KV " +
                   "shard " + std::to_string(coordinate) + " of " +
                   std::to_string(info.plan.kv_parallel) + " (" +
                   std::string(kv_layout_name(info.workload.kv_placement.layout)) + ")");
      if (step_if<step::KVAppend>(op) && !shard->owns_new(n_cached))
        report(CheckRule::kv_shards, describe_vertex(dag, v) + " appends the new token (position " +
                                         std::to_string(n_cached) + ") to KV shard " +
                                         std::to_string(shard->index) +
                                         ", but the placement puts it on shard " +
                                         std::to_string(shard->owner_of_new(n_cached)));
    }
    const step::AllToAll* exchange = step_if<step::AllToAll>(op);
    if (!exchange)
      continue;
    const std::int64_t n = group_size(mesh, exchange->group);
    std::vector<int> seen(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)), 0);
    const AttentionHeads* heads = nullptr;
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag))) {
      const Vertex producer = boost::source(e, dag);
      const step::PartialAttention* partial = step_if<step::PartialAttention>(dag[producer]);
      if (!partial) {
        report(CheckRule::kv_shards, describe_vertex(dag, v) + " exchanges the output of " +
                                         describe_vertex(dag, producer) +
                                         ", not a partial attention over a KV shard");
        continue;
      }
      if (partial->shard.index >= 0 && partial->shard.index < n)
        ++seen[static_cast<std::size_t>(partial->shard.index)];
      if (partial->shard.index != static_cast<std::int64_t>(dag[e].port) ||
          partial->shard.count != n)
        report(CheckRule::kv_shards, describe_vertex(dag, v) + " takes KV shard " +
                                         std::to_string(partial->shard.index) + " of " +
                                         std::to_string(partial->shard.count) + " from " +
                                         describe_vertex(dag, producer) + " as member " +
                                         std::to_string(dag[e].port) + " of " + std::to_string(n));
      if (heads && (heads->head_begin != partial->head_begin || heads->heads != partial->heads))
        report(CheckRule::kv_shards, describe_vertex(dag, v) + " merges partials of different " +
                                         "heads (" + describe_vertex(dag, producer) + ")");
      heads = partial;
    }
    for (std::size_t k = 0; k < seen.size(); ++k)
      if (seen[k] != 1)
        report(CheckRule::kv_shards, describe_vertex(dag, v) + " merges KV shard " +
                                         std::to_string(k) + " " + std::to_string(seen[k]) +
                                         " times instead of once");
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag))) {
      const Vertex consumer = boost::target(e, dag);
      const step::LogSumExpMerge* merge = step_if<step::LogSumExpMerge>(dag[consumer]);
      const std::int64_t member = group_index(mesh, exchange->group, dag[e].device);
      if (!merge || !heads || merge->shards != n ||
          merge->head_begin != heads->head_begin + member * (heads->heads / n) ||
          merge->heads != heads->heads / n)
        report(CheckRule::kv_shards,
               describe_vertex(dag, consumer) + " on member " + std::to_string(member) + " of " +
                   describe_vertex(dag, v) +
                   " is not the log-sum-exp merge of that member's share of the heads over all " +
                   std::to_string(n) + " shards");
    }
  }
}

} // namespace detail

/// Every invariant the DAG breaks; empty when it is sound.
/// @post a DAG from build_dag passes; each corruption (a cycle, an isolated or dangling vertex, a
/// wrong edge shape, a collective over the wrong devices or of another algorithm than the plan
/// prescribes, an idle device, a weight slice that overlaps or leaves a gap, a partial sum that
/// reaches a non-linear op or the output, a reduction over an axis that owes nothing, a query head
/// reading a kv head outside its group) yields a diagnostic of the matching rule.
template <class Graph = Dag>
[[nodiscard]] inline std::vector<Diagnostic> check(const Graph& dag) {
  std::vector<Diagnostic> out;
  const detail::DiagnosticSink report{out};
  detail::check_acyclic(dag, report);
  const bool acyclic = out.empty();
  detail::check_connected(dag, report);
  detail::check_op_shapes(dag, report);
  detail::check_edges(dag, report);
  detail::check_collectives(dag, report);
  detail::check_devices(dag, report);
  detail::check_tiling(dag, report);
  if (acyclic)
    detail::check_placements(dag, report);
  detail::check_step_data(dag, report);
  detail::check_slices_agree(dag, report);
  detail::check_kv_shards(dag, report);
  return out;
}

/// The same, and the graph must have been built from `model` and `plan`.
template <class Graph = Dag>
[[nodiscard]] inline std::vector<Diagnostic> check(const Graph& dag, const Model& model,
                                                   const PlanSpec& plan) {
  std::vector<Diagnostic> out;
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  if (!(info.model == model) || !(info.plan == plan)) {
    out.push_back({CheckRule::built_from,
                   "helix: check: built from: the graph was built for plan '" +
                       to_string(info.plan) + "' and a " + std::to_string(info.model.layers) +
                       "-layer model of hidden " + std::to_string(info.model.hidden) +
                       ", not for plan '" + to_string(plan) + "' and the model given"});
    return out;
  }
  return check(dag);
}

} // namespace helix
