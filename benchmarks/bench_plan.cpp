// Cost of the run-time front door: parsing plan text and evaluating the rule set. Read the
// results as ratios within one run; the machine is shared.
#include <helix/helix.hpp>

#include <benchmark/benchmark.h>

namespace {

void parse_seed_plan(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(helix::parse_plan("pp=2,tg=4x4"));
}
BENCHMARK(parse_seed_plan);

void evaluate_rules_seed(benchmark::State& state) {
  const helix::PlanSpec plan = helix::parse_plan("pp=2,tg=4x4");
  for (auto _ : state)
    benchmark::DoNotOptimize(helix::evaluate_rules(helix::models::helix_seed, plan));
}
BENCHMARK(evaluate_rules_seed);

void validate_broken_plan(benchmark::State& state) {
  const helix::PlanSpec plan = helix::parse_plan("tp=3");
  for (auto _ : state)
    benchmark::DoNotOptimize(helix::validate(helix::models::helix_seed, plan));
}
BENCHMARK(validate_broken_plan);

} // namespace
