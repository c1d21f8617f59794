// The whole model coarsened for people: per stage and layer one box for the MHA and one for the
// MLP, the logical all-reduces between them with their phases summarized, the residual adds, the
// send/recv between stages (and the all-gather of a scatter-gather send), the input and the output.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/stages.hpp"
#include "helix/view/labels.hpp"
#include "helix/view/layer_view.hpp"
#include "helix/view/view.hpp"

#include <boost/graph/adjacency_list.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace helix {

namespace detail {

/// What a Dag vertex becomes in the model view; vertices with equal keys share one node.
enum class BlockPart : std::uint8_t {
  input,
  transfer,
  compute,
  residual,
  collective,
  output,
  embedding, ///< the vocab-parallel lookups and their all-reduce
  head,      ///< last token, final norm, LM head and the logits' all-gather
  gather,    ///< the all-gather of the slices a scatter-gather pipeline send delivered to a stage
  folded     ///< a stage's middle layers, drawn as one box: they repeat the layers around them
};

/// Layers of a stage drawn in detail: the first two and the last; the ones between are folded
/// into one box, so a 126-layer model draws about as tall as a 4-layer one.
inline constexpr std::int64_t detailed_leading_layers = 2;

/// Whether `layer` is folded: past the first two of its stage and before its last.
inline bool folded_layer(const Model& model, const PlanSpec& plan, std::int64_t stage,
                         std::int64_t layer) {
  if (layer < 0)
    return false;
  const std::int64_t first = first_layer_of_stage(model, plan, stage);
  const std::int64_t last = first + layers_in_stage(model, plan, stage) - 1;
  return layer >= first + detailed_leading_layers && layer < last;
}
using BlockKey = std::tuple<BlockPart, std::int64_t, std::int64_t>;

template <class Graph = Dag>
inline BlockKey block_key(const Graph& dag, Vertex v) {
  const Op& op = dag[v];
  const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
  if (folded_layer(info.model, info.plan, op.stage, op.layer))
    return BlockKey{BlockPart::folded, op.stage, 0};
  const auto part = static_cast<std::int64_t>(sublayer_of(op));
  const BlockKey compute{BlockPart::compute, op.layer, part};
  // Partial scores are summed inside attention, before softmax, and KV-parallel partials are
  // exchanged before their merge: part of the MHA block.
  const BlockKey embedding{BlockPart::embedding, 0, 0}, head{BlockPart::head, 0, 0};
  const auto collective = [&](const step::Collective& c) {
    if (c.purpose == CollectivePurpose::embedding)
      return embedding;
    if (c.purpose == CollectivePurpose::logits)
      return head;
    if (c.purpose == CollectivePurpose::pipeline_activation)
      return BlockKey{BlockPart::gather, op.stage, 0};
    return c.purpose == CollectivePurpose::attention_scores ||
                   c.purpose == CollectivePurpose::attention_partials
               ? compute
               : BlockKey{BlockPart::collective, op.layer, part};
  };
  return visit_step(op, helix::detail::overloaded{
                            [](const step::Input&) {
                              return BlockKey{BlockPart::input, 0, 0};
                            },
                            [](const step::Output&) {
                              return BlockKey{BlockPart::output, 0, 0};
                            },
                            [&](const step::Transfer&) {
                              return BlockKey{BlockPart::transfer, op.stage, 0};
                            },
                            [&](const step::ResidualAdd&) {
                              return BlockKey{BlockPart::residual, op.layer, part};
                            },
                            [&](const step::AllReduce& c) { return collective(c); },
                            [&](const step::ReduceScatter& c) { return collective(c); },
                            [&](const step::AllGather& c) { return collective(c); },
                            [&](const step::AllToAll& c) { return collective(c); },
                            [&](const step::Norm&) { return op.layer < 0 ? head : compute; },
                            [&](const step::Embedding&) { return embedding; },
                            [&](const step::LastToken&) { return head; },
                            [&](const step::LmHead&) { return head; },
                            [&](const step::ParallelSum&) { return compute; },
                            [&](const step::QProjection&) { return compute; },
                            [&](const step::KProjection&) { return compute; },
                            [&](const step::VProjection&) { return compute; },
                            [&](const step::OutProjection&) { return compute; },
                            [&](const step::Fc1&) { return compute; },
                            [&](const step::GateProjection&) { return compute; },
                            [&](const step::SwiGlu&) { return compute; },
                            [&](const step::Fc2&) { return compute; },
                            [&](const step::KVCache&) { return compute; },
                            [&](const step::KVAppend&) { return compute; },
                            [&](const step::AttentionScores&) { return compute; },
                            [&](const step::Softmax&) { return compute; },
                            [&](const step::AttentionContext&) { return compute; },
                            [&](const step::PartialAttention&) { return compute; },
                            [&](const step::LogSumExpMerge&) { return compute; },
                            [&](const step::Gelu&) { return compute; },
                        });
}

/// "reduce-scatter ×2 → all-reduce ×4 → all-gather ×2", or "all-reduce ×1 (flat ring)".
template <class Graph = Dag>
inline std::string phases_text(const Graph& dag, const std::vector<Vertex>& vertices) {
  std::map<CollectivePhase, std::size_t> phases;
  for (Vertex v : vertices)
    if (const step::Collective* c = collective_of(dag[v]))
      ++phases[c->phase];
  if (phases.size() == 1 && phases.begin()->first == CollectivePhase::flat)
    return "all-reduce ×" + std::to_string(phases.begin()->second) + " (flat ring)";
  std::string text;
  for (const auto& [phase, n] : phases)
    text += (text.empty() ? "" : " → ") + std::string(collective_phase_operation(phase)) + " ×" +
            std::to_string(n);
  return text;
}

template <class Graph = Dag>
inline std::vector<std::int64_t> devices_of_all(const Graph& dag,
                                                const std::vector<Vertex>& vertices) {
  std::vector<std::int64_t> devices;
  for (Vertex v : vertices)
    for (std::int64_t d : devices_of(dag, v))
      devices.push_back(d);
  return devices;
}

template <class Graph = Dag>
inline ViewNode block_node(const Graph& dag, const BlockKey& key,
                           const std::vector<Vertex>& vertices,
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
  node.op = first.kind();
  node.stage = first.stage;
  node.vertices = vertices;
  std::vector<std::int64_t> devices = devices_of_all(dag, vertices);
  switch (part) {
  case BlockPart::input:
    node.lines = {(boost::get_property(dag, boost::graph_bundle).model.vocab > 0 ? "input token ids"
                                                                                 : "input x") +
                      count,
                  shapes, devices_text(devices)};
    node.stage = -1;
    break;
  case BlockPart::output:
    node.lines = {"output" + count, shapes, devices_text(devices)};
    node.stage = -1;
    break;
  case BlockPart::folded: {
    std::int64_t low = std::numeric_limits<std::int64_t>::max(), high = -1;
    for (Vertex v : vertices) {
      low = std::min(low, dag[v].layer);
      high = std::max(high, dag[v].layer);
    }
    node.lines = {"layers " + std::to_string(low) + "–" + std::to_string(high) + " ×" +
                      std::to_string(high - low + 1),
                  "each as layer " + std::to_string(low - 1) +
                      " above: MHA, MLP, their all-reduces and residual adds",
                  std::to_string(vertices.size()) + " operators", devices_text(devices)};
    break;
  }
  case BlockPart::embedding:
  case BlockPart::head:
    node.lines = {part == BlockPart::embedding ? "vocab-parallel embedding" : "LM head",
                  kinds_text(dag, vertices), shapes, devices_text(devices)};
    break;
  case BlockPart::transfer: {
    node.kind = ViewNodeKind::transfer;
    std::vector<std::int64_t> sources, destinations;
    for (Vertex v : vertices)
      if (const step::Transfer* t = transfer_of(dag[v])) {
        sources.push_back(t->source);
        destinations.push_back(t->destination);
      }
    node.lines = {"send/recv" + count + ", stage " + std::to_string(a - 1) + " → " +
                      std::to_string(a),
                  shapes, devices_text(sources) + " → " + devices_text(destinations)};
    // A scatter-gather send: each carries a slice of hidden, the receivers gather them.
    const std::int64_t hidden = boost::get_property(dag, boost::graph_bundle).model.hidden;
    if (const step::Transfer* t = transfer_of(first); t && t->columns.total() != hidden)
      node.lines.insert(node.lines.begin() + 1,
                        "each 1/" +
                            std::to_string(hidden / std::max<std::int64_t>(1, t->columns.total())) +
                            " of hidden (scatter-gather)");
    node.stage = -1;
    break;
  }
  case BlockPart::gather:
    node.kind = ViewNodeKind::collective;
    node.lines = {"all-gather" + count + " of the slices sent, stage " + std::to_string(a),
                  "flat ring over " + std::to_string(devices_of(dag, vertices.front()).size()) +
                      " GPUs each",
                  shapes, devices_text(devices)};
    break;
  case BlockPart::residual:
    node.lines = {layer + "residual add" + count +
                      (boost::get_property(dag, boost::graph_bundle).model.parallel_block
                           ? " (x + MHA + MLP)"
                       : static_cast<Sublayer>(b) == Sublayer::mlp ? " (y + MLP)"
                                                                   : " (x + MHA)"),
                  shapes, devices_text(devices)};
    break;
  case BlockPart::collective: {
    node.kind = ViewNodeKind::collective;
    node.op = OpKind::all_reduce;
    std::set<std::int64_t> logical;
    CollectivePurpose purpose = CollectivePurpose::attention_output;
    for (Vertex v : vertices)
      if (const step::Collective* c = collective_of(dag[v])) {
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
      (is_collective(dag[v].kind()) ? scores : compute).push_back(v);
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
/// send/recv between stages (and the all-gather that follows a scatter-gather send), the input
/// and the output. Past a stage's first two layers, its
/// layers up to the last are one box ("layers 2–124 ×123"): they repeat the ones drawn. Edges carry
/// the tensor shape and how many per-device tensors they stand for.
template <class Graph = Dag>
inline View model_view(const Graph& dag) {
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

} // namespace helix
