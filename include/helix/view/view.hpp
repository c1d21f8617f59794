// What a picture of a Dag is, as data: nodes (an op, a collective, a coarsened block, a device, a
// tensor crossing the picture's border) and edges (a tensor, a residual skip, membership in a
// collective, program order), in a Boost graph of their own. Drawing them (DOT) is io's job.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/steps.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <cstdint>
#include <string>
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

} // namespace helix
