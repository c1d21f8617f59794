// The executor against the unsharded reference (issue 13, target 3), and the reference against a
// bare Eigen GEMM of its largest product, in float and double. Each figure that the target judges
// is a ratio of two timings taken in the same iterations, one right after the other (their order
// alternating), so a change in the shared machine's load hits both alike; the counters' times are
// the CPU time of the benchmark's one thread (CLOCK_THREAD_CPUTIME_ID, user and system: page
// faults count), which time spent waiting for a core shared with other jobs does not inflate.
// Eigen runs on one thread here (no OpenMP): the counter `eigen_threads` says so for every row.
#include <helix/helix.hpp>
#include <helix/numerics/execute.hpp>
#include <helix/numerics/reference.hpp>
#include <helix/numerics/shrink.hpp>
#include <helix/numerics/weights.hpp>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include <concepts>
#include <cstdint>
#include <ctime>
#include <iterator>
#include <string>

namespace {

/// The mid-size model: hidden 1024 = 16 heads × 64, ffn 4096, seq 256, batch 4, two
/// layers (so that `pp=2` has a layer per stage): the matrix products, not the graph walk, are
/// most of the time.
constexpr helix::Model mid{.layers = 2,
                           .hidden = 1024,
                           .heads = 16,
                           .kv_heads = 16,
                           .head_dim = 64,
                           .ffn_hidden = 4096,
                           .batch = 4,
                           .seq_len = 256,
                           .norm = helix::Norm::layernorm};

/// The plans the target names.
const char* const plans[] = {"tp=1", "tp=16", "hp=4x4", "pp=2,tg=4x4"};

/// Size 0: the seed's verification model shrunk for the plan (CTest's smoke run); 1: `mid`.
helix::Model model_for(int size, const helix::PlanSpec& plan) {
  return size == 0 ? helix::models::shrink(helix::models::helix_seed, plan) : mid;
}
const char* size_name(int size) {
  return size == 0 ? "seed" : "mid";
}

/// Floating-point operations of every matrix product of the reference's prefill forward pass,
/// 2·m·k·n each: per layer the Q, K, V and output projections, the MLP's up (and gate) and down
/// projections, and per sequence and head the T × T scores and the context (the reference
/// computes every score and then masks).
double product_flops(const helix::Model& m) {
  const double tokens = static_cast<double>(m.batch * m.seq_len);
  const double hidden = static_cast<double>(m.hidden);
  const double attention = static_cast<double>(helix::attention_width(m));
  const double kv = static_cast<double>(helix::kv_width(m));
  const double ffn = static_cast<double>(m.ffn_hidden);
  const double up_projections = m.activation == helix::Activation::swiglu ? 2 : 1;
  const double projections = 2 * tokens * hidden * (2 * attention + 2 * kv);
  const double mlp = 2 * tokens * hidden * ffn * (up_projections + 1);
  const double attention_products = 2 * 2 * static_cast<double>(m.batch * m.heads) *
                                    static_cast<double>(m.seq_len * m.seq_len * m.head_dim);
  return static_cast<double>(m.layers) * (projections + mlp + attention_products);
}

double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

/// CPU seconds of this thread that `work` takes.
template <class Work>
double seconds(Work&& work) {
  const double start = thread_seconds();
  work();
  return thread_seconds() - start;
}

/// Runs `first` and `second` once per iteration, in alternating order, and reports the time of
/// `second` as the iteration's (manual time, CPU seconds) with both totals.
template <class First, class Second>
void side_by_side(benchmark::State& state, First&& first, Second&& second, double& first_total,
                  double& second_total) {
  bool second_first = false;
  for (auto _ : state) {
    double a = 0, b = 0;
    if (second_first) {
      b = seconds(second);
      a = seconds(first);
    } else {
      a = seconds(first);
      b = seconds(second);
    }
    second_first = !second_first;
    first_total += a;
    second_total += b;
    state.SetIterationTime(b);
  }
}

/// Sharded execution of a plan (`execute`: the in-process rings, every layer's output recorded,
/// as `verify` runs it) beside the reference on the same weights and input. Counters: both times
/// per iteration, `sharded_over_reference` (the target's ratio) and the reference's GFLOP/s.
template <std::floating_point Scalar>
void executor(benchmark::State& state, int size, int plan_index) {
  const helix::PlanSpec plan = helix::parse_plan(plans[plan_index]);
  const helix::Model model = model_for(size, plan);
  const helix::Dag dag = helix::build_dag(model, plan);
  const auto weights = helix::numerics::make_weights<Scalar>(model);
  const auto input = helix::numerics::make_input<Scalar>(model, {}, weights);
  double reference = 0, sharded = 0;
  side_by_side(
      state,
      [&] {
        benchmark::DoNotOptimize(helix::numerics::reference_forward(model, {}, weights, input));
      },
      [&] { benchmark::DoNotOptimize(helix::numerics::execute(dag, weights, input)); }, reference,
      sharded);
  const auto per_iteration = benchmark::Counter::kAvgIterations;
  state.counters["reference_s"] = benchmark::Counter(reference, per_iteration);
  state.counters["sharded_s"] = benchmark::Counter(sharded, per_iteration);
  state.counters["sharded_over_reference"] = sharded / reference;
  state.counters["reference_GFLOPs"] =
      product_flops(model) * static_cast<double>(state.iterations()) / reference / 1e9;
  state.counters["eigen_threads"] = Eigen::nbThreads();
}

/// The reference beside a bare Eigen product of its largest shape, [batch·seq, hidden] ×
/// [hidden, ffn] (the MLP's up projection), on helix's own row-major matrices. Counters: each
/// one's GFLOP/s and `reference_over_gemm`, the fraction of the bare product's rate the whole
/// forward pass reaches (the target is ≥ 0.7).
template <std::floating_point Scalar>
void reference_vs_gemm(benchmark::State& state, int size) {
  const helix::Model model = model_for(size, helix::parse_plan("tp=1"));
  const auto weights = helix::numerics::make_weights<Scalar>(model);
  const auto input = helix::numerics::make_input<Scalar>(model, {}, weights);
  const std::int64_t rows = model.batch * model.seq_len;
  using Matrix = helix::numerics::Matrix<Scalar>;
  const Matrix a = Matrix::Random(rows, model.hidden);
  const Matrix b = Matrix::Random(model.hidden, model.ffn_hidden);
  Matrix c(rows, model.ffn_hidden);
  double gemm = 0, reference = 0;
  side_by_side(
      state,
      [&] {
        c.noalias() = a * b;
        benchmark::DoNotOptimize(c.data());
      },
      [&] {
        benchmark::DoNotOptimize(helix::numerics::reference_forward(model, {}, weights, input));
      },
      gemm, reference);
  const double iterations = static_cast<double>(state.iterations());
  const double gemm_rate =
      2.0 * static_cast<double>(rows * model.hidden * model.ffn_hidden) * iterations / gemm / 1e9;
  const double reference_rate = product_flops(model) * iterations / reference / 1e9;
  state.counters["gemm_GFLOPs"] = gemm_rate;
  state.counters["reference_GFLOPs"] = reference_rate;
  state.counters["reference_over_gemm"] = reference_rate / gemm_rate;
  state.counters["eigen_threads"] = Eigen::nbThreads();
}

template <std::floating_point Scalar>
void register_all(const char* scalar) {
  for (int size = 0; size < 2; ++size) {
    benchmark::RegisterBenchmark(
        ("reference_vs_gemm/" + std::string(scalar) + "/" + size_name(size)).c_str(),
        [size](benchmark::State& state) { reference_vs_gemm<Scalar>(state, size); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    for (int plan = 0; plan < static_cast<int>(std::size(plans)); ++plan)
      benchmark::RegisterBenchmark(
          ("executor/" + std::string(scalar) + "/" + size_name(size) + "/" + plans[plan]).c_str(),
          [size, plan](benchmark::State& state) { executor<Scalar>(state, size, plan); })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
  }
}

[[maybe_unused]] const bool registered = [] {
  register_all<double>("double");
  register_all<float>("float");
  return true;
}();

} // namespace
