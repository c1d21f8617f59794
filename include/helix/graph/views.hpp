// Views for people: which operators, collectives and devices a picture of a Dag shows, and how
// each is labelled, as data. Four views: the whole model coarsened to blocks, one layer's MHA or
// MLP at full per-device detail, and communication only. Drawing them (DOT) is io's job.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/model/presets.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/plan/parse.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace helix {

/// How a node of a view is drawn.
enum class ViewNodeKind : std::uint8_t {
  operation,  ///< one compute op on one device
  collective, ///< one collective vertex, or a logical collective summarized (model view)
  transfer,   ///< one send/recv, or all those of a stage boundary summarized (model view)
  block,      ///< coarsened compute: a layer's MHA or MLP, its residual adds, inputs, outputs
  device,     ///< a device (communication view)
  boundary,   ///< a tensor crossing the border of a detail view
};

struct ViewNode {
  ViewNodeKind kind = ViewNodeKind::operation;
  /// Colours the node; a block takes the kind that stands for it (attention_scores for MHA).
  OpKind op = OpKind::input;
  /// Label lines: the name first, then the output shape and the devices.
  std::vector<std::string> lines;
  std::int64_t stage = -1;  ///< the stage cluster holding the node; -1 for none
  std::int64_t device = -1; ///< the device cluster inside the stage; -1 for none
  /// The Dag vertices this node draws (none for device and boundary nodes).
  std::vector<Vertex> vertices;
};

enum class ViewEdgeKind : std::uint8_t {
  tensor,     ///< a tensor from producer to consumer
  residual,   ///< the skip connection into a residual add (drawn apart so the branch stands out)
  membership, ///< a device takes part in a collective (communication view)
  sequence,   ///< the next communication on the same devices (communication view)
};

struct ViewEdge {
  ViewEdgeKind kind = ViewEdgeKind::tensor;
  std::string label;
};

using ViewGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, ViewNode,
                                        ViewEdge, boost::no_property>;
using ViewVertex = boost::graph_traits<ViewGraph>::vertex_descriptor;

struct View {
  std::string title;
  ViewGraph graph;
};

/// The two halves of a transformer block, as the detail views split a layer.
enum class Sublayer : std::uint8_t {
  none,      ///< input, output, transfers: outside every layer
  attention, ///< norm, Q/K/V, KV cache, scores, softmax, context, out-projection, their
             ///< collectives and the residual add x + attention
  mlp,       ///< norm, FC1, GELU, FC2, their collectives and the residual add y + MLP
};

/// Which half of its layer vertex `v` belongs to.
inline Sublayer sublayer_of(const Dag& dag, Vertex v) {
  const Op& op = dag[v];
  if (op.layer < 0)
    return Sublayer::none;
  if (const auto* c = std::get_if<CollectiveOp>(&op.payload))
    return c->purpose == CollectivePurpose::mlp_output ? Sublayer::mlp : Sublayer::attention;
  if (const auto* n = std::get_if<NormSlot>(&op.payload))
    return n->index == 0 ? Sublayer::attention : Sublayer::mlp;
  switch (op.kind) {
  case OpKind::fc1:
  case OpKind::gelu:
  case OpKind::fc2:
    return Sublayer::mlp;
  case OpKind::residual_add:
    // Both residual adds carry no payload; the branch they add (argument 1) tells them apart,
    // whether it arrives through a collective or, with one device per stage, straight from FC2.
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag)))
      if (dag[e].port == 1)
        return sublayer_of(dag, boost::source(e, dag));
    return Sublayer::attention;
  default:
    return Sublayer::attention;
  }
}

namespace detail {

/// Views show one forward: replicas and microbatches repeat it on other devices or later.
inline bool in_view_scope(const Op& op) {
  return op.replica == 0 && op.microbatch == 0;
}

inline std::string model_name(const Model& model) {
  for (const models::NamedModel& entry : models::all)
    if (entry.model == model)
      return std::string(entry.name);
  return "model (" + std::to_string(model.layers) + " layers, hidden " +
         std::to_string(model.hidden) + ")";
}

inline std::string view_title(const Dag& dag, std::string_view what) {
  const DagInfo& info = dag[boost::graph_bundle];
  return model_name(info.model) + ", plan " + to_string(info.plan) + ", " +
         std::string(phase_name(info.workload.phase)) + ": " + std::string(what) +
         " (data-parallel replica 0, microbatch 0)";
}

inline std::string sublayer_name(Sublayer part) {
  return part == Sublayer::mlp ? "MLP" : "MHA";
}

inline std::string purpose_name(CollectivePurpose purpose) {
  switch (purpose) {
  case CollectivePurpose::attention_scores:
    return "partial attention scores";
  case CollectivePurpose::attention_output:
    return "attention output";
  case CollectivePurpose::mlp_output:
    return "MLP output";
  }
  return "";
}

/// "a:b" of a contiguous run, ":" for the whole extent, "a:b step s ×n" for strided runs.
inline std::string runs_text(const IndexRuns& runs, std::int64_t extent) {
  if (runs.count == 1 && runs.begin == 0 && runs.size == extent)
    return ":";
  std::string text = std::to_string(runs.begin) + ":" + std::to_string(runs.begin + runs.size);
  if (runs.count > 1)
    text += " step " + std::to_string(runs.stride) + " ×" + std::to_string(runs.count);
  return text;
}

inline std::string range_text(std::int64_t begin, std::int64_t count) {
  return count == 1 ? std::to_string(begin)
                    : std::to_string(begin) + "–" + std::to_string(begin + count - 1);
}

} // namespace detail

/// "GPU 3", "GPUs 0–3", "GPUs 0, 4", "GPUs 0–3, 8–11": sorted, runs of consecutive ranks joined.
inline std::string devices_text(std::vector<std::int64_t> devices) {
  std::sort(devices.begin(), devices.end());
  devices.erase(std::unique(devices.begin(), devices.end()), devices.end());
  if (devices.size() == 1)
    return "GPU " + std::to_string(devices.front());
  std::string text = "GPUs ";
  for (std::size_t i = 0; i < devices.size();) {
    std::size_t j = i;
    while (j + 1 < devices.size() && devices[j + 1] == devices[j] + 1)
      ++j;
    text += (i ? ", " : "") + std::to_string(devices[i]);
    if (j > i)
      text += (j == i + 1 ? ", " : "–") + std::to_string(devices[j]);
    i = j + 1;
  }
  return text;
}

/// The name line of one Dag vertex: its op kind and what part of the model it holds, e.g.
/// "fc1 W1[:, 4096:8192]", "softmax heads 0–1", "reduce_scatter of attention output".
inline std::string vertex_name(const Dag& dag, Vertex v) {
  const Op& op = dag[v];
  std::string name(op_kind_name(op.kind));
  const Model& model = dag[boost::graph_bundle].model;
  if (const auto* l = std::get_if<LinearSlice>(&op.payload)) {
    const auto [rows, cols] = full_weight_shape(model, l->weight);
    std::string weight(weight_name(l->weight));
    weight[0] = 'W';
    name += " " + weight + "[" + detail::runs_text(l->rows, rows) + ", " +
            detail::runs_text(l->cols, cols) + "]";
  } else if (const auto* a = std::get_if<AttentionSlice>(&op.payload)) {
    if (op.kind == OpKind::kv_cache || op.kind == OpKind::kv_append)
      name += a->values ? " values" : " keys";
    name += (a->heads == 1 ? " head " : " heads ") + detail::range_text(a->head_begin, a->heads);
    if (a->dims != model.head_dim)
      name +=
          ", dims " + std::to_string(a->dim_begin) + ":" + std::to_string(a->dim_begin + a->dims);
  } else if (op.kind == OpKind::residual_add) {
    name += sublayer_of(dag, v) == Sublayer::mlp ? " y + MLP" : " x + attention";
  } else if (const auto* n = std::get_if<NormSlot>(&op.payload)) {
    name += n->index == 0 ? " before attention" : " before MLP";
  } else if (const auto* c = std::get_if<CollectiveOp>(&op.payload)) {
    name += " of " + detail::purpose_name(c->purpose);
    if (c->phase != CollectivePhase::flat)
      name += " (" + std::string(collective_phase_name(c->phase)) + ")";
  } else if (std::holds_alternative<TransferOp>(op.payload)) {
    name += " stage " + std::to_string(op.stage - 1) + " → " + std::to_string(op.stage);
  }
  return name;
}

/// The devices line of one Dag vertex: "GPU 3", a collective's "GPUs 0–3", a transfer's
/// "GPU 0 → GPU 8".
inline std::string vertex_devices(const Dag& dag, Vertex v) {
  if (const auto* t = std::get_if<TransferOp>(&dag[v].payload))
    return "GPU " + std::to_string(t->source) + " → GPU " + std::to_string(t->destination);
  return devices_text(devices_of(dag, v));
}

namespace detail {

inline ViewNodeKind node_kind_of(OpKind kind) {
  if (is_collective(kind))
    return ViewNodeKind::collective;
  if (kind == OpKind::transfer)
    return ViewNodeKind::transfer;
  return ViewNodeKind::operation;
}

/// A node drawing one Dag vertex at full detail: name, output shape, devices.
inline ViewNode detail_node(const Dag& dag, Vertex v) {
  const Op& op = dag[v];
  ViewNode node;
  node.kind = node_kind_of(op.kind);
  node.op = op.kind;
  node.lines = {vertex_name(dag, v), to_string(op.output), vertex_devices(dag, v)};
  node.stage = op.kind == OpKind::transfer ? -1 : op.stage;
  node.device = op.device;
  node.vertices = {v};
  return node;
}

inline bool is_residual_skip(const Dag& dag, Edge e) {
  return dag[boost::target(e, dag)].kind == OpKind::residual_add && dag[e].port == 0;
}

/// Names the kinds of `vertices` in order of first appearance: "norm, fc1, gelu".
inline std::string kinds_text(const Dag& dag, const std::vector<Vertex>& vertices) {
  std::vector<OpKind> kinds;
  for (Vertex v : vertices)
    if (std::find(kinds.begin(), kinds.end(), dag[v].kind) == kinds.end())
      kinds.push_back(dag[v].kind);
  std::string text;
  for (OpKind k : kinds)
    text += (text.empty() ? "" : ", ") + std::string(op_kind_name(k));
  return text;
}

} // namespace detail

/// One layer's MHA or MLP at full per-device detail: every op of the layer's half (replica 0,
/// microbatch 0) on its device, each collective phase as one node spanning its members, and a
/// boundary node for each tensor entering ("layer 0 input x") or leaving the half.
/// @pre `part` is attention or mlp.
inline View sublayer_view(const Dag& dag, std::int64_t layer, Sublayer part) {
  const bool mlp = part == Sublayer::mlp;
  View view;
  view.title = detail::view_title(dag, "layer " + std::to_string(layer) + " " +
                                           detail::sublayer_name(part) + ", full detail");
  ViewGraph& g = view.graph;
  std::map<Vertex, ViewVertex> inside;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (detail::in_view_scope(op) && op.layer == layer && sublayer_of(dag, v) == part)
      inside.emplace(v, boost::add_vertex(detail::detail_node(dag, v), g));
  }
  // Keyed by producer and device: a producer outside the view that feeds several devices (a
  // collective) gets one boundary node per device, so each sits in its device's cluster.
  std::map<std::pair<Vertex, std::int64_t>, ViewVertex> entering;
  std::map<Vertex, ViewVertex> leaving;
  const std::string prefix = "layer " + std::to_string(layer) + " ";
  for (const auto& [v, node] : inside) {
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag))) {
      const Vertex u = boost::source(e, dag);
      const ViewEdgeKind kind =
          detail::is_residual_skip(dag, e) ? ViewEdgeKind::residual : ViewEdgeKind::tensor;
      if (auto it = inside.find(u); it != inside.end()) {
        boost::add_edge(it->second, node, ViewEdge{kind, {}}, g);
        continue;
      }
      auto [it, fresh] = entering.try_emplace({u, dag[e].device});
      if (fresh) {
        const Op& producer = dag[u];
        ViewNode b;
        b.kind = ViewNodeKind::boundary;
        b.op = producer.kind;
        std::string from = "from " + std::string(op_kind_name(producer.kind));
        if (producer.layer >= 0)
          from += " (layer " + std::to_string(producer.layer) + ")";
        b.lines = {prefix + (mlp ? "input y" : "input x"), from, to_string(dag[e].shape),
                   devices_text({dag[e].device})};
        b.stage = dag[v].stage;
        b.device = dag[e].device;
        it->second = boost::add_vertex(b, g);
      }
      boost::add_edge(it->second, node, ViewEdge{kind, {}}, g);
    }
    std::vector<std::string> consumers;
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag))) {
      const Vertex w = boost::target(e, dag);
      if (inside.count(w))
        continue;
      std::string consumer(op_kind_name(dag[w].kind));
      if (dag[w].layer >= 0 && dag[w].layer != layer)
        consumer += " (layer " + std::to_string(dag[w].layer) + ")";
      if (std::find(consumers.begin(), consumers.end(), consumer) == consumers.end())
        consumers.push_back(consumer);
      if (leaving.count(v))
        continue;
      ViewNode b;
      b.kind = ViewNodeKind::boundary;
      b.op = dag[w].kind;
      b.lines = {prefix + (mlp ? "output z" : "output y"), "", to_string(dag[e].shape),
                 devices_text({dag[e].device})};
      b.stage = dag[v].stage;
      b.device = dag[e].device;
      leaving[v] = boost::add_vertex(b, g);
      boost::add_edge(node, leaving[v], ViewEdge{}, g);
    }
    if (auto it = leaving.find(v); it != leaving.end()) {
      std::string to = "to ";
      for (std::size_t i = 0; i < consumers.size(); ++i)
        to += (i ? ", " : "") + consumers[i];
      g[it->second].lines[1] = to;
    }
  }
  return view;
}

inline View attention_view(const Dag& dag, std::int64_t layer) {
  return sublayer_view(dag, layer, Sublayer::attention);
}
inline View mlp_view(const Dag& dag, std::int64_t layer) {
  return sublayer_view(dag, layer, Sublayer::mlp);
}

namespace detail {

/// What a Dag vertex becomes in the model view; vertices with equal keys share one node.
enum class BlockPart : std::uint8_t { input, transfer, compute, residual, collective, output };
using BlockKey = std::tuple<BlockPart, std::int64_t, std::int64_t>;

inline BlockKey block_key(const Dag& dag, Vertex v) {
  const Op& op = dag[v];
  const auto part = static_cast<std::int64_t>(sublayer_of(dag, v));
  switch (op.kind) {
  case OpKind::input:
    return {BlockPart::input, 0, 0};
  case OpKind::output:
    return {BlockPart::output, 0, 0};
  case OpKind::transfer:
    return {BlockPart::transfer, op.stage, 0};
  case OpKind::residual_add:
    return {BlockPart::residual, op.layer, part};
  default:
    break;
  }
  if (const auto* c = std::get_if<CollectiveOp>(&op.payload))
    // Partial scores are summed inside attention, before softmax: part of the MHA block.
    if (c->purpose != CollectivePurpose::attention_scores)
      return {BlockPart::collective, op.layer, part};
  return {BlockPart::compute, op.layer, part};
}

/// "reduce-scatter ×2 → all-reduce ×4 → all-gather ×2", or "all-reduce ×1 (flat ring)".
inline std::string phases_text(const Dag& dag, const std::vector<Vertex>& vertices) {
  std::map<CollectivePhase, std::size_t> phases;
  for (Vertex v : vertices)
    if (const auto* c = std::get_if<CollectiveOp>(&dag[v].payload))
      ++phases[c->phase];
  if (phases.size() == 1 && phases.begin()->first == CollectivePhase::flat)
    return "all-reduce ×" + std::to_string(phases.begin()->second) + " (flat ring)";
  constexpr std::string_view step_names[] = {"all-reduce", "reduce-scatter", "all-reduce",
                                             "all-gather"};
  std::string text;
  for (const auto& [phase, n] : phases)
    text += (text.empty() ? "" : " → ") + std::string(step_names[static_cast<std::size_t>(phase)]) +
            " ×" + std::to_string(n);
  return text;
}

inline std::vector<std::int64_t> devices_of_all(const Dag& dag,
                                                const std::vector<Vertex>& vertices) {
  std::vector<std::int64_t> devices;
  for (Vertex v : vertices)
    for (std::int64_t d : devices_of(dag, v))
      devices.push_back(d);
  return devices;
}

inline ViewNode block_node(const Dag& dag, const BlockKey& key, const std::vector<Vertex>& vertices,
                           const std::set<std::string>& out_shapes) {
  const auto [part, a, b] = key;
  const Op& first = dag[vertices.front()];
  const std::string layer = "layer " + std::to_string(a) + " ";
  const std::string half = sublayer_name(static_cast<Sublayer>(b));
  std::string shapes;
  for (const std::string& s : out_shapes)
    shapes += (shapes.empty() ? "" : ", ") + s;
  if (shapes.empty())
    shapes = to_string(first.output);
  const std::string count = " ×" + std::to_string(vertices.size());
  ViewNode node;
  node.kind = ViewNodeKind::block;
  node.op = first.kind;
  node.stage = first.stage;
  node.vertices = vertices;
  std::vector<std::int64_t> devices = devices_of_all(dag, vertices);
  switch (part) {
  case BlockPart::input:
    node.lines = {"input x" + count, shapes, devices_text(devices)};
    node.stage = -1;
    break;
  case BlockPart::output:
    node.lines = {"output" + count, shapes, devices_text(devices)};
    node.stage = -1;
    break;
  case BlockPart::transfer: {
    node.kind = ViewNodeKind::transfer;
    std::vector<std::int64_t> sources, destinations;
    for (Vertex v : vertices)
      if (const auto* t = std::get_if<TransferOp>(&dag[v].payload)) {
        sources.push_back(t->source);
        destinations.push_back(t->destination);
      }
    node.lines = {"send/recv" + count + ", stage " + std::to_string(a - 1) + " → " +
                      std::to_string(a),
                  shapes, devices_text(sources) + " → " + devices_text(destinations)};
    node.stage = -1;
    break;
  }
  case BlockPart::residual:
    node.lines = {layer + "residual add" + count +
                      (static_cast<Sublayer>(b) == Sublayer::mlp ? " (y + MLP)" : " (x + MHA)"),
                  shapes, devices_text(devices)};
    break;
  case BlockPart::collective: {
    node.kind = ViewNodeKind::collective;
    node.op = OpKind::all_reduce;
    std::set<std::int64_t> logical;
    CollectivePurpose purpose = CollectivePurpose::attention_output;
    for (Vertex v : vertices)
      if (const auto* c = std::get_if<CollectiveOp>(&dag[v].payload)) {
        logical.insert(c->logical);
        purpose = c->purpose;
      }
    node.lines = {layer + purpose_name(purpose) + " all-reduce: " + std::to_string(logical.size()) +
                      " logical",
                  phases_text(dag, vertices), shapes, devices_text(devices)};
    break;
  }
  case BlockPart::compute: {
    std::vector<Vertex> compute, scores;
    std::size_t groups = 0;
    for (Vertex v : vertices)
      (is_collective(dag[v].kind) ? scores : compute).push_back(v);
    node.op = static_cast<Sublayer>(b) == Sublayer::mlp ? OpKind::fc1 : OpKind::attention_scores;
    std::set<std::int64_t> compute_devices;
    for (Vertex v : compute)
      compute_devices.insert(dag[v].device);
    node.lines = {
        layer + half + " block",
        std::to_string(compute.size() / std::max<std::size_t>(compute_devices.size(), 1)) +
            " ops per device: " + kinds_text(dag, compute)};
    if (!scores.empty()) {
      groups = devices_of(dag, scores.front()).size();
      node.lines.push_back("partial-score all-reduce ×" + std::to_string(scores.size()) + " (" +
                           std::to_string(groups) + " GPUs each)");
    }
    node.lines.push_back(shapes);
    node.lines.push_back(devices_text(devices));
    break;
  }
  }
  return node;
}

} // namespace detail

/// The whole model, coarsened: per stage and layer one box for the MHA and one for the MLP, the
/// logical all-reduces between them with their phases summarized, the residual adds, the
/// send/recv between stages, the input and the output. Edges carry the tensor shape and how many
/// per-device tensors they stand for.
inline View model_view(const Dag& dag) {
  using detail::BlockKey;
  View view;
  view.title = detail::view_title(dag, "complete model, one box per stage × layer × {MHA, MLP}");
  std::map<BlockKey, std::vector<Vertex>> members;
  std::vector<BlockKey> order;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (detail::in_view_scope(dag[v])) {
      const BlockKey key = detail::block_key(dag, v);
      auto [it, fresh] = members.try_emplace(key);
      if (fresh)
        order.push_back(key);
      it->second.push_back(v);
    }
  struct Crossing {
    std::set<std::string> shapes;
    std::size_t tensors = 0;
    bool residual = true;
  };
  std::map<std::pair<BlockKey, BlockKey>, Crossing> crossings;
  std::vector<std::pair<BlockKey, BlockKey>> crossing_order;
  std::map<BlockKey, std::set<std::string>> out_shapes;
  for (Edge e : boost::make_iterator_range(boost::edges(dag))) {
    const Vertex u = boost::source(e, dag), v = boost::target(e, dag);
    if (!detail::in_view_scope(dag[u]) || !detail::in_view_scope(dag[v]))
      continue;
    const BlockKey from = detail::block_key(dag, u), to = detail::block_key(dag, v);
    if (from == to)
      continue;
    auto [it, fresh] = crossings.try_emplace({from, to});
    if (fresh)
      crossing_order.push_back({from, to});
    it->second.shapes.insert(to_string(dag[e].shape));
    ++it->second.tensors;
    it->second.residual = it->second.residual && detail::is_residual_skip(dag, e);
    out_shapes[from].insert(to_string(dag[e].shape));
  }
  std::map<BlockKey, ViewVertex> nodes;
  for (const BlockKey& key : order)
    nodes[key] =
        boost::add_vertex(detail::block_node(dag, key, members[key], out_shapes[key]), view.graph);
  for (const auto& pair : crossing_order) {
    const Crossing& c = crossings[pair];
    std::string label;
    for (const std::string& s : c.shapes)
      label += (label.empty() ? "" : ", ") + s;
    label += " ×" + std::to_string(c.tensors);
    boost::add_edge(nodes[pair.first], nodes[pair.second],
                    ViewEdge{c.residual ? ViewEdgeKind::residual : ViewEdgeKind::tensor, label},
                    view.graph);
  }
  return view;
}

/// Communication only: the devices of replica 0 as nodes clustered by stage, every collective
/// vertex joined to its member devices, every transfer from its source to its destination, and
/// each communication followed by the next one on the same devices (so the picture reads in
/// program order instead of one row of every collective). `layers`, when given, keeps only the
/// collectives of those layers (and every transfer): dot cannot lay out the membership edges of
/// a 96-layer model in reasonable time (minutes for 3,000 edges), and the layers repeat.
inline View communication_view(const Dag& dag, const std::vector<std::int64_t>& layers = {}) {
  View view;
  std::string scope = "communication patterns";
  if (!layers.empty()) {
    scope += ", layer";
    scope += layers.size() > 1 ? "s " : " ";
    for (std::size_t i = 0; i < layers.size(); ++i)
      scope += (i ? ", " : "") + std::to_string(layers[i]);
    scope += " of " + std::to_string(dag[boost::graph_bundle].model.layers);
  }
  view.title = detail::view_title(dag, scope);
  ViewGraph& g = view.graph;
  const Mesh& mesh = dag[boost::graph_bundle].mesh;
  std::map<std::int64_t, ViewVertex> devices;
  for (std::int64_t rank = 0; rank < mesh.size(); ++rank) {
    if (mesh.coordinate(rank, Role::data) != 0)
      continue;
    ViewNode node;
    node.kind = ViewNodeKind::device;
    node.lines = {"GPU " + std::to_string(rank)};
    node.stage = mesh.coordinate(rank, Role::pipeline);
    devices[rank] = boost::add_vertex(node, g);
  }
  // The builder appends ops in program order, so vertex order is a topological order.
  std::map<std::int64_t, ViewVertex> previous;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (!detail::in_view_scope(op) || !is_communication(op.kind))
      continue;
    if (op.layer >= 0 && !layers.empty() &&
        std::find(layers.begin(), layers.end(), op.layer) == layers.end())
      continue;
    ViewNode node = detail::detail_node(dag, v);
    if (op.layer >= 0)
      node.lines[0] = "layer " + std::to_string(op.layer) + " " + node.lines[0];
    const ViewVertex n = boost::add_vertex(node, g);
    for (std::int64_t d : devices_of(dag, v)) {
      auto [it, first] = previous.try_emplace(d, n);
      if (!first && !boost::edge(it->second, n, g).second)
        boost::add_edge(it->second, n, ViewEdge{ViewEdgeKind::sequence, {}}, g);
      it->second = n;
    }
    if (const auto* t = std::get_if<TransferOp>(&op.payload)) {
      boost::add_edge(devices.at(t->source), n, ViewEdge{}, g);
      boost::add_edge(n, devices.at(t->destination), ViewEdge{}, g);
    } else {
      for (std::int64_t d : devices_of(dag, v))
        boost::add_edge(devices.at(d), n, ViewEdge{ViewEdgeKind::membership, {}}, g);
    }
  }
  return view;
}

} // namespace helix
