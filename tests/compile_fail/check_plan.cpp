// Compiled once per case with HELIX_CASE=<n>: must fail with the case's rule on the error line.
// HELIX_CASE=0 is the control: a valid plan that must compile.
#include "cases.hpp"

int main() {
#if HELIX_CASE == 0
  helix::check_plan<helix::models::helix_seed,
                    helix::Plan<helix::PipelineStages<2>, helix::TensorGroups<4, 4>>>();
#else
  using Case = helix::compile_fail::Case<HELIX_CASE>;
  helix::check_plan<Case::model, Case::plan, Case::workload>();
#endif
}
