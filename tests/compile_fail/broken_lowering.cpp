// A lowering that breaks a shape rule must be rejected at compile time by the builder's own
// shape check, at a call named after the rule. HELIX_CORRUPT selects the break (0: none, must
// compile): 1 an edge no longer carries what its producer makes; 2 a Linear holds a slice its
// producer does not make, declared consistently (what a slicing bug in the lowering looks like);
// 3 an op's step no longer implies the output it declares.
#include "helix/graph/op_signature.hpp"
#include "helix/graph/shape_rules.hpp"
#include "helix/model/presets.hpp"
#include "helix/plan/descriptors.hpp"

#include <cstddef>

constexpr bool lowering_is_consistent() {
  helix::Lowering lowering =
      helix::lower(helix::models::helix_seed,
                   helix::Plan<helix::PipelineStages<2>, helix::TensorGroups<4, 4>>::spec, {});
  std::size_t fc2 = 0;
  while (lowering.ops[fc2].kind() != helix::OpKind::fc2)
    ++fc2;
  helix::Op& op = lowering.ops[fc2];
  auto& slice = *helix::step_if<helix::step::Fc2>(op);
  if (HELIX_CORRUPT == 1)
    lowering.edges[5].tensor.shape = lowering.edges[5].tensor.shape.with_last(7);
  if (HELIX_CORRUPT == 2) {
    slice.rows = helix::IndexRuns::range(slice.rows.begin, slice.rows.size / 2);
    op.inputs = helix::signature(op, lowering.model, lowering.workload, lowering.mesh).inputs;
  }
  if (HELIX_CORRUPT == 3)
    slice.cols = helix::IndexRuns::range(0, slice.cols.size / 2);
  return helix::shapes_consistent(lowering);
}

static_assert(lowering_is_consistent(), "helix: dag shapes: the lowering is inconsistent");

int main() {}
