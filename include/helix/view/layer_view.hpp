// One layer's MHA or MLP at full per-device detail: every op of the half on its device, each
// collective phase as one node spanning its members, the tensors crossing the half's border, and
// every edge labelled with its tensor's shape and placement.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/shape.hpp"
#include "helix/view/labels.hpp"
#include "helix/view/view.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace helix {

namespace detail {

inline ViewNodeKind node_kind_of(OpKind kind) {
  if (is_collective(kind))
    return ViewNodeKind::collective;
  if (kind == OpKind::transfer)
    return ViewNodeKind::transfer;
  return ViewNodeKind::operation;
}

/// A node drawing one Dag vertex at full detail: name, output shape, devices.
template <class Graph = Dag>
inline ViewNode detail_node(const Graph& dag, Vertex v) {
  const Op& op = dag[v];
  ViewNode node;
  node.kind = node_kind_of(op.kind());
  node.op = op.kind();
  node.lines = {vertex_name(dag, v), to_string(op.output), vertex_devices(dag, v)};
  node.stage = op.kind() == OpKind::transfer ? -1 : op.stage;
  node.device = op.device;
  node.vertices = {v};
  return node;
}

template <class Graph = Dag>
inline bool is_residual_skip(const Graph& dag, Edge e) {
  return dag[boost::target(e, dag)].kind() == OpKind::residual_add && dag[e].port == 0;
}

/// Names the kinds of `vertices` in order of first appearance: "norm, fc1, gelu".
template <class Graph = Dag>
inline std::string kinds_text(const Graph& dag, const std::vector<Vertex>& vertices) {
  std::vector<OpKind> kinds;
  for (Vertex v : vertices)
    if (std::find(kinds.begin(), kinds.end(), dag[v].kind()) == kinds.end())
      kinds.push_back(dag[v].kind());
  std::string text;
  for (OpKind k : kinds)
    text += (text.empty() ? "" : ", ") + std::string(op_kind_name(k));
  return text;
}

} // namespace detail

/// One layer's MHA or MLP at full per-device detail: every op of the layer's half (replica 0,
/// microbatch 0) on its device, each collective phase as one node spanning its members, and a
/// boundary node for each tensor entering ("layer 0 input x") or leaving the half. Each edge is
/// labelled with its tensor's shape and placement ("[2,16,1024] tg:P·tp:P").
/// @pre `part` is attention or mlp.
template <class Graph = Dag>
inline View sublayer_view(const Graph& dag, std::int64_t layer, Sublayer part) {
  const bool mlp = part == Sublayer::mlp;
  View view;
  view.title = detail::view_title(dag, "layer " + std::to_string(layer) + " " +
                                           detail::sublayer_name(part) + ", full detail");
  ViewGraph& g = view.graph;
  std::map<Vertex, ViewVertex> inside;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (detail::in_view_scope(op) && op.layer == layer && sublayer_of(op) == part)
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
        boost::add_edge(it->second, node, ViewEdge{kind, tensor_text(dag, e)}, g);
        continue;
      }
      auto [it, fresh] = entering.try_emplace({u, dag[e].device});
      if (fresh) {
        const Op& producer = dag[u];
        ViewNode b;
        b.kind = ViewNodeKind::boundary;
        b.op = producer.kind();
        std::string from = "from " + std::string(op_kind_name(producer.kind()));
        if (producer.layer >= 0)
          from += " (layer " + std::to_string(producer.layer) + ")";
        b.lines = {prefix + (mlp ? "input y" : "input x"), from, to_string(dag[e].shape),
                   devices_text({dag[e].device})};
        b.stage = dag[v].stage;
        b.device = dag[e].device;
        it->second = boost::add_vertex(b, g);
      }
      boost::add_edge(it->second, node, ViewEdge{kind, tensor_text(dag, e)}, g);
    }
    std::vector<std::string> consumers;
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag))) {
      const Vertex w = boost::target(e, dag);
      if (inside.count(w))
        continue;
      std::string consumer(op_kind_name(dag[w].kind()));
      if (dag[w].layer >= 0 && dag[w].layer != layer)
        consumer += " (layer " + std::to_string(dag[w].layer) + ")";
      if (std::find(consumers.begin(), consumers.end(), consumer) == consumers.end())
        consumers.push_back(consumer);
      if (leaving.count(v))
        continue;
      ViewNode b;
      b.kind = ViewNodeKind::boundary;
      b.op = dag[w].kind();
      b.lines = {prefix + (mlp ? "output z" : "output y"), "", to_string(dag[e].shape),
                 devices_text({dag[e].device})};
      b.stage = dag[v].stage;
      b.device = dag[e].device;
      leaving[v] = boost::add_vertex(b, g);
      boost::add_edge(node, leaving[v], ViewEdge{ViewEdgeKind::tensor, tensor_text(dag, e)}, g);
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

template <class Graph = Dag>
inline View attention_view(const Graph& dag, std::int64_t layer) {
  return sublayer_view(dag, layer, Sublayer::attention);
}
template <class Graph = Dag>
inline View mlp_view(const Graph& dag, std::int64_t layer) {
  return sublayer_view(dag, layer, Sublayer::mlp);
}

} // namespace helix
