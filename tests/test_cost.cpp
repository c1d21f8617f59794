// Cost area: per-op costs, the timeline simulation, memory and the plan comparison, checked
// against published formulas written out here, never against the code's own output.
#include "helix/cost/compare.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/memory.hpp"
#include "helix/cost/op_cost.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/graph.hpp"
#include "helix/io/markdown.hpp"
#include "helix/io/timeline_svg.hpp"
#include "helix/model.hpp"
#include "helix/plan.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace helix;

namespace {

/// Hardware on which only FLOPs take time: infinite memory and link bandwidth, no latency.
constexpr cost::Hardware compute_only{
    .name = "compute_only",
    .gpus_per_node = 8,
    .peak_flops_per_second = 1e15,
    .compute_efficiency = 1,
    .memory_bandwidth_bytes_per_second = std::numeric_limits<double>::infinity(),
    .memory_efficiency = 1,
    .memory_capacity_bytes = 80e9,
    .nvlink = {.bandwidth_bytes_per_second = std::numeric_limits<double>::infinity(),
               .efficiency = 1,
               .latency_seconds = 0},
    .infiniband = {.bandwidth_bytes_per_second = std::numeric_limits<double>::infinity(),
                   .efficiency = 1,
                   .latency_seconds = 0},
};

bool is_matmul(OpKind kind) {
  return is_linear(kind) || kind == OpKind::attention_scores || kind == OpKind::attention_context;
}

double matmul_flops(const Dag& dag) {
  double total = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (is_matmul(dag[v].kind()))
      total += static_cast<double>(cost::work(dag[v], dag[boost::graph_bundle]).flops);
  return total;
}

/// Bytes each device sends in collectives, by phase, summed over the Dag.
std::map<std::pair<std::int64_t, CollectivePhase>, double>
bytes_by_phase(const Dag& dag, const cost::Hardware& hw) {
  std::map<std::pair<std::int64_t, CollectivePhase>, double> sent;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (const auto* c = collective_of(dag[v]))
      for (std::int64_t d : devices_of(dag, v))
        sent[{d, c->phase}] += cost::op_cost(dag, v, hw).bytes_sent;
  return sent;
}

} // namespace

TEST_CASE("matmul FLOPs of a GPT-3 175B prefill are 24·B·s·l·h²·(1 + s/(6h)), whatever the plan") {
  // Narayanan et al. 2021, eq. (3): 96·B·s·l·h²·(1 + s/(6h) + V/(16lh)) counts four passes
  // (forward, backward twice as much, recomputation) and the logits; one forward without logits is
  // a quarter of it without the V term. Per layer: Q, K, V, out-projection 4·2·B·s·h², fc1 and fc2
  // 2·2·B·s·h·4h, scores and context 2·2·B·s²·h (causal attention counted in full).
  // The full 96 layers: a plan only moves FLOPs between devices, so the sum is the formula's.
  const double B = 1, s = 2048, l = 96, h = 12288;
  const double expected = 24 * B * s * l * h * h * (1 + s / (6 * h));
  for (const std::string plan : {"tp=8", "pp=8,tp=8", "hp=8x2", "tg=4x4", "pp=2,tg=8x2"}) {
    CAPTURE(plan);
    const Dag dag = build_dag(models::gpt3_175b, parse_plan(plan), Workload::prefill());
    CHECK(std::abs(matmul_flops(dag) / expected - 1) < 1e-3);
  }
}

TEST_CASE("a pure pipeline of m microbatches over p equal stages takes (m + p − 1)·t_stage") {
  // GPipe forward: stage k starts microbatch j at (j + k)·t_stage. With free communication and
  // infinite memory bandwidth a stage's time is its FLOPs over the peak.
  const Model model = models::gpt3_175b.with_layers(4).with_batch(8).with_seq_len(128);
  for (std::int64_t m : {1, 4, 8}) {
    const std::int64_t p = 4;
    CAPTURE(m);
    const Dag dag = build_dag(model, parse_plan("pp=4"), Workload::prefill(m));
    // One stage, one microbatch: one layer of 24·b·s·h²·(1 + s/(6h)) FLOPs (matmuls) plus the
    // element-wise ops, read from the stage's vertices.
    double stage_flops = 0;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
      if (dag[v].stage == 0 && dag[v].microbatch == 0)
        stage_flops += static_cast<double>(cost::work(dag[v], dag[boost::graph_bundle]).flops);
    const double t_stage = stage_flops / compute_only.peak_flops_per_second;
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
      stage_flops += static_cast<double>(cost::work(dag[v], dag[boost::graph_bundle]).flops);
  cost::Hardware hw = compute_only;
  const double t = stage_flops / hw.peak_flops_per_second;
  const double size = 1.0 * 128 * 12288 * 2; // one microbatch's [1, s, h] in FP16
  const double tau = t / 4;
  hw.nvlink.bandwidth_bytes_per_second = size / tau; // GPUs 0 and 1 share a node
  const double md = static_cast<double>(m);
  CHECK(cost::simulate(dag, hw).makespan_seconds == doctest::Approx(md * (t + tau) + t));
  CHECK(cost::simulate(dag, hw, {.overlap_communication = true}).makespan_seconds ==
        doctest::Approx((md + 1) * t + tau));
}

TEST_CASE("a ring all-reduce over n GPUs sends 2(n−1)/n·size per GPU") {
  // 8-way tensor parallel: 2 all-reduces per layer, each of the block output [b, s, h].
  const Model model = models::gpt3_175b.with_layers(2).with_seq_len(256);
  const Dag dag = build_dag(model, parse_plan("tp=8"), Workload::prefill());
  const double size = 1.0 * 256 * 12288 * 2; // b·s·h elements of 2 bytes
  const double per_all_reduce = 2.0 * (8 - 1) / 8 * size;
  const double expected = 2 * 2 * per_all_reduce; // 2 layers × 2 all-reduces
  const cost::Timeline timeline = cost::simulate(dag, cost::hardware::h100_sxm_nvl8);
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

TEST_CASE("a hierarchical all-reduce over 4 groups × 4 sends 1.5·size inside groups and 0.375·size "
          "across them per GPU, 1.875·size in all like a flat ring of 16") {
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
  const cost::Timeline timeline = cost::simulate(dag, cost::hardware::h100_sxm_nvl8);
  for (const cost::DeviceUsage& usage : timeline.devices) {
    CHECK(usage.bytes_sent[0] == doctest::Approx(all_reduces * 1.5 * size));
    CHECK(usage.bytes_sent[1] == doctest::Approx(all_reduces * 0.375 * size));
  }
  // A flat ring of 16 sends the same 1.875·size per GPU, all of it on its slowest (IB) link class.
  const Dag flat = build_dag(model, parse_plan("tp=16"), Workload::prefill());
  const cost::Timeline flat_timeline = cost::simulate(flat, cost::hardware::h100_sxm_nvl8);
  for (const cost::DeviceUsage& usage : flat_timeline.devices) {
    CHECK(usage.bytes_sent[0] == 0);
    CHECK(usage.bytes_sent[1] == doctest::Approx(all_reduces * 1.875 * size));
  }
}

TEST_CASE("a compute op costs the larger of FLOPs over effective peak and bytes over bandwidth") {
  const cost::Hardware& hw = cost::hardware::h100_sxm_nvl8;
  DagInfo info;
  info.model = models::gpt3_175b.with_batch(1);
  info.mesh = make_mesh(parse_plan("tp=8"));
  // x [1, 10⁴, 10⁴] @ W[10⁴ rows, 10⁴ cols]: 2·10¹² FLOPs; FP16 input, output and weight are
  // 3·10⁸ elements, 6·10⁸ bytes: compute bound on H100 (989 TFLOP/s against 3.35 TB/s).
  Op matmul;
  step::Fc1 fc1;
  fc1.rows = IndexRuns::range(0, 10'000);
  fc1.cols = IndexRuns::range(0, 10'000);
  matmul.step = fc1;
  matmul.device = 0;
  matmul.inputs[0] = Shape{1, 10'000, 10'000};
  matmul.input_count = 1;
  matmul.output = Shape{1, 10'000, 10'000};
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

TEST_CASE("ranks map to nodes of gpus_per_node: link classes follow the mesh") {
  const cost::Hardware& h100 = cost::hardware::h100_sxm_nvl8;
  CHECK(cost::link_between(h100, 0, 7) == cost::LinkClass::nvlink);
  CHECK(cost::link_between(h100, 7, 8) == cost::LinkClass::infiniband);
  CHECK(cost::link_between(cost::hardware::gb200_nvl72, 7, 71) == cost::LinkClass::nvlink);
  // pp=2,tg=4x4 on H100: every collective stays inside its stage's node; only the stage-to-stage
  // transfers cross to the other node.
  const Dag dag = build_dag(models::helix_seed.with_batch(2).with_seq_len(64),
                            parse_plan("pp=2,tg=4x4"), Workload::prefill());
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (is_communication(dag[v].kind()))
      CHECK(cost::op_cost(dag, v, h100).link == (dag[v].kind() == OpKind::transfer
                                                     ? cost::LinkClass::infiniband
                                                     : cost::LinkClass::nvlink));
  // A send/recv moves its tensor once: each stage-0 GPU sends its [b, s, h] = 2·64·8192 FP16
  // elements over InfiniBand; stage-1 GPUs only receive.
  const cost::Timeline timeline = cost::simulate(dag, h100);
  for (std::size_t d = 0; d < 16; ++d)
    CHECK(timeline.devices[d].bytes_sent[1] == (d < 8 ? 2.0 * 64 * 8192 * 2 : 0.0));
}

TEST_CASE("weights per device are the device's slices: 12h²/t per layer plus replicated norms") {
  // GPT-3 block, no biases: Wq, Wk, Wv, Wo h² each, W1 and W2 4h² each; layernorm gain and shift
  // 2h per norm, two norms, replicated on every tensor-parallel device.
  const Model model = models::gpt3_175b.with_layers(2).with_seq_len(128);
  const Dag dag = build_dag(model, parse_plan("tp=8"), Workload::prefill());
  const cost::MemoryReport report = cost::memory(dag, cost::hardware::h100_sxm_nvl8);
  const double h = 12288;
  const double weights = 2 * (12 * h * h / 8 + 2 * 2 * h) * 2; // 2 layers, FP16
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

TEST_CASE("peak activations: live tensors from producer through last consumer, at their widest") {
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
  const Dag dag = build_dag(model, parse_plan("tp=1"), Workload::prefill());
  const cost::MemoryReport report = cost::memory(dag, cost::hardware::h100_sxm_nvl8);
  CHECK(report.devices[0].activation_bytes == doctest::Approx(9216.0 * 2));
  // tp=2 halves q, k, v, context, scores, probabilities and the FFN slices, not x, y or the
  // partial sums: at GELU y + 2 · 2048 = 5120 elements.
  const Dag split = build_dag(model, parse_plan("tp=2"), Workload::prefill());
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

TEST_CASE("the seed comparison counts 6 → 4 logical all-reduces and 6 → 12 phases") {
  // hp=4x4: per layer, scores (over the 4 slices of each group), attention output and MLP output
  // (over 16) = 3 flat all-reduces; pp=2,tg=4x4: 2 per layer, each 3 hierarchical phases.
  const Model model = models::helix_seed;
  std::vector<std::pair<std::string, Dag>> plans;
  plans.emplace_back("hp=4x4", build_dag(model, parse_plan("hp=4x4"), Workload::prefill()));
  plans.emplace_back("pp=2,tg=4x4",
                     build_dag(model, parse_plan("pp=2,tg=4x4"), Workload::prefill()));
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

TEST_CASE("the timeline SVG has a row per device, a bar per timed vertex, and is written whole") {
  const Model model = models::helix_seed.with_batch(2).with_seq_len(64);
  const Dag dag = build_dag(model, parse_plan("pp=2,tg=4x4"), Workload::prefill(2));
  const cost::Timeline timeline = cost::simulate(dag, cost::hardware::h100_sxm_nvl8);
  const std::string svg = io::timeline_svg(dag, timeline, "pp=2,tg=4x4");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("GPU 15</text>") != std::string::npos);
  CHECK(svg.find(">reduce_scatter</text>") != std::string::npos); // legend
  CHECK(svg.find(">transfer</text>") != std::string::npos);
  const auto dir = std::filesystem::temp_directory_path() / "helix_test_cost";
  std::filesystem::create_directories(dir);
  const auto path = dir / "timeline.svg";
  io::write_timeline_svg(path, dag, timeline, "pp=2,tg=4x4");
  std::ifstream in(path);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(written == svg);
  CHECK_FALSE(std::filesystem::exists(dir / "timeline.svg.tmp"));
  std::filesystem::remove_all(dir);
}
