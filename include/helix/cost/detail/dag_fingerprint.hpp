// Whether two plans lower to the same DAG: a hash of every op and tensor that two equal DAGs
// share, to find candidates cheaply, and the exact comparison that decides.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/ops.hpp"
#include "helix/plan/mesh.hpp"

#include <boost/container_hash/hash.hpp>

#include <cstddef>
#include <cstdint>

namespace helix::cost::detail {

inline void hash_shape(std::size_t& seed, const Shape& shape) {
  boost::hash_combine(seed, shape.rank);
  for (std::size_t i = 0; i < shape.rank; ++i)
    boost::hash_combine(seed, shape.dims[i]);
}

/// A hash of what an op is (kind, device, layer, stage, replica, microbatch, sequences, shapes)
/// and of every edge (ends, shape, device, port). Equal DAGs hash equal; the steps' data (which
/// weight slice, which heads) is left to `same_dag`, which a match is always confirmed by.
template <class Graph = Dag>
std::size_t dag_fingerprint(const Graph& dag) {
  std::size_t seed = 0;
  boost::hash_combine(seed, boost::num_vertices(dag));
  boost::hash_combine(seed, boost::num_edges(dag));
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    for (std::int64_t field :
         {static_cast<std::int64_t>(op.kind()), op.device, op.layer, op.stage, op.replica,
          op.microbatch, op.batch_begin, static_cast<std::int64_t>(op.input_count)})
      boost::hash_combine(seed, field);
    hash_shape(seed, op.output);
    for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag))) {
      const Tensor& t = dag[e];
      boost::hash_combine(seed, boost::target(e, dag));
      boost::hash_combine(seed, t.device);
      boost::hash_combine(seed, t.port);
      hash_shape(seed, t.shape);
    }
  }
  return seed;
}

/// Whether tensors `x` of DAG `a` and `y` of DAG `b` are the same, their placements read along
/// the meshes' axes by position (`same_dag` has checked the axes have the same sizes).
inline bool same_tensor(const Tensor& x, const Mesh& a, const Tensor& y, const Mesh& b) {
  if (!(x.shape == y.shape) || x.dtype != y.dtype || x.device != y.device || x.port != y.port)
    return false;
  for (std::size_t i = 0; i < a.axis_count; ++i)
    if (!(x.placement[a.axes[i].role] == y.placement[b.axes[i].role]))
      return false;
  return true;
}

/// Whether `a` and `b` are the same program: the same model and workload, meshes of the same
/// axis sizes, the same ops in the same order, and the same tensors between the same ops, each
/// placed alike along the axes taken by position. So the plans they were lowered from may differ
/// and so may the names of their axes: `tg=4x1` (four groups of one) has a tensor-group axis
/// where `tp=4` has a tensor axis, and both lower to one flat 4-GPU all-reduce per block.
template <class Graph = Dag>
bool same_dag(const Graph& a, const Graph& b) {
  const DagInfo& ia = boost::get_property(a, boost::graph_bundle);
  const DagInfo& ib = boost::get_property(b, boost::graph_bundle);
  if (!(ia.model == ib.model) || !(ia.workload == ib.workload) || ia.variant != ib.variant ||
      ia.mesh.axis_count != ib.mesh.axis_count ||
      boost::num_vertices(a) != boost::num_vertices(b) ||
      boost::num_edges(a) != boost::num_edges(b))
    return false;
  for (std::size_t i = 0; i < ia.mesh.axis_count; ++i)
    if (ia.mesh.axes[i].size != ib.mesh.axes[i].size)
      return false;
  for (Vertex v : boost::make_iterator_range(boost::vertices(a))) {
    if (!(a[v] == b[v]) || boost::out_degree(v, a) != boost::out_degree(v, b))
      return false;
    auto [ea, ea_end] = boost::out_edges(v, a);
    auto [eb, eb_end] = boost::out_edges(v, b);
    for (; ea != ea_end; ++ea, ++eb)
      if (boost::target(*ea, a) != boost::target(*eb, b) ||
          !same_tensor(a[*ea], ia.mesh, b[*eb], ib.mesh))
        return false;
  }
  return true;
}

} // namespace helix::cost::detail
