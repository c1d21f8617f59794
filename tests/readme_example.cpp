#include <helix/graph.hpp>
#include <helix/model.hpp>
#include <helix/plan.hpp>

#include <iostream>

using Optimized = helix::Plan<helix::PipelineStages<2>, helix::TensorGroups<4, 4>>;

int main() {
  // Does not compile unless the plan suits the model; the first error line names the rule.
  helix::check_plan<helix::models::helix_seed, Optimized>();
  // The same rules at run time: "helix: heads vs tensor degree: ... (heads = 16, tensor degree
  // = 3)" and more.
  const helix::PlanSpec plan = helix::parse_plan("tp=3");
  for (const std::string& problem : helix::validate(helix::models::helix_seed, plan))
    std::cout << problem << '\n';
  // The operator DAG with a shape and a placement on every tensor: "281 operators, 0 problems".
  const helix::Dag dag = helix::build_dag<helix::models::helix_seed, Optimized>();
  std::cout << boost::num_vertices(dag) << " operators, " << helix::check(dag).size()
            << " problems\n";
}
