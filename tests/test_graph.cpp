// Graph area: the lowering of every scheme, the Boost Dag, and check() on sound and corrupted DAGs.
#include "helix/graph.hpp"
#include "helix/model.hpp"
#include "helix/plan.hpp"
#include "support/dag_fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

using namespace helix;
using namespace helix::testing;

namespace {

using Optimized = Plan<PipelineStages<2>, TensorGroups<4, 4>>;
using Baseline = Plan<HeadPartitions<4, 4>>;

// The lowering is constexpr: the builder's own shape propagation and edge checks, at compile time,
// for the seed's full sizes (batch 1024, seq 10000, hidden 8192).
static_assert(dag_shapes_consistent<models::helix_seed, Optimized>());
static_assert(dag_shapes_consistent<models::helix_seed, Baseline>());
static_assert(dag_shapes_consistent<models::helix_seed, Baseline, Workload::decode()>());
// llama3_70b as served: SwiGLU, a 128,256-token vocabulary (embedding, final norm, LM head).
static_assert(dag_shapes_consistent<models::llama3_70b.with_layers(2).with_batch(4),
                                    Plan<PipelineStages<2>, TensorParallel<8>, DataParallel<2>>,
                                    Workload::prefill(2)>());

} // namespace

TEST_CASE("the optimized seed plan has 14 compute ops per device per layer, on its stage only") {
  const Dag dag = build_dag<models::helix_seed, Optimized>();
  // Per device and layer: norm, Q, K, V, scores, softmax, context, out-projection, residual add,
  // norm, FC1, GELU, FC2, residual add = 14. Layer l runs on stage l = GPUs 8l .. 8l+7.
  for (std::int64_t layer = 0; layer < 2; ++layer)
    for (std::int64_t device = 0; device < 16; ++device) {
      const std::size_t ops = count(dag, [&](const Op& op) {
        return op.device == device && op.layer == layer && !is_communication(op.kind());
      });
      CHECK(ops == (device / 8 == layer ? 14u : 0u));
    }
  // 2 logical all-reduces per layer (after attention, after the MLP), each 3 hierarchical phases:
  // 2 reduce-scatters (one per group), 4 inter-group all-reduces (one per member rank), 2
  // all-gathers; and one all-gather of the pipeline slices that enter stage 1.
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::reduce_scatter; }) == 2 * 2 * 2);
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::all_reduce; }) == 2 * 2 * 4);
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::all_gather; }) == 2 * 2 * 2 + 1);
  std::set<std::pair<std::int64_t, CollectivePhase>> phases;
  std::set<std::int64_t> logical;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (const auto* c = collective_of(dag[v]); c && sums_partial_results(c->purpose)) {
      phases.insert({c->logical, c->phase});
      logical.insert(c->logical);
    }
  CHECK(logical.size() == 4); // 2 per layer
  CHECK(phases.size() == 12); // 6 per layer
  // Stage 0 → stage 1: one send/recv per device pair; inputs on stage 0, outputs on stage 1.
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::transfer; }) == 8);
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::input && op.device < 8; }) == 8);
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::output && op.device >= 8; }) ==
        8);
  CHECK(boost::num_vertices(dag) == 2 * 8 * 14 + 2 * 16 + 8 + 8 + 1 + 8);
  CHECK(check(dag, models::helix_seed, Optimized::spec).empty());
}

TEST_CASE("hp=4x4 has 3 logical all-reduces per layer, one of them over partial scores") {
  const Dag dag = build_dag(models::helix_seed, parse_plan("hp=4x4"));
  for (std::int64_t device = 0; device < 16; ++device)
    CHECK(count(dag, [&](const Op& op) {
            return op.device == device && op.layer == 0 && !is_communication(op.kind());
          }) == 14);
  std::set<std::int64_t> logical;
  std::size_t score_reductions = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (const auto* c = collective_of(dag[v])) {
      logical.insert(c->logical);
      if (c->purpose == CollectivePurpose::attention_scores) {
        ++score_reductions;
        // Over the 4 dimension slices of one head group, on [B, 4 heads, S, S] partial scores.
        CHECK(group_size(boost::get_property(dag, boost::graph_bundle).mesh, c->group) == 4);
        CHECK(dag[v].output == Shape{1024, 4, 10000, 10000});
      }
    }
  CHECK(logical.size() == 2 * 3);
  CHECK(score_reductions == 2 * 4); // 4 head groups per layer
  CHECK(check(dag).empty());
}

TEST_CASE("every edge of layer 0's MHA on GPU 0 of the optimized plan has the derived shape") {
  const Dag dag = build_dag<models::helix_seed, Optimized>();
  // B = 1024, S = 10000, h = 8192; 8-way tensor parallel: 16 / 8 = 2 heads × 512 = 1024 columns.
  const auto out = [&](OpKind kind, std::size_t nth = 0) {
    return dag[find(dag, kind, 0, 0, nth)];
  };
  CHECK(out(OpKind::norm).output == Shape{1024, 10000, 8192});
  CHECK(out(OpKind::q_projection).output == Shape{1024, 10000, 1024});
  CHECK(out(OpKind::k_projection).output == Shape{1024, 10000, 1024});
  CHECK(out(OpKind::v_projection).output == Shape{1024, 10000, 1024});
  CHECK(out(OpKind::attention_scores).inputs[0] == Shape{1024, 10000, 1024});
  CHECK(out(OpKind::attention_scores).output == Shape{1024, 2, 10000, 10000});
  CHECK(out(OpKind::softmax).output == Shape{1024, 2, 10000, 10000});
  CHECK(out(OpKind::attention_context).inputs[1] == Shape{1024, 10000, 1024});
  CHECK(out(OpKind::attention_context).output == Shape{1024, 10000, 1024});
  CHECK(out(OpKind::out_projection).output == Shape{1024, 10000, 8192}); // partial sum
  // Hierarchical all-reduce: reduce-scatter to h / 4 = 2048 in the group, all-reduce of the
  // shard across the 2 groups, all-gather back to 8192.
  const Vertex projection = find(dag, OpKind::out_projection, 0, 0);
  const Vertex scatter = boost::target(*boost::out_edges(projection, dag).first, dag);
  CHECK(dag[scatter].kind() == OpKind::reduce_scatter);
  CHECK(dag[scatter].output == Shape{1024, 10000, 2048});
  for (Edge e : boost::make_iterator_range(boost::out_edges(scatter, dag))) {
    const Vertex across = boost::target(e, dag);
    CHECK(dag[across].kind() == OpKind::all_reduce);
    CHECK(dag[across].output == Shape{1024, 10000, 2048});
    CHECK(dag[e].shape == Shape{1024, 10000, 2048});
  }
  // The out-projection holds rows 0..1023 (heads 0, 1) of Wo; Q holds the same columns of Wq.
  const auto& wo = *linear_slice_of(dag[projection]);
  CHECK(wo.rows == IndexRuns{0, 512, 512, 2});
  CHECK(wo.cols == IndexRuns::range(0, 8192));
}

TEST_CASE("every tensor into layer 0's ops on GPU 0 of the optimized plan, spelled out") {
  const Dag dag = build_dag<models::helix_seed, Optimized>();
  // B = 1024, S = 10000, h = 8192. 8 devices per stage: 16 / 8 = 2 heads of 512 → 1024 wide;
  // FFN 32768 / 8 = 4096 wide. Residual and norm carry the full [B, S, h]; scores [B, 2, S, S].
  const Shape full{1024, 10000, 8192}, heads{1024, 10000, 1024}, scores{1024, 2, 10000, 10000},
      ffn{1024, 10000, 4096};
  using Row = std::tuple<std::string_view, std::string_view, std::size_t, Shape>;
  std::vector<Row> expected{
      {"input", "norm", 0, full},        // pre-attention norm
      {"norm", "q_projection", 0, full}, // Wq[:, heads 0–1]
      {"norm", "k_projection", 0, full}, //
      {"norm", "v_projection", 0, full}, //
      {"q_projection", "attention_scores", 0, heads},
      {"k_projection", "attention_scores", 1, heads},
      {"attention_scores", "softmax", 0, scores},
      {"softmax", "attention_context", 0, scores},
      {"v_projection", "attention_context", 1, heads},
      {"attention_context", "out_projection", 0, heads},
      {"input", "residual_add", 0, full},      // x + attention
      {"all_gather", "residual_add", 1, full}, // the hierarchical all-reduce's last phase
      {"residual_add", "norm", 0, full},       // pre-MLP norm
      {"norm", "fc1", 0, full},
      {"fc1", "gelu", 0, ffn},
      {"gelu", "fc2", 0, ffn},
      {"residual_add", "residual_add", 0, full}, // y + MLP
      {"all_gather", "residual_add", 1, full},
  };
  std::vector<Row> actual;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (dag[v].device == 0 && dag[v].layer == 0)
      for (Edge e : boost::make_iterator_range(boost::in_edges(v, dag)))
        actual.emplace_back(op_kind_name(dag[boost::source(e, dag)].kind()),
                            op_kind_name(dag[v].kind()), dag[e].port, dag[e].shape);
  const auto by_names = [](const Row& a, const Row& b) {
    return std::tie(std::get<0>(a), std::get<1>(a), std::get<2>(a)) <
           std::tie(std::get<0>(b), std::get<1>(b), std::get<2>(b));
  };
  std::sort(expected.begin(), expected.end(), by_names);
  std::sort(actual.begin(), actual.end(), by_names);
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(std::get<0>(expected[i]));
    CAPTURE(std::get<1>(expected[i]));
    CHECK(std::get<0>(actual[i]) == std::get<0>(expected[i]));
    CHECK(std::get<1>(actual[i]) == std::get<1>(expected[i]));
    CHECK(std::get<2>(actual[i]) == std::get<2>(expected[i]));
    CHECK(std::get<3>(actual[i]) == std::get<3>(expected[i]));
  }
  // The two tensors GPU 0 hands to collectives: the out-projection's and FC2's partial sums.
  for (OpKind kind : {OpKind::out_projection, OpKind::fc2}) {
    const Vertex v = find(dag, kind, 0, 0);
    const Edge e = *boost::out_edges(v, dag).first;
    CHECK(dag[boost::target(e, dag)].kind() == OpKind::reduce_scatter);
    CHECK(dag[e].shape == full);
  }
}

TEST_CASE("HeadPartitions slices Wq columns by head group and head_dim slice, strided per head") {
  const Dag dag = build_dag(models::helix_seed, parse_plan("hp=4x4"));
  // GPU 6 = head group 1 (heads 4..7), slice 2 (dims 256..383): columns 4·512 + 256 + i·512.
  const auto& q = *linear_slice_of(dag[find(dag, OpKind::q_projection, 6, 0)]);
  CHECK(q.cols == IndexRuns{4 * 512 + 256, 128, 512, 4});
  CHECK(dag[find(dag, OpKind::q_projection, 6, 0)].output == Shape{1024, 10000, 4 * 128});
  // MLP is 16-way: FC1 columns 6·2048 .. 7·2048.
  const auto& up = *linear_slice_of(dag[find(dag, OpKind::fc1, 6, 0)]);
  CHECK(up.cols == IndexRuns::range(6 * 2048, 2048));
}

TEST_CASE("GQA replicates kv heads when the tensor degree exceeds them") {
  // llama3_70b: 64 heads, 8 kv heads. tp=16: devices 2k and 2k+1 share kv head k.
  const Model m = models::llama3_70b.with_layers(1);
  const Dag dag = build_dag(m, parse_plan("tp=16"));
  for (std::int64_t device = 0; device < 16; ++device) {
    const auto& k = *linear_slice_of(dag[find(dag, OpKind::k_projection, device, 0)]);
    CHECK(k.cols == IndexRuns{device / 2 * 128, 128, 128, 1});
    const auto& a = *attention_heads_of(dag[find(dag, OpKind::attention_scores, device, 0)]);
    CHECK(a.heads == 4);
    CHECK(a.kv_head_begin == device / 2);
  }
  CHECK(check(dag).empty());
}

TEST_CASE("decode attends one new token to the cache: scores [b, heads, 1, seq + 1]") {
  const Model m = models::gpt3_175b.with_layers(2).with_batch(4);
  const Dag dag = build_dag(m, parse_plan("tp=8"), Workload::decode());
  CHECK(dag[find(dag, OpKind::q_projection, 3, 1)].output == Shape{4, 1, 12 * 128});
  CHECK(dag[find(dag, OpKind::kv_cache, 3, 1)].output == Shape{4, 2048, 12 * 128});
  CHECK(dag[find(dag, OpKind::kv_append, 3, 1)].output == Shape{4, 2049, 12 * 128});
  CHECK(dag[find(dag, OpKind::attention_scores, 3, 1)].output == Shape{4, 12, 1, 2049});
  CHECK_FALSE(step_if<step::Softmax>(dag[find(dag, OpKind::softmax, 3, 1)])->causal);
  CHECK(check(dag).empty());
}

TEST_CASE("data parallel and microbatches split the batch, each microbatch is its own forward") {
  const Model m = models::helix_seed.with_batch(16);
  const Dag dag = build_dag(m, parse_plan("pp=2,tg=2x2,dp=2"), Workload::prefill(4));
  // dp=2 × 4 microbatches: each forward has 16 / 8 = 2 sequences, starting at 8·replica + 2·mb.
  std::set<std::int64_t> begins;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (dag[v].kind() == OpKind::input) {
      CHECK(dag[v].output[0] == 2);
      CHECK(dag[v].batch_begin == 8 * dag[v].replica + 2 * dag[v].microbatch);
      begins.insert(dag[v].batch_begin);
    }
  CHECK(begins.size() == 8);
  // World: 2 stages × 2 replicas × 2 = 8 GPUs; replica 1 of stage 1 is GPUs 6, 7.
  CHECK(count(dag, [](const Op& op) {
          return op.device == 6 && op.replica == 1 && op.stage == 1 && op.layer == 1;
        }) == 4 * 14);
  CHECK(check(dag).empty());
}

TEST_CASE("the DAG size rule's bound holds for every scheme, prefill and decode") {
  // The bound of rules.hpp: dp · microbatches · tensor degree · 31 · max(layers, stages), for a
  // GELU and a SwiGLU MLP (llama3_70b's own: one more op per device and layer, the gate).
  for (const Model& m :
       {models::llama3_70b.with_layers(4).with_batch(8).with_activation(Activation::gelu),
        models::llama3_70b.with_layers(4).with_batch(8)})
    for (const char* text : {"tp=8", "pp=2,tg=2x4", "pp=4,tp=2,dp=2", "hp=4x2", "tp=16,dp=2"})
      for (const Workload& w : {Workload::prefill(), Workload::decode(2), Workload::prefill(4)}) {
        CAPTURE(text);
        const PlanSpec plan = parse_plan(text);
        const std::int64_t t = tensor_degree(plan);
        const std::int64_t bound =
            plan.data_parallel * w.microbatches * t * 31 * std::max(m.layers, plan.pipeline_stages);
        CHECK(static_cast<std::int64_t>(boost::num_vertices(build_dag(m, plan, w))) <= bound);
      }
}

TEST_CASE("build_dag checks the plan at compile time and a run-time workload at run time") {
  // 4 microbatches of 1024 / 4 = 256 sequences: 4 forwards of the 281-vertex optimized DAG
  // (2·8·14 compute, 32 collective phases, 8 inputs, 8 transfers, 1 pipeline all-gather, 8
  // outputs).
  const Dag dag = build_dag<models::helix_seed, Optimized>(Workload::prefill(4));
  CHECK(boost::num_vertices(dag) == 4 * 281);
  CHECK(dag[0].output == Shape{256, 10000, 8192});
  // 3 microbatches do not divide 1024 sequences: known only at run time, reported then.
  const auto three = [] { return build_dag<models::helix_seed, Optimized>(Workload::prefill(3)); };
  CHECK_THROWS_AS(three(), PlanError);
}

TEST_CASE("build_dag rejects an invalid plan with every broken rule, at run time") {
  CHECK_THROWS_WITH_AS(build_dag(models::helix_seed, parse_plan("tp=3")),
                       doctest::Contains("helix: heads vs tensor degree:"), PlanError);
  try {
    static_cast<void>(build_dag(models::helix_seed, parse_plan("tp=3")));
  } catch (const PlanError& e) {
    CHECK(e.problems().size() == 3);
  }
}

TEST_CASE("check names each corruption of a sound DAG with its rule") {
  const Model m = models::helix_seed.with_batch(4).with_seq_len(8);
  const Dag sound = build_dag(m, parse_plan("pp=2,tg=4x4"));
  REQUIRE(check(sound).empty());

  // A Dag is immutable once built: the structural corruptions are made in its lowering, whose
  // op i is the Dag's vertex i, and materialized.
  const Lowering lowering = lower(m, parse_plan("pp=2,tg=4x4"), Workload::prefill());
  SUBCASE("a cycle") {
    Lowering broken = lowering;
    const Vertex late = find(sound, OpKind::fc2, 0, 0);
    const Vertex early = find(sound, OpKind::q_projection, 0, 0);
    broken.edges.push_back({late, early, sound[*boost::in_edges(early, sound).first]});
    CHECK(has_rule(check(materialize(std::move(broken))), CheckRule::acyclic));
  }
  SUBCASE("an isolated vertex") {
    Lowering broken = lowering;
    broken.ops.push_back(sound[find(sound, OpKind::norm, 0, 0)]);
    CHECK(has_rule(check(materialize(std::move(broken))), CheckRule::connected));
  }
  SUBCASE("a dangling vertex: its result reaches no output") {
    Lowering broken = lowering;
    broken.ops.push_back(sound[find(sound, OpKind::gelu, 0, 0)]);
    const Vertex up = find(sound, OpKind::fc1, 0, 0);
    broken.edges.push_back({up, broken.ops.size() - 1, sound[*boost::out_edges(up, sound).first]});
    const auto diagnostics = check(materialize(std::move(broken)));
    CHECK(has_rule(diagnostics, CheckRule::connected));
    CHECK(std::any_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
      return d.message.find("dangling") != std::string::npos;
    }));
  }
  SUBCASE("a wrong edge shape") {
    Dag dag = sound;
    const Vertex q = find(dag, OpKind::q_projection, 2, 0);
    dag[*boost::out_edges(q, dag).first].shape = Shape{4, 8, 999};
    CHECK(has_rule(check(dag), CheckRule::edge_shape));
  }
  SUBCASE("an op whose step implies another input than it declares") {
    Dag dag = sound;
    auto& down = *linear_slice_of(dag[find(dag, OpKind::fc2, 1, 0)]);
    down.rows = IndexRuns::range(down.rows.begin, down.rows.size / 2);
    CHECK(has_rule(check(dag), CheckRule::op_shape));
  }
  SUBCASE("an op whose output is not what its step makes") {
    Dag dag = sound;
    Op& q = dag[find(dag, OpKind::q_projection, 11, 1)]; // stage 1 holds layer 1
    q.output = q.output.with_last(q.output.last() + 1);
    CHECK(has_rule(check(dag), CheckRule::op_shape));
  }
  SUBCASE("an op claiming more inputs than it has slots is reported, not read past its end") {
    Dag dag = sound;
    dag[find(dag, OpKind::softmax, 2, 0)].input_count = 99;
    CHECK(has_rule(check(dag), CheckRule::op_shape));
  }
  SUBCASE("a Linear given a slice its producer does not make, declared consistently") {
    // What a lowering bug looks like: FC2's rows halved and its declared input updated to match,
    // so only the edge from GELU shows the mismatch.
    Dag dag = sound;
    Op& fc2 = dag[find(dag, OpKind::fc2, 1, 0)];
    auto& down = *linear_slice_of(fc2);
    down.rows = IndexRuns::range(down.rows.begin, down.rows.size / 2);
    const DagInfo& info = boost::get_property(dag, boost::graph_bundle);
    fc2.inputs = signature(fc2, info.model, info.workload, info.mesh).inputs;
    const auto diagnostics = check(dag);
    CHECK_FALSE(has_rule(diagnostics, CheckRule::op_shape));
    CHECK(has_rule(diagnostics, CheckRule::edge_shape));
  }
  SUBCASE("a collective over the wrong devices") {
    Dag dag = sound;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
      if (auto* c = collective_of(dag[v]);
          c && c->phase == CollectivePhase::intra_group_reduce_scatter) {
        c->group.axes = axis_bit(Role::tensor_group); // across groups instead of inside one
        break;
      }
    CHECK(has_rule(check(dag), CheckRule::collective_group));
  }
  SUBCASE("a device that does nothing") {
    Dag dag = sound;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
      if (dag[v].device == 5)
        dag[v].device = 4;
    const auto diagnostics = check(dag);
    CHECK(has_rule(diagnostics, CheckRule::device_works));
    CHECK(std::any_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
      return d.message.find("GPU 5 runs no operator") != std::string::npos;
    }));
  }
  SUBCASE("weight slices that overlap and leave a gap") {
    Dag dag = sound;
    // FC1 on GPU 1 of layer 0 takes GPU 0's columns: columns 0..4095 held twice, 4096.. never.
    auto& up = *linear_slice_of(dag[find(dag, OpKind::fc1, 1, 0)]);
    up.cols.begin = 0;
    const auto diagnostics = check(dag);
    CHECK(has_rule(diagnostics, CheckRule::weight_tiling));
    CHECK(std::any_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
      return d.message.find("w1 of layer 0") != std::string::npos;
    }));
  }
  SUBCASE("a graph checked against another plan") {
    CHECK(has_rule(check(sound, m, parse_plan("hp=4x4")), CheckRule::built_from));
  }
}

TEST_CASE("llama31_405b with pp=16,tp=8,dp=8 and 8 microbatches builds and checks") {
  // 126 layers × 8 devices × 15 ops (the 14 of a GELU block, plus the gate projection of its
  // SwiGLU MLP, whose product replaces GELU) × 8 replicas × 8 microbatches = 967,680 compute
  // vertices, + 126 × 2 all-reduces × 64 forwards, + inputs, transfers and the all-gathers of
  // their slices (one per boundary), outputs, + per forward the vocabulary's 34 (below): 995,648.
  const Model m = models::llama31_405b.with_batch(64);
  const Dag dag = build_dag(m, parse_plan("pp=16,tp=8,dp=8"), Workload::prefill(8));
  const std::size_t forwards = 8 * 8;
  CHECK(boost::num_vertices(dag) ==
        forwards * (126 * 8 * 15 + 126 * 2 + 8 /* inputs */ + 15 * 8 /* transfers */ +
                    15 /* all-gathers of the slices */ + 8 + 8 +
                    1 /* embedding lookups, their all-reduce */ + 3 * 8 +
                    1 /* last token, final norm, LM head, the logits' all-gather */));
  CHECK(boost::num_vertices(dag) == 994'688 + 15 * 64);
  CHECK(check(dag).empty());
}

TEST_CASE("tensor groups of one device all-reduce in one flat ring across the groups") {
  // Found by the fuzzer: tg=4x1 has no intra-group level, so a reduce-scatter over a single
  // member would be a collective of one. pp=2 deals 2 groups of 1 to each stage.
  const Model m = models::helix_seed.with_batch(4).with_seq_len(8);
  const Dag dag = build_dag(m, parse_plan("pp=2,tg=4x1,dp=2"));
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::reduce_scatter; }) == 0);
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (const auto* c = collective_of(dag[v])) {
      CHECK(c->phase == CollectivePhase::flat);
      CHECK(group_size(boost::get_property(dag, boost::graph_bundle).mesh, c->group) == 2);
    }
  CHECK(check(dag).empty());
}

namespace {

/// The placement on the edge from `from` into `to` (the first such edge).
TensorPlacement placement_between(const Dag& dag, Vertex from, Vertex to) {
  for (Edge e : boost::make_iterator_range(boost::out_edges(from, dag)))
    if (boost::target(e, dag) == to)
      return dag[e].placement;
  FAIL("no such edge");
  return {};
}

/// The consumer of `v`'s output on `device`.
Vertex next_on(const Dag& dag, Vertex v, std::int64_t device) {
  for (Edge e : boost::make_iterator_range(boost::out_edges(v, dag)))
    if (dag[e].device == device)
      return boost::target(e, dag);
  FAIL("no consumer on that device");
  return 0;
}

TensorPlacement placed(std::initializer_list<std::pair<Role, Placement>> axes) {
  TensorPlacement p;
  for (const auto& [role, placement] : axes)
    p[role] = placement;
  return p;
}

} // namespace

TEST_CASE("placements of the optimized seed's MLP: Megatron's column then row split, then the "
          "hierarchical all-reduce back to whole") {
  // Mesh [pipeline 2, tensor_group 2, tensor 4]. FC1 holds a column slice that changes along both
  // tensor axes: S(2) over tg and tp. FC2 holds the matching rows: a partial sum over both. The
  // reduce-scatter inside a group sums over tp and leaves each member a slice of hidden: S(2) on
  // tp, still P on tg; the all-reduce across groups sums over tg; the all-gather rebuilds hidden.
  const Dag dag = build_dag<models::helix_seed, Optimized>();
  const Placement S2 = Placement::shard(2), P = Placement::partial();
  const Vertex fc1 = find(dag, OpKind::fc1, 0, 0), gelu = find(dag, OpKind::gelu, 0, 0);
  const Vertex fc2 = find(dag, OpKind::fc2, 0, 0), norm = find(dag, OpKind::norm, 0, 0, 1);
  CHECK(placement_between(dag, norm, fc1) == TensorPlacement{});
  CHECK(placement_between(dag, fc1, gelu) ==
        placed({{Role::tensor_group, S2}, {Role::tensor, S2}}));
  const Vertex scatter = next_on(dag, fc2, 0);
  CHECK(dag[scatter].kind() == OpKind::reduce_scatter);
  CHECK(placement_between(dag, fc2, scatter) ==
        placed({{Role::tensor_group, P}, {Role::tensor, P}}));
  const Vertex across = next_on(dag, scatter, 0);
  CHECK(placement_between(dag, scatter, across) ==
        placed({{Role::tensor_group, P}, {Role::tensor, S2}}));
  const Vertex gather = next_on(dag, across, 0);
  CHECK(placement_between(dag, across, gather) == placed({{Role::tensor, S2}}));
  const Vertex add = next_on(dag, gather, 0);
  CHECK(dag[add].kind() == OpKind::residual_add);
  CHECK(placement_between(dag, gather, add) == TensorPlacement{});
  CHECK(placement_text(placement_between(dag, fc2, scatter),
                       boost::get_property(dag, boost::graph_bundle).mesh) == "tg:P·tp:P");
}

TEST_CASE("placements of two-level attention: scores over a head_dim slice owe a sum over hd") {
  // hp=4x4: mesh [tensor 4 (head groups), head_dim 4]. Q and K are sharded along both axes; their
  // scores are a head group's (S(1) over tp) partial dot products (P over hd) until the
  // all-reduce over the slices; the context is S(2) on both; the out-projection a partial sum.
  const Dag dag = build_dag<models::helix_seed, Baseline>();
  const Placement S1 = Placement::shard(1), S2 = Placement::shard(2), P = Placement::partial();
  const Vertex scores = find(dag, OpKind::attention_scores, 5, 0);
  const Vertex reduce = next_on(dag, scores, 5);
  CHECK(dag[reduce].kind() == OpKind::all_reduce);
  CHECK(placement_between(dag, scores, reduce) ==
        placed({{Role::tensor, S1}, {Role::head_dim, P}}));
  const Vertex softmax = find(dag, OpKind::softmax, 5, 0);
  CHECK(placement_between(dag, reduce, softmax) == placed({{Role::tensor, S1}}));
  const Vertex context = find(dag, OpKind::attention_context, 5, 0);
  const Vertex out = find(dag, OpKind::out_projection, 5, 0);
  CHECK(placement_between(dag, context, out) == placed({{Role::tensor, S2}, {Role::head_dim, S2}}));
  CHECK(placement_between(dag, out, next_on(dag, out, 5)) ==
        placed({{Role::tensor, P}, {Role::head_dim, P}}));
}

TEST_CASE("data parallel activations are batch shards, S(0) over dp, through the whole forward") {
  const Dag dag = build_dag(models::helix_seed.with_batch(4), parse_plan("pp=2,tg=2x2,dp=2"));
  for (Edge e : boost::make_iterator_range(boost::edges(dag)))
    CHECK(dag[e].placement[Role::data] == Placement::shard(0));
  CHECK(check(dag).empty());
}

TEST_CASE("check() names an edge whose stored placement is not what its producer makes") {
  Dag dag = build_dag(models::helix_seed.with_batch(2).with_seq_len(8), parse_plan("tp=4"));
  const Vertex fc2 = find(dag, OpKind::fc2, 1, 0);
  dag[*boost::out_edges(fc2, dag).first].placement[Role::tensor] = Placement::replicate();
  const std::vector<Diagnostic> diagnostics = check(dag);
  REQUIRE(has_rule(diagnostics, CheckRule::placement));
  CHECK(diagnostics[0].message.find("says R but its producer makes tp:P") != std::string::npos);
}

namespace {
/// Each step alternative, put into an Op: its kind is its own row, with its own name and colour.
template <std::size_t... I>
void check_every_alternative(std::index_sequence<I...>) {
  const auto one = []<std::size_t K>(std::integral_constant<std::size_t, K>) {
    using S = std::variant_alternative_t<K, Step>;
    Op op;
    op.step = S{};
    CAPTURE(S::name);
    CHECK(static_cast<std::size_t>(op.kind()) == K);
    CHECK(op_kind_name(op.kind()) == S::name);
    CHECK(op_kind_color(op.kind()) == S::color);
    // The family predicates agree with what the step holds.
    CHECK(is_collective(op.kind()) == (collective_of(op) != nullptr));
    CHECK(is_linear(op.kind()) == weight_slice_of(op).has_value());
    CHECK(is_attention(op.kind()) == (attention_heads_of(op) != nullptr));
    CHECK(is_communication(op.kind()) ==
          (collective_of(op) != nullptr || transfer_of(op) != nullptr));
  };
  (one(std::integral_constant<std::size_t, I>{}), ...);
}
} // namespace

TEST_CASE("the kind table: one row per step alternative, names and colours from the steps") {
  check_every_alternative(std::make_index_sequence<std::variant_size_v<Step>>{});
  // Names tell kinds apart in views, tooltips and JSON; colours in every picture.
  std::set<std::string_view> names, colours;
  for (const auto& row : op_kinds) {
    names.insert(row.name);
    colours.insert(row.color);
  }
  CHECK(names.size() == op_kinds.size());
  CHECK(colours.size() == op_kinds.size());
  // The weights of a block are the Linear steps' own, each once, in variant order.
  CHECK(std::vector<Weight>(block_weights.begin(), block_weights.end()) ==
        std::vector<Weight>{Weight::wq, Weight::wk, Weight::wv, Weight::wo, Weight::w1,
                            Weight::w_gate, Weight::w2});
}

TEST_CASE("a vocabulary adds Megatron's vocab-parallel embedding and a column-parallel LM head") {
  // 8 query heads over 2 kv heads, SwiGLU, 250 tokens padded to 256: under tp=4 each GPU holds
  // rows [64·i, 64·i + 64) of the embedding and the same columns of the LM head.
  const Model model{.layers = 2,
                    .hidden = 64,
                    .heads = 8,
                    .kv_heads = 2,
                    .head_dim = 8,
                    .ffn_hidden = 256,
                    .batch = 2,
                    .seq_len = 16,
                    .norm = Norm::rmsnorm,
                    .activation = Activation::swiglu,
                    .vocab = 250};
  const Dag dag = build_dag(model, parse_plan("tp=4"));
  CHECK(check(dag).empty());
  std::map<OpKind, int> outside; // ops outside every layer, by kind
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const Op& op = dag[v];
    if (op.layer >= 0)
      continue;
    ++outside[op.kind()];
    if (const step::Embedding* e = step_if<step::Embedding>(op)) {
      CHECK(e->rows == IndexRuns::range(64 * op.device, 64));
      CHECK(op.inputs[0] == Shape{2, 16}); // token ids
      CHECK(op.output == Shape{2, 16, 64});
    }
    if (const step::LmHead* head = step_if<step::LmHead>(op)) {
      CHECK(head->cols == IndexRuns::range(64 * op.device, 64));
      CHECK(op.output == Shape{2, 1, 64}); // the last position's logits over the device's slice
    }
    if (op.kind() == OpKind::output)
      CHECK(op.output == Shape{2, 1, 256});
  }
  // Per GPU: input, embedding, last token, final norm, LM head, output; one all-reduce of the
  // lookups and one all-gather of the logits over the 4 GPUs.
  for (OpKind kind : {OpKind::input, OpKind::embedding, OpKind::last_token, OpKind::norm,
                      OpKind::lm_head, OpKind::output})
    CHECK(outside[kind] == 4);
  CHECK(outside[OpKind::all_reduce] == 1);
  CHECK(outside[OpKind::all_gather] == 1);
  CHECK(outside.size() == 8);
  // Decode has one position per sequence already: no last-token selection.
  const Dag decode = build_dag(model, parse_plan("tp=4"), Workload::decode());
  for (Vertex v : boost::make_iterator_range(boost::vertices(decode)))
    CHECK(decode[v].kind() != OpKind::last_token);
  // Under tg=2x2 the lookups are summed hierarchically like every partial sum of the plan; the
  // logits are gathered in one ring over the stage's 4 GPUs.
  const Dag grouped = build_dag(model, parse_plan("tg=2x2"));
  CHECK(check(grouped).empty());
  std::map<CollectivePhase, int> embedding_phases;
  for (Vertex v : boost::make_iterator_range(boost::vertices(grouped)))
    if (const step::Collective* c = collective_of(grouped[v]);
        c && c->purpose == CollectivePurpose::embedding)
      ++embedding_phases[c->phase];
  CHECK(embedding_phases.size() == 3);
  // A tensor degree that does not divide the padded vocabulary is refused by its rule.
  const std::vector<std::string> refused =
      validate(model.with_ffn_hidden(264).with_heads(6).with_kv_heads(6).with_hidden(48),
               parse_plan("tp=3"), {});
  REQUIRE(refused.size() == 1);
  CHECK(refused.front().find("vocab vs tensor degree") != std::string::npos);
  CHECK(refused.front().find("(padded vocab = 256, tensor degree = 3)") != std::string::npos);
}

TEST_CASE("a parallel block has one norm and one all-reduce per layer, of attention + MLP") {
  const Model model{.layers = 2,
                    .hidden = 64,
                    .heads = 8,
                    .kv_heads = 8,
                    .head_dim = 8,
                    .ffn_hidden = 256,
                    .batch = 2,
                    .seq_len = 16,
                    .norm = Norm::layernorm,
                    .parallel_block = true};
  const Dag dag = build_dag(model, parse_plan("tp=4"));
  CHECK(check(dag).empty());
  std::map<OpKind, int> layer0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (dag[v].layer == 0)
      ++layer0[dag[v].kind()];
  CHECK(layer0[OpKind::norm] == 4);
  CHECK(layer0[OpKind::parallel_sum] == 4);
  CHECK(layer0[OpKind::residual_add] == 4);
  CHECK(layer0[OpKind::all_reduce] == 1);
  // FC1 reads the norm that Q reads.
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (dag[v].kind() == OpKind::fc1) {
      const Vertex normed = boost::source(*boost::in_edges(v, dag).first, dag);
      CHECK(dag[normed].kind() == OpKind::norm);
      bool feeds_q = false;
      for (Edge e : boost::make_iterator_range(boost::out_edges(normed, dag)))
        feeds_q = feeds_q || dag[boost::target(e, dag)].kind() == OpKind::q_projection;
      CHECK(feeds_q);
    }
}

namespace {

std::vector<Vertex> pipeline_gathers(const Dag& dag) {
  std::vector<Vertex> found;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (const step::Collective* c = collective_of(dag[v]);
        c && c->purpose == CollectivePurpose::pipeline_activation)
      found.push_back(v);
  return found;
}

} // namespace

TEST_CASE("scatter-gather sends carry 1/t of hidden to the peer, and its stage all-gathers them") {
  // pp=2,tp=4 on 8 GPUs: stage 0 is GPUs 0–3, stage 1 GPUs 4–7. Tensor device i of stage 0 sends
  // to device i of stage 1 the hidden columns device i owns: [2048·i, 2048·(i + 1)) of 8192, a
  // [2, 8, 2048] tensor placed S(2) over tp. Then one all-gather over stage 1's tensor group
  // (GPUs 4–7, in ring order, so member i contributes slice i) rebuilds [2, 8, 8192], R.
  // Counts: (pp − 1)·t = 4 transfers, pp − 1 = 1 all-gather.
  const Model m = models::helix_seed.with_batch(2).with_seq_len(8);
  const Dag dag = build_dag(m, parse_plan("pp=2,tp=4"));
  REQUIRE(check(dag).empty());
  const Mesh& mesh = boost::get_property(dag, boost::graph_bundle).mesh;
  const std::vector<Vertex> gathers = pipeline_gathers(dag);
  REQUIRE(gathers.size() == 1);
  const Op& gather = dag[gathers[0]];
  CHECK(gather.kind() == OpKind::all_gather);
  CHECK(gather.stage == 1);
  CHECK(gather.output == Shape{2, 8, 8192});
  const step::Collective& group = *collective_of(gather);
  CHECK(group.phase == CollectivePhase::flat);
  CHECK(group.group == DeviceGroup{4, tensor_axes});
  CHECK(devices_of(dag, gathers[0]) == std::vector<std::int64_t>{4, 5, 6, 7});
  std::size_t transfers = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag))) {
    const step::Transfer* t = transfer_of(dag[v]);
    if (!t)
      continue;
    ++transfers;
    const std::int64_t i = t->source;
    CHECK(t->destination == 4 + i);
    CHECK(t->columns == IndexRuns::range(2048 * i, 2048));
    CHECK(dag[v].inputs[0] == Shape{2, 8, 8192});
    CHECK(dag[v].output == Shape{2, 8, 2048});
    const Edge out = *boost::out_edges(v, dag).first;
    CHECK(boost::target(out, dag) == gathers[0]);
    CHECK(dag[out].port == static_cast<std::size_t>(i)); // member i of the stage's ring
    CHECK(dag[out].placement == placed({{Role::tensor, Placement::shard(2)}}));
    CHECK(placement_text(dag[out].placement, mesh) == "tp:S(2)");
  }
  CHECK(transfers == 4);
  for (Edge e : boost::make_iterator_range(boost::out_edges(gathers[0], dag)))
    CHECK(dag[e].placement == TensorPlacement{});

  // Full sends: the same 4 transfers carry the whole [2, 8, 8192], and nothing is gathered.
  const Dag full = build_dag(m, parse_plan("pp=2,tp=4"),
                             Workload::prefill().with_pipeline_send(PipelineSend::full));
  REQUIRE(check(full).empty());
  CHECK(pipeline_gathers(full).empty());
  CHECK(count(full, [](const Op& op) { return op.kind() == OpKind::transfer; }) == 4);
  for (Vertex v : boost::make_iterator_range(boost::vertices(full)))
    if (const step::Transfer* t = transfer_of(full[v])) {
      CHECK(t->columns == IndexRuns::range(0, 8192));
      CHECK(full[v].output == Shape{2, 8, 8192});
    }
  // One vertex more per stage boundary: the all-gather.
  CHECK(boost::num_vertices(dag) == boost::num_vertices(full) + 1);
}

TEST_CASE("pp=4,tg=8x2 sends 12 slices of a quarter of hidden and gathers each stage flat") {
  // [pipeline 4, tensor_group 2, tensor 2]: 2 groups of 2 per stage, so t = 4 per stage and stage
  // s is GPUs 4s .. 4s + 3. Per boundary (3 of them) 4 transfers of [2, 8, 8192 / 4] and one
  // all-gather over the stage's 4 GPUs, one flat ring over both tensor axes although the plan's
  // all-reduces are hierarchical (an all-gather reduces nothing; see follows_plan_all_reduce).
  const Model m = models::helix_seed.with_layers(4).with_batch(2).with_seq_len(8);
  const Dag dag = build_dag(m, parse_plan("pp=4,tg=8x2"));
  REQUIRE(check(dag).empty());
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::transfer; }) == 3 * 4);
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    if (transfer_of(dag[v]))
      CHECK(dag[v].output == Shape{2, 8, 2048});
  const std::vector<Vertex> gathers = pipeline_gathers(dag);
  REQUIRE(gathers.size() == 3);
  for (Vertex v : gathers) {
    const std::int64_t s = dag[v].stage;
    CAPTURE(s);
    CHECK(collective_of(dag[v])->phase == CollectivePhase::flat);
    CHECK(devices_of(dag, v) == std::vector<std::int64_t>{4 * s, 4 * s + 1, 4 * s + 2, 4 * s + 3});
  }
  // Every all-gather: per layer (one per stage) 2 hierarchical all-reduces × 2 intra-group
  // all-gathers, and the 3 of the pipeline.
  CHECK(count(dag, [](const Op& op) { return op.kind() == OpKind::all_gather; }) == 4 * 2 * 2 + 3);
  const Dag full = build_dag(m, parse_plan("pp=4,tg=8x2"),
                             Workload::prefill().with_pipeline_send(PipelineSend::full));
  CHECK(check(full).empty());
  CHECK(count(full, [](const Op& op) { return op.kind() == OpKind::transfer; }) == 3 * 4);
  CHECK(pipeline_gathers(full).empty());
  // One tensor device per stage has nothing to gather: pp=2 alone sends whole activations.
  const Dag lone = build_dag(m.with_layers(2), parse_plan("pp=2"));
  CHECK(check(lone).empty());
  CHECK(pipeline_gathers(lone).empty());
  for (Vertex v : boost::make_iterator_range(boost::vertices(lone)))
    if (transfer_of(lone[v]))
      CHECK(lone[v].output == Shape{2, 8, 8192});
}

TEST_CASE("check() names a transfer that sends another device's slice, or ignores the workload") {
  const Model m = models::helix_seed.with_batch(2).with_seq_len(8);
  const Dag sound = build_dag(m, parse_plan("pp=2,tp=4"));
  REQUIRE(check(sound).empty());
  SUBCASE("GPU 0 sends GPU 1's slice: the shapes agree, the placement does not") {
    Dag dag = sound;
    for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
      if (step::Transfer* t = std::get_if<step::Transfer>(&dag[v].step); t && t->source == 0)
        t->columns = IndexRuns::range(2048, 2048);
    const std::vector<Diagnostic> diagnostics = check(dag);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].rule == CheckRule::placement);
    CHECK(diagnostics[0].message.find(
              "sends hidden columns [2048, 4096) to GPU 4, member 0 of its stage's 4 tensor "
              "devices, whose share under S(2) is columns [0, 2048)") != std::string::npos);
  }
  SUBCASE("slices sent where the workload sends whole activations") {
    Dag dag = sound;
    boost::get_property(dag, boost::graph_bundle).workload.pipeline_send = PipelineSend::full;
    const std::vector<Diagnostic> diagnostics = check(dag);
    CHECK(diagnostics.size() == 4); // one per transfer
    CHECK(has_rule(diagnostics, CheckRule::step_data));
    CHECK(diagnostics[0].message.find("sends 2048 of hidden's 8192 columns, but the workload "
                                      "sends pipeline activations whole") != std::string::npos);
  }
}

TEST_CASE("KV-parallel decode: each device attends over its KV shard, an all-to-all per attention "
          "member hands each shard its share of the heads, merged exactly, then tensor parallel") {
  // llama3_70b (64 heads, 8 kv heads of 128) with kvp=4,tp=2: mesh [kv_seq 4, tensor 2], rank
  // 2k + j. Attention member j holds heads 32j … 32j + 31 and kv heads 4j … 4j + 3 on every
  // shard k. Contiguous over 4 shards of 1000 cached tokens: shard k holds [250k, 250(k + 1)),
  // and the new token (position 1000) joins the last shard, 3.
  const Model m = models::llama3_70b.with_layers(2).with_batch(4).with_seq_len(1000);
  const Dag dag = build_dag(m, parse_plan("kvp=4,tp=2"), Workload::decode());
  CHECK(check(dag).empty());
  const std::int64_t gpu = 5; // k = 2, j = 1
  const Vertex cache = find(dag, OpKind::kv_cache, gpu, 1);
  CHECK(dag[cache].output == Shape{4, 250, 4 * 128});
  CHECK(step_if<step::KVCache>(dag[cache])->shard == KVShard{2, 4, {}});
  CHECK(count(dag, [&](const Op& op) {
          return op.kind() == OpKind::kv_append && op.device == gpu && op.layer == 1;
        }) == 0); // not the new token's shard
  CHECK(dag[find(dag, OpKind::kv_append, 7, 1)].output == Shape{4, 251, 4 * 128});
  const Vertex partial = find(dag, OpKind::partial_attention, gpu, 1);
  CHECK(dag[partial].output == Shape{4, 32, 128 + 1});
  CHECK(attention_heads_of(dag[partial])->head_begin == 32);
  // The all-to-all over the 4 shards of member 1: [4, 4 shards, 32 / 4 heads, 129].
  const Vertex exchange = next_on(dag, partial, gpu);
  REQUIRE(dag[exchange].kind() == OpKind::all_to_all);
  CHECK(dag[exchange].output == Shape{4, 4, 8, 129});
  CHECK(collective_of(dag[exchange])->group == DeviceGroup{1, axis_bit(Role::kv_seq)});
  // Shard 2's merge takes heads 32 + 2·8 = 48 … 55; the out-projection their Wo rows.
  const Vertex merge = find(dag, OpKind::log_sum_exp_merge, gpu, 1);
  CHECK(dag[merge].output == Shape{4, 1, 8 * 128});
  CHECK(attention_heads_of(dag[merge])->head_begin == 48);
  const Vertex out = find(dag, OpKind::out_projection, gpu, 1);
  CHECK(linear_slice_of(dag[out])->rows == IndexRuns{48 * 128, 128, 128, 8});
  // Placements: partials owe their merge over kv and are head shards over tp; the exchange makes
  // head shards over both; the out-projection a partial sum over all 8 devices.
  const Placement S1 = Placement::shard(1), S2 = Placement::shard(2), P = Placement::partial();
  CHECK(placement_between(dag, partial, exchange) ==
        placed({{Role::kv_seq, Placement::log_sum_exp_partial()}, {Role::tensor, S1}}));
  CHECK(placement_between(dag, exchange, merge) ==
        placed({{Role::kv_seq, S2}, {Role::tensor, S2}}));
  CHECK(placement_between(dag, out, next_on(dag, out, gpu)) ==
        placed({{Role::kv_seq, P}, {Role::tensor, P}}));
  // One all-to-all per attention member and layer, one all-reduce of each sublayer over all 8.
  std::int64_t exchanges = 0;
  for (Vertex v : boost::make_iterator_range(boost::vertices(dag)))
    exchanges += dag[v].kind() == OpKind::all_to_all ? 1 : 0;
  CHECK(exchanges == 2 * 2);
}

TEST_CASE("interleaved KV chunks go round robin and the new token to its chunk's shard") {
  // interleaved:16 over 2 shards with 100 cached: chunks 0…6 alternate, shard 0 holds chunks 0,
  // 2, 4, 6 (16 + 16 + 16 + 4 = 52 tokens), shard 1 chunks 1, 3, 5 (48); position 100 is in
  // chunk 6, shard 0's.
  const Model m = models::llama3_70b.with_layers(1).with_batch(2).with_seq_len(100);
  const Dag dag = build_dag(m, parse_plan("kvp=2,tp=8"),
                            Workload::decode().with_kv_placement({KVLayout::interleaved, 16}));
  CHECK(check(dag).empty());
  CHECK(dag[find(dag, OpKind::kv_cache, 3, 0)].output == Shape{2, 52, 128});
  CHECK(dag[find(dag, OpKind::kv_cache, 8 + 3, 0)].output == Shape{2, 48, 128});
  CHECK(dag[find(dag, OpKind::kv_append, 3, 0)].output == Shape{2, 53, 128});
  CHECK(count(dag, [](const Op& op) {
          return op.kind() == OpKind::kv_append && op.device == 8 + 3 && op.layer == 0;
        }) == 0);
}

TEST_CASE("llama31_405b decode with kvp=8,tp=8 over a million cached tokens builds and checks") {
  const Model m = models::llama31_405b.with_batch(8).with_seq_len(1'000'000);
  const Dag dag = build_dag(m, parse_plan("kvp=8,tp=8"), Workload::decode());
  CHECK(check(dag).empty());
  // 128 heads / 8 = 16 per attention member, 2 per shard after the all-to-all; each shard holds
  // 125,000 of the cached tokens of its member's kv head (8 kv heads / 8).
  CHECK(dag[find(dag, OpKind::kv_cache, 0, 0)].output == Shape{8, 125'000, 128});
  CHECK(dag[find(dag, OpKind::log_sum_exp_merge, 0, 0)].output == Shape{8, 1, 2 * 128});
}

// reshape_decode is exact only if the sequence length enters a decode DAG through its shapes
// alone: then reshaping the DAG built for one KV length must give, vertex for vertex and edge for
// edge, the DAG build_dag makes for another. Checked on plans with GQA, pipeline stages,
// hierarchical all-reduces, head_dim slices and a vocabulary.
TEST_CASE("a decode DAG reshaped to another KV length is the DAG built for that length") {
  const Workload decode = Workload::decode(2);
  for (const auto& [model, plan] : std::initializer_list<std::pair<Model, const char*>>{
           {models::llama3_70b.with_layers(2).with_batch(4).with_seq_len(100), "pp=2,tp=4"},
           {models::helix_seed.with_batch(4).with_seq_len(16), "pp=2,tg=4x4"},
           {models::helix_seed.with_batch(4).with_seq_len(16), "hp=4x4"},
           {models::llama31_405b.with_layers(2).with_batch(2).with_seq_len(8), "tp=8"}}) {
    CAPTURE(plan);
    const PlanSpec spec = parse_plan(plan);
    Dag reshaped = build_dag(model, spec, decode);
    for (const std::int64_t seq_len : {model.seq_len + 1, model.seq_len + 57, model.seq_len}) {
      const Model longer = model.with_seq_len(seq_len);
      reshape_decode(reshaped, longer);
      const Dag built = build_dag(longer, spec, decode);
      CHECK(boost::get_property(reshaped, boost::graph_bundle).model == longer);
      REQUIRE(boost::num_vertices(reshaped) == boost::num_vertices(built));
      REQUIRE(boost::num_edges(reshaped) == boost::num_edges(built));
      std::size_t differing_vertices = 0, differing_edges = 0;
      for (Vertex v = 0; v < boost::num_vertices(built); ++v)
        differing_vertices += reshaped[v] == built[v] ? 0 : 1;
      auto [r, r_end] = boost::edges(reshaped);
      for (auto [b, b_end] = boost::edges(built); b != b_end; ++b, ++r)
        differing_edges += boost::source(*r, reshaped) == boost::source(*b, built) &&
                                   boost::target(*r, reshaped) == boost::target(*b, built) &&
                                   reshaped[*r] == built[*b]
                               ? 0
                               : 1;
      CHECK(differing_vertices == 0);
      CHECK(differing_edges == 0);
      CHECK(check(reshaped).empty());
    }
  }
}

TEST_CASE("reshape_decode refuses a prefill DAG and a model that differs in more than seq_len") {
  const Model m = models::helix_seed.with_batch(4).with_seq_len(16);
  Dag prefill = build_dag(m, parse_plan("tp=4"));
  CHECK_THROWS_AS(reshape_decode(prefill, m.with_seq_len(17)), std::invalid_argument);
  Dag decode = build_dag(m, parse_plan("tp=4"), Workload::decode());
  CHECK_THROWS_AS(reshape_decode(decode, m.with_seq_len(17).with_batch(8)), std::invalid_argument);
}
