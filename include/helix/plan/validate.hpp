// Run-time front of the rule set: `validate` evaluates the same rules as check_plan and words
// every broken one with its numbers.
#pragma once

#include "helix/model/model.hpp"
#include "helix/plan/rules.hpp"
#include "helix/plan/spec.hpp"

#include <string>
#include <vector>

namespace helix {

/// "helix: <rule name>: <what must hold> ([subject: ]<first> = a, <second> = b)".
[[nodiscard]] inline std::string describe(const Finding& f) {
  const RuleText& t = text_of(f.rule);
  std::string s = "helix: ";
  s.append(t.name).append(": ").append(t.requirement).append(" (");
  if (!f.subject.empty())
    s.append(f.subject).append(": ");
  s.append(t.first).append(" = ").append(std::to_string(f.first)).append(", ");
  s.append(t.second).append(" = ").append(std::to_string(f.second)).append(")");
  return s;
}

/// The rules `plan` breaks for `model` and `workload`.
[[nodiscard]] inline std::vector<Finding> broken_rules(const Model& model, const PlanSpec& plan,
                                                       const Workload& workload = {}) {
  std::vector<Finding> broken;
  for (const Finding& f : evaluate_rules(model, plan, workload))
    if (!f.ok)
      broken.push_back(f);
  return broken;
}

/// Every broken rule as a message; empty when the plan is valid.
///
/// Example: `validate(models::helix_seed, parse_plan("tp=3"))` →
/// {"helix: heads vs tensor degree: attention heads must divide by the tensor-parallel degree
/// (heads = 16, tensor degree = 3)", "helix: kv heads vs tensor degree: ...", ...}.
[[nodiscard]] inline std::vector<std::string> validate(const Model& model, const PlanSpec& plan,
                                                       const Workload& workload = {}) {
  std::vector<std::string> messages;
  for (const Finding& f : broken_rules(model, plan, workload))
    messages.push_back(describe(f));
  return messages;
}

} // namespace helix
