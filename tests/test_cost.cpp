// Cost area: per-op costs, the timeline simulation, memory and the plan comparison, checked
// against published formulas written out here, never against the code's own output.
#include "helix/cost/calibration.hpp"
#include "helix/cost/collectives.hpp"
#include "helix/cost/compare.hpp"
#include "helix/cost/detail/cost_classes.hpp"
#include "helix/cost/detail/dag_fingerprint.hpp"
#include "helix/cost/frontier.hpp"
#include "helix/cost/generation.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/memory.hpp"
#include "helix/cost/op_cost.hpp"
#include "helix/cost/search.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/cost/validation.hpp"
#include "helix/graph.hpp"
#include "helix/io/markdown.hpp"
#include "helix/io/timeline_svg.hpp"
#include "helix/model.hpp"
#include "helix/plan.hpp"
#include "support/scratch_folder.hpp"
#include "support/search_fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace helix;

namespace {

/// FC1 on GPU 0 holding a 10⁴ × 10⁴ weight, reading x [1, 10⁴, 10⁴]: 2·10¹² FLOPs, 3·10⁸
/// elements moved.
Op square_fc1() {
  Op matmul;
  step::Fc1 fc1;
  fc1.rows = IndexRuns::range(0, 10'000);
  fc1.cols = IndexRuns::range(0, 10'000);
  matmul.step = fc1;
  matmul.device = 0;
  matmul.inputs[0] = Shape{1, 10'000, 10'000};
  matmul.input_count = 1;
  matmul.output = Shape{1, 10'000, 10'000};
  return matmul;
}

/// Hardware on which only FLOPs take time: infinite memory and link bandwidth, no latency; the same
/// peak for every data type.
constexpr cost::Hardware compute_only{
    .name = "compute_only",
    .gpus_per_node = 8,
    .peak_flops_per_second = {.fp32 = 1e15, .bf16 = 1e15, .fp16 = 1e15, .fp8 = 1e15, .fp4 = 1e15},
    .compute_efficiency = 1,
    .memory_bandwidth_bytes_per_second = std::numeric_limits<double>::infinity(),
    .memory_efficiency = 1,
    .memory_capacity_bytes = 80e9,
    .nics_per_node = 8,
    .nic_bandwidth_bytes_per_second = std::numeric_limits<double>::infinity(),
    .nvlink = {.bandwidth_bytes_per_second = std::numeric_limits<double>::infinity(),
               .efficiency = 1,
               .latency_seconds = 0},
    .infiniband = {.bandwidth_bytes_per_second = std::numeric_limits<double>::infinity(),
                   .efficiency = 1,
                   .latency_seconds = 0},
};

/// `hw` as a pure roofline: every matmul at `compute_efficiency` whatever its shape, no kernel
/// launch cost.
cost::Hardware roofline_only(cost::Hardware hw) {
  hw.streaming_multiprocessors = 0;
  hw.kernel_launch_seconds = 0;
  hw.graph_kernel_launch_seconds = 0;
  return hw;
}

/// The ring model: every collective one flat ring on its slowest link.
constexpr cost::SimulationOptions ring_model{.collectives = cost::CollectiveModel::ring};

bool is_matmul(OpKind kind) {
  return is_linear(kind) || kind == OpKind::attention_scores || kind == OpKind::attention_context;
}

double matmul_flops(const Dag& dag) {
  double total = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (is_matmul(dag[v].kind()))
      total += static_cast<double>(
          cost::work(dag[v], boost::get_property(dag, boost::graph_bundle)).flops);
  return total;
}

/// Bytes each device sends in collectives, by phase, summed over the Dag.
std::map<std::pair<std::int64_t, CollectivePhase>, double>
bytes_by_phase(const Dag& dag, const cost::Hardware& hw) {
  std::map<std::pair<std::int64_t, CollectivePhase>, double> sent;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (const auto* c = collective_of(dag[v]))
      for (std::int64_t d : devices_of(dag, v))
        sent[{d, c->phase}] += cost::op_cost(dag, v, hw, cost::CollectiveModel::ring).bytes_sent;
  return sent;
}

} // namespace

TEST_CASE("matmul FLOPs of a GPT-3 175B prefill are 24·B·s·l·h²·(1 + s/(6h)), whatever the plan") {
  // Narayanan et al. 2021, eq. (3): 96·B·s·l·h²·(1 + s/(6h) + V/(16lh)) counts four passes
  // (forward, backward twice as much, recomputation) and the logits; one forward without logits is
  // a quarter of it without the V term. Per layer: Q, K, V, out-projection 4·2·B·s·h², fc1 and fc2
  // 2·2·B·s·h·4h, scores and context 2·2·B·s²·h (causal attention counted in full, as the
  // materialized kernel computes it).
  // The full 96 layers: a plan only moves FLOPs between devices, so the sum is the formula's.
  const double B = 1, s = 2048, l = 96, h = 12288;
  const double expected = 24 * B * s * l * h * h * (1 + s / (6 * h));
  const Workload materialized = Workload::prefill().with_attention(AttentionKernel::materialized);
  for (const std::string plan : {"tp=8", "pp=8,tp=8", "hp=8x2", "tg=4x4", "pp=2,tg=8x2"}) {
    CAPTURE(plan);
    const Dag dag = build_dag(models::gpt3_175b, parse_plan(plan), materialized);
    CHECK(std::abs(matmul_flops(dag) / expected - 1) < 1e-3);
  }
}

TEST_CASE("a pure pipeline of m microbatches over p equal stages takes (m + p − 1)·t_stage") {
  // GPipe forward: stage k starts microbatch j at (j + k)·t_stage. With free communication and
  // infinite memory bandwidth a stage's time is its FLOPs over the peak.
  // A bare block stack (no vocabulary), so that the four stages are equal.
  const Model model =
      models::gpt3_175b.with_layers(4).with_batch(8).with_seq_len(128).with_vocab(0);
  for (std::int64_t m : {1, 4, 8}) {
    const std::int64_t p = 4;
    CAPTURE(m);
    const Dag dag = build_dag(model, parse_plan("pp=4"), Workload::prefill(m));
    // One stage, one microbatch: one layer of 24·b·s·h²·(1 + s/(6h)) FLOPs (matmuls) plus the
    // element-wise ops, read from the stage's vertices.
    double stage_flops = 0;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
      if (dag[v].stage == 0 && dag[v].microbatch == 0)
        stage_flops += static_cast<double>(
            cost::work(dag[v], boost::get_property(dag, boost::graph_bundle)).flops);
    const double t_stage = stage_flops / compute_only.peak_flops(model.dtype);
    const cost::Timeline timeline = cost::simulate(dag, compute_only);
    CHECK(timeline.makespan_seconds == doctest::Approx(static_cast<double>(m + p - 1) * t_stage));
    // Each device idles p − 1 of the m + p − 1 slots: the textbook bubble.
    CHECK(timeline.bubble_fraction ==
          doctest::Approx(static_cast<double>(p - 1) / static_cast<double>(m + p - 1)));
    CHECK(timeline.tokens_per_second == doctest::Approx(8.0 * 128 / timeline.makespan_seconds));
  }
}

TEST_CASE(
    "overlap lets a pipeline send while it computes: (m + 1)·t + τ instead of m·(t + τ) + t") {
  // Two stages of one GPU each, a transfer of τ between them, stages of t. Without overlap a
  // transfer holds both GPUs, so every microbatch costs t + τ on the sender and the receiver
  // waits for it: m·(t + τ) + t. With a separate transfer stream and τ < t, stage 0 runs back to
  // back and stage 1 trails it by t + τ: (m + 1)·t + τ.
  const Model model = models::gpt3_175b.with_layers(2).with_batch(4).with_seq_len(128);
  const std::int64_t m = 4;
  const Dag dag = build_dag(model, parse_plan("pp=2"), Workload::prefill(m));
  double stage_flops = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (dag[v].stage == 0 && dag[v].microbatch == 0)
      stage_flops += static_cast<double>(
          cost::work(dag[v], boost::get_property(dag, boost::graph_bundle)).flops);
  cost::Hardware hw = compute_only;
  const double t = stage_flops / hw.peak_flops(model.dtype);
  const double size = 1.0 * 128 * 12288 * 2; // one microbatch's [1, s, h] in FP16
  const double tau = t / 4;
  hw.nvlink.bandwidth_bytes_per_second = size / tau; // GPUs 0 and 1 share a node
  const double md = static_cast<double>(m);
  CHECK(cost::simulate(dag, hw).makespan_seconds == doctest::Approx(md * (t + tau) + t));
  CHECK(cost::simulate(dag, hw, {.overlap_communication = true}).makespan_seconds ==
        doctest::Approx((md + 1) * t + tau));
}

TEST_CASE("under the ring model, a ring all-reduce over n GPUs sends 2(n−1)/n·size per GPU") {
  // 8-way tensor parallel: 2 all-reduces per layer, each of the block output [b, s, h].
  const Model model = models::gpt3_175b.with_layers(2).with_seq_len(256);
  const Dag dag = build_dag(model, parse_plan("tp=8"), Workload::prefill());
  const double size = 1.0 * 256 * 12288 * 2; // b·s·h elements of 2 bytes
  const double per_all_reduce = 2.0 * (8 - 1) / 8 * size;
  // GPT-3's 50,257 tokens are held as 50,304 rows: the embedding's lookups are all-reduced like a
  // block output, and each GPU forwards the 7 logit shards [1, 1, 50304 / 8] it does not own.
  const double logits_gather = 7.0 * (50304 / 8) * 2;
  const double expected = (2 * 2 + 1) * per_all_reduce + logits_gather; // 2 layers × 2 + embedding
  const cost::Timeline timeline = cost::simulate(dag, cost::hardware::h100_sxm_nvl8, ring_model);
  for (const cost::DeviceUsage& usage : timeline.devices) {
    CHECK(usage.bytes_sent[0] == doctest::Approx(expected)); // all inside one NVLink node
    CHECK(usage.bytes_sent[1] == 0);
  }
  // Its time is 2(n−1) latencies plus the bytes over the effective NVLink bandwidth.
  const cost::Link& nvlink = cost::hardware::h100_sxm_nvl8.nvlink;
  const double seconds = 2 * 7 * nvlink.latency_seconds +
                         per_all_reduce / (nvlink.bandwidth_bytes_per_second * nvlink.efficiency);
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (dag[v].kind() == OpKind::all_reduce)
      CHECK(timeline.vertices[v].end_seconds - timeline.vertices[v].start_seconds ==
            doctest::Approx(seconds));
}

TEST_CASE("under the ring model, a hierarchical all-reduce over 4 groups × 4 sends 1.5·size inside "
          "groups and 0.375·size across them per GPU, 1.875·size in all like a flat ring of 16") {
  // Reduce-scatter in a group of 4: (4−1)/4·size = 0.75·size. All-reduce of the size/4 shard
  // across 4 groups: 2·(4−1)/4·size/4 = 0.375·size. All-gather of the shard in the group:
  // (4−1)·size/4 = 0.75·size. Intra-group 0.75 + 0.75 = 1.5·size; total 1.875·size = 2·15/16·size.
  const Model model = models::helix_seed.with_layers(1).with_batch(2).with_seq_len(64);
  const Dag dag = build_dag(model, parse_plan("tg=4x4"), Workload::prefill());
  const double size = 2.0 * 64 * 8192 * 2; // [b, s, h] in FP16
  const double all_reduces = 2;            // after attention and after the MLP
  const auto sent = bytes_by_phase(dag, cost::hardware::h100_sxm_nvl8);
  for (std::int64_t d = 0; d < 16; ++d) {
    CAPTURE(d);
    const double intra = sent.at({d, CollectivePhase::intra_group_reduce_scatter}) +
                         sent.at({d, CollectivePhase::intra_group_all_gather});
    const double inter = sent.at({d, CollectivePhase::inter_group_all_reduce});
    CHECK(intra == doctest::Approx(all_reduces * 1.5 * size));
    CHECK(inter == doctest::Approx(all_reduces * 0.375 * size));
  }
  // On H100 nodes of 8, groups 0–1 and 2–3 share a node: intra-group phases ride NVLink and the
  // inter-group ring (GPUs j, 4+j, 8+j, 12+j) crosses nodes, so it runs on InfiniBand.
  const cost::Timeline timeline = cost::simulate(dag, cost::hardware::h100_sxm_nvl8, ring_model);
  for (const cost::DeviceUsage& usage : timeline.devices) {
    CHECK(usage.bytes_sent[0] == doctest::Approx(all_reduces * 1.5 * size));
    CHECK(usage.bytes_sent[1] == doctest::Approx(all_reduces * 0.375 * size));
  }
  // A flat ring of 16 sends the same 1.875·size per GPU, all of it on its slowest (IB) link class.
  const Dag flat = build_dag(model, parse_plan("tp=16"), Workload::prefill());
  const cost::Timeline flat_timeline =
      cost::simulate(flat, cost::hardware::h100_sxm_nvl8, ring_model);
  for (const cost::DeviceUsage& usage : flat_timeline.devices) {
    CHECK(usage.bytes_sent[0] == 0);
    CHECK(usage.bytes_sent[1] == doctest::Approx(all_reduces * 1.875 * size));
  }
}

TEST_CASE("a compute op costs the larger of FLOPs over effective peak and bytes over bandwidth") {
  const cost::Hardware hw = roofline_only(cost::hardware::h100_sxm_nvl8);
  DagInfo info;
  info.model = models::gpt3_175b.with_batch(1);
  info.mesh = make_mesh(parse_plan("tp=8"));
  // x [1, 10⁴, 10⁴] @ W[10⁴ rows, 10⁴ cols]: 2·10¹² FLOPs; FP16 input, output and weight are
  // 3·10⁸ elements, 6·10⁸ bytes: compute bound on H100 (989 TFLOP/s against 3.35 TB/s).
  const Op matmul = square_fc1();
  CHECK(cost::work(matmul, info).flops == 2'000'000'000'000);
  CHECK(cost::work(matmul, info).memory_bytes == 600'000'000);
  const double compute = 2e12 / (989e12 * hw.compute_efficiency);
  CHECK(cost::op_cost(matmul, info, hw).seconds == doctest::Approx(compute));
  // RMSNorm over [1, 10⁴, 5·10⁴]: 5 FLOPs per element, but it streams input and output (10⁹
  // bytes) and its gain (5·10⁴ · 2 bytes): memory bound.
  info.model.hidden = 50'000;
  info.model.norm = Norm::rmsnorm;
  Op norm;
  norm.step = step::Norm{0};
  norm.device = 0;
  norm.inputs[0] = Shape{1, 10'000, 50'000};
  norm.input_count = 1;
  norm.output = Shape{1, 10'000, 50'000};
  const double bytes = 2.0 * (2 * 5e8 + 50'000);
  CHECK(cost::work(norm, info).flops == std::int64_t{5} * 500'000'000);
  CHECK(static_cast<double>(cost::work(norm, info).memory_bytes) == bytes);
  CHECK(cost::op_cost(norm, info, hw).seconds ==
        doctest::Approx(bytes / (3.35e12 * hw.memory_efficiency)));
}

TEST_CASE("an op computes at the peak of the model's dtype: fp8 halves a compute-bound matmul on "
          "H100, fp4 runs at the fp8 rate there, and A100 runs fp8 at its bf16 rate") {
  // x [1, 10⁴, 10⁴] @ W[10⁴, 10⁴] is 2·10¹² FLOPs whatever the format. In bf16 its 3·10⁸
  // elements are 6·10⁸ bytes, in fp8 3·10⁸: on H100 (dense BF16 989 TFLOP/s, FP8 1979, 3.35 TB/s)
  // at the preset's compute efficiency e (0.574) compute takes 2·10¹² / (989·10¹² · e) = 3.5 ms
  // against 6·10⁸ / (3.35·10¹² · 0.95) = 0.19 ms of memory in bf16 (1.8 ms against 0.09 ms in
  // fp8): compute bound both ways, so the fp8 op takes 989 / 1979 ≈ 0.4997 of the bf16 one's time.
  const cost::Hardware h100 = roofline_only(cost::hardware::h100_sxm_nvl8);
  DagInfo info;
  info.model = models::gpt3_175b.with_batch(1).with_dtype(DataType::bf16);
  info.mesh = make_mesh(parse_plan("tp=1"));
  const Op matmul = square_fc1();
  const double flops = 2e12;
  const double bf16_seconds = cost::op_cost(matmul, info, h100).seconds;
  const double e = h100.compute_efficiency;
  CHECK(bf16_seconds == doctest::Approx(flops / (989e12 * e)));
  info.model = info.model.with_dtype(DataType::fp8);
  CHECK(cost::work(matmul, info).memory_bytes == 300'000'000);
  const double fp8_seconds = cost::op_cost(matmul, info, h100).seconds;
  CHECK(fp8_seconds == doctest::Approx(flops / (1979e12 * e)));
  CHECK(fp8_seconds / bf16_seconds == doctest::Approx(989.0 / 1979.0));
  // Hopper has no FP4 tensor cores: its fp4 field holds the FP8 rate.
  info.model = info.model.with_dtype(DataType::fp4);
  CHECK(cost::op_cost(matmul, info, h100).seconds == doctest::Approx(fp8_seconds));
  // fp32 is the plain FP32 rate, 67 TFLOP/s, not TF32 tensor cores.
  info.model = info.model.with_dtype(DataType::fp32);
  CHECK(cost::op_cost(matmul, info, h100).seconds == doctest::Approx(flops / (67e12 * e)));
  // Ampere has no FP8 tensor cores: A100 runs fp8 at its BF16 312 TFLOP/s.
  const cost::Hardware a100 = roofline_only(cost::hardware::a100_sxm4_80gb_nvl8);
  info.model = info.model.with_dtype(DataType::fp8);
  CHECK(cost::op_cost(matmul, info, a100).seconds ==
        doctest::Approx(flops / (312e12 * a100.compute_efficiency)));
}

/// FC1 on GPU 0: x [1, tokens, rows] @ W[rows, cols].
Op fc1_of(std::int64_t tokens, std::int64_t rows, std::int64_t cols) {
  Op matmul;
  step::Fc1 fc1;
  fc1.rows = IndexRuns::range(0, rows);
  fc1.cols = IndexRuns::range(0, cols);
  matmul.step = fc1;
  matmul.device = 0;
  matmul.inputs[0] = Shape{1, tokens, rows};
  matmul.input_count = 1;
  matmul.output = Shape{1, tokens, cols};
  return matmul;
}

TEST_CASE("a matmul loses the unused part of its last tiles and of its last wave, and every kernel "
          "adds a launch (less under CUDA graphs)") {
  const cost::Hardware& h100 = cost::hardware::h100_sxm_nvl8;
  // 132 SMs, 128 × 128 tiles. A 4096 × 5120 output is 32 · 40 = 1280 whole tiles in
  // ⌈1280 / 132⌉ = 10 waves of 132 slots: 1280 / 1320 of the machine.
  CHECK(cost::gemm_shape_efficiency(h100, 4096, 5120) == doctest::Approx(1280.0 / 1320.0));
  // 4100 rows need 33 row tiles of which the last holds 4 rows: 4100 / 4224 of the tiles used;
  // 33 · 40 = 1320 tiles are exactly 10 waves.
  CHECK(cost::gemm_shape_efficiency(h100, 4100, 5120) == doctest::Approx(4100.0 / 4224.0));
  // One decode token: 1 of 128 rows of each tile; 32 tiles, fewer than the SMs, lose no wave
  // (split-K fills the GPU).
  CHECK(cost::gemm_shape_efficiency(h100, 1, 4096) == doctest::Approx(1.0 / 128.0));
  // Without an SM count the model is the plain roofline.
  CHECK(cost::gemm_shape_efficiency(roofline_only(h100), 1, 4096) == 1.0);

  // The op: x [1, 4096, 8192] @ W[8192, 5120] in fp16 is 2 · 4096 · 8192 · 5120 FLOPs at
  // 989 TFLOP/s · e · 1280/1320 (e the preset's compute efficiency), compute bound (its 96 MB
  // stream in 30 µs at 3.2 TB/s), plus one kernel launch; from a CUDA graph, a graph launch.
  DagInfo info;
  info.model = models::gpt3_175b.with_batch(1);
  info.mesh = make_mesh(parse_plan("tp=1"));
  const Op matmul = fc1_of(4096, 8192, 5120);
  const double flops = 2.0 * 4096 * 8192 * 5120;
  const double compute = flops / (989e12 * h100.compute_efficiency * 1280.0 / 1320.0);
  const cost::OpCost cost = cost::op_cost(matmul, info, h100);
  CHECK(cost.compute_seconds == doctest::Approx(compute));
  CHECK(cost.launch_seconds == doctest::Approx(h100.kernel_launch_seconds));
  CHECK(cost.seconds == doctest::Approx(compute + h100.kernel_launch_seconds));
  cost::Hardware graphs = h100;
  graphs.cuda_graphs = true;
  graphs.graph_kernel_launch_seconds = 0.5e-6;
  CHECK(cost::op_cost(matmul, info, graphs).seconds == doctest::Approx(compute + 0.5e-6));
}

TEST_CASE("NCCL's ring, tree and NVLS all-reduce times inside one H100 node, from NCCL's tuning "
          "model, at 64 KiB and 256 MiB") {
  // NCCL src/graph/tuning.cc: time = latency + bytes / algorithm bandwidth. One node of 8 H100s:
  // bus bandwidth B = NVLink 450 GB/s · 0.75 = 337.5 GB/s; an all-reduce has 2(n − 1) = 14 steps.
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  const cost::CollectiveSpan node{.ranks = 8, .nodes = 1, .fewest_ranks_per_node = 8};
  const double bus = 337.5e9, us = 1e-6;
  const auto time = [&](cost::CollectiveAlgorithm a, cost::Protocol p, double bytes) {
    return cost::estimate_collective(cost::CollectiveFunction::all_reduce, a, p, node, bytes, hw)
        .seconds;
  };
  using A = cost::CollectiveAlgorithm;
  using P = cost::Protocol;
  for (const double bytes : {64.0 * 1024, 256.0 * 1024 * 1024}) {
    CAPTURE(bytes);
    // Ring Simple: base 8.4 µs + 14 NVLink hops of 3.4 µs; algorithm bandwidth B · n / steps.
    CHECK(time(A::ring, P::simple, bytes) ==
          doctest::Approx(8.4 * us + 14 * 3.4 * us + bytes / (bus * 8 / 14)));
    // Ring LL: 6.6 + 14 · 0.6 µs; bus bandwidth min(llMax 141 GB/s, B / 2).
    CHECK(time(A::ring, P::ll, bytes) ==
          doctest::Approx(6.6 * us + 14 * 0.6 * us + bytes / (141e9 * 8 / 14)));
    // Ring LL128: 14.0 + 14 · 1.9 µs; 0.92 · B.
    CHECK(time(A::ring, P::ll128, bytes) ==
          doctest::Approx(14.0 * us + 14 * 1.9 * us + bytes / (0.92 * bus * 8 / 14)));
    // Tree LL128 in one node: 14.0 + 2 · (8 − 1) · 1.25 µs; bus 0.92 · B · 7/9, halved.
    CHECK(time(A::tree, P::ll128, bytes) ==
          doctest::Approx(14.0 * us + 2 * 7 * 1.25 * us + bytes / (0.92 * bus * 7 / 9 / 2)));
    // Tree Simple: 8.4 + 2 · 7 · 4.0 µs; 0.92 · B, halved.
    CHECK(time(A::tree, P::simple, bytes) ==
          doctest::Approx(8.4 * us + 2 * 7 * 4.0 * us + bytes / (0.92 * bus / 2)));
    // NVLS (Simple only): 25 µs; B · 0.85 (Hopper), doubled for an all-reduce, times n / steps.
    CHECK(time(A::nvls, P::simple, bytes) ==
          doctest::Approx(25 * us + bytes / (2 * 0.85 * bus * 8 / 14)));
    CHECK_FALSE(cost::estimate_collective(cost::CollectiveFunction::all_reduce, A::nvls, P::ll,
                                          node, bytes, hw)
                    .available);
  }
  // An all-gather whose output is `bytes` (n − 1 = 7 steps): ring Simple 8.4 + 7 · 3.4 µs at
  // B · n/(n − 1); NVLS at B · 0.85 · (n − 1)/n, times n/(n − 1): B · 0.85.
  for (const double bytes : {64.0 * 1024, 256.0 * 1024 * 1024}) {
    CHECK(cost::estimate_collective(cost::CollectiveFunction::all_gather, A::ring, P::simple, node,
                                    bytes, hw)
              .seconds == doctest::Approx(8.4 * us + 7 * 3.4 * us + bytes / (bus * 8 / 7)));
    CHECK(cost::estimate_collective(cost::CollectiveFunction::all_gather, A::nvls, P::simple, node,
                                    bytes, hw)
              .seconds == doctest::Approx(25 * us + bytes / (bus * 0.85)));
    // Trees only all-reduce.
    CHECK_FALSE(cost::estimate_collective(cost::CollectiveFunction::reduce_scatter, A::tree,
                                          P::simple, node, bytes, hw)
                    .available);
  }
  // NCCL picks the cheapest: ring LL for 16 KiB (15.2 µs; tree LL 15.6, NVLS 25), NVLS for 1 GiB
  // (3.3 ms against ring Simple's 5.6). A100's NVSwitch has no SHARP: ring Simple there.
  const cost::CollectiveEstimate small =
      cost::fastest_collective(cost::CollectiveFunction::all_reduce, node, 16 * 1024, hw);
  CHECK(small.algorithm == A::ring);
  CHECK(small.protocol == P::ll);
  const cost::CollectiveEstimate large =
      cost::fastest_collective(cost::CollectiveFunction::all_reduce, node, 1 << 30, hw);
  CHECK(large.algorithm == A::nvls);
  const cost::CollectiveEstimate a100 = cost::fastest_collective(
      cost::CollectiveFunction::all_reduce, node, 1 << 30, cost::hardware::a100_sxm4_80gb_nvl8);
  CHECK(a100.algorithm == A::ring);
  CHECK(a100.protocol == P::simple);
}

TEST_CASE("NCCL across two H100 nodes: every NIC of a node carries the ring, trees climb ⌊log2 "
          "nodes⌋ network hops, and a one-GPU-per-node group has one NIC") {
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  const double us = 1e-6;
  // tp=16 over two nodes of 8: the members of each node use its 8 NICs (8 · 50 GB/s · 0.9 =
  // 360 GB/s), more than NVLink's 337.5, so the ring runs at 337.5 GB/s.
  const Dag tp16 = build_dag(models::helix_seed.with_layers(1).with_batch(1).with_seq_len(8),
                             parse_plan("tp=16"), Workload::prefill());
  const DeviceGroup* group = nullptr;
  for (Vertex v : boost::make_iterator_range(boost::vertices(tp16)))
    if (const auto* c = collective_of(tp16[v]); c != nullptr && group == nullptr)
      group = &c->group;
  REQUIRE(group != nullptr);
  const cost::CollectiveSpan two_nodes =
      cost::collective_span(hw, boost::get_property(tp16, boost::graph_bundle).mesh, *group);
  CHECK(two_nodes == cost::CollectiveSpan{.ranks = 16, .nodes = 2, .fewest_ranks_per_node = 8});
  CHECK(cost::inter_node_bus_bandwidth(hw, two_nodes) == doctest::Approx(360e9));
  const auto time = [&](cost::CollectiveAlgorithm a, cost::Protocol p, double bytes,
                        const cost::CollectiveSpan& span) {
    return cost::estimate_collective(cost::CollectiveFunction::all_reduce, a, p, span, bytes, hw)
        .seconds;
  };
  using A = cost::CollectiveAlgorithm;
  using P = cost::Protocol;
  for (const double bytes : {64.0 * 1024, 256.0 * 1024 * 1024}) {
    CAPTURE(bytes);
    // Ring Simple: 30 steps, 2(nodes − 1) = 2 of them between nodes at 14 µs, the other 28 at
    // max(3.4, 3 · 1 µs network overhead) = 3.4 µs; base 8.4.
    CHECK(time(A::ring, P::simple, bytes, two_nodes) ==
          doctest::Approx(8.4 * us + 28 * 3.4 * us + 2 * 14 * us + bytes / (337.5e9 * 16 / 30)));
    // Ring LL over two nodes: bus min(39 GB/s, B / 2); hops max(0.6, 1) = 1 µs inside, 2.7 between.
    CHECK(time(A::ring, P::ll, bytes, two_nodes) ==
          doctest::Approx(6.6 * us + 28 * 1.0 * us + 2 * 2.7 * us + bytes / (39e9 * 16 / 30)));
    // Tree Simple: 8.4 + 2 · ((16/2 − 1) · 4.0 + ⌊log2 2⌋ · 14) µs; 0.92 · B, halved.
    CHECK(time(A::tree, P::simple, bytes, two_nodes) ==
          doctest::Approx(8.4 * us + 2 * (7 * 4.0 + 1 * 14) * us + bytes / (0.92 * 337.5e9 / 2)));
    // NVLS tree: 25 µs NVLS + 2 · 1 · 20.9 µs; bus min(2 · 0.85 · 337.5, 2 · 360) GB/s, n / steps.
    CHECK(time(A::nvls_tree, P::simple, bytes, two_nodes) ==
          doctest::Approx(25 * us + 2 * 20.9 * us + bytes / (2 * 0.85 * 337.5e9 * 16 / 30)));
    // NVLS alone needs CollNet across nodes: not available.
    CHECK_FALSE(cost::estimate_collective(cost::CollectiveFunction::all_reduce, A::nvls, P::simple,
                                          two_nodes, bytes, hw)
                    .available);
  }
  // dp=2 over two nodes, one GPU each: one NIC (45 GB/s); 2 ring steps, both between nodes, at
  // the tree's network hop (NCCL: with one rank per node latencies are fully exposed).
  const cost::CollectiveSpan one_per_node{.ranks = 2, .nodes = 2, .fewest_ranks_per_node = 1};
  CHECK(cost::inter_node_bus_bandwidth(hw, one_per_node) == doctest::Approx(45e9));
  CHECK(time(A::ring, P::simple, 1 << 20, one_per_node) ==
        doctest::Approx(8.4 * us + 2 * 14 * us + (1 << 20) / (45e9 * 2 / 2)));
  // Bytes each member sends: a ring of 16 over 2 nodes sends 2 · 15/16 of the buffer, of which
  // 2 of the 16 hops per step cross nodes.
  const auto sent = cost::collective_bytes_by_link(cost::CollectiveFunction::all_reduce, A::ring,
                                                   two_nodes, 1600);
  CHECK(sent[1] == doctest::Approx(2.0 * 15 / 16 * 1600 * 2 / 16));
  CHECK(sent[0] + sent[1] == doctest::Approx(2.0 * 15 / 16 * 1600));
}

TEST_CASE("inside one NVSwitch node, llama3_70b decode on tp=8 is at least as fast as tg=2x4, as "
          "NCCL users see (one all-reduce of 8 beats three collectives of 2 and 4)") {
  const Model model = models::llama3_70b.with_batch(8).with_seq_len(2048);
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  const double flat =
      cost::simulate(build_dag(model, parse_plan("tp=8"), Workload::decode()), hw).makespan_seconds;
  const double grouped =
      cost::simulate(build_dag(model, parse_plan("tg=2x4"), Workload::decode()), hw)
          .makespan_seconds;
  CHECK(flat <= grouped);
}

TEST_CASE("every hardware preset has positive numbers, efficiencies above 0 and at most 1, and the "
          "InfiniBand bandwidth its NICs give each GPU") {
  // The cost model sends between nodes at infiniband.bandwidth per GPU; a node's NICs shared by
  // its GPUs give nics_per_node · nic_bandwidth / gpus_per_node, one 400 Gb/s (50 GB/s) NIC per
  // GPU on H100, H200 and GB200, one 200 Gb/s (25 GB/s) NIC per GPU on A100.
  const std::map<std::string, double> per_gpu{{"a100_sxm4_80gb_nvl8", 25e9},
                                              {"h100_sxm_nvl8", 50e9},
                                              {"h200_sxm_nvl8", 50e9},
                                              {"gb200_nvl72", 50e9}};
  CHECK(cost::hardware::all.size() == per_gpu.size());
  for (const cost::Hardware& hw : cost::hardware::all) {
    const std::string name(hw.name);
    CAPTURE(name);
    REQUIRE(per_gpu.contains(name));
    CHECK(cost::hardware::by_name(name) == &hw);
    CHECK(hw.gpus_per_node > 0);
    CHECK(hw.nics_per_node > 0);
    for (const DataTypeInfo& type : data_types)
      CHECK(hw.peak_flops(type.type) > 0);
    // Narrower formats are never slower than wider ones.
    CHECK(hw.peak_flops(DataType::fp32) <= hw.peak_flops(DataType::bf16));
    CHECK(hw.peak_flops(DataType::bf16) <= hw.peak_flops(DataType::fp8));
    CHECK(hw.peak_flops(DataType::fp8) <= hw.peak_flops(DataType::fp4));
    for (const double efficiency : {hw.compute_efficiency, hw.memory_efficiency,
                                    hw.nvlink.efficiency, hw.infiniband.efficiency}) {
      CHECK(efficiency > 0);
      CHECK(efficiency <= 1);
    }
    CHECK(hw.memory_bandwidth_bytes_per_second > 0);
    CHECK(hw.memory_capacity_bytes > 0);
    CHECK(hw.nic_bandwidth_bytes_per_second > 0);
    CHECK(hw.nvlink.bandwidth_bytes_per_second > 0);
    CHECK(hw.nvlink.latency_seconds > 0);
    CHECK(hw.infiniband.latency_seconds > 0);
    CHECK(hw.infiniband.bandwidth_bytes_per_second == doctest::Approx(per_gpu.at(name)));
    CHECK(
        hw.infiniband.bandwidth_bytes_per_second ==
        doctest::Approx(static_cast<double>(hw.nics_per_node) * hw.nic_bandwidth_bytes_per_second /
                        static_cast<double>(hw.gpus_per_node)));
  }
  // The datasheet figures the brief names: H200 computes as H100 with 141 GB at 4.8 TB/s; GB200
  // 2.5, 5 and 10 PFLOP/s dense in BF16, FP8 and FP4; A100 312 TFLOP/s BF16 at 2.039 TB/s.
  CHECK(cost::hardware::h200_sxm_nvl8.peak_flops_per_second ==
        cost::hardware::h100_sxm_nvl8.peak_flops_per_second);
  CHECK(cost::hardware::h200_sxm_nvl8.memory_capacity_bytes == 141e9);
  CHECK(cost::hardware::gb200_nvl72.peak_flops(DataType::fp4) == 10e15);
  CHECK(cost::hardware::a100_sxm4_80gb_nvl8.memory_bandwidth_bytes_per_second == 2.039e12);
  CHECK(cost::hardware::by_name("tpu_v5") == nullptr);
}

namespace {

/// One block, no norms, tp=1, b = 1, T = K = 64 tokens, h = 64, 4 heads × 16, ffn 64, bf16: every
/// [b, T, ·] activation is 64·64 = 4096 elements, each [b, heads, T, K] scores tensor
/// 4·64·64 = 16384.
const Model small_attention_model{.layers = 1,
                                  .hidden = 64,
                                  .heads = 4,
                                  .kv_heads = 4,
                                  .head_dim = 16,
                                  .ffn_hidden = 64,
                                  .batch = 1,
                                  .seq_len = 64,
                                  .dtype = DataType::bf16,
                                  .kv_dtype = DataType::bf16,
                                  .norm = Norm::none};

/// The work of the first op of `kind` in `dag`.
cost::Work work_of(const Dag& dag, OpKind kind) {
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (dag[v].kind() == kind)
      return cost::work(dag[v], boost::get_property(dag, boost::graph_bundle));
  FAIL("no op of kind " << op_kind_name(kind));
  return {};
}

} // namespace

TEST_CASE("flash attention keeps no scores or probabilities in memory: a prefill's peak loses the "
          "2·b·heads·T·K elements of scores and probabilities") {
  // Keys and values count as KV cache, not activations, so the live activations in program order
  // are (elements):
  //   materialized: at scores x, q, scores = 2·4096 + 16384 = 24576; at softmax x, scores,
  //     probabilities = 4096 + 2·16384 = 36864 ← the peak; at context x, probabilities, context
  //     = 24576; after it nothing holds more than three [b, T, ·] tensors (12288).
  //   flash: the same slots without scores and probabilities: x and q (8192) at scores, x at
  //     softmax, x and context at context; the peak is three [b, T, ·] tensors, 12288 elements
  //     (out-projection: x, context, its output; the residual add, GELU and FC2 likewise).
  // At the softmax slot the 2·b·heads·T·K = 2·1·4·64·64 = 32768 elements (65536 bytes in bf16)
  // that the materialized kernel writes are gone. The KV cache is the same either way.
  const Workload materialized = Workload::prefill().with_attention(AttentionKernel::materialized);
  const Workload flash = Workload::prefill().with_attention(AttentionKernel::flash);
  const double bytes = 2; // bf16
  const cost::MemoryReport written =
      cost::memory(build_dag(small_attention_model, parse_plan("tp=1"), materialized),
                   cost::hardware::h100_sxm_nvl8);
  const cost::MemoryReport fused = cost::memory(
      build_dag(small_attention_model, parse_plan("tp=1"), flash), cost::hardware::h100_sxm_nvl8);
  const double score_elements = 1.0 * 4 * 64 * 64;
  CHECK(written.devices[0].activation_bytes ==
        doctest::Approx((4096 + 2 * score_elements) * bytes));
  CHECK(fused.devices[0].activation_bytes == doctest::Approx(3 * 4096 * bytes));
  CHECK(written.devices[0].kv_cache_bytes == fused.devices[0].kv_cache_bytes);
  CHECK(written.devices[0].weight_bytes == fused.devices[0].weight_bytes);
}

TEST_CASE("flash counts T(T + 1)/2 of the T·K score entries of a causal prefill (K = T), reads "
          "Q, K and V and writes the context once, decode and materialized count every entry") {
  // Per head, query i (from 0) of a causal prefill sees keys 0..i: 1 + 2 + ... + T = T(T + 1)/2
  // entries, the diagonal included (so not T²/2). With T = K = 64: 2080 of 4096, a ratio of
  // (T + 1)/(2T) = 65/128. Scores and context each take 2 FLOPs per entry and head_dim element:
  // flash 2·b·heads·2080·16 = 266,240, materialized 2·1·4·4096·16 = 524,288; softmax 5 per entry.
  CHECK(cost::causal_score_entries(4, 4) == 10); // 1 + 2 + 3 + 4
  CHECK(cost::causal_score_entries(1, 9) == 9);  // decode: one token sees every key
  CHECK(cost::causal_score_entries(2, 5) == 9);  // positions 3 and 4 of 5: 4 + 5 keys
  CHECK(cost::causal_score_entries(64, 64) == 2080);
  const Workload materialized = Workload::prefill().with_attention(AttentionKernel::materialized);
  const Workload flash = Workload::prefill().with_attention(AttentionKernel::flash);
  const Dag written = build_dag(small_attention_model, parse_plan("tp=1"), materialized);
  const Dag fused = build_dag(small_attention_model, parse_plan("tp=1"), flash);
  const double entries = 1.0 * 4 * 64 * 64, causal_entries = 1.0 * 4 * 2080;
  for (const OpKind kind : {OpKind::attention_scores, OpKind::attention_context}) {
    CAPTURE(op_kind_name(kind));
    CHECK(work_of(written, kind).flops == 2 * entries * 16);
    CHECK(work_of(fused, kind).flops == 2 * causal_entries * 16);
    CHECK(static_cast<double>(work_of(fused, kind).flops) / work_of(written, kind).flops ==
          doctest::Approx(65.0 / 128));
  }
  CHECK(work_of(written, OpKind::softmax).flops == 5 * entries);
  CHECK(work_of(fused, OpKind::softmax).flops == 5 * causal_entries);
  // Memory traffic, bf16: materialized scores read Q and K (4096 each) and write the scores
  // (16384); softmax reads scores and writes probabilities; context reads probabilities and V
  // and writes the context. Flash: scores read Q and K, softmax nothing, context reads V and
  // writes the context.
  CHECK(work_of(written, OpKind::attention_scores).memory_bytes == (4096 + 4096 + 16384) * 2);
  CHECK(work_of(written, OpKind::softmax).memory_bytes == 2 * 16384 * 2);
  CHECK(work_of(written, OpKind::attention_context).memory_bytes == (16384 + 4096 + 4096) * 2);
  CHECK(work_of(fused, OpKind::attention_scores).memory_bytes == (4096 + 4096) * 2);
  CHECK(work_of(fused, OpKind::softmax).memory_bytes == 0);
  CHECK(work_of(fused, OpKind::attention_context).memory_bytes == (4096 + 4096) * 2);
  // Decode attends one new token to all 65 keys (64 cached and its own): nothing is masked, so
  // flash and materialized compute the same 4·65 entries; the cached keys are read in the KV
  // cache's format (fp8 here: 65·64 bytes) while Q stays bf16 (64·2 bytes).
  const Model fp8_cache = small_attention_model.with_kv_dtype(DataType::fp8);
  const Dag decode = build_dag(fp8_cache, parse_plan("tp=1"),
                               Workload::decode().with_attention(AttentionKernel::flash));
  CHECK(work_of(decode, OpKind::attention_scores).flops == 2 * 4 * 65 * 16);
  CHECK(work_of(decode, OpKind::attention_scores).memory_bytes == 64 * 2 + 65 * 64 * 1);
}

TEST_CASE("a head_dim-split plan all-reduces partial scores, so its attention stays materialized "
          "under flash") {
  // hp=2x2 gives each device half of head_dim (8 of 16): its scores are a partial sum that must
  // cross devices before the softmax, which a fused kernel cannot do. Its scores op writes its
  // [1, 2, 64, 64] partial scores (8192 elements) after reading Q and K slices of [1, 64, 2·8]
  // (1024 each), and counts every entry: 2·1·2·4096·8 FLOPs.
  const Workload flash = Workload::prefill().with_attention(AttentionKernel::flash);
  const Dag dag = build_dag(small_attention_model, parse_plan("hp=2x2"), flash);
  const cost::Work scores = work_of(dag, OpKind::attention_scores);
  CHECK(scores.flops == 2 * 2 * 4096 * 8);
  CHECK(scores.memory_bytes == (1024 + 1024 + 8192) * 2);
  CHECK(work_of(dag, OpKind::softmax).memory_bytes == 2 * 8192 * 2);
}

TEST_CASE("ranks map to nodes of gpus_per_node: link classes follow the mesh") {
  const cost::Hardware& h100 = cost::hardware::h100_sxm_nvl8;
  CHECK(cost::link_between(h100, 0, 7) == cost::LinkClass::nvlink);
  CHECK(cost::link_between(h100, 7, 8) == cost::LinkClass::infiniband);
  CHECK(cost::link_between(cost::hardware::gb200_nvl72, 7, 71) == cost::LinkClass::nvlink);
  // pp=2,tg=4x4 on H100: every collective stays inside its stage's node (the all-gather of the
  // pipeline slices too: stage 1 is GPUs 8–15, one node); only the stage-to-stage transfers cross
  // to the other node.
  const Dag dag = build_dag(models::helix_seed.with_batch(2).with_seq_len(64),
                            parse_plan("pp=2,tg=4x4"), Workload::prefill());
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (is_communication(dag[v].kind()))
      CHECK(cost::op_cost(dag, v, h100).link == (dag[v].kind() == OpKind::transfer
                                                     ? cost::LinkClass::infiniband
                                                     : cost::LinkClass::nvlink));
  // A send/recv moves what it carries once: under scatter-gather sends (the default) each
  // stage-0 GPU sends its 1/8 of [b, s, h], 2·64·(8192 / 8) FP16 elements, over InfiniBand;
  // stage-1 GPUs only receive. A full send carries the whole 2·64·8192, 8 times as much.
  const cost::Timeline timeline = cost::simulate(dag, h100);
  for (std::size_t d = 0; d < 16; ++d)
    CHECK(timeline.devices[d].bytes_sent[1] == (d < 8 ? 2.0 * 64 * (8192 / 8) * 2 : 0.0));
  const cost::Timeline full = cost::simulate(
      build_dag(models::helix_seed.with_batch(2).with_seq_len(64), parse_plan("pp=2,tg=4x4"),
                Workload::prefill().with_pipeline_send(PipelineSend::full)),
      h100);
  for (std::size_t d = 0; d < 16; ++d)
    CHECK(full.devices[d].bytes_sent[1] == (d < 8 ? 2.0 * 64 * 8192 * 2 : 0.0));
}

TEST_CASE("weights per device are the device's slices: 12h²/t per layer plus replicated norms") {
  // GPT-3 block, no biases: Wq, Wk, Wv, Wo h² each, W1 and W2 4h² each; layernorm gain and shift
  // 2h per norm, two norms, replicated on every tensor-parallel device.
  const Model model = models::gpt3_175b.with_layers(2).with_seq_len(128);
  const Dag dag = build_dag(model, parse_plan("tp=8"), Workload::prefill());
  const cost::MemoryReport report = cost::memory(dag, cost::hardware::h100_sxm_nvl8);
  const double h = 12288;
  // Plus an eighth of the embedding and of the LM head (50,304 padded rows each) and the final
  // layernorm.
  const double weights =
      (2 * (12 * h * h / 8 + 2 * 2 * h) + 2 * 50304 * h / 8 + 2 * h) * 2; // 2 layers, BF16
  // Prefill KV cache: keys and values of 128 tokens for 96/8 heads of 128, per layer.
  const double kv = 2 * 2 * 128 * (96.0 / 8 * 128) * 2;
  for (const cost::DeviceMemory& m : report.devices) {
    CHECK(m.weight_bytes == doctest::Approx(weights));
    CHECK(m.kv_cache_bytes == doctest::Approx(kv));
    CHECK(m.fits);
  }
  // GPT-3 175B whole on one stage of 8 H100s needs 175e9·2/8 ≈ 44 GB of weights per GPU: fits;
  // on a single GPU it is 350 GB: does not.
  const Dag alone =
      build_dag(models::gpt3_175b.with_layers(96), parse_plan("tp=1"), Workload::prefill());
  const cost::MemoryReport single = cost::memory(alone, cost::hardware::h100_sxm_nvl8);
  CHECK(single.devices[0].weight_bytes > 340e9);
  CHECK_FALSE(single.fits);
}

TEST_CASE("peak activations (materialized attention): live tensors from producer through last "
          "consumer, at their widest") {
  // One block, no norms, tp=1, B = 1, S = 16, h = 64, 4 heads × 16, ffn 256, FP16. In elements:
  // x, q, k, v, context, attention out, y: 16·64 = 1024; scores, probabilities: 4·16·16 = 1024;
  // FC1 and GELU out: 16·256 = 4096. Live sets in program order:
  //   at scores   x, q, k, v, scores                     5 · 1024        = 5120
  //   at softmax  x, v, scores, probabilities            4 · 1024        = 4096
  //   at GELU     y, FC1 out, GELU out                   1024 + 2 · 4096 = 9216  ← the peak
  //   at FC2      y, GELU out, FC2 out                   1024 + 4096 + 1024 = 6144
  const Model model{.layers = 1,
                    .hidden = 64,
                    .heads = 4,
                    .kv_heads = 4,
                    .head_dim = 16,
                    .ffn_hidden = 256,
                    .batch = 1,
                    .seq_len = 16,
                    .norm = Norm::none};
  const Workload materialized = Workload::prefill().with_attention(AttentionKernel::materialized);
  const Dag dag = build_dag(model, parse_plan("tp=1"), materialized);
  const cost::MemoryReport report = cost::memory(dag, cost::hardware::h100_sxm_nvl8);
  CHECK(report.devices[0].activation_bytes == doctest::Approx(9216.0 * 2));
  // tp=2 halves q, k, v, context, scores, probabilities and the FFN slices, not x, y or the
  // partial sums: at GELU y + 2 · 2048 = 5120 elements.
  const Dag split = build_dag(model, parse_plan("tp=2"), materialized);
  for (const cost::DeviceMemory& m : cost::memory(split, cost::hardware::h100_sxm_nvl8).devices)
    CHECK(m.activation_bytes == doctest::Approx(5120.0 * 2));
}

TEST_CASE("decode keeps b·(s + 1) keys and values per layer for the device's kv heads") {
  // Llama 3 70B, 8 kv heads over tp=8: one kv head of 128 per device; batch 4, 1024 cached tokens
  // plus the new one, 2 layers, keys and values, bf16 (2 bytes).
  const Model model = models::llama3_70b.with_layers(2).with_batch(4).with_seq_len(1024);
  const Dag dag = build_dag(model, parse_plan("tp=8"), Workload::decode());
  const cost::MemoryReport report = cost::memory(dag, cost::hardware::h100_sxm_nvl8);
  const double kv = 2.0 * 2 * 4 * (1024 + 1) * 128 * 2;
  for (const cost::DeviceMemory& m : report.devices)
    CHECK(m.kv_cache_bytes == doctest::Approx(kv));
  // Decode emits one token per sequence per step.
  const cost::Timeline timeline = cost::simulate(dag, cost::hardware::h100_sxm_nvl8);
  CHECK(timeline.tokens_per_second == doctest::Approx(4 / timeline.makespan_seconds));
}

TEST_CASE("the seed comparison counts 6 → 4 logical all-reduces and 6 → 12 phases, full sends") {
  // hp=4x4: per layer, scores (over the 4 slices of each group), attention output and MLP output
  // (over 16) = 3 flat all-reduces; pp=2,tg=4x4: 2 per layer, each 3 hierarchical phases. With
  // full pipeline sends nothing else is a collective (scatter-gather sends: the next test).
  // The seed's material describes explicit score tensors: its comparison is materialized.
  const Model model = models::helix_seed;
  const Workload materialized = Workload::prefill()
                                    .with_attention(AttentionKernel::materialized)
                                    .with_pipeline_send(PipelineSend::full);
  std::vector<std::pair<std::string, Dag>> plans;
  plans.emplace_back("hp=4x4", build_dag(model, parse_plan("hp=4x4"), materialized));
  plans.emplace_back("pp=2,tg=4x4", build_dag(model, parse_plan("pp=2,tg=4x4"), materialized));
  std::ostringstream out;
  const cost::Comparison c = cost::compare(plans, cost::hardware::h100_sxm_nvl8, 0);
  io::write_markdown(out, c);
  REQUIRE(c.plans.size() == 2);
  CHECK(c.plans[0].allreduce_logical == 6);
  CHECK(c.plans[0].collective_phases == 6);
  CHECK(c.plans[1].allreduce_logical == 4);
  CHECK(c.plans[1].collective_phases == 12);
  CHECK(c.plans[0].world_size == 16);
  REQUIRE(c.verdicts.size() == 3);
  CHECK(c.verdicts[0].verdict == cost::Verdict::partly_holds);
  CHECK(c.verdicts[0].text == "fewer all-reduce operations: 6 → 4 logical (−33%), 6 → 12 phases "
                              "(+100%): holds for logical calls, not for phases");
  CHECK(out.str().find("| pp=2,tg=4x4 | 16 | 4 | 12 |") != std::string::npos);
  // Batch 1024 × 10000 tokens with materialized [b, heads, s, s] scores needs terabytes per GPU.
  CHECK_FALSE(c.plans[0].fits);
  CHECK(c.notes.size() == 2);
}

TEST_CASE("scatter-gather pipeline sends add one collective phase to the seed's optimized plan") {
  // The default sends: 8 transfers of 1/8 of hidden into stage 1 and one flat all-gather over its
  // 8 GPUs, a 13th collective phase per forward. It sums nothing: the plan's logical all-reduces
  // are still 2 per layer × 2 layers = 4 (sums_partial_results says which collectives sum).
  const Workload materialized = Workload::prefill().with_attention(AttentionKernel::materialized);
  std::vector<std::pair<std::string, Dag>> plans;
  plans.emplace_back("hp=4x4", build_dag(models::helix_seed, parse_plan("hp=4x4"), materialized));
  plans.emplace_back("pp=2,tg=4x4",
                     build_dag(models::helix_seed, parse_plan("pp=2,tg=4x4"), materialized));
  std::set<std::int64_t> summing;
  const Dag& optimized = plans[1].second;
  for (Vertex v : boost::make_iterator_range(boost::vertices(optimized)))
    if (const step::Collective* c = collective_of(optimized[v]);
        c && sums_partial_results(c->purpose))
      summing.insert(c->logical);
  CHECK(summing.size() == 4);
  const cost::Comparison c = cost::compare(plans, cost::hardware::h100_sxm_nvl8, 0);
  REQUIRE(c.plans.size() == 2);
  CHECK(c.plans[1].collective_phases == 12 + 1);
  // The pipeline all-gather is a phase but sums nothing: the logical all-reduces stay 4.
  CHECK(c.plans[1].allreduce_logical == 4);
  // Bytes per GPU by link, with F = 1024·10000·8192·2 B = 167.77 GB the whole activation. Stage 0
  // sends its slices over InfiniBand, F/8 per GPU, where a full send sends F. Stage 1 forwards in
  // the all-gather the 7 slices it does not own, 7·F/8 over NVLink on top of its all-reduces,
  // which are those of a full send's plan: the most any GPU sends over NVLink grows by 7·F/8.
  const double F = 1024.0 * 10000 * 8192 * 2;
  const auto link = [](cost::LinkClass l) { return static_cast<std::size_t>(l); };
  std::vector<std::pair<std::string, Dag>> full_sends;
  full_sends.emplace_back("pp=2,tg=4x4",
                          build_dag(models::helix_seed, parse_plan("pp=2,tg=4x4"),
                                    materialized.with_pipeline_send(PipelineSend::full)));
  const cost::Comparison full = cost::compare(full_sends, cost::hardware::h100_sxm_nvl8, 1);
  const auto& sent = c.plans[1].bytes_by_link;
  const auto& sent_full = full.plans[0].bytes_by_link;
  CHECK(sent[link(cost::LinkClass::infiniband)] == doctest::Approx(F / 8));
  CHECK(sent_full[link(cost::LinkClass::infiniband)] == doctest::Approx(F));
  CHECK(sent[link(cost::LinkClass::nvlink)] ==
        doctest::Approx(sent_full[link(cost::LinkClass::nvlink)] + 7 * F / 8));
}

TEST_CASE("a scatter-gather send carries full / t bytes, and its all-gather (t - 1) of them") {
  // pp=2,tp=4, batch 2, 8 tokens, hidden 8192, FP16: the activation is 2·8·8192·2 = 262,144 B.
  // Each of the 4 senders sends 262,144 / 4 = 65,536 B in one message; each member of the 4-GPU
  // all-gather forwards the 3 slices it does not own, 3 · 65,536 B in 3 ring steps. A full send
  // carries all 262,144 B and nothing is gathered.
  const Model m = models::helix_seed.with_batch(2).with_seq_len(8);
  for (const PipelineSend send : {PipelineSend::scatter_gather, PipelineSend::full}) {
    CAPTURE(pipeline_send_name(send));
    const Dag dag = build_dag(m, parse_plan("pp=2,tp=4"), Workload{}.with_pipeline_send(send));
    const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
    std::size_t transfers = 0, gathers = 0;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
      const cost::Work w = cost::work(dag[v], info);
      if (dag[v].kind() == OpKind::transfer) {
        ++transfers;
        CHECK(w.bytes_sent == (send == PipelineSend::full ? 262144.0 : 262144.0 / 4));
        CHECK(w.messages == 1);
        CHECK(w.members == 2);
      } else if (const step::Collective* c = collective_of(dag[v]);
                 c && c->purpose == CollectivePurpose::pipeline_activation) {
        ++gathers;
        CHECK(w.bytes_sent == 3 * 262144.0 / 4);
        CHECK(w.messages == 3);
        CHECK(w.members == 4);
      }
    }
    CHECK(transfers == 4);
    CHECK(gathers == (send == PipelineSend::full ? 0u : 1u));
  }
}

TEST_CASE("the timeline SVG has a row per device, a bar per timed vertex, and is written whole") {
  const Model model = models::helix_seed.with_batch(2).with_seq_len(64);
  const Dag dag = build_dag(model, parse_plan("pp=2,tg=4x4"), Workload::prefill(2));
  const cost::Timeline timeline = cost::simulate(dag, cost::hardware::h100_sxm_nvl8);
  const std::string svg = io::timeline_svg(dag, timeline, "pp=2,tg=4x4");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("GPU 15</text>") != std::string::npos);
  CHECK(svg.find(">reduce_scatter</text>") != std::string::npos); // legend
  CHECK(svg.find(">transfer</text>") != std::string::npos);
  const auto dir = testing::scratch_folder("helix_test_cost");
  const auto path = dir / "timeline.svg";
  io::write_timeline_svg(path, dag, timeline, "pp=2,tg=4x4");
  std::ifstream in(path);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(written == svg);
  CHECK_FALSE(std::filesystem::exists(dir / "timeline.svg.tmp"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the LM head costs 2·b·h·V/t FLOPs per GPU on the last position, the embedding none") {
  // GPT-J-like sizes at 2 layers: h 4096, vocab 50400 padded to 50432, tp=4 on one stage, batch
  // 2, a 128-token prompt. The LM head runs on each sequence's last position only.
  const Model model{.layers = 2,
                    .hidden = 4096,
                    .heads = 16,
                    .kv_heads = 16,
                    .head_dim = 256,
                    .ffn_hidden = 16384,
                    .batch = 2,
                    .seq_len = 128,
                    .norm = Norm::layernorm,
                    .vocab = 50400,
                    .parallel_block = true};
  const Dag dag = build_dag(model, parse_plan("tp=4"), Workload::prefill());
  const double padded = 50432;
  int heads = 0, lookups = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const cost::Work w = cost::work(dag[v], boost::get_property(dag, boost::graph_bundle));
    if (dag[v].kind() == OpKind::lm_head) {
      ++heads;
      CHECK(static_cast<double>(w.flops) == 2.0 * 2 * 4096 * (padded / 4));
    }
    if (dag[v].kind() == OpKind::embedding) {
      ++lookups;
      CHECK(w.flops == 0);
      // Token ids and the output written (bf16), and the rows of a quarter of the tokens read.
      CHECK(static_cast<double>(w.memory_bytes) ==
            2.0 * (2 * 128 + 2 * 128 * 4096 + 2 * 128 * 4096 / 4));
    }
  }
  CHECK(heads == 4);
  CHECK(lookups == 4);
  // Weights: GPU i holds its quarter of the embedding and of the LM head (one stage), beside the
  // blocks' 12h²/4 per layer and one layernorm per layer plus the final one (2h each, replicated).
  const cost::MemoryReport memory = cost::memory(dag, cost::hardware::h100_sxm_nvl8);
  const double h = 4096;
  const double expected = 2 * (2 * padded * h / 4 + 2 * (12 * h * h / 4 + 2 * h) + 2 * h);
  for (const cost::DeviceMemory& m : memory.devices)
    CHECK(m.weight_bytes == doctest::Approx(expected));
  // parameters() counts the same weights once: blocks, embedding, LM head, final norm.
  CHECK(parameters(model) ==
        static_cast<std::int64_t>(2 * (12 * h * h + 2 * h) + 2 * padded * h + 2 * h));
}

TEST_CASE("integrate_decode: the mean of an affine step time over k = a … b is its value at the "
          "mean KV length, from the first, middle and last length alone") {
  // Σ_{k=a}^{b} (c0 + c1·k) = n·c0 + c1·n·(a + b)/2 with n = b − a + 1, so the mean is
  // c0 + c1·(a + b)/2.
  const double c0 = 0.004, c1 = 2.5e-7;
  std::vector<std::int64_t> asked;
  const cost::DecodeIntegral d = cost::integrate_decode(1000, 1999, [&](std::int64_t k) {
    asked.push_back(k);
    return c0 + c1 * static_cast<double>(k);
  });
  CHECK(d.mean_seconds == doctest::Approx(c0 + c1 * (1000.0 + 1999.0) / 2).epsilon(1e-12));
  CHECK(asked == std::vector<std::int64_t>{1000, 1999, 1499});
  CHECK(d.points.size() == 3);
  CHECK(d.error_bound_seconds == 0);
  CHECK(d.convex);
  // No more lengths than the budget: each is simulated and the mean is the plain mean.
  const cost::DecodeIntegral few = cost::integrate_decode(
      7, 9, [](std::int64_t k) { return k * k; }, 3);
  CHECK(few.mean_seconds == doctest::Approx((49.0 + 64.0 + 81.0) / 3));
  CHECK(few.points.size() == 3);
}

TEST_CASE("integrate_decode: a convex kinked step time is bisected within the budget and the "
          "estimate lies above the true mean by at most the stated bound") {
  // f(k) = max(10 + k, 3k − 200): two affine paths, the second critical past k = 105. The true
  // mean over 1 … 300 is the plain sum over every k divided by 300.
  const auto f = [](std::int64_t k) {
    return std::max(10.0 + static_cast<double>(k), 3.0 * static_cast<double>(k) - 200.0);
  };
  double sum = 0;
  for (std::int64_t k = 1; k <= 300; ++k)
    sum += f(k);
  const double mean = sum / 300;
  const cost::DecodeIntegral d = cost::integrate_decode(1, 300, f, 9);
  CHECK(d.convex);
  CHECK(d.points.size() <= 9);
  CHECK(d.mean_seconds >= mean - 1e-9);
  CHECK(d.mean_seconds - mean <= d.error_bound_seconds + 1e-9);
  CHECK(d.error_bound_seconds > 0);
  // With a budget large enough to corner the kink between neighbouring lengths, every segment is
  // affine and the mean exact: each bisection level costs at most two midpoints, and the kink
  // needs log2(300) < 9 levels.
  const cost::DecodeIntegral exact = cost::integrate_decode(1, 300, f, 3 + 2 * 9);
  CHECK(exact.mean_seconds == doctest::Approx(mean).epsilon(1e-12));
  CHECK(exact.error_bound_seconds == 0);
}

TEST_CASE("integrate_decode: a midpoint above its chord (not convex) leaves the bound infinite") {
  // f(k) = min(k, 200 − k) is concave: its midpoint 150 lies above the chord from 1 to 299.
  const cost::DecodeIntegral d = cost::integrate_decode(
      1, 299, [](std::int64_t k) { return std::min<double>(k, 200 - k); }, 5);
  CHECK_FALSE(d.convex);
  CHECK(std::isinf(d.error_bound_seconds));
}

TEST_CASE("a simulated decode step is affine in the KV length: the middle length's makespan lies "
          "on the chord of the first and last") {
  // With fixed sizes only the attention ops' FLOPs and bytes grow with the KV length; on H100 they
  // stay memory-bound (GQA-free GPT-3: about 1 FLOP per byte, far below the ridge), collectives
  // move [b, 1, h] whatever the cache, so each path through the schedule grows linearly.
  const Model model = models::gpt3_175b.with_layers(2).with_batch(4);
  for (const auto& [plan, microbatches, overlap] :
       {std::tuple{"tp=2", 1, false}, std::tuple{"pp=2,tp=2", 2, false},
        std::tuple{"pp=2,tg=2x2", 4, true}}) {
    CAPTURE(plan);
    const auto step = [&](std::int64_t kv_length) {
      const Dag dag = build_dag(model.with_seq_len(kv_length - 1), parse_plan(plan),
                                Workload::decode(microbatches));
      return cost::simulate(dag, cost::hardware::h100_sxm_nvl8, {.overlap_communication = overlap})
          .makespan_seconds;
    };
    const double first = step(129), middle = step(1153), last = step(2177);
    CHECK(last > first); // the cache's growth shows
    CHECK(middle == doctest::Approx((first + last) / 2).epsilon(1e-9));
  }
}

TEST_CASE("a generation is TTFT = the prefill's makespan, TPOT = the mean of every decode step, "
          "e2e = TTFT + (N − 1)·TPOT and N·batch / e2e output tokens per second") {
  // 12 output tokens after a prompt of 64: the prefill yields token 1, decode steps 2 … 12 attend
  // to 65 … 75 keys (a cache of 64 … 74 plus the new token). The mean is taken here over all 11
  // steps, each built and simulated; generation() simulates only three of them.
  const Model model = models::gpt3_175b.with_layers(2).with_batch(4).with_seq_len(64);
  const PlanSpec plan = parse_plan("pp=2,tp=2");
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  const double ttft =
      cost::simulate(build_dag(model, plan, Workload::prefill(2)), hw).makespan_seconds;
  double sum = 0;
  for (std::int64_t kv = 65; kv <= 75; ++kv)
    sum += cost::simulate(build_dag(model.with_seq_len(kv - 1), plan, Workload::decode(2)), hw)
               .makespan_seconds;
  const double tpot = sum / 11;
  const cost::Generation g = cost::generation(model, plan, Workload::prefill(2), 12, ttft, hw);
  CHECK(g.ttft_seconds == ttft);
  CHECK(g.tpot_seconds == doctest::Approx(tpot).epsilon(1e-9));
  CHECK(g.decode.points.size() == 3);
  CHECK(g.decode.first_kv_length == 65);
  CHECK(g.decode.last_kv_length == 75);
  CHECK(g.e2e_seconds == doctest::Approx(ttft + 11 * tpot).epsilon(1e-9));
  CHECK(g.output_tokens_per_second == doctest::Approx(4.0 * 12 / (ttft + 11 * tpot)));
  CHECK(g.output_tokens_per_second_per_gpu == doctest::Approx(4.0 * 12 / (ttft + 11 * tpot) / 4));
  CHECK(g.world_size == 4);

  // One output token: the prefill alone; no decode step, the e2e is the TTFT.
  const cost::Generation one = cost::generation(model, plan, Workload::prefill(2), 1, ttft, hw);
  CHECK(one.tpot_seconds == 0);
  CHECK(one.e2e_seconds == ttft);
  CHECK(one.output_tokens_per_second == doctest::Approx(4 / ttft));
  CHECK(one.decode.points.empty());
  CHECK_FALSE(one.last_step_memory);
}

namespace {

/// The list schedule as simulate.hpp states it, op by op with nothing shared: each vertex in
/// schedule order starts when its producers have ended and each of its devices is free on the
/// vertex's stream, and runs for its own op_cost. Ends by vertex id, and the makespan.
std::pair<std::vector<double>, double> unshared_schedule(const Dag& dag, const cost::Hardware& hw,
                                                         const cost::SimulationOptions& options) {
  std::vector<double> end(boost::num_vertices(dag), 0.0);
  std::map<std::pair<std::int64_t, int>, double> free; // (device, stream) → when free
  double makespan = 0;
  for (Vertex v : cost::schedule_order(dag)) {
    const cost::OpCost c = cost::op_cost(dag, v, hw, options.collectives);
    const int stream = !options.overlap_communication || !c.communication ? 0
                       : dag[v].kind() == OpKind::transfer                ? 2
                                                                          : 1;
    double start = 0;
    for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag)))
      start = std::max(start, end[boost::source(e, dag)]);
    for (std::int64_t d : devices_of(dag, v))
      start = std::max(start, free[{d, stream}]);
    end[v] = start + c.seconds;
    for (std::int64_t d : devices_of(dag, v))
      free[{d, stream}] = end[v];
    makespan = std::max(makespan, end[v]);
  }
  return {end, makespan + hw.step_overhead_seconds};
}

struct CostedPlan {
  const char* plan;
  Workload workload;
  cost::SimulationOptions options;
};

/// Prefill and decode plans of every axis (pipeline with microbatches, data, tensor groups, head
/// partitions, KV-parallel decode), with overlap and the ring model, on 2-layer GPT-3 (96 heads).
const std::vector<CostedPlan> costed_plans = {
    {"tp=2", Workload::prefill(), {}},
    {"pp=2,tp=8", Workload::prefill(2), {}},
    {"pp=2,tp=8", Workload::prefill(2), {.overlap_communication = true}},
    {"dp=2,tg=2x2", Workload::prefill(2), {.collectives = cost::CollectiveModel::ring}},
    {"hp=4x2", Workload::prefill(), {}},
    {"pp=2,tp=4", Workload::decode(2), {.overlap_communication = true}},
    {"kvp=2,tp=4", Workload::decode(), {}},
};

} // namespace

TEST_CASE("simulate costs one op per class of ops that differ only in where they run, and its "
          "timeline is the one costing every op gives") {
  // cost_key drops what op_cost and work never read (device, layer, stage, replica, microbatch,
  // sequences, a collective's running number), so a vertex's cost is its class's. Held here
  // vertex by vertex against op_cost of the vertex itself, each device's FLOPs against the sum of
  // work over its compute ops, and every end time against the schedule run with unshared costs.
  const Model model = models::gpt3_175b.with_layers(2).with_batch(4).with_seq_len(64);
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  for (const CostedPlan& p : costed_plans) {
    CAPTURE(p.plan);
    const Dag dag = build_dag(model, parse_plan(p.plan), p.workload);
    const cost::Timeline t = cost::simulate(dag, hw, p.options);
    std::vector<std::int64_t> flops(t.devices.size(), 0);
    std::size_t mismatches = 0;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
      mismatches += t.costs[v] == cost::op_cost(dag, v, hw, p.options.collectives) ? 0 : 1;
      if (!is_communication(dag[v].kind()))
        flops[static_cast<std::size_t>(dag[v].device)] +=
            cost::work(dag[v], boost::get_property(dag, boost::graph_bundle)).flops;
    }
    CHECK(mismatches == 0);
    for (std::size_t d = 0; d < flops.size(); ++d)
      CHECK(t.devices[d].flops == flops[d]);
    const auto [end, makespan] = unshared_schedule(dag, hw, p.options);
    CHECK(t.makespan_seconds == makespan);
    std::size_t late = 0;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
      late += t.vertices[v].end_seconds == end[v] ? 0 : 1;
    CHECK(late == 0);
    // The classes are few: 2 layers of one device's ops on every device are one class per op and
    // tensor slice, so fewer than half the vertices.
    CHECK(cost::detail::cost_classes(dag).representative.size() * 2 < boost::num_vertices(dag));
  }
}

TEST_CASE("a generation times each decode step it simulates as simulate times the DAG build_dag "
          "makes for that KV length, and reports that DAG's memory for the last step") {
  // generation() builds one decode DAG, for the last length, and times the other lengths by
  // re-costing its op classes with reshaped shapes; building each length gives the same numbers
  // to the bit.
  const Model model = models::gpt3_175b.with_layers(2).with_batch(4).with_seq_len(64);
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  for (const CostedPlan& p : costed_plans) {
    CAPTURE(p.plan);
    const PlanSpec plan = parse_plan(p.plan);
    const Workload prefill = p.workload.phase == Phase::prefill
                                 ? p.workload
                                 : Workload::prefill(p.workload.microbatches);
    // 40 output tokens: decode steps at KV lengths 65 … 103; under kvp= bisected further.
    const cost::Generation g = cost::generation(model, plan, prefill, 40, 1.0, hw, p.options);
    REQUIRE(g.decode.points.size() >= 3);
    for (const cost::DecodePoint& point : g.decode.points) {
      CAPTURE(point.kv_length);
      const Dag step = build_dag(cost::decode_model(model, point.kv_length), plan,
                                 cost::decode_workload(prefill));
      CHECK(point.seconds == cost::simulate(step, hw, p.options).makespan_seconds);
    }
    REQUIRE(g.last_step_memory);
    const cost::MemoryReport last = cost::memory(
        build_dag(cost::decode_model(model, 103), plan, cost::decode_workload(prefill)), hw);
    CHECK(g.last_step_memory->max_total_bytes == last.max_total_bytes);
    for (std::size_t d = 0; d < last.devices.size(); ++d)
      CHECK(g.last_step_memory->devices[d].total_bytes == last.devices[d].total_bytes);
  }
  // A decode-only generation whose first step the caller simulated takes that one as given.
  const PlanSpec plan = parse_plan("pp=2,tp=4");
  const cost::Generation d =
      cost::decode_generation(model, plan, Workload::decode(2), 40, 123.0, hw);
  CHECK(d.decode.points.front().seconds == 123.0);
  const Dag last = build_dag(cost::decode_model(model, 104), plan, Workload::decode(2));
  CHECK(d.decode.points.back().seconds == cost::simulate(last, hw).makespan_seconds);
}

TEST_CASE("a decode step that turns compute-bound past a KV length is kinked: generation bisects, "
          "and its TPOT lies above the mean of every step by at most the bound it states") {
  // GPT-3's attention in decode, per sequence: scores do 2·96·K·128 FLOPs and move
  // 2·(96·128 + K·96·128 + 96·K) bytes (q, keys, scores in BF16); the intensity 12288·K /
  // (12288 + 12384·K) climbs from 0.5 FLOP/B towards 0.99 (the context's is the same). A ridge of
  // 0.95 FLOP/B (0.95 TFLOP/s over 1 TB/s) makes both turn compute-bound at K = 11673.6 / 523.2
  // ≈ 22, inside 2 … 301: each decode step's time is the max of its memory and compute lines.
  cost::Hardware hw = compute_only;
  hw.memory_bandwidth_bytes_per_second = 1e12;
  hw.compute_efficiency = 0.95e12 / compute_only.effective_flops(DataType::bf16);
  const Model model = models::gpt3_175b.with_layers(1).with_batch(1).with_seq_len(1).with_vocab(0);
  // The derivation counts the scores written and read: materialized attention.
  const Workload prefill = Workload::prefill().with_attention(AttentionKernel::materialized);
  const Workload decode = Workload::decode().with_attention(AttentionKernel::materialized);
  const PlanSpec plan = parse_plan("tp=1");
  double sum = 0;
  for (std::int64_t kv = 2; kv <= 301; ++kv)
    sum += cost::simulate(build_dag(model.with_seq_len(kv - 1), plan, decode), hw).makespan_seconds;
  const double mean = sum / 300;
  const cost::Generation g = cost::generation(model, plan, prefill, 301, 1.0, hw);
  CHECK(g.decode.convex);
  CHECK(g.decode.points.size() <= 9);
  CHECK(g.decode.error_bound_seconds > 0);
  CHECK(g.tpot_seconds >= mean * (1 - 1e-12));
  CHECK(g.tpot_seconds - mean <= g.decode.error_bound_seconds * (1 + 1e-9));
  // A budget that corners the kink between neighbouring lengths makes it exact.
  const cost::Generation exact = cost::generation(model, plan, prefill, 301, 1.0, hw, {}, 40);
  CHECK(exact.decode.error_bound_seconds == 0);
  CHECK(exact.tpot_seconds == doctest::Approx(mean).epsilon(1e-12));
}

TEST_CASE("make_generation: 8 sequences, 0.5 s to the first token, then 100 more at 20 ms") {
  // e2e = 0.5 + 100 · 0.02 = 2.5 s; 8 · 101 = 808 tokens / 2.5 s = 323.2 tokens/s; over 4 GPUs
  // 80.8 each.
  const cost::Generation g = cost::make_generation(8, 2048, 101, 4, 0.5, 0.02);
  CHECK(g.e2e_seconds == doctest::Approx(2.5));
  CHECK(g.output_tokens_per_second == doctest::Approx(323.2));
  CHECK(g.output_tokens_per_second_per_gpu == doctest::Approx(80.8));
}

TEST_CASE("a long generation's memory is its last decode step's: the KV cache of prompt + N − 1 "
          "tokens") {
  // GPT-3 (96 kv heads of 128) over tp=2: 48 kv heads, 6144 values per token per device for keys
  // and as many for values, 2 layers, batch 2, BF16. The cache holds the prompt (16) and every
  // output token but the last (3999): 4015 tokens, far more than the prefill's few MB.
  const Model model = models::gpt3_175b.with_layers(2).with_batch(2).with_seq_len(16);
  const PlanSpec plan = parse_plan("tp=2");
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  const Dag prefill = build_dag(model, plan, Workload::prefill());
  const cost::Timeline timeline = cost::simulate(prefill, hw);
  const cost::PlanSummary summary = cost::with_generation(
      cost::summarize("tp=2", prefill, timeline, cost::memory(prefill, hw)),
      cost::generation(model, plan, Workload::prefill(), 4000, timeline.makespan_seconds, hw));
  const double kv = 2.0 * 2 * 2 * 4015 * 6144 * 2;
  CHECK(summary.memory_phase == Phase::decode);
  CHECK(summary.fullest_device.kv_cache_bytes == doctest::Approx(kv));
  CHECK(summary.memory_per_device_max == doctest::Approx(summary.fullest_device.total_bytes));
  CHECK(summary.plan == "tp=2");
}

TEST_CASE("without a baseline the comparison judges no claim and ranks by the objective") {
  // Three plans on 1, 2 and 4 GPUs: A 100 output tokens/s (100 per GPU), B 300 (150 per GPU),
  // C 400 (100 per GPU, tied with A: the given order stays). TTFT: A 0.1 s, B 0.3 s, C 0.2 s.
  std::vector<cost::PlanSummary> plans(3);
  const std::array<std::int64_t, 3> gpus{1, 2, 4};
  const std::array<double, 3> ttft{0.1, 0.3, 0.2};
  const std::array<double, 3> rate{100, 300, 400};
  for (std::size_t i = 0; i < 3; ++i) {
    plans[i].name = std::string(1, static_cast<char>('A' + i));
    plans[i].world_size = gpus[i];
    // 10 sequences of 100 tokens: e2e = 1000 / rate, TPOT = (e2e − TTFT) / 99.
    const double e2e = 1000 / rate[i];
    plans[i].generation =
        cost::make_generation(10, 64, 100, gpus[i], ttft[i], (e2e - ttft[i]) / 99);
  }
  const std::size_t none = plans.size();
  const cost::Comparison c = cost::compare(plans, cost::hardware::h100_sxm_nvl8, none);
  CHECK(c.verdicts.empty());
  CHECK(c.ranking == std::vector<std::size_t>{1, 0, 2});
  const cost::Comparison by_ttft =
      cost::compare(plans, cost::hardware::h100_sxm_nvl8, none, {}, cost::Objective::ttft);
  CHECK(by_ttft.ranking == std::vector<std::size_t>{0, 2, 1});
  std::ostringstream out;
  io::write_markdown(out, by_ttft);
  const std::string text = out.str();
  CHECK(text.starts_with("Cost on h100_sxm_nvl8, ranked by TTFT (best first)\n"));
  CHECK(text.find("| A |") < text.find("| C |"));
  CHECK(text.find("| C |") < text.find("| B |"));
  CHECK(text.find("| TTFT | TPOT | e2e | bubble | tokens/s | tokens/s/GPU |") != std::string::npos);
}

namespace {

/// A row whose prediction is `predicted` against a measured 1: its error is predicted − 1.
cost::ValidationRow row_predicting(double predicted) {
  return {cost::Measurement{}, predicted, 1.0, cost::relative_error(predicted, 1.0)};
}

/// A measurement of a 2-layer GPT-J on H100 (FP8, a 1-GPU plan unless told), value 1 until set.
cost::Measurement small_measurement(std::int64_t batch, std::int64_t input, std::int64_t output,
                                    cost::Metric metric, const char* plan = "tp=1") {
  cost::Measurement m;
  m.source = "test";
  m.model_name = "gptj_6b, 2 layers";
  m.model = models::gptj_6b.with_layers(2);
  m.hardware = cost::hardware::h100_sxm_nvl8;
  m.dtype = m.kv_dtype = DataType::fp8;
  m.plan = parse_plan(plan);
  m.batch = batch;
  m.input_tokens = input;
  m.output_tokens = output;
  m.metric = metric;
  m.value = 1;
  return m;
}

/// `measurements` with each value set to its prediction on `truth`: what a machine like `truth`
/// would measure if helix's model were exact.
std::vector<cost::Measurement> measured_on(std::vector<cost::Measurement> measurements,
                                           const cost::Hardware& truth) {
  for (cost::Measurement& m : measurements)
    m.value = cost::predict(m, truth);
  return measurements;
}

const cost::FittedParameter& fitted(const cost::Calibration& c, std::string_view name) {
  for (const cost::FittedParameter& p : c.parameters)
    if (p.parameter.name == name)
      return p;
  throw std::logic_error("no parameter " + std::string(name));
}

} // namespace

TEST_CASE("a validation report's median |error| is the middle magnitude (the mean of the middle "
          "two for an even count), its max the largest, and its worst row that one") {
  // Errors +0.10, −0.30, +0.05, −0.20: magnitudes sorted 0.05, 0.10, 0.20, 0.30; median
  // (0.10 + 0.20) / 2 = 0.15, max 0.30 at row 1.
  const cost::ValidationReport even = cost::make_validation_report(
      {row_predicting(1.10), row_predicting(0.70), row_predicting(1.05), row_predicting(0.80)});
  CHECK(even.median_abs_error == doctest::Approx(0.15));
  CHECK(even.max_abs_error == doctest::Approx(0.30));
  CHECK(even.worst == 1);
  // A fifth row of +0.50: 0.05, 0.10, 0.20, 0.30, 0.50; the median is the third, 0.20.
  const cost::ValidationReport odd = cost::make_validation_report(
      {row_predicting(1.10), row_predicting(0.70), row_predicting(1.05), row_predicting(0.80),
       row_predicting(1.50)});
  CHECK(odd.median_abs_error == doctest::Approx(0.20));
  CHECK(odd.max_abs_error == doctest::Approx(0.50));
  CHECK(odd.worst == 4);
  CHECK_THROWS_AS(static_cast<void>(cost::make_validation_report({})), std::invalid_argument);
}

TEST_CASE("predict: TTFT is the prefill's makespan, e2e the generation's, and output tokens per "
          "second batch · output tokens / e2e, per GPU over the plan's GPUs") {
  // Batch 4, a prompt of 64 tokens, 12 output tokens, on 2 GPUs (tp=2). The model a prediction
  // runs is the preset with the measurement's batch, prompt and formats: the prefill built from it
  // by hand has the TTFT predict() gives.
  cost::Measurement m = small_measurement(4, 64, 12, cost::Metric::ttft_s, "tp=2");
  const Model sized = models::gptj_6b.with_layers(2)
                          .with_batch(4)
                          .with_seq_len(64)
                          .with_dtype(DataType::fp8)
                          .with_kv_dtype(DataType::fp8);
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  const double ttft = cost::simulate(build_dag(sized, parse_plan("tp=2"), Workload::prefill()), hw)
                          .makespan_seconds;
  CHECK(cost::predict(m) == ttft);
  const auto predicted = [&](cost::Metric metric) {
    m.metric = metric;
    return cost::predict(m);
  };
  const double tpot = predicted(cost::Metric::tpot_s);
  const double e2e = predicted(cost::Metric::e2e_s);
  CHECK(tpot > 0);
  CHECK(e2e == doctest::Approx(ttft + 11 * tpot).epsilon(1e-12));
  CHECK(predicted(cost::Metric::output_tokens_per_s) == doctest::Approx(4.0 * 12 / e2e));
  CHECK(predicted(cost::Metric::output_tokens_per_s_per_gpu) ==
        doctest::Approx(4.0 * 12 / e2e / 2));
  // And the generation is the one helix_deploy costs: generation() from the same prefill.
  const cost::Generation g =
      cost::generation(sized, parse_plan("tp=2"), Workload::prefill(), 12, ttft, hw);
  CHECK(e2e == g.e2e_seconds);
  // Each metric's name reads back as the metric.
  for (const cost::MetricInfo& info : cost::metrics)
    CHECK(cost::metric_by_name(info.name) == info.metric);
  CHECK_FALSE(cost::metric_by_name("latency"));
}

TEST_CASE("calibration recovers the compute and memory efficiencies that made the measurements, "
          "and leaves the link efficiencies no measurement depends on") {
  // Measurements made on an H100 whose matmuls sustain half the peak (not the preset's 0.7) and
  // whose HBM sustains the preset's 0.8: a compute-bound prefill (batch 8 × 512 tokens) and a
  // memory-bound decode (batch 1, 64 steps reading the weights). On one GPU no link is used.
  cost::Hardware start = cost::hardware::h100_sxm_nvl8;
  start.compute_efficiency = 0.7;
  start.memory_efficiency = 0.8;
  cost::Hardware truth = start;
  truth.compute_efficiency = 0.5;
  const std::vector<cost::Measurement> measurements =
      measured_on({small_measurement(8, 512, 1, cost::Metric::ttft_s),
                   small_measurement(1, 128, 64, cost::Metric::tpot_s),
                   small_measurement(4, 256, 32, cost::Metric::output_tokens_per_s)},
                  truth);
  // The fit of the two efficiencies and the two links (the others held): three measurements.
  const cost::Calibration c =
      cost::calibrate(start, measurements,
                      {.parameters = {"compute_efficiency", "memory_efficiency",
                                      "nvlink.efficiency", "infiniband.efficiency"}});
  CHECK(fitted(c, "compute_efficiency").original == 0.7);
  CHECK_FALSE(fitted(c, "kernel_launch_seconds").requested);
  CHECK(fitted(c, "compute_efficiency").fitted == doctest::Approx(0.5).epsilon(1e-4));
  CHECK(fitted(c, "memory_efficiency").fitted == doctest::Approx(0.8).epsilon(1e-4));
  CHECK(c.fitted.compute_efficiency == fitted(c, "compute_efficiency").fitted);
  for (const char* link : {"nvlink.efficiency", "infiniband.efficiency"}) {
    CAPTURE(link);
    CHECK_FALSE(fitted(c, link).constrained);
    CHECK(fitted(c, link).fitted == fitted(c, link).original);
  }
  CHECK(c.before.max_abs_error > 0.1); // 0.7 instead of 0.5 shows
  CHECK(c.after.max_abs_error < 1e-4);
  CHECK(c.after.rows.size() == 3);
  // Measurements on other hardware are left out: none on A100 here.
  CHECK_THROWS_AS(
      static_cast<void>(cost::calibrate(cost::hardware::a100_sxm4_80gb_nvl8, measurements)),
      std::invalid_argument);
}

TEST_CASE("calibration keeps every parameter strictly inside its bounds, even where the "
          "measurements ask for more or less") {
  // A prefill that would need twice the peak (measured on a GPU with a doubled FP8 peak at full
  // efficiency), and one that would need a fiftieth of it: each fit ends at its bound, not past it.
  cost::Hardware fast = cost::hardware::h100_sxm_nvl8;
  fast.peak_flops_per_second.fp8 *= 2;
  fast.compute_efficiency = 1;
  cost::Hardware slow = cost::hardware::h100_sxm_nvl8;
  slow.compute_efficiency = 0.02;
  const cost::CalibratedParameter& compute = cost::calibrated_parameters[0];
  REQUIRE(compute.name == "compute_efficiency");
  for (const auto& [truth, bound] :
       {std::pair{fast, compute.upper}, std::pair{slow, compute.lower}}) {
    CAPTURE(bound);
    const cost::Calibration c =
        cost::calibrate(cost::hardware::h100_sxm_nvl8,
                        measured_on({small_measurement(8, 512, 1, cost::Metric::ttft_s)}, truth),
                        {.parameters = {"compute_efficiency"}});
    const double value = fitted(c, "compute_efficiency").fitted;
    CHECK(value > compute.lower);
    CHECK(value < compute.upper);
    CHECK(value == doctest::Approx(bound).epsilon(0.02));
    CHECK(c.after.max_abs_error < c.before.max_abs_error);
  }
  // The table's bounds are a range inside (0, 1] for an efficiency, as a hardware file requires,
  // and from 0 for a time.
  for (const cost::CalibratedParameter& p : cost::calibrated_parameters) {
    CAPTURE(p.name);
    CHECK(0 <= p.lower);
    CHECK(p.lower < p.upper);
    if (p.name.ends_with("efficiency")) {
      CHECK(0 < p.lower);
      CHECK(p.upper <= 1);
    }
    CHECK_FALSE(p.bounds_reason.empty());
  }
}

TEST_CASE("an all-to-all runs as NCCL's grouped send/recv: (n - 1)/n of the buffer out, inside a "
          "node over NVLink, across nodes through the member's share of the NICs") {
  // One node of 8 H100s, bus bandwidth B = 450 GB/s · 0.75 = 337.5 GB/s. Each member sends 1/8 of
  // its buffer S to each of its 7 peers at once: 7/8 · S over NVLink. Simple: latency a ring's
  // base 8.4 µs and one NVLink hop 3.4 µs. LL (only while S/n ≤ 16 KiB per peer): 6.6 + 0.6 µs,
  // half the bandwidth.
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  using A = cost::CollectiveAlgorithm;
  using P = cost::Protocol;
  const auto all_to_all = cost::CollectiveFunction::all_to_all;
  const cost::CollectiveSpan node{.ranks = 8, .nodes = 1, .fewest_ranks_per_node = 8};
  const double bus = 337.5e9, us = 1e-6, big = 1024.0 * 1024, small = 64.0 * 1024;
  CHECK(cost::estimate_collective(all_to_all, A::p2p, P::simple, node, big, hw).seconds ==
        doctest::Approx(8.4 * us + 3.4 * us + 7.0 / 8 * big / bus));
  // 1 MiB is 128 KiB per peer: past LL's 16 KiB.
  CHECK_FALSE(cost::estimate_collective(all_to_all, A::p2p, P::ll, node, big, hw).available);
  CHECK(cost::estimate_collective(all_to_all, A::p2p, P::ll, node, small, hw).seconds ==
        doctest::Approx(6.6 * us + 0.6 * us + 7.0 / 8 * small / (bus / 2)));
  // Rings, trees and NVLS do not exchange; LL128 is never used for send/recv.
  for (const A a : {A::ring, A::tree, A::nvls, A::nvls_tree})
    CHECK_FALSE(cost::estimate_collective(all_to_all, a, P::simple, node, big, hw).available);
  CHECK_FALSE(cost::estimate_collective(all_to_all, A::p2p, P::ll128, node, small, hw).available);
  // NCCL's choice: LL for 64 KiB (7.2 + 0.34 µs against Simple's 11.8 + 0.17), Simple for 1 MiB.
  CHECK(cost::fastest_collective(all_to_all, node, small, hw).protocol == P::ll);
  CHECK(cost::fastest_collective(all_to_all, node, big, hw).protocol == P::simple);
  // 16 members on two nodes of 8: 7/16 of S to the node's peers over NVLink, 8/16 to the other
  // node through the member's 1/8 of its node's 8 NICs (50 GB/s · 0.9 each): the network part
  // takes longer. Latency: the ring base and one network hop (14 µs, Simple).
  const cost::CollectiveSpan two{.ranks = 16, .nodes = 2, .fewest_ranks_per_node = 8};
  const double nic = hw.nic_bandwidth_bytes_per_second * hw.infiniband.efficiency;
  CHECK(cost::estimate_collective(all_to_all, A::p2p, P::simple, two, big, hw).seconds ==
        doctest::Approx(8.4 * us + 14 * us + std::max(7.0 / 16 * big / bus, 8.0 / 16 * big / nic)));
  const auto sent = cost::collective_bytes_by_link(all_to_all, A::p2p, two, big);
  CHECK(sent[static_cast<std::size_t>(cost::LinkClass::nvlink)] == doctest::Approx(7.0 / 16 * big));
  CHECK(sent[static_cast<std::size_t>(cost::LinkClass::infiniband)] ==
        doctest::Approx(8.0 / 16 * big));
}

TEST_CASE("KV-parallel decode splits the KV cache K ways where tensor parallel past the kv heads "
          "duplicates it, and pays with replicated Wq") {
  // llama31_405b (128 heads, 8 kv heads of 128, hidden 16384), 2 layers, batch 2, 8000 cached
  // tokens, bf16 cache (2 bytes). tp=64: each kv head on 64 / 8 = 8 devices, the whole sequence:
  // 2 layers · (K and V) · 2 sequences · 8001 tokens · 128 · 2 B = 16,386,048 B per device.
  // kvp=8,tp=8: device 0 holds kv head 0 over shard 0, [0, 1000): 2 · 2 · 2 · 1000 · 128 · 2 B =
  // 2,048,000 B (8 times less); the last shard (devices 56–63) also holds the new token:
  // 2,050,048 B.
  const Model m = models::llama31_405b.with_layers(2).with_batch(2).with_seq_len(8000);
  const cost::Hardware& hw = cost::hardware::gb200_nvl72;
  const cost::MemoryReport tp =
      cost::memory(build_dag(m, parse_plan("tp=64"), Workload::decode()), hw);
  const cost::MemoryReport kvp =
      cost::memory(build_dag(m, parse_plan("kvp=8,tp=8"), Workload::decode()), hw);
  CHECK(tp.devices[0].kv_cache_bytes == doctest::Approx(16'386'048));
  CHECK(kvp.devices[0].kv_cache_bytes == doctest::Approx(2'048'000));
  CHECK(kvp.devices[63].kv_cache_bytes == doctest::Approx(2'050'048));
  // Wq: tp=64 holds 16384 × (128 / 64 heads · 128) per layer, kvp=8,tp=8 16384 × (128 / 8 · 128)
  // on every KV shard: 8× as much. Wo, W1, W_gate, W2 are split 64 ways in both.
  const double wq_tp = 2.0 * 16384 * 2 * 128 * 2, wq_kvp = 2.0 * 16384 * 16 * 128 * 2;
  // Wk, Wv: device 0 (shard 0, which does not project the new token) holds none; tp=64 holds
  // kv head 0's columns of both in both layers.
  const double wkv_tp = 2.0 * 2 * 16384 * 128 * 2;
  CHECK(kvp.devices[0].weight_bytes - tp.devices[0].weight_bytes ==
        doctest::Approx(wq_kvp - wq_tp - wkv_tp));
}

namespace {

using testing::search_model;

cost::SearchOptions two_microbatch_counts() {
  cost::SearchOptions o;
  o.microbatches = {1, 2};
  o.threads = 2;
  return o;
}

} // namespace

TEST_CASE("search over 4 GPUs: points enumerated, rejected per rule, deduplicated and costed, as "
          "counted by hand") {
  // (P, D, T) with P·D·T = 4: (1,1,4) (1,2,2) (1,4,1) (2,1,2) (2,2,1) (4,1,1). Spellings of T
  // GPUs: tp (or none), tg=(P·g)x(T/g) for each g | T, hp=(T/s)xs for each s | T: 7 for T = 4,
  // 5 for T = 2, 3 for T = 1, so 7 + 5 + 3 + 5 + 3 + 3 = 26 plans; the 8 plans of 2 stages and
  // the 3 of 4 stages run 1 or 2 microbatches: 15 + 2·8 + 2·3 = 37 points.
  // Rejected: 4 stages over 2 layers (6 points); dp=4 (3 spellings) and dp=2 with 2 microbatches
  // (3 spellings of pp=2,dp=2) against a batch of 2 (6 points).
  // Aliases (one group per stage, groups of one, one head_dim slice are flat tensor parallel):
  // tp=4 has tg=1x4, tg=4x1, hp=4x1; dp=2,tp=2 has 3; pp=2,tp=2 has 3 per microbatch count (6);
  // pp=2,dp=2 has tg=2x1, hp=1x1: 14. Costed: 37 − 12 − 14 = 11.
  const cost::SearchResult r = cost::search(
      search_model, Workload::prefill(), cost::hardware::h100_sxm_nvl8, 4, two_microbatch_counts());
  CHECK(r.points == 37);
  CHECK(r.rejected.size() == 12);
  CHECK(r.aliases.size() == 14);
  CHECK(r.entries.size() == 11);
  std::map<std::string, std::int64_t> reasons;
  for (const cost::ReasonCount& c : r.reasons)
    reasons[c.reason] = c.points;
  CHECK(reasons ==
        std::map<std::string, std::int64_t>{{"layers vs pipeline stages", 6},
                                            {"batch vs data parallel and microbatches", 6}});
  std::set<std::string> costed;
  for (const cost::SearchEntry& e : r.entries)
    costed.insert(cost::candidate_text(e.candidate));
  CHECK(costed == std::set<std::string>{"tp=4", "tg=2x2", "hp=2x2", "hp=1x4", "tp=2,dp=2",
                                        "hp=1x2,dp=2", "pp=2,tp=2", "pp=2,tp=2 (2 microbatches)",
                                        "pp=2,hp=1x2", "pp=2,hp=1x2 (2 microbatches)",
                                        "pp=2,dp=2"});
  // Nothing KV-parallel in a prefill search.
  for (const cost::RejectedPoint& p : r.rejected)
    CHECK(p.candidate.plan.kv_parallel == 1);
}

TEST_CASE("search deduplicates a spelling whose DAG is op for op another's, and costs them alike") {
  const cost::SearchResult r = cost::search(
      search_model, Workload::prefill(), cost::hardware::h100_sxm_nvl8, 4, two_microbatch_counts());
  const auto tp4 = cost::find_entry(r, {parse_plan("tp=4"), 1}, 2);
  REQUIRE(tp4);
  for (const char* alias : {"tg=1x4", "tg=4x1", "hp=4x1"}) {
    CAPTURE(alias);
    CHECK(cost::find_entry(r, {parse_plan(alias), 1}, 2) == tp4);
    const Dag theirs = build_dag(search_model, parse_plan(alias), Workload::prefill());
    const Dag ours = build_dag(search_model, parse_plan("tp=4"), Workload::prefill());
    CHECK(cost::detail::same_dag(ours, theirs));
    CHECK(cost::detail::dag_fingerprint(ours) == cost::detail::dag_fingerprint(theirs));
    // The same program costs the same, whatever its axes are called.
    CHECK(cost::simulate(theirs, cost::hardware::h100_sxm_nvl8).makespan_seconds ==
          cost::simulate(ours, cost::hardware::h100_sxm_nvl8).makespan_seconds);
  }
  // hp=1x4 splits head_dim (partial scores all-reduced): another DAG, costed on its own.
  CHECK(cost::find_entry(r, {parse_plan("hp=1x4"), 1}, 2) != tp4);
  CHECK_FALSE(
      cost::detail::same_dag(build_dag(search_model, parse_plan("tp=4"), Workload::prefill()),
                             build_dag(search_model, parse_plan("hp=1x4"), Workload::prefill())));
}

TEST_CASE("search ranks by tokens per second per GPU = batch · tokens / (makespan · GPUs) of each "
          "plan's own simulation, best first, ties in enumeration order") {
  const cost::SearchResult r = cost::search(
      search_model, Workload::prefill(), cost::hardware::h100_sxm_nvl8, 4, two_microbatch_counts());
  std::vector<double> rates;
  for (std::size_t place = 0; place < r.ranking.size(); ++place) {
    const cost::SearchEntry& e = r.entries[r.ranking[place]];
    Workload w = Workload::prefill(e.candidate.microbatches);
    const Dag dag = build_dag(search_model, e.candidate.plan, w);
    const double makespan = cost::simulate(dag, cost::hardware::h100_sxm_nvl8).makespan_seconds;
    const double rate =
        static_cast<double>(search_model.batch * search_model.seq_len) / (makespan * 4);
    CAPTURE(cost::candidate_text(e.candidate));
    CHECK(e.summary.tokens_per_second_per_gpu == doctest::Approx(rate).epsilon(1e-12));
    rates.push_back(rate);
    if (place > 0 && rates[place] == rates[place - 1])
      CHECK(r.ranking[place] > r.ranking[place - 1]);
  }
  CHECK(std::is_sorted(rates.rbegin(), rates.rend()));
  CHECK(cost::rank_of(r, r.ranking.front()) == 1);
}

TEST_CASE("a search over batch sizes builds no DAG for a plan at a batch above one it did not fit "
          "at, memory growing with the batch") {
  cost::Hardware tiny = cost::hardware::h100_sxm_nvl8;
  tiny.memory_capacity_bytes = 1; // nothing fits
  cost::SearchOptions o = two_microbatch_counts();
  o.batch_sizes = {2, 4};
  const cost::SearchResult r = cost::search(search_model, Workload::prefill(), tiny, 4, o);
  CHECK(r.entries.empty());
  // At batch 2 the 11 plans costed above do not fit, nor their 14 aliases (the same DAGs); at
  // batch 4 those 25 are skipped, and two plans valid only from batch 4 on, dp=4 and pp=2,dp=2
  // with 2 microbatches (data parallel × microbatches = 4), are built and do not fit.
  CHECK(r.skipped_by_monotone_memory == 11 + 14);
  for (const cost::ReasonCount& c : r.reasons)
    if (c.reason == cost::does_not_fit)
      CHECK(c.points == 11 + 25 + 2);
}

TEST_CASE("a decode search enumerates KV-parallel plans, a prefill search none") {
  cost::SearchOptions o = two_microbatch_counts();
  const cost::SearchResult r =
      cost::search(search_model, Workload::decode(), cost::hardware::h100_sxm_nvl8, 4, o);
  // K = 2 (T = 2 or 1 beside it) and K = 4: (P, D, K, T) with K > 1 over 4 GPUs are (1,1,2,2),
  // (1,1,4,1), (1,2,2,1), (2,1,2,1): 5 + 3 + 3 + 3·2 microbatch counts = 17 points.
  std::size_t kv_points = 0;
  for (const cost::RejectedPoint& p : r.rejected)
    kv_points += p.candidate.plan.kv_parallel > 1 ? 1 : 0;
  for (const cost::SearchEntry& e : r.entries)
    kv_points += e.candidate.plan.kv_parallel > 1 ? 1 : 0;
  for (const cost::AliasPoint& a : r.aliases)
    kv_points += a.candidate.plan.kv_parallel > 1 ? 1 : 0;
  CHECK(kv_points == 17);
}

TEST_CASE("the Pareto frontier keeps the points no other beats on both rates, by interactivity "
          "ascending") {
  // (tokens/s per user, tokens/s per GPU): B (2, 8) is beaten by C (2, 9), E (1, 5) by A (1, 10),
  // G repeats D (the first is kept).
  std::vector<cost::FrontierPoint> points;
  for (auto [x, y] : std::vector<std::pair<double, double>>{
           {1, 10}, {2, 8}, {2, 9}, {3, 3}, {1, 5}, {4, 1}, {3, 3}}) {
    cost::FrontierPoint p;
    p.tokens_per_second_per_user = x;
    p.tokens_per_second_per_gpu = y;
    points.push_back(p);
  }
  CHECK(cost::pareto_frontier(points) == std::vector<std::size_t>{0, 2, 3, 5});
}

TEST_CASE("a decode step's user receives one token per step, a generation's N over its e2e") {
  const Dag dag = build_dag(search_model, parse_plan("tp=2"), Workload::decode());
  const cost::PlanSummary step = cost::summarize("tp=2", dag, cost::hardware::h100_sxm_nvl8);
  CHECK(cost::tokens_per_second_per_user(step) == doctest::Approx(1 / step.makespan_seconds));
  cost::PlanSummary generation = step;
  generation.generation = cost::make_generation(2, 8, 5, 2, 0.5, 0.1);
  // e2e = 0.5 + 4 · 0.1 = 0.9 s for 5 tokens.
  CHECK(cost::tokens_per_second_per_user(generation) == doctest::Approx(5 / 0.9));
}
