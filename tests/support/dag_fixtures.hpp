// Shared test fixtures over a Dag or a Lowering: find an op, count ops, ask whether check()
// reported a rule, and edit a lowering the way a bug in it would (drop an op and rewire around
// it, move an edge).
#pragma once

#include "helix/graph/check.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/lowering.hpp"
#include "helix/graph/ops.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace helix::testing {

inline std::size_t count(const Dag& dag, auto&& predicate) {
  std::size_t n = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    n += predicate(dag[v]) ? 1 : 0;
  return n;
}

inline bool has_rule(const std::vector<Diagnostic>& diagnostics, CheckRule rule) {
  return std::any_of(diagnostics.begin(), diagnostics.end(),
                     [&](const Diagnostic& d) { return d.rule == rule; });
}

/// The vertex of `kind` on `device` in `layer` (microbatch 0, replica 0).
inline Vertex find(const Dag& dag, OpKind kind, std::int64_t device, std::int64_t layer,
                   std::size_t nth = 0) {
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (op.kind() == kind && op.device == device && op.layer == layer && nth-- == 0)
      return v;
  }
  FAIL("no such vertex");
  return 0;
}

/// Index of the first op of `lowering` for which `predicate` holds.
inline std::size_t find_op(const Lowering& lowering,
                           const std::function<bool(const Op&)>& predicate, std::size_t nth = 0) {
  for (std::size_t i = 0; i < lowering.ops.size(); ++i)
    if (predicate(lowering.ops[i]) && nth-- == 0)
      return i;
  FAIL("no such op");
  return 0;
}

/// The op of `kind` on `device` in `layer` (replica 0, microbatch 0).
inline std::size_t find_op(const Lowering& lowering, OpKind kind, std::int64_t device,
                           std::int64_t layer, std::size_t nth = 0) {
  return find_op(
      lowering,
      [&](const Op& op) {
        return op.kind() == kind && op.device == device && op.layer == layer && op.replica == 0 &&
               op.microbatch == 0;
      },
      nth);
}

/// Removes op `index` and every edge touching it; later ops move down by one.
inline void erase_op(Lowering& lowering, std::size_t index) {
  lowering.ops.erase(lowering.ops.begin() + static_cast<std::ptrdiff_t>(index));
  std::vector<LoweredEdge> kept;
  for (LoweredEdge e : lowering.edges) {
    if (e.source == index || e.target == index)
      continue;
    e.source -= e.source > index ? 1 : 0;
    e.target -= e.target > index ? 1 : 0;
    kept.push_back(e);
  }
  lowering.edges = kept;
}

/// Drops communication op `index` as a lowering that forgot it would: each consumer reads, on
/// its device, what the op's member on that device fed in.
inline void bypass(Lowering& lowering, std::size_t index) {
  std::vector<LoweredEdge> added;
  for (const LoweredEdge& out : lowering.edges) {
    if (out.source != index)
      continue;
    for (const LoweredEdge& in : lowering.edges)
      if (in.target == index &&
          (in.tensor.device == out.tensor.device || transfer_of(lowering.ops[index]))) {
        LoweredEdge e = out;
        e.source = in.source;
        e.tensor.shape = in.tensor.shape;
        e.tensor.placement = in.tensor.placement;
        added.push_back(e);
        break;
      }
  }
  lowering.edges.insert(lowering.edges.end(), added.begin(), added.end());
  erase_op(lowering, index);
}

/// Every edge into op `target` at `port`.
inline LoweredEdge& in_edge(Lowering& lowering, std::size_t target, std::size_t port) {
  for (LoweredEdge& e : lowering.edges)
    if (e.target == target && e.tensor.port == port)
      return e;
  FAIL("no such edge");
  return lowering.edges.front();
}

} // namespace helix::testing
