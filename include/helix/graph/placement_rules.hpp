// One placement rule per step: from the placements of an op's inputs (and which of its slices
// vary along each mesh axis) to the placement of its output, or the reason the op cannot take
// its inputs as they are placed (a partial sum reaching a non-linear op, a reduction over an
// axis that owes nothing, ...). The builder stamps the derived placements on the edges; check()
// derives them again and reports every problem by op.
#pragma once

#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/placement.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"

#include <boost/graph/graph_traits.hpp>
#include <boost/graph/topological_sort.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace helix {

/// What of an op's step changes from one member of a mesh axis to the next, found by comparing
/// the op with its counterparts on the other members (same replica, microbatch, layer and kind).
struct Variation {
  bool rows = false;         ///< a Linear's weight rows
  bool cols = false;         ///< a Linear's weight columns
  bool heads = false;        ///< an attention op's query heads
  bool kv_heads = false;     ///< an attention op's kv heads
  bool dims = false;         ///< an attention op's head_dim slice
  bool kv_positions = false; ///< a KV-parallel op's shard of the cached positions
  friend constexpr bool operator==(const Variation&, const Variation&) = default;
};
using AxisVariation = std::array<Variation, role_count>;

/// The output placement a step makes, or why it cannot.
struct PlacementResult {
  TensorPlacement output{};
  std::string problem; ///< empty when the inputs are placed as the step needs
};

namespace detail {

inline std::string axis_words(Role role) {
  return std::string(role_key(role)) + " (" + std::string(role_name(role)) + ")";
}

} // namespace detail

/// The output placement of `op` given its inputs' placements (by port; a collective's first
/// member's) and what of its step varies along each axis; `roles` are the mesh axes other than
/// the pipeline.
///
/// Rules, per axis: a column-sliced Linear maps Replicate to Shard(last); a row-sliced Linear
/// maps Shard(last) to Partial; an all-reduce turns Partial into Replicate; a reduce-scatter
/// Partial into Shard(last); an all-gather Shard(last) into Replicate; a transfer hands on its
/// input's placement, or, sending a slice of hidden, makes Shard(2) over the receiving stage's
/// tensor axes, its slice the destination's share; scores over a head_dim
/// slice are Partial, over a head group Shard(1); norm, softmax, GELU and the output take no
/// Partial; a residual add adds two tensors placed alike.
///
/// Example: in `pp=2,tg=4x4` FC2 makes tg:P·tp:P; the reduce-scatter inside the group turns it
/// into tg:P·tp:S(2), the all-reduce across groups into tp:S(2), the all-gather into R.
inline PlacementResult placement_rule(const Op& op, const std::vector<TensorPlacement>& in,
                                      const AxisVariation& varies, const Mesh& mesh) {
  PlacementResult r;
  std::string& problem = r.problem;
  const auto fail = [&problem](const std::string& what) {
    if (problem.empty())
      problem = what;
  };
  // Called once per vertex of the DAG: the roles are a fixed array, not a heap allocation.
  std::array<Role, role_count> stage_roles{};
  std::size_t role_total = 0;
  for (std::size_t i = 0; i < mesh.axis_count; ++i)
    if (mesh.axes[i].role != Role::pipeline)
      stage_roles[role_total++] = mesh.axes[i].role;
  const std::span<const Role> roles(stage_roles.data(), role_total);
  const auto input = [&](std::size_t port) {
    return port < in.size() ? in[port] : TensorPlacement{};
  };
  const auto vary = [&](Role role) { return varies[static_cast<std::size_t>(role)]; };
  const auto batch_or = [](Role role, Placement otherwise) {
    return role == Role::data ? Placement::shard(0) : otherwise;
  };
  // Non-linear in each element, or whole-tensor: no addends, and for a norm no hidden shards.
  const auto no_partial = [&](std::string_view what, std::size_t port = 0) {
    for (Role role : roles) {
      if (input(port)[role].is_partial())
        fail(std::string(what) + " reads a partial sum over " + detail::axis_words(role) +
             ": the sum is owed before a non-linear op");
      if (input(port)[role].is_log_sum_exp_partial())
        fail(std::string(what) + " reads partial attention over " + detail::axis_words(role) +
             ": its log-sum-exp merge is owed first");
    }
  };
  const auto collective = [&](const step::Collective& c, Placement from, Placement to,
                              std::string_view verb) {
    r.output = input(0);
    for (Role role : roles) {
      if (!(c.group.axes & axis_bit(role)))
        continue;
      if (r.output[role] != from)
        fail(std::string(verb) + " over " + detail::axis_words(role) + ", which holds " +
             to_string(r.output[role]) + " there, not " + to_string(from) +
             (from.is_partial() ? ": that axis owes no sum" : ""));
      r.output[role] = to;
    }
  };
  const auto linear = [&](const LinearSlice&) {
    const TensorPlacement x = input(0);
    for (Role role : roles) {
      const Variation v = vary(role);
      const Placement p = x[role];
      if (role == Role::data || (p.is_shard() && p.dim == 0)) {
        if (v.rows || v.cols)
          fail("its weight slice changes along " + detail::axis_words(role));
        r.output[role] = p;
      } else if (p.is_partial()) {
        if (v.rows || v.cols)
          fail("slices its weight along " + detail::axis_words(role) +
               ", whose input is still a partial sum");
        r.output[role] = p;
      } else if (p.is_replicate()) {
        if (v.rows)
          fail("holds a row slice along " + detail::axis_words(role) +
               " but reads the whole input there");
        r.output[role] = v.cols ? Placement::shard(2) : Placement::replicate();
      } else { // Shard(2): the rows it holds must follow the input's shard
        if (!v.rows)
          fail("reads a shard along " + detail::axis_words(role) + " but holds every row there");
        if (v.cols)
          fail("slices both rows and columns along " + detail::axis_words(role));
        r.output[role] = Placement::partial();
      }
    }
  };
  // Along data nothing of an attention op may change; along a tensor axis K and V are sharded
  // exactly where their kv heads or head_dim slice change.
  const auto attention_axis = [&](Role role, const Placement& kv, std::string_view tensor) {
    const Variation v = vary(role);
    if (role == Role::data) {
      if (v.heads || v.kv_heads || v.dims)
        fail("its heads change along " + detail::axis_words(role));
      return false;
    }
    const bool sharded = v.kv_heads || v.dims;
    if (kv.is_shard() != sharded)
      fail("reads " + std::string(tensor) + (kv.is_shard() ? " sharded" : " whole") + " along " +
           detail::axis_words(role) + ", where its kv heads and head_dim slice " +
           (sharded ? "change" : "do not change"));
    return true;
  };
  const auto scores = [&] {
    no_partial("the scores", 0);
    no_partial("the scores", 1);
    for (Role role : roles) {
      const Variation v = vary(role);
      const Placement q = input(0)[role];
      if (!attention_axis(role, input(1)[role], "K")) {
        r.output[role] = q;
      } else if (v.dims) {
        if (!q.is_shard())
          fail("scores a head_dim slice along " + detail::axis_words(role) +
               " from a Q not sharded there");
        r.output[role] = Placement::partial();
      } else if (v.heads) {
        if (!q.is_shard())
          fail("scores a head group along " + detail::axis_words(role) +
               " from a Q not sharded there");
        r.output[role] = Placement::shard(1);
      } else {
        if (!q.is_replicate())
          fail("scores every head along " + detail::axis_words(role) + " from a Q sharded there");
        r.output[role] = Placement::replicate();
      }
    }
  };
  const auto context = [&] {
    no_partial("the attention context", 0);
    no_partial("the attention context", 1);
    for (Role role : roles) {
      const Variation v = vary(role);
      const Placement p = input(0)[role];
      if (!attention_axis(role, input(1)[role], "V")) {
        r.output[role] = p;
      } else if (v.dims) {
        if (!p.is_replicate())
          fail("weights a head_dim slice along " + detail::axis_words(role) +
               " with probabilities not whole there");
        r.output[role] = Placement::shard(2);
      } else if (v.heads) {
        if (!p.is_shard())
          fail("weights a head group along " + detail::axis_words(role) +
               " with probabilities not sharded there");
        r.output[role] = Placement::shard(2);
      } else {
        r.output[role] = Placement::replicate();
      }
    }
  };
  // A full send hands on the sender's placement. A scatter-gather send slices an activation the
  // sender holds whole and carries the share that Shard(2) over the receiving stage's tensor axes
  // gives the destination: member k of the n tensor devices (ring order, the order the all-gather
  // concatenates in) holds columns [k·h/n, (k+1)·h/n).
  const auto transfer = [&](const step::Transfer& t) {
    r.output = input(0);
    const std::int64_t width = op.inputs[0].rank > 0 ? op.inputs[0].last() : 0;
    if (t.columns == IndexRuns::range(0, width))
      return;
    const DeviceGroup stage{t.destination, tensor_axes};
    const std::int64_t n = group_size(mesh, stage), k = group_index(mesh, stage, t.destination);
    const IndexRuns share = IndexRuns::range(k * (width / n), width / n);
    const auto columns = [](const IndexRuns& c) {
      return "columns [" + std::to_string(c.begin) + ", " + std::to_string(c.begin + c.size) + ")" +
             (c.count > 1 ? " ×" + std::to_string(c.count) : "");
    };
    if (n < 2 || width % n != 0)
      fail("sends hidden " + columns(t.columns) + " of " + std::to_string(width) +
           ", but its destination's stage has " + std::to_string(n) +
           " tensor devices, which do not share hidden evenly");
    else if (t.columns != share)
      fail("sends hidden " + columns(t.columns) + " to GPU " + std::to_string(t.destination) +
           ", member " + std::to_string(k) + " of its stage's " + std::to_string(n) +
           " tensor devices, whose share under S(2) is " + columns(share));
    for (Role role : roles) {
      if (!(axis_bit(role) & tensor_axes))
        continue;
      if (!input(0)[role].is_replicate())
        fail("slices an activation that is " + to_string(input(0)[role]) + ", not whole, along " +
             detail::axis_words(role));
      r.output[role] = Placement::shard(2);
    }
  };
  // KV-parallel decode. Along the axis whose KV shard changes, K and V are Shard(1) (their
  // sequence), Q whole, and the output owes a log-sum-exp merge; along head axes as the scores.
  const auto partial_attention = [&] {
    for (std::size_t port = 0; port < 3; ++port)
      no_partial("the partial attention", port);
    for (Role role : roles) {
      const Variation v = vary(role);
      const Placement q = input(0)[role], k = input(1)[role], values = input(2)[role];
      if (v.kv_positions) {
        if (k != Placement::shard(1) || values != Placement::shard(1))
          fail("attends over a KV shard along " + detail::axis_words(role) +
               " but reads K and V not sharded along the sequence there");
        if (!q.is_replicate())
          fail("attends over a KV shard along " + detail::axis_words(role) +
               " with a Q not whole there");
        r.output[role] = Placement::log_sum_exp_partial();
        continue;
      }
      if (!attention_axis(role, k, "K")) {
        r.output[role] = q;
        continue;
      }
      attention_axis(role, values, "V");
      if (v.dims)
        fail("attends over a head_dim slice along " + detail::axis_words(role) +
             ": partial attention needs whole heads");
      if (v.heads != q.is_shard())
        fail("reads Q " + std::string(q.is_shard() ? "sharded" : "whole") + " along " +
             detail::axis_words(role) + ", where its heads " +
             (v.heads ? "change" : "do not change"));
      r.output[role] = v.heads ? Placement::shard(1) : Placement::replicate();
    }
  };
  // Over its group the partials owing a merge become the member's heads, Shard(2) of
  // [b, members, heads, width]; elsewhere the heads move from dimension 1 to 2.
  const auto all_to_all = [&](const step::AllToAll& c) {
    for (Role role : roles) {
      const Placement p = input(0)[role];
      if (c.group.axes & axis_bit(role)) {
        if (!p.is_log_sum_exp_partial())
          fail("exchanges partial attention over " + detail::axis_words(role) + ", which holds " +
               to_string(p) + " there, not P(lse): that axis owes no merge");
        r.output[role] = Placement::shard(2);
      } else if (p.is_partial() || p.is_log_sum_exp_partial()) {
        fail("exchanges tensors that still owe a reduction over " + detail::axis_words(role));
      } else {
        r.output[role] = p == Placement::shard(1) ? Placement::shard(2) : p;
      }
    }
  };
  const auto merge = [&] {
    no_partial("the log-sum-exp merge");
    for (Role role : roles) {
      const Placement p = input(0)[role];
      if (role == Role::data) {
        r.output[role] = p;
      } else if (vary(role).heads) {
        if (p != Placement::shard(2))
          fail("merges a share of the heads along " + detail::axis_words(role) +
               " from partials not sharded by heads there");
        r.output[role] = Placement::shard(2);
      } else {
        if (!p.is_replicate())
          fail("merges every head along " + detail::axis_words(role) +
               " from partials sharded there");
        r.output[role] = Placement::replicate();
      }
    }
  };
  const auto same_inputs = [&](std::string_view what) {
    r.output = input(0);
    if (input(0) != input(1))
      fail(std::string(what) + " combines tensors placed differently (" +
           placement_text(input(0), mesh) + " and " + placement_text(input(1), mesh) + ")");
  };
  visit_step(op,
             detail::overloaded{
                 [&](const step::Input&) {
                   for (Role role : roles)
                     r.output[role] = batch_or(role, Placement::replicate());
                 },
                 [&](const step::KVCache&) {
                   for (Role role : roles)
                     r.output[role] = batch_or(role, vary(role).kv_positions ? Placement::shard(1)
                                                     : vary(role).kv_heads || vary(role).dims
                                                         ? Placement::shard(2)
                                                         : Placement::replicate());
                 },
                 [&](const step::KVAppend&) {
                   // The new token, whole along a sequence-sharded axis, joins its shard.
                   r.output = input(0);
                   for (Role role : roles)
                     if (input(1)[role] != input(0)[role] &&
                         !(input(0)[role] == Placement::shard(1) && input(1)[role].is_replicate()))
                       fail("the KV append combines tensors placed differently (" +
                            placement_text(input(0), mesh) + " and " +
                            placement_text(input(1), mesh) + ")");
                 },
                 [&](const step::PartialAttention&) { partial_attention(); },
                 [&](const step::LogSumExpMerge&) { merge(); },
                 [&](const step::AllToAll& c) { all_to_all(c); },
                 [&](const step::Embedding&) {
                   // A vocabulary slice finds only its own tokens: a partial sum along the
                   // axes where the slice changes.
                   no_partial("the embedding");
                   for (Role role : roles) {
                     const Placement ids = input(0)[role];
                     if (role == Role::data) {
                       if (vary(role).rows)
                         fail("its vocabulary slice changes along " + detail::axis_words(role));
                       r.output[role] = ids;
                     } else if (!ids.is_replicate()) {
                       fail("reads token ids not whole along " + detail::axis_words(role));
                     } else {
                       r.output[role] =
                           vary(role).rows ? Placement::partial() : Placement::replicate();
                     }
                   }
                 },
                 [&](const step::LastToken&) {
                   no_partial("the last-token selection");
                   r.output = input(0);
                 },
                 [&](const step::LmHead& l) { linear(l); },
                 [&](const step::ParallelSum&) { same_inputs("the parallel block's sum"); },
                 [&](const step::Norm&) {
                   no_partial("the norm");
                   r.output = input(0);
                   for (Role role : roles)
                     if (r.output[role].is_shard() && r.output[role].dim == 2)
                       fail("the norm reads hidden sharded over " + detail::axis_words(role));
                 },
                 [&](const step::QProjection& l) { linear(l); },
                 [&](const step::KProjection& l) { linear(l); },
                 [&](const step::VProjection& l) { linear(l); },
                 [&](const step::OutProjection& l) { linear(l); },
                 [&](const step::Fc1& l) { linear(l); },
                 [&](const step::GateProjection& l) { linear(l); },
                 [&](const step::Fc2& l) { linear(l); },
                 [&](const step::AttentionScores&) { scores(); },
                 [&](const step::Softmax&) {
                   no_partial("softmax");
                   r.output = input(0);
                 },
                 [&](const step::AttentionContext&) { context(); },
                 [&](const step::ResidualAdd&) { same_inputs("the residual add"); },
                 [&](const step::SwiGlu&) {
                   no_partial("SwiGLU", 0);
                   no_partial("SwiGLU", 1);
                   same_inputs("SwiGLU");
                 },
                 [&](const step::Gelu&) {
                   no_partial("GELU");
                   r.output = input(0);
                 },
                 [&](const step::AllReduce& c) {
                   collective(c, Placement::partial(), Placement::replicate(), "all-reduces");
                 },
                 [&](const step::ReduceScatter& c) {
                   collective(c, Placement::partial(), Placement::shard(op.output.rank - 1),
                              "reduce-scatters");
                 },
                 [&](const step::AllGather& c) {
                   collective(c, Placement::shard(op.output.rank - 1), Placement::replicate(),
                              "all-gathers");
                 },
                 [&](const step::Transfer& t) { transfer(t); },
                 [&](const step::Output&) {
                   no_partial("the output");
                   r.output = input(0);
                   for (Role role : roles)
                     if (role != Role::data && r.output[role].is_shard())
                       fail("the output is sharded over " + detail::axis_words(role) +
                            ": each device must hold its sequences whole");
                 },
             });
  return r;
}

/// A problem with the placements of a graph: the vertex and what is wrong.
template <class Vertex>
struct PlacementProblem {
  Vertex vertex;
  std::string what;
};

namespace detail {

/// Identifies an op among its counterparts on other devices (of its stage, in every replica):
/// microbatch, stage, layer, kind and which of several ops of the kind (keys or values).
using CounterpartKey = std::tuple<std::int64_t, std::int64_t, std::int64_t, int, int>;

inline int counterpart_discriminator(const Op& op) {
  // KV caches and appends: keys and values are separate sets of counterparts.
  if (const step::KVCache* c = step_if<step::KVCache>(op))
    return c->values ? 1 : 0;
  if (const step::KVAppend* a = step_if<step::KVAppend>(op))
    return a->values ? 1 : 0;
  return 0;
}

inline Variation difference(const Op& a, const Op& b) {
  Variation v;
  if (const auto sa = weight_slice_of(a), sb = weight_slice_of(b); sa && sb) {
    v.rows = sa->slice.rows != sb->slice.rows;
    v.cols = sa->slice.cols != sb->slice.cols;
  }
  if (const AttentionHeads* ha = attention_heads_of(a), *hb = attention_heads_of(b); ha && hb) {
    v.heads = ha->head_begin != hb->head_begin;
    v.kv_heads = ha->kv_head_begin != hb->kv_head_begin;
    v.dims = ha->dim_begin != hb->dim_begin;
  }
  if (const KVShard* ka = kv_shard_of(a), *kb = kv_shard_of(b); ka && kb)
    v.kv_positions = ka->index != kb->index;
  return v;
}

} // namespace detail

/// What varies along each axis for every Linear and attention op of `graph` (all-false for other
/// ops): an op's counterparts are the ops of the same microbatch, stage, layer and kind on its
/// stage's devices in every replica; a property varies along an axis when any op of the set
/// differs from its counterpart at coordinate 0 of that axis (along data nothing should).
template <class Graph>
std::vector<AxisVariation> slice_variation(const Graph& graph, const Mesh& mesh) {
  using Vertex = typename boost::graph_traits<Graph>::vertex_descriptor;
  const std::size_t n = num_vertices(graph);
  std::vector<AxisVariation> variation(n);
  // (key, device, vertex): the device sits beside the key so that sorting and searching by it
  // do not reach into the graph's vertex storage, which for 10^6 vertices is mostly cache misses.
  struct Keyed {
    detail::CounterpartKey key;
    std::int64_t device;
    std::size_t vertex;
  };
  std::vector<Keyed> keyed;
  for (Vertex v = 0; v < n; ++v) {
    const Op& op = graph[v];
    if (!is_linear(op.kind()) && !is_attention(op.kind()))
      continue;
    keyed.push_back({{op.microbatch, op.stage, op.layer, static_cast<int>(op.kind()),
                      detail::counterpart_discriminator(op)},
                     op.device,
                     v});
  }
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    return std::tie(a.key, a.device) < std::tie(b.key, b.device);
  });
  for (std::size_t begin = 0; begin < keyed.size();) {
    std::size_t end = begin;
    while (end < keyed.size() && keyed[end].key == keyed[begin].key)
      ++end;
    AxisVariation set{};
    for (std::size_t i = 0; i < mesh.axis_count; ++i) {
      const Role role = mesh.axes[i].role;
      if (role == Role::pipeline)
        continue;
      Variation& v = set[static_cast<std::size_t>(role)];
      for (std::size_t k = begin; k < end; ++k) {
        const Op& op = graph[keyed[k].vertex];
        const std::int64_t peer_device = mesh.with_coordinate(keyed[k].device, role, 0);
        // Counterparts are sorted by device: find the one on peer_device.
        const auto peer =
            std::lower_bound(keyed.begin() + static_cast<std::ptrdiff_t>(begin),
                             keyed.begin() + static_cast<std::ptrdiff_t>(end), peer_device,
                             [](const Keyed& entry, std::int64_t d) { return entry.device < d; });
        if (peer == keyed.begin() + static_cast<std::ptrdiff_t>(end) || peer->device != peer_device)
          continue;
        const Variation d = detail::difference(op, graph[peer->vertex]);
        v.rows = v.rows || d.rows;
        v.cols = v.cols || d.cols;
        v.heads = v.heads || d.heads;
        v.kv_heads = v.kv_heads || d.kv_heads;
        v.dims = v.dims || d.dims;
        v.kv_positions = v.kv_positions || d.kv_positions;
      }
    }
    for (std::size_t k = begin; k < end; ++k)
      variation[keyed[k].vertex] = set;
    begin = end;
  }
  return variation;
}

/// Whether every edge of `graph` runs from a lower vertex index to a higher one, so that index
/// order is a topological order (and the graph is acyclic). The lowering appends each op after
/// its inputs, so a built DAG is; a hand-made edge against the order makes this false and the
/// callers fall back to Boost's depth-first search.
template <class Graph>
bool index_order_is_topological(const Graph& graph) {
  using Vertex = typename boost::graph_traits<Graph>::vertex_descriptor;
  const std::size_t n = num_vertices(graph);
  for (Vertex v = 0; v < n; ++v)
    for (auto [e, end] = out_edges(v, graph); e != end; ++e)
      if (target(*e, graph) <= v)
        return false;
  return true;
}

/// The placement every vertex of `graph` makes, derived from the sources in topological order by
/// `placement_rule`, and every problem found on the way (an op whose inputs are not placed as its
/// step needs, the members of a collective contributing differently placed tensors).
/// @pre `graph` is acyclic.
template <class Graph>
std::pair<std::vector<TensorPlacement>,
          std::vector<PlacementProblem<typename boost::graph_traits<Graph>::vertex_descriptor>>>
derive_placements(const Graph& graph, const Mesh& mesh) {
  using Vertex = typename boost::graph_traits<Graph>::vertex_descriptor;
  const std::size_t n = num_vertices(graph);
  std::vector<TensorPlacement> made(n);
  std::vector<PlacementProblem<Vertex>> problems;
  const std::vector<AxisVariation> variation = slice_variation(graph, mesh);
  // Sources first: index order when it is topological, else a topological sort.
  std::vector<Vertex> order;
  if (!index_order_is_topological(graph)) {
    order.reserve(n);
    boost::topological_sort(graph, std::back_inserter(order));
    std::reverse(order.begin(), order.end());
  }
  std::vector<TensorPlacement> inputs;
  for (std::size_t i = 0; i < n; ++i) {
    const Vertex v = order.empty() ? static_cast<Vertex>(i) : order[i];
    const Op& op = graph[v];
    const bool collective = is_collective(op.kind());
    inputs.assign(collective ? 1 : op.input_count, TensorPlacement{});
    bool first_member = true;
    for (auto [e, end] = in_edges(v, graph); e != end; ++e) {
      const TensorPlacement& p = made[source(*e, graph)];
      if (collective) {
        if (!first_member && p != inputs[0])
          problems.push_back({v, "its members contribute tensors placed differently (" +
                                     placement_text(inputs[0], mesh) + " and " +
                                     placement_text(p, mesh) + ")"});
        if (first_member)
          inputs[0] = p;
        first_member = false;
      } else if (graph[*e].port < inputs.size()) {
        inputs[graph[*e].port] = p;
      }
    }
    PlacementResult result = placement_rule(op, inputs, variation[v], mesh);
    if (!result.problem.empty())
      problems.push_back({v, std::move(result.problem)});
    made[v] = result.output;
  }
  return {std::move(made), std::move(problems)};
}

} // namespace helix
