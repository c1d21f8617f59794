// The shape rules, shared by the compile-time check of a lowering and by `check(dag)`: an op's
// inputs and output are what its step implies (op_signature.hpp), and a tensor has the shape
// its producer makes and the shape its consumer expects at that port.
#pragma once

#include "helix/graph/lowering.hpp"
#include "helix/graph/op_signature.hpp"
#include "helix/graph/ops.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/check.hpp"
#include "helix/plan/plan_concepts.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace helix {

enum class OpShapeProblem : std::uint8_t {
  none,
  output_differs_from_step,
  inputs_differ_from_step
};

/// Whether `op` makes and expects what its step implies (`expected`, see `signature`).
constexpr OpShapeProblem op_shape_problem(const Op& op, const OpSignature& expected) {
  if (op.output != expected.output)
    return OpShapeProblem::output_differs_from_step;
  if (op.input_count != expected.input_count)
    return OpShapeProblem::inputs_differ_from_step;
  for (std::size_t i = 0; i < expected.input_count; ++i) // unused slots are nobody's business
    if (op.inputs[i] != expected.inputs[i])
      return OpShapeProblem::inputs_differ_from_step;
  return OpShapeProblem::none;
}

enum class EdgeShapeProblem : std::uint8_t { none, differs_from_producer, differs_from_consumer };

/// What is wrong with `tensor` flowing from `producer` to `consumer`, if anything.
constexpr EdgeShapeProblem edge_shape_problem(const Op& producer, const Op& consumer,
                                              const Tensor& tensor) {
  if (tensor.shape != producer.output)
    return EdgeShapeProblem::differs_from_producer;
  const std::size_t port = is_collective(consumer.kind()) ? 0 : tensor.port;
  // A hand-made op may claim more inputs than there are slots.
  const std::size_t used =
      consumer.input_count < consumer.inputs.size() ? consumer.input_count : consumer.inputs.size();
  if (port >= used || tensor.shape != consumer.inputs[port])
    return EdgeShapeProblem::differs_from_consumer;
  return EdgeShapeProblem::none;
}

namespace detail {
// Never defined as constexpr: reaching one in a constant expression is the compile error, and
// its name is the rule that broke.
inline void helix_dag_shapes_edge_differs_from_its_producer_output() {}
inline void helix_dag_shapes_edge_differs_from_its_consumer_input() {}
inline void helix_dag_shapes_op_output_differs_from_what_its_step_makes() {}
inline void helix_dag_shapes_op_inputs_differ_from_what_its_step_expects() {}
} // namespace detail

/// True when every op and edge of `lowering` satisfies the shape rules. In a constant expression a
/// broken one stops compilation at a call named after the rule it breaks.
constexpr bool shapes_consistent(const Lowering& lowering) {
  for (const Op& op : lowering.ops) {
    switch (op_shape_problem(op, signature(op, lowering.model, lowering.workload, lowering.mesh))) {
    case OpShapeProblem::none:
      break;
    case OpShapeProblem::output_differs_from_step:
      if (std::is_constant_evaluated())
        detail::helix_dag_shapes_op_output_differs_from_what_its_step_makes();
      return false;
    case OpShapeProblem::inputs_differ_from_step:
      if (std::is_constant_evaluated())
        detail::helix_dag_shapes_op_inputs_differ_from_what_its_step_expects();
      return false;
    }
  }
  for (const LoweredEdge& e : lowering.edges) {
    switch (edge_shape_problem(lowering.ops[e.source], lowering.ops[e.target], e.tensor)) {
    case EdgeShapeProblem::none:
      break;
    case EdgeShapeProblem::differs_from_producer:
      if (std::is_constant_evaluated())
        detail::helix_dag_shapes_edge_differs_from_its_producer_output();
      return false;
    case EdgeShapeProblem::differs_from_consumer:
      if (std::is_constant_evaluated())
        detail::helix_dag_shapes_edge_differs_from_its_consumer_input();
      return false;
    }
  }
  return true;
}

/// Runs the builder's lowering and its shape checks at compile time:
/// `static_assert(helix::dag_shapes_consistent<models::helix_seed, Plan<...>>());`
/// An invalid plan fails with its rule first (see check_plan).
template <Model M, PlanDescriptor P, Workload W = Workload{}>
constexpr bool dag_shapes_consistent() {
  check_plan<M, P, W>();
  if constexpr (is_valid_plan<M, P, W>)
    return shapes_consistent(lower(M, P::spec, W));
  else
    return false;
}

} // namespace helix
