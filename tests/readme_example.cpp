#include <helix/helix.hpp>
#include <iostream>

using Optimized = helix::Plan<helix::PipelineStages<2>, helix::TensorGroups<4, 4>>;
static_assert(helix::is_valid_plan<helix::models::helix_seed, Optimized>);

int main() {
  // Prints "helix: heads vs tensor degree: ... (heads = 16, tensor degree = 3)" and more.
  const helix::PlanSpec plan = helix::parse_plan("tp=3");
  for (const std::string& problem : helix::validate(helix::models::helix_seed, plan))
    std::cout << problem << '\n';
}
