// The ops of a Dag grouped by what their cost reads: ops that differ only in where they run
// (device, layer, stage, replica, microbatch, sequences) or in a collective's running number cost
// the same, so a simulation costs one op per class instead of every vertex (126 layers × 8 devices
// of one op are a handful of classes).
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"

#include <boost/container_hash/hash.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace helix::cost::detail {

/// `op` without what no cost reads: op_cost and work read the step (less a collective's
/// `logical`, a running number), the shapes and the DAG's info, never where or when the op runs.
/// Two ops with equal keys therefore have equal `op_cost` and `work` in one DAG; the test
/// "simulate costs one op per class" holds every vertex to that.
constexpr Op cost_key(const Op& op) {
  Op key;
  key.step = op.step;
  if (step::Collective* c = collective_of(key))
    c->logical = 0;
  key.inputs = op.inputs;
  key.input_count = op.input_count;
  key.output = op.output;
  return key;
}

/// A hash of what `cost_key` keeps of `op`: its kind and shapes, and the step data that most often
/// tells ops of one layer apart (a Linear's slice, a collective's group, an attention op's heads, a
/// transfer's ends). Equal keys hash equal; a collision costs only a comparison.
inline std::size_t cost_key_hash(const Op& op) {
  std::size_t seed = op.step.index();
  const auto shape = [&seed](const Shape& s) {
    for (std::size_t i = 0; i < s.rank; ++i)
      boost::hash_combine(seed, s.dims[i]);
    boost::hash_combine(seed, s.rank);
  };
  shape(op.output);
  for (std::size_t i = 0; i < op.input_count && i < op.inputs.size(); ++i)
    shape(op.inputs[i]);
  if (const LinearSlice* l = linear_slice_of(op))
    for (std::int64_t field : {l->rows.begin, l->rows.stride, l->cols.begin, l->cols.stride})
      boost::hash_combine(seed, field);
  if (const step::Collective* c = collective_of(op)) {
    boost::hash_combine(seed, c->group.anchor);
    boost::hash_combine(seed, c->group.axes);
  }
  if (const AttentionHeads* a = attention_heads_of(op)) {
    boost::hash_combine(seed, a->head_begin);
    boost::hash_combine(seed, a->dim_begin);
  }
  if (const step::Transfer* t = transfer_of(op)) {
    boost::hash_combine(seed, t->source);
    boost::hash_combine(seed, t->destination);
  }
  return seed;
}

/// cost_key(a) == cost_key(b), copying only a collective's step (the one part with a field to
/// drop).
constexpr bool same_cost_key(const Op& a, const Op& b) {
  if (!(a.output == b.output && a.input_count == b.input_count && a.inputs == b.inputs))
    return false;
  if (collective_of(a) == nullptr)
    return a.step == b.step;
  return cost_key(a).step == cost_key(b).step;
}

/// Every vertex's class (vertices with equal cost keys share one) and a vertex of each class.
struct CostClasses {
  /// By vertex id.
  std::vector<std::uint32_t> of_vertex;
  /// By class: a vertex of it.
  std::vector<Vertex> representative;
};

template <class Graph = Dag>
CostClasses cost_classes(const Graph& dag) {
  const std::size_t n = boost::num_vertices(dag);
  CostClasses classes;
  classes.of_vertex.resize(n);
  // By hash, the classes whose key hashes so (a few hundred classes for a whole model).
  std::unordered_map<std::size_t, std::vector<std::uint32_t>> by_hash;
  for (Vertex v = 0; v < n; ++v) {
    const Op& op = dag[v];
    std::vector<std::uint32_t>& candidates = by_hash[cost_key_hash(op)];
    const auto found = std::ranges::find_if(candidates, [&](std::uint32_t c) {
      return same_cost_key(dag[classes.representative[c]], op);
    });
    if (found != candidates.end()) {
      classes.of_vertex[v] = *found;
      continue;
    }
    const auto c = static_cast<std::uint32_t>(classes.representative.size());
    classes.representative.push_back(v);
    candidates.push_back(c);
    classes.of_vertex[v] = c;
  }
  return classes;
}

} // namespace helix::cost::detail
