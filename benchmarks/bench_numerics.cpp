// Time of the unsharded reference against the sharded execution of the same forward pass, for the
// seed's verification model and a larger one. Read as ratios within one run (shared machine):
// the ratio is the executor's overhead of walking the DAG, per-device slices and collectives.
#include <helix/helix.hpp>
#include <helix/numerics/execute.hpp>
#include <helix/numerics/reference.hpp>
#include <helix/numerics/shrink.hpp>
#include <helix/numerics/weights.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

namespace {

/// hidden 1024 = 16 heads × 64, ffn 4096, seq 256, batch 2: big enough that the matrix products,
/// not the graph walk, dominate.
constexpr helix::Model larger{.layers = 2,
                              .hidden = 1024,
                              .heads = 16,
                              .kv_heads = 16,
                              .head_dim = 64,
                              .ffn_hidden = 4096,
                              .batch = 2,
                              .seq_len = 256,
                              .norm = helix::Norm::layernorm};

helix::Model model_for(std::int64_t which, const helix::PlanSpec& plan) {
  return which == 0 ? helix::models::shrink(helix::models::helix_seed, plan) : larger;
}

const char* const plans[] = {"tp=1", "hp=4x4", "pp=2,tg=4x4"};

void reference(benchmark::State& state) {
  const helix::PlanSpec plan = helix::parse_plan(plans[state.range(1)]);
  const helix::Model model = model_for(state.range(0), plan);
  const auto weights = helix::numerics::make_weights<double>(model);
  const auto input = helix::numerics::make_input<double>(model, {}, weights);
  for (auto _ : state)
    benchmark::DoNotOptimize(helix::numerics::reference_forward(model, {}, weights, input));
  state.SetLabel(std::string(state.range(0) == 0 ? "seed verification model" : "hidden 1024"));
}

void sharded(benchmark::State& state) {
  const helix::PlanSpec plan = helix::parse_plan(plans[state.range(1)]);
  const helix::Model model = model_for(state.range(0), plan);
  const helix::Dag dag = helix::build_dag(model, plan);
  const auto weights = helix::numerics::make_weights<double>(model);
  const auto input = helix::numerics::make_input<double>(model, {}, weights);
  for (auto _ : state)
    benchmark::DoNotOptimize(helix::numerics::execute(dag, weights, input));
  state.SetLabel(std::string(state.range(0) == 0 ? "seed verification model, " : "hidden 1024, ") +
                 plans[state.range(1)]);
}

// Arguments: (model: 0 = seed verification size, 1 = hidden 1024), (plan index).
BENCHMARK(reference)->Args({0, 0})->Args({1, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(sharded)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMillisecond);

} // namespace
