// Communication only: the devices of replica 0 clustered by stage, every collective joined to
// its members, every transfer from sender to receiver, in program order.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/view/labels.hpp"
#include "helix/view/layer_view.hpp"
#include "helix/view/view.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace helix {

/// Communication only: the devices of replica 0 as nodes clustered by stage, every collective
/// vertex joined to its member devices, every transfer from its source to its destination, and
/// each communication followed by the next one on the same devices (so the picture reads in
/// program order instead of one row of every collective). `layers`, when given, keeps only the
/// collectives of those layers (and every transfer): dot cannot lay out the membership edges of
/// a 96-layer model in reasonable time (minutes for 3,000 edges), and the layers repeat.
template <class Graph = Dag>
inline View communication_view(const Graph& dag, const std::vector<std::int64_t>& layers = {}) {
  View view;
  std::string scope = "communication patterns";
  if (!layers.empty()) {
    scope += ", layer";
    scope += layers.size() > 1 ? "s " : " ";
    for (std::size_t i = 0; i < layers.size(); ++i)
      scope += (i ? ", " : "") + std::to_string(layers[i]);
    scope += " of " + std::to_string(boost::get_property(dag, boost::graph_bundle).model.layers);
  }
  view.title = detail::view_title(dag, scope);
  ViewGraph& g = view.graph;
  const Mesh& mesh = boost::get_property(dag, boost::graph_bundle).mesh;
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
    if (!detail::in_view_scope(op) || !is_communication(op.kind()))
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
    if (const step::Transfer* t = transfer_of(op)) {
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
