// What one plan's numeric verification found: the plan verified on its verification-size model
// in double and in float, and whether each verdict is the expected one. io/markdown.hpp prints
// it (helix_deploy --verify shows that), io/json.hpp writes it as JSON.
#pragma once

#include "helix/graph/dag.hpp"
#include "helix/graph/lowering.hpp"
#include "helix/model/model.hpp"
#include "helix/numerics/shrink.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/numerics/weights.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/validate.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace helix::numerics {

constexpr std::string_view scheme_variant_name(SchemeVariant variant) {
  return variant == SchemeVariant::exact ? "exact" : "broken_slice_local_softmax";
}

/// What one plan's verification found. For a broken variant the expected verdict is failure.
struct PlanNumerics {
  NumericsReport in_double, in_float;
  bool expected_to_pass = true;
  /// Both verdicts are what was expected (exact passes, broken fails).
  bool as_expected = false;
};

/// Verifies `plan` on `models::shrink(model, plan, workload)` in double and in float and returns
/// both reports. The broken variant is marked as expected to fail.
/// @throws PlanError when the plan does not suit the (full) model.
///
/// Example: `io::write_markdown(std::cout, verify_plan(models::helix_seed, parse_plan("hp=4x4")))`.
///
/// A template only for compile time: a non-template inline function that calls `verify<double>`
/// and `verify<float>` makes every TU including this header instantiate the whole verification
/// path (reference, executor, Eigen products) in both scalars, whether or not it is called. As a
/// template it is instantiated only where it is used.
template <typename InstantiatedWhereUsed = void>
[[nodiscard]] PlanNumerics
verify_plan(const Model& model, const PlanSpec& plan, const Workload& workload = {},
            SchemeVariant variant = SchemeVariant::exact, std::uint64_t seed = default_seed) {
  // Judged on the full model: the shrunk batch could divide where the full one does not.
  if (std::vector<std::string> problems = validate(model, plan, workload); !problems.empty())
    throw PlanError(std::move(problems));
  const Model small = models::shrink(model, plan, workload);
  PlanNumerics result;
  result.in_double = verify<double>(small, plan, workload, variant, seed);
  result.in_float = verify<float>(small, plan, workload, variant, seed);
  result.expected_to_pass = variant == SchemeVariant::exact;
  result.as_expected = result.in_double.passed == result.expected_to_pass &&
                       result.in_float.passed == result.expected_to_pass;
  return result;
}

} // namespace helix::numerics
