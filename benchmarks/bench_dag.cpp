// DAG scale (issue 13, target 1): lowering, materializing and checking DAGs of about 10^3 to 10^6
// vertices, beside a bare insertion of the same vertices and edges into the Dag's own Boost type,
// and the simulation of each; and (target 2) costing a generation beside costing its prefill alone.
// Read the results as ratios within one run; the machine is shared.
// Counters: vertices, seconds per million vertices, and the process's peak RSS per vertex.
#include <helix/helix.hpp>

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Scale {
  helix::Model model;
  const char* plan;
  helix::Workload workload;
};

/// llama31_405b (SwiGLU, vocabulary) grown by layers, then microbatches, then data parallel:
/// about 10^3, 10^4, 10^5 and 10^6 vertices.
Scale scale(std::int64_t index) {
  const helix::Model m = helix::models::llama31_405b;
  switch (index) {
  case 0:
    return {m.with_layers(8), "tp=8", helix::Workload::prefill()};
  case 1:
    return {m.with_layers(80), "tp=8", helix::Workload::prefill()};
  case 2:
    return {m.with_batch(8), "pp=16,tp=8", helix::Workload::prefill(8)};
  default:
    return {m.with_batch(64), "pp=16,tp=8,dp=8", helix::Workload::prefill(8)};
  }
}

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

void report(benchmark::State& state, std::size_t vertices) {
  state.counters["vertices"] = static_cast<double>(vertices);
  state.counters["s_per_Mvertex"] = benchmark::Counter(
      static_cast<double>(vertices) / 1e6,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["peak_rss_B_per_vertex"] = peak_rss_bytes() / static_cast<double>(vertices);
}

/// lower + materialize: what build_dag does after validating.
void build(benchmark::State& state) {
  const Scale s = scale(state.range(0));
  const helix::PlanSpec plan = helix::parse_plan(s.plan);
  std::size_t vertices = 0;
  for (auto _ : state) {
    const helix::Dag dag = helix::materialize(helix::lower(s.model, plan, s.workload));
    vertices = boost::num_vertices(dag);
  }
  report(state, vertices);
}
BENCHMARK(build)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

/// The same vertices (with their Op bundles) and edges (with their Tensor bundles) put into the
/// Dag's graph type by its own public constructor (an unsorted edge list with its bundles, then
/// each vertex's Op assigned): the floor a builder over this graph type can reach.
void bare_insertion(benchmark::State& state) {
  const Scale s = scale(state.range(0));
  const helix::Lowering lowering = helix::lower(s.model, helix::parse_plan(s.plan), s.workload);
  using Index = std::uint32_t;
  const auto ends = [](const helix::LoweredEdge& e) {
    return std::pair<Index, Index>(static_cast<Index>(e.source), static_cast<Index>(e.target));
  };
  const auto tensor = [](const helix::LoweredEdge& e) -> const helix::Tensor& { return e.tensor; };
  for (auto _ : state) {
    helix::Dag dag(boost::edges_are_unsorted_multi_pass,
                   boost::make_transform_iterator(lowering.edges.begin(), ends),
                   boost::make_transform_iterator(lowering.edges.end(), ends),
                   boost::make_transform_iterator(lowering.edges.begin(), tensor),
                   static_cast<Index>(lowering.ops.size()));
    for (std::size_t i = 0; i < lowering.ops.size(); ++i)
      dag[static_cast<Index>(i)] = lowering.ops[i];
    benchmark::DoNotOptimize(boost::num_edges(dag));
  }
  report(state, lowering.ops.size());
}
BENCHMARK(bare_insertion)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

void check(benchmark::State& state) {
  const Scale s = scale(state.range(0));
  const helix::Dag dag = helix::build_dag(s.model, helix::parse_plan(s.plan), s.workload);
  for (auto _ : state)
    benchmark::DoNotOptimize(helix::check(dag).size());
  report(state, boost::num_vertices(dag));
}
BENCHMARK(check)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

void simulate(benchmark::State& state) {
  const Scale s = scale(state.range(0));
  const helix::Dag dag = helix::build_dag(s.model, helix::parse_plan(s.plan), s.workload);
  for (auto _ : state)
    benchmark::DoNotOptimize(
        helix::cost::simulate(dag, helix::cost::hardware::h100_sxm_nvl8).makespan_seconds);
  report(state, boost::num_vertices(dag));
}
BENCHMARK(simulate)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

/// Costing a generation against costing its prefill (issue 13, target 2): `llama31_405b`
/// `pp=16,tp=8`, a prompt of its 8,192 tokens, 2,048 output tokens. The prefill is what
/// helix_deploy costs for one plan (build_dag + simulate); the generation adds the decode steps
/// `generation` simulates (`default_decode_points` KV lengths).
constexpr const char* generation_plan = "pp=16,tp=8";
constexpr std::int64_t generation_output_tokens = 2048;

void prefill_costing(benchmark::State& state) {
  const helix::Model m = helix::models::llama31_405b;
  const helix::PlanSpec plan = helix::parse_plan(generation_plan);
  std::size_t vertices = 0;
  for (auto _ : state) {
    const helix::Dag dag = helix::build_dag(m, plan, helix::Workload::prefill());
    vertices = boost::num_vertices(dag);
    benchmark::DoNotOptimize(
        helix::cost::simulate(dag, helix::cost::hardware::h100_sxm_nvl8).makespan_seconds);
  }
  report(state, vertices);
}
BENCHMARK(prefill_costing)->Unit(benchmark::kMillisecond);

void generation_costing(benchmark::State& state) {
  const helix::Model m = helix::models::llama31_405b;
  const helix::PlanSpec plan = helix::parse_plan(generation_plan);
  std::size_t points = 0;
  for (auto _ : state) {
    const helix::cost::Generation g = helix::cost::simulate_generation(
        m, plan, helix::Workload::prefill(), generation_output_tokens,
        helix::cost::hardware::h100_sxm_nvl8);
    points = g.decode.points.size();
    benchmark::DoNotOptimize(g.e2e_seconds);
  }
  state.counters["decode_points"] = static_cast<double>(points);
}
BENCHMARK(generation_costing)->Unit(benchmark::kMillisecond);

} // namespace
