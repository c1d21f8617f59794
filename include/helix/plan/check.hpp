// Compile-time front of the rule set: `is_valid_plan` and `check_plan`. A broken rule becomes a
// static_assert whose message starts with "helix: <rule name>:", and whose note shows the numbers.
#pragma once

#include "helix/model/model.hpp"
#include "helix/plan/plan_concepts.hpp"
#include "helix/plan/rules.hpp"

#include <cstddef>
#include <cstdint>

namespace helix {

/// True when `P` can partition `M` for workload `W`.
template <Model M, PlanDescriptor P, Workload W = Workload{}>
inline constexpr bool is_valid_plan = all_hold(evaluate_rules(M, P::spec, W));

namespace detail {
/// Shown by the compiler as "rule_holds<Rule::heads_vs_tensor_degree, 16, 3, false> evaluates to
/// false": the rule and its two numbers, right under the rule's message.
template <Rule R, std::int64_t First, std::int64_t Second, bool Ok>
inline constexpr bool rule_holds = Ok;
} // namespace detail

/// Fails to compile unless `P` can partition `M` for `W`; one error per broken rule, each starting
/// "helix: <rule name>: <what must hold>".
///
/// Example: `check_plan<models::helix_seed, Plan<TensorParallel<3>>>()` fails with
/// "static assertion failed: helix: heads vs tensor degree: attention heads must divide by the
/// tensor-parallel degree" and the note "rule_holds<..., 16, 3, false> evaluates to false".
template <Model M, PlanDescriptor P, Workload W = Workload{}>
constexpr void check_plan() {
  constexpr Findings findings = evaluate_rules(M, P::spec, W);
#define HELIX_RULE_ASSERT(id, name, text, a, b)                                                    \
  static_assert(detail::rule_holds<Rule::id, findings[static_cast<std::size_t>(Rule::id)].first,   \
                                   findings[static_cast<std::size_t>(Rule::id)].second,            \
                                   findings[static_cast<std::size_t>(Rule::id)].ok>,               \
                "helix: " name ": " text);
  HELIX_PLAN_RULES(HELIX_RULE_ASSERT)
#undef HELIX_RULE_ASSERT
}

} // namespace helix
