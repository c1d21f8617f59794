// The order in which devices run a Dag's vertices: one global list, topological and earliest
// microbatch first, restricted to each device. Because every device's sequence comes from the same
// global order, members of a collective always meet it in a consistent order (no deadlock), and
// the simulation and the memory estimate agree on what runs when.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/placement_rules.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace helix::cost {

/// Every vertex once, each after all its producers, preferring the lowest microbatch and then the
/// lowest vertex id (the lowering numbers ops layer by layer, so this follows the forward pass).
/// With pipeline stages this is the GPipe forward schedule: stage 0 runs microbatch k + 1 while
/// stage 1 runs microbatch k.
/// @throws std::invalid_argument when the Dag has a cycle.
template <class Graph = Dag>
inline std::vector<Vertex> schedule_order(const Graph& dag) {
  const std::size_t n = boost::num_vertices(dag);
  // When every edge runs to a higher index and microbatches never decrease with the index (a
  // built DAG of one microbatch, or of several on one replica), the smallest remaining index is
  // always ready and has the least key: the order is the index order, no queue needed.
  bool in_index_order = index_order_is_topological(dag);
  for (Vertex v = 1; in_index_order && v < n; ++v)
    in_index_order = dag[v - 1].microbatch <= dag[v].microbatch;
  if (in_index_order) {
    std::vector<Vertex> order(n);
    std::iota(order.begin(), order.end(), Vertex{0});
    return order;
  }
  std::vector<std::size_t> waiting(n);
  using Key = std::tuple<std::int64_t, Vertex>;
  std::priority_queue<Key, std::vector<Key>, std::greater<Key>> ready;
  for (Vertex v = 0; v < n; ++v) {
    waiting[v] = boost::in_degree(v, dag);
    if (waiting[v] == 0)
      ready.emplace(dag[v].microbatch, v);
  }
  std::vector<Vertex> order;
  order.reserve(n);
  while (!ready.empty()) {
    const Vertex v = std::get<1>(ready.top());
    ready.pop();
    order.push_back(v);
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag))) {
      const Vertex w = boost::target(e, dag);
      if (--waiting[w] == 0)
        ready.emplace(dag[w].microbatch, w);
    }
  }
  if (order.size() != n)
    throw std::invalid_argument("helix::cost::schedule_order: the Dag has a cycle");
  return order;
}

/// For each device of the mesh, the vertices it takes part in (compute ops, collectives it is a
/// member of, transfers it sends or receives), in `order`.
template <class Graph = Dag>
inline std::vector<std::vector<Vertex>> device_sequences(const Graph& dag,
                                                         const std::vector<Vertex>& order) {
  std::vector<std::vector<Vertex>> sequences(
      static_cast<std::size_t>(boost::get_property(dag, boost::graph_bundle).mesh.size()));
  for (Vertex v : order)
    for (std::int64_t d : devices_of(dag, v))
      sequences[static_cast<std::size_t>(d)].push_back(v);
  return sequences;
}

} // namespace helix::cost
