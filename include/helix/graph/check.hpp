// check(dag): the DAG invariants of DESIGN.md as diagnostics. Run after building, and after any
// transformation of a Dag; a corrupt graph yields messages naming the rule, never a crash.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/shape_rules.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/plan/parse.hpp"
#include "helix/plan/spec.hpp"

#include <boost/graph/depth_first_search.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace helix {

enum class CheckRule : std::uint8_t {
  acyclic,          ///< no cycle
  connected,        ///< every vertex on a path from an input (or KV cache) to an output
  op_shape,         ///< an op's inputs and output are what its kind and payload imply
  edge_shape,       ///< a tensor is what its producer makes and its consumer expects, port by port
  edge_device,      ///< a tensor lives on a device its producer writes and its consumer reads
  collective_group, ///< a collective spans exactly the group the mesh prescribes for its phase
  device_works,     ///< every device of the mesh runs at least one compute op
  weight_tiling,    ///< per replica, the devices' slices tile each full weight uniformly
  built_from,       ///< the graph was built from the model and plan it is checked against
};

constexpr std::string_view check_rule_name(CheckRule rule) {
  constexpr std::array<std::string_view, 9> names{
      "acyclic",          "connected",    "op shape",      "edge shape", "edge device",
      "collective group", "device works", "weight tiling", "built from"};
  return names[static_cast<std::size_t>(rule)];
}

struct Diagnostic {
  CheckRule rule;
  std::string message; ///< "helix: check: <rule>: <what is wrong, with vertex ids and numbers>"
};

namespace detail {

inline std::string describe_vertex(const Dag& dag, Vertex v) {
  const Op& op = dag[v];
  std::string text = "vertex " + std::to_string(v) + " (" + std::string(op_kind_name(op.kind));
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

inline void check_acyclic(const Dag& dag, const DiagnosticSink& report) {
  struct BackEdgeFinder : boost::default_dfs_visitor {
    std::vector<Edge>* found;
    void back_edge(Edge e, const Dag&) const { found->push_back(e); }
  };
  std::vector<Edge> back_edges;
  BackEdgeFinder finder;
  finder.found = &back_edges;
  boost::depth_first_search(dag, boost::visitor(finder));
  for (Edge e : back_edges)
    report(CheckRule::acyclic, "edge " + describe_vertex(dag, boost::source(e, dag)) + " → " +
                                   describe_vertex(dag, boost::target(e, dag)) + " closes a cycle");
}

inline void check_connected(const Dag& dag, const DiagnosticSink& report) {
  const std::size_t n = boost::num_vertices(dag);
  std::vector<char> from_input(n, 0), to_output(n, 0);
  std::vector<Vertex> stack;
  for (Vertex v = 0; v < n; ++v)
    if (dag[v].kind == OpKind::input || dag[v].kind == OpKind::kv_cache) {
      from_input[v] = 1;
      stack.push_back(v);
    }
  while (!stack.empty()) {
    const Vertex v = stack.back();
    stack.pop_back();
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag)))
      if (!from_input[boost::target(e, dag)]) {
        from_input[boost::target(e, dag)] = 1;
        stack.push_back(boost::target(e, dag));
      }
  }
  for (Vertex v = 0; v < n; ++v)
    if (dag[v].kind == OpKind::output) {
      to_output[v] = 1;
      stack.push_back(v);
    }
  while (!stack.empty()) {
    const Vertex v = stack.back();
    stack.pop_back();
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag)))
      if (!to_output[boost::source(e, dag)]) {
        to_output[boost::source(e, dag)] = 1;
        stack.push_back(boost::source(e, dag));
      }
  }
  for (Vertex v = 0; v < n; ++v) {
    if (!from_input[v] && !to_output[v])
      report(CheckRule::connected, describe_vertex(dag, v) + " is isolated");
    else if (!from_input[v])
      report(CheckRule::connected, describe_vertex(dag, v) + " is not reached from any input");
    else if (!to_output[v])
      report(CheckRule::connected, describe_vertex(dag, v) + " is dangling: no path to an output");
  }
}

inline void check_op_shapes(const Dag& dag, const DiagnosticSink& report) {
  const DagInfo& info = dag[boost::graph_bundle];
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    const OpSignature expected = signature(op, info.model, info.workload, info.mesh);
    switch (op_shape_problem(op, expected)) {
    case OpShapeProblem::none:
      break;
    case OpShapeProblem::output_differs_from_payload:
      report(CheckRule::op_shape, describe_vertex(dag, v) + " makes " + to_string(op.output) +
                                      " but its payload implies " + to_string(expected.output));
      break;
    case OpShapeProblem::inputs_differ_from_payload: {
      std::string have, want;
      for (std::size_t i = 0; i < std::min(op.input_count, op.inputs.size()); ++i)
        have += (i ? ", " : "") + to_string(op.inputs[i]);
      for (std::size_t i = 0; i < expected.input_count; ++i)
        want += (i ? ", " : "") + to_string(expected.inputs[i]);
      report(CheckRule::op_shape, describe_vertex(dag, v) + " expects (" + have +
                                      ") but its payload implies (" + want + ")");
      break;
    }
    }
  }
}

inline void check_edges(const Dag& dag, const DiagnosticSink& report) {
  const Mesh& mesh = dag[boost::graph_bundle].mesh;
  for (Edge e : boost::make_iterator_range(boost::edges(dag))) {
    const Vertex s = boost::source(e, dag), t = boost::target(e, dag);
    const Op& producer = dag[s];
    const Op& consumer = dag[t];
    const Tensor& tensor = dag[e];
    const std::string where = "edge " + describe_vertex(dag, s) + " → " + describe_vertex(dag, t);
    switch (edge_shape_problem(producer, consumer, tensor)) {
    case EdgeShapeProblem::none:
      break;
    case EdgeShapeProblem::differs_from_producer:
      report(CheckRule::edge_shape, where + " carries " + to_string(tensor.shape) +
                                        " but the producer makes " + to_string(producer.output));
      break;
    case EdgeShapeProblem::differs_from_consumer:
      report(CheckRule::edge_shape,
             where + " carries " + to_string(tensor.shape) + " into port " +
                 std::to_string(tensor.port) + ", which expects " +
                 (tensor.port < std::min(consumer.input_count, consumer.inputs.size()) ||
                          is_collective(consumer.kind)
                      ? to_string(consumer.inputs[is_collective(consumer.kind) ? 0 : tensor.port])
                      : std::string("no input")));
      break;
    }
    // Where the tensor must live, seen from each end.
    auto lives_on_member = [&](const Op& op) {
      const auto& c = std::get<CollectiveOp>(op.payload);
      return group_index(mesh, c.group, tensor.device) >= 0;
    };
    bool producer_side = true, consumer_side = true;
    if (is_collective(producer.kind))
      producer_side = lives_on_member(producer);
    else if (const auto* transfer = std::get_if<TransferOp>(&producer.payload))
      producer_side = tensor.device == transfer->destination;
    else
      producer_side = tensor.device == producer.device;
    if (is_collective(consumer.kind)) {
      const auto& c = std::get<CollectiveOp>(consumer.payload);
      consumer_side =
          tensor.device == group_member(mesh, c.group, static_cast<std::int64_t>(tensor.port));
    } else if (const auto* transfer = std::get_if<TransferOp>(&consumer.payload)) {
      consumer_side = tensor.device == transfer->source;
    } else {
      consumer_side = tensor.device == consumer.device;
    }
    if (!producer_side || !consumer_side)
      report(CheckRule::edge_device,
             where + " lives on GPU " + std::to_string(tensor.device) + ", which the " +
                 (producer_side ? "consumer does not read" : "producer does not write"));
  }
  // Each compute argument arrives exactly once.
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const Op& op = dag[v];
    if (is_collective(op.kind))
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
constexpr AxisMask prescribed_axes(const CollectiveOp& c) {
  switch (c.phase) {
  case CollectivePhase::flat:
    if (c.purpose == CollectivePurpose::attention_scores)
      return axis_bit(Role::head_dim);
    return static_cast<AxisMask>(axis_bit(Role::tensor_group) | axis_bit(Role::tensor) |
                                 axis_bit(Role::head_dim));
  case CollectivePhase::intra_group_reduce_scatter:
  case CollectivePhase::intra_group_all_gather:
    return axis_bit(Role::tensor);
  case CollectivePhase::inter_group_all_reduce:
    return axis_bit(Role::tensor_group);
  }
  return 0;
}

inline void check_collectives(const Dag& dag, const DiagnosticSink& report) {
  const Mesh& mesh = dag[boost::graph_bundle].mesh;
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const Op& op = dag[v];
    if (!is_collective(op.kind))
      continue;
    const auto* c = std::get_if<CollectiveOp>(&op.payload);
    if (!c) {
      report(CheckRule::collective_group, describe_vertex(dag, v) + " has no collective payload");
      continue;
    }
    const std::int64_t members = group_size(mesh, c->group);
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

inline void check_devices(const Dag& dag, const DiagnosticSink& report) {
  const Mesh& mesh = dag[boost::graph_bundle].mesh;
  std::vector<char> works(static_cast<std::size_t>(mesh.size()), 0);
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v) {
    const Op& op = dag[v];
    if (is_communication(op.kind))
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

/// Index ranges [begin, end) covered by `runs`.
inline std::vector<std::pair<std::int64_t, std::int64_t>> ranges_of(const IndexRuns& runs) {
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (std::int64_t i = 0; i < runs.count; ++i)
    ranges.emplace_back(runs.begin + i * runs.stride, runs.begin + i * runs.stride + runs.size);
  return ranges;
}

/// Compresses the slices into a grid of row and column breakpoints and counts how often each
/// cell is held; every cell of the full weight must be held `copies` times.
inline void check_tiling(const Dag& dag, const DiagnosticSink& report) {
  const DagInfo& info = dag[boost::graph_bundle];
  const Model& m = info.model;
  // Each kv head is held by head_split / kv_heads devices when the split exceeds the kv heads.
  const std::int64_t kv_copies =
      m.kv_heads > 0 && head_split(info.plan) > m.kv_heads ? head_split(info.plan) / m.kv_heads : 1;
  using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, Weight>; // replica, mb, layer
  std::map<Key, std::vector<LinearSlice>> slices;
  for (Vertex v = 0; v < boost::num_vertices(dag); ++v)
    if (const auto* s = std::get_if<LinearSlice>(&dag[v].payload))
      slices[{dag[v].replica, dag[v].microbatch, dag[v].layer, s->weight}].push_back(*s);
  for (std::int64_t replica = 0; replica < info.plan.data_parallel; ++replica)
    for (std::int64_t mb = 0; mb < info.workload.microbatches; ++mb)
      for (std::int64_t layer = 0; layer < m.layers; ++layer)
        for (std::size_t w = 0; w < weight_count; ++w) {
          const Weight weight = static_cast<Weight>(w);
          const std::string what = std::string(weight_name(weight)) + " of layer " +
                                   std::to_string(layer) + " (replica " + std::to_string(replica) +
                                   ", microbatch " + std::to_string(mb) + ")";
          const auto found = slices.find({replica, mb, layer, weight});
          if (found == slices.end()) {
            report(CheckRule::weight_tiling, what + " is held by no device");
            continue;
          }
          const auto [rows, cols] = full_weight_shape(m, weight);
          std::vector<std::int64_t> row_cuts{0, rows}, col_cuts{0, cols};
          for (const LinearSlice& s : found->second) {
            for (auto [b, e] : ranges_of(s.rows))
              row_cuts.insert(row_cuts.end(), {b, e});
            for (auto [b, e] : ranges_of(s.cols))
              col_cuts.insert(col_cuts.end(), {b, e});
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
          std::vector<std::int64_t> held(nr * nc, 0);
          bool outside = false;
          for (const LinearSlice& s : found->second)
            for (auto [rb, re] : ranges_of(s.rows))
              for (auto [cb, ce] : ranges_of(s.cols)) {
                outside = outside || rb < 0 || cb < 0 || re > rows || ce > cols;
                for (std::size_t i = index(row_cuts, rb); i < index(row_cuts, re); ++i)
                  for (std::size_t j = index(col_cuts, cb); j < index(col_cuts, ce); ++j)
                    ++held[i * nc + j];
              }
          const std::int64_t copies = weight == Weight::wk || weight == Weight::wv ? kv_copies : 1;
          if (outside)
            report(CheckRule::weight_tiling, what + ": a slice reaches outside the full [" +
                                                 std::to_string(rows) + ", " +
                                                 std::to_string(cols) + "] weight");
          for (std::size_t i = 0; i < nr; ++i)
            for (std::size_t j = 0; j < nc; ++j)
              if (row_cuts[i] >= 0 && row_cuts[i + 1] <= rows && col_cuts[j] >= 0 &&
                  col_cuts[j + 1] <= cols && held[i * nc + j] != copies) {
                report(CheckRule::weight_tiling,
                       what + ": rows [" + std::to_string(row_cuts[i]) + ", " +
                           std::to_string(row_cuts[i + 1]) + ") × cols [" +
                           std::to_string(col_cuts[j]) + ", " + std::to_string(col_cuts[j + 1]) +
                           ") are held " + std::to_string(held[i * nc + j]) + " times, not " +
                           std::to_string(copies));
                i = nr; // one message per weight is enough
                break;
              }
        }
}

} // namespace detail

/// Every invariant the DAG breaks; empty when it is sound.
/// @post a DAG from build_dag passes; each corruption (a cycle, an isolated or dangling vertex, a
/// wrong edge shape, a collective over the wrong devices, an idle device, a weight slice that
/// overlaps or leaves a gap) yields a diagnostic of the matching rule.
inline std::vector<Diagnostic> check(const Dag& dag) {
  std::vector<Diagnostic> out;
  const detail::DiagnosticSink report{out};
  detail::check_acyclic(dag, report);
  detail::check_connected(dag, report);
  detail::check_op_shapes(dag, report);
  detail::check_edges(dag, report);
  detail::check_collectives(dag, report);
  detail::check_devices(dag, report);
  detail::check_tiling(dag, report);
  return out;
}

/// The same, and the graph must have been built from `model` and `plan`.
inline std::vector<Diagnostic> check(const Dag& dag, const Model& model, const PlanSpec& plan) {
  std::vector<Diagnostic> out;
  const DagInfo& info = dag[boost::graph_bundle];
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
