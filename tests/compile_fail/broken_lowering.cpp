// A lowering whose edge no longer carries what its producer makes must be rejected at compile
// time by the builder's own shape check. Built with HELIX_CORRUPT=1 (must fail) and 0 (must pass).
#include "helix/graph/shape_rules.hpp"
#include "helix/model/presets.hpp"
#include "helix/plan/descriptors.hpp"

constexpr bool lowering_is_consistent() {
  helix::Lowering lowering =
      helix::lower(helix::models::helix_seed,
                   helix::Plan<helix::PipelineStages<2>, helix::TensorGroups<4, 4>>::spec, {});
  if (HELIX_CORRUPT)
    lowering.edges[5].tensor.shape = lowering.edges[5].tensor.shape.with_last(7);
  return helix::shapes_consistent(lowering);
}

static_assert(lowering_is_consistent(), "helix: dag shapes: the lowering is inconsistent");

int main() {}
