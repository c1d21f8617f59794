// Uses the installed headers: a compile-time checked plan and a run-time validated one; and, with
// the json component, a workload as JSON and a preset read back from its model JSON.
#include <helix/helix.hpp>
#ifdef HELIX_CONSUMER_JSON
#include <helix/io/json.hpp>
#include <helix/io/model_json.hpp>
#endif

#include <iostream>

int main() {
  using Optimized = helix::Plan<helix::PipelineStages<2>, helix::TensorGroups<4, 4>>;
  helix::check_plan<helix::models::helix_seed, Optimized>();
  const auto problems = helix::validate(helix::models::helix_seed, helix::parse_plan("hp=4x4"));
  std::cout << "world size " << helix::world_size(Optimized::spec) << ", hp=4x4 "
            << (problems.empty() ? "valid" : problems.front()) << "\n";
  bool ok = problems.empty();
#ifdef HELIX_CONSUMER_JSON
  std::cout << "json " << helix::io::to_json(helix::Workload::prefill()).dump() << "\n";
  const helix::ModelDefinition seed =
      helix::model_from_json(helix::model_to_json("helix_seed", helix::models::helix_seed));
  ok = ok && seed.model == helix::models::helix_seed;
  std::cout << "model json " << seed.name << (ok ? "" : " differs") << "\n";
#endif
  return ok ? 0 : 1;
}
