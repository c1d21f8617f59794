// Uses the installed headers: a compile-time checked plan and a run-time validated one.
#include <helix/helix.hpp>

#include <iostream>

int main() {
  using Optimized = helix::Plan<helix::PipelineStages<2>, helix::TensorGroups<4, 4>>;
  helix::check_plan<helix::models::helix_seed, Optimized>();
  const auto problems = helix::validate(helix::models::helix_seed, helix::parse_plan("hp=4x4"));
  std::cout << "world size " << helix::world_size(Optimized::spec) << ", hp=4x4 "
            << (problems.empty() ? "valid" : problems.front()) << "\n";
  return problems.empty() ? 0 : 1;
}
