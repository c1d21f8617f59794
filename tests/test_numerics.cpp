// numerics area tests: the DAG executor computes what the unsharded reference computes, for every
// scheme, in double and float; the broken variant does not; the pieces (ring order, step-driven
// slices, KV cache, shrink, .npy) each do what they claim.
#include <helix/graph/op_names.hpp>
#include <helix/helix.hpp>
#include <helix/io/markdown.hpp>
#include <helix/io/npy.hpp>
#include <helix/numerics/divergence.hpp>
#include <helix/numerics/execute.hpp>
#include <helix/numerics/expected.hpp>
#include <helix/numerics/local_share.hpp>
#include <helix/numerics/reference.hpp>
#include <helix/numerics/report.hpp>
#include <helix/numerics/shrink.hpp>
#include <helix/numerics/verify.hpp>
#include <helix/numerics/weights.hpp>

#include "support/scratch_folder.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace {

using helix::Model;
using helix::PlanSpec;
using helix::Workload;
using helix::numerics::Matrix;
using helix::numerics::NumericsReport;

/// The plan passes in double at 1e-12 and in float at the stated bound, every replica agreeing.
void check_passes(const Model& model, const char* plan_text, const Workload& workload = {}) {
  CAPTURE(plan_text);
  const PlanSpec plan = helix::parse_plan(plan_text);
  const NumericsReport d = helix::numerics::verify<double>(model, plan, workload);
  CHECK(d.tolerance == 1e-12);
  CHECK(d.output.max_relative <= 1e-12);
  CHECK(d.layers.size() == static_cast<std::size_t>(model.layers));
  for (const helix::numerics::LayerError& e : d.layers)
    CHECK(e.error.max_relative <= 1e-12);
  CHECK(d.replicas_agree);
  CHECK(d.complete);
  CHECK(d.passed);
  const NumericsReport f = helix::numerics::verify<float>(model, plan, workload);
  CHECK(f.output.max_relative <= f.tolerance);
  CHECK(f.replicas_agree);
  CHECK(f.passed);
}

Model seed_for(const char* plan, const Workload& workload = {}) {
  return helix::models::shrink(helix::models::helix_seed, helix::parse_plan(plan), workload);
}

/// Grouped-query attention, RMSNorm: 8 query heads over 2 kv heads.
constexpr Model gqa{.layers = 2,
                    .hidden = 64,
                    .heads = 8,
                    .kv_heads = 2,
                    .head_dim = 8,
                    .ffn_hidden = 256,
                    .batch = 2,
                    .seq_len = 16,
                    .norm = helix::Norm::rmsnorm};

} // namespace

TEST_CASE("flat tensor parallel of every degree computes the unsharded model") {
  for (const char* plan : {"tp=1", "tp=2", "tp=4", "tp=8", "tp=16"})
    check_passes(seed_for(plan), plan);
}

TEST_CASE("two-level head partitions compute the unsharded model when partial scores are summed") {
  for (const char* plan : {"hp=2x2", "hp=4x4"})
    check_passes(seed_for(plan), plan);
}

TEST_CASE(
    "pipeline stages with hierarchical all-reduce, with and without data parallel, are exact") {
  for (const char* plan : {"pp=2,tg=4x4", "pp=2,tg=2x2,dp=2"})
    check_passes(seed_for(plan), plan);
}

TEST_CASE("pipeline sends scatter-gather and full are both exact and agree bit for bit") {
  // Scatter-gather: each tensor device sends its 1/t of hidden, the next stage all-gathers the
  // slices. Both move copies only, so both verify, and the next stage holds the very numbers a
  // full send delivers: the outputs are equal bit for bit.
  const Model vocab = gqa.with_activation(helix::Activation::swiglu).with_vocab(250);
  for (const char* plan : {"pp=2,tp=4", "pp=2,tg=2x2", "pp=2,hp=2x2", "pp=2,tp=2,dp=2"})
    for (const Workload& phase : {Workload::prefill(), Workload::decode()}) {
      for (const helix::PipelineSend send :
           {helix::PipelineSend::scatter_gather, helix::PipelineSend::full}) {
        CAPTURE(helix::pipeline_send_name(send));
        const Workload w = phase.with_pipeline_send(send);
        check_passes(seed_for(plan, w), plan, w);
        check_passes(vocab, plan, w);
      }
      const Model model = seed_for(plan, phase);
      const auto weights = helix::numerics::make_weights<double>(model);
      const auto input = helix::numerics::make_input<double>(model, phase, weights);
      const auto run = [&](helix::PipelineSend send) {
        return helix::numerics::execute(
                   helix::build_dag(model, helix::parse_plan(plan), phase.with_pipeline_send(send)),
                   weights, input)
            .assemble();
      };
      CHECK(run(helix::PipelineSend::scatter_gather) == run(helix::PipelineSend::full));
    }
}

TEST_CASE("grouped-query attention is exact with kv heads split or replicated across devices") {
  // tp=2 splits the 2 kv heads; tp=4 and tp=8 replicate each on 2 and 4 devices.
  for (const char* plan : {"tp=2", "tp=4", "tp=8", "hp=2x2"})
    check_passes(gqa, plan);
}

TEST_CASE("a SwiGLU MLP (gate and up column-sliced together) is exact, prefill and decode") {
  const Model swiglu = gqa.with_activation(helix::Activation::swiglu);
  for (const char* plan : {"tp=1", "tp=4", "pp=2,tg=2x2", "hp=2x2"}) {
    check_passes(swiglu, plan);
    check_passes(swiglu, plan, Workload::decode());
    // The same plan's DAG holds a gate beside every FC1, and check() finds nothing to report.
    const helix::Dag dag = helix::build_dag(swiglu, helix::parse_plan(plan));
    std::size_t fc1 = 0, gates = 0;
    for (auto [v, end] = boost::vertices(dag); v != end; ++v) {
      fc1 += dag[*v].kind() == helix::OpKind::fc1 ? 1 : 0;
      gates += dag[*v].kind() == helix::OpKind::gate_projection ? 1 : 0;
    }
    CHECK(gates == fc1);
    CHECK(helix::check(dag).empty());
  }
  // The gate is what makes it SwiGLU: a GELU reading of the same weights is far off.
  const auto weights = helix::numerics::make_weights<double>(swiglu);
  const auto input = helix::numerics::make_input<double>(swiglu, {}, weights);
  const Matrix<double> gated =
      helix::numerics::reference_forward(swiglu, {}, weights, input).output;
  const Matrix<double> plain =
      helix::numerics::reference_forward(swiglu.with_activation(helix::Activation::gelu), {},
                                         weights, input)
          .output;
  CHECK((gated - plain).cwiseAbs().maxCoeff() > 1e-2);
}

TEST_CASE("a vocabulary (vocab-parallel embedding, final norm, column-parallel LM head) is exact") {
  // 250 tokens padded to 256 rows: 64 per device under tp=4, the last device's 6 padded rows
  // never looked up. The output is each sequence's last-position logits [b, 1, 256].
  const Model vocab = gqa.with_activation(helix::Activation::swiglu).with_vocab(250);
  for (const char* plan : {"tp=1", "tp=4", "tg=2x2", "pp=2,tg=2x2", "hp=2x2", "tp=2,dp=2"}) {
    check_passes(vocab, plan);
    check_passes(vocab, plan, Workload::decode());
  }
  const auto weights = helix::numerics::make_weights<double>(vocab);
  CHECK(weights.embedding.rows() == 256);
  CHECK(weights.lm_head.cols() == 256);
  const auto input = helix::numerics::make_input<double>(vocab, {}, weights);
  CHECK(input.token_ids.rows() == 2);
  CHECK(input.token_ids.cols() == 16);
  CHECK(input.token_ids.maxCoeff() < 250);
  const Matrix<double> logits =
      helix::numerics::reference_forward(vocab, {}, weights, input).output;
  CHECK(logits.rows() == 2);
  CHECK(logits.cols() == 256);
  // The block stack's weights do not change when a vocabulary is added (drawn after them).
  const auto bare = helix::numerics::make_weights<double>(vocab.with_vocab(0));
  CHECK(bare.layers[1].w2 == weights.layers[1].w2);
}

TEST_CASE("a parallel block (one norm, attention and MLP summed, one all-reduce) is exact") {
  const Model parallel = gqa.with_norm(helix::Norm::layernorm).with_parallel_block(true);
  for (const char* plan : {"tp=1", "tp=4", "tg=2x2", "pp=2,tp=2", "hp=2x2"}) {
    check_passes(parallel, plan);
    check_passes(parallel.with_vocab(250), plan, Workload::decode());
  }
  // It differs from the sequential block on the same weights: the MLP reads Norm1(x), not
  // Norm2(x + attention).
  const auto weights = helix::numerics::make_weights<double>(parallel);
  const auto input = helix::numerics::make_input<double>(parallel, {}, weights);
  const Matrix<double> both =
      helix::numerics::reference_forward(parallel, {}, weights, input).output;
  auto sequential_weights = weights;
  for (auto& layer : sequential_weights.layers) {
    layer.norm_gain[1] = layer.norm_gain[0];
    layer.norm_shift[1] = layer.norm_shift[0];
  }
  const Matrix<double> sequential =
      helix::numerics::reference_forward(parallel.with_parallel_block(false), {},
                                         sequential_weights, input)
          .output;
  CHECK((both - sequential).cwiseAbs().maxCoeff() > 1e-2);
}

TEST_CASE("a model without norms is exact too") {
  check_passes(seed_for("tp=4").with_norm(helix::Norm::none), "tp=4");
}

TEST_CASE("pipeline microbatches each compute their own sequences exactly") {
  const Workload two = Workload::prefill(2);
  const Model model = seed_for("pp=2,tp=2", two);
  CHECK(model.batch == 4);
  check_passes(model, "pp=2,tp=2", two);
  const NumericsReport d =
      helix::numerics::verify<double>(model, helix::parse_plan("pp=2,tp=2"), two);
  CHECK(d.output_copies == 4); // 2 devices of the last stage × 2 microbatches
}

TEST_CASE("decode against the KV cache is exact for every kind of scheme") {
  for (const char* plan : {"tp=1", "tp=4", "hp=4x4", "pp=2,tg=4x4", "pp=2,tg=2x2,dp=2"})
    check_passes(seed_for(plan, Workload::decode()), plan, Workload::decode());
  check_passes(gqa, "tp=8", Workload::decode());
  check_passes(seed_for("pp=2,tp=2", Workload::decode(2)), "pp=2,tp=2", Workload::decode(2));
}

namespace {

/// The KV placements of issue 14: contiguous blocks, and Helix's 16-token chunks round robin.
const std::vector<helix::KVPlacement> kv_placements{{helix::KVLayout::contiguous, 16},
                                                    {helix::KVLayout::interleaved, 16}};

/// Shrunk llama3_70b (grouped-query attention) in decode under `plan` and `placement`; with
/// `all_kv_heads`, shrunk for tp=8 as well, which keeps all 8 of its kv heads (one per GPU).
std::pair<Model, Workload> llama_decode(const char* plan, const helix::KVPlacement& placement,
                                        bool all_kv_heads = false) {
  const Workload decode = Workload::decode().with_kv_placement(placement);
  std::vector<PlanSpec> plans{helix::parse_plan(plan)};
  if (all_kv_heads)
    plans.push_back(helix::parse_plan("tp=8"));
  return {helix::models::shrink(helix::models::llama3_70b, plans, decode), decode};
}

} // namespace

TEST_CASE("KV-parallel decode is exact for KVP 2, 4, 8 times TPA 1, 2, 8, both KV placements") {
  // Issue 14's grid: the KV cache split along the sequence KVP ways, heads TPA ways (tp=TPA),
  // each shard's partial attention merged by its log-sum-exp; the merge is exact, so the
  // sharded decode is the reference decode to rounding (1e-12 in double).
  for (const helix::KVPlacement& placement : kv_placements)
    for (const char* plan : {"kvp=2,tp=1", "kvp=2,tp=2", "kvp=2,tp=8", "kvp=4,tp=1", "kvp=4,tp=2",
                             "kvp=4,tp=8", "kvp=8,tp=1", "kvp=8,tp=2", "kvp=8,tp=8"}) {
      CAPTURE(helix::to_string(placement));
      const PlanSpec spec = helix::parse_plan(plan);
      // Shrunk for the plan alone, a GPU keeps min(2, 8 / TPA) of its kv heads in full size: TPA
      // times that in all (2, 4, 8 for TPA 1, 2, 8); shrunk with tp=8 too, all 8 kv heads.
      const std::int64_t tpa = helix::attention_degree(spec);
      for (const bool all_kv_heads : {false, true}) {
        CAPTURE(all_kv_heads);
        const auto [model, decode] = llama_decode(plan, placement, all_kv_heads);
        CHECK(model.kv_heads == (all_kv_heads ? 8 : tpa * std::min<std::int64_t>(2, 8 / tpa)));
        CHECK(model.heads > model.kv_heads);
        // Interleaved 16-token chunks reach the last of K shards only after (K − 1)·16 tokens.
        if (placement.layout == helix::KVLayout::interleaved)
          CHECK(model.seq_len > (spec.kv_parallel - 1) * placement.chunk);
        check_passes(model, plan, decode);
      }
    }
}

TEST_CASE(
    "KV-parallel decode is exact with the new token on a first or middle shard, shards uneven") {
  // Shrink's interleaved lengths put the new token in the last shard's chunk; these do not.
  // interleaved:16, 40 cached, 2 shards: chunks 0, 2 (and the new token's, position 40 in chunk
  // 2) on shard 0 = 16 + 8 cached; chunk 1 on shard 1 = 16. interleaved:16, 85 cached, 4 shards:
  // chunk 4 (64–79) on shard 0, the partial chunk 5 (80–84, the new token at 85) on shard 1:
  // cached 32, 21, 16, 16. contiguous, 19 cached, 4 shards: ⌊19k/4⌋ = 0, 4, 9, 14, 19 gives 4,
  // 5, 5, 5 and the new token on the last shard.
  struct Case {
    const char* plan;
    helix::KVPlacement placement;
    std::int64_t cached;
    std::vector<std::int64_t> per_shard;
    std::int64_t owner;
  };
  for (const Case& c :
       {Case{"kvp=2,tp=2", {helix::KVLayout::interleaved, 16}, 40, {24, 16}, 0},
        Case{"kvp=4,tp=2", {helix::KVLayout::interleaved, 16}, 85, {32, 21, 16, 16}, 1},
        Case{"kvp=4,tp=1", {helix::KVLayout::contiguous, 16}, 19, {4, 5, 5, 5}, 3}}) {
    CAPTURE(c.plan);
    CAPTURE(c.cached);
    const std::int64_t shards = static_cast<std::int64_t>(c.per_shard.size());
    for (std::int64_t k = 0; k < shards; ++k) {
      const helix::KVShard shard{k, shards, c.placement};
      CHECK(shard.cached(c.cached) == c.per_shard[static_cast<std::size_t>(k)]);
      CHECK(shard.owns_new(c.cached) == (k == c.owner));
    }
    const auto [shrunk, decode] = llama_decode(c.plan, c.placement);
    check_passes(shrunk.with_seq_len(c.cached), c.plan, decode);
  }
}

TEST_CASE("KV-parallel decode is exact with pipeline stages, data parallel and tensor groups") {
  for (const helix::KVPlacement& placement : kv_placements)
    for (const char* plan : {"kvp=2,tp=2,pp=2", "kvp=4,tp=2,pp=2", "kvp=2,tp=2,dp=2",
                             "kvp=2,tg=2x2", "kvp=2,tg=2x2,pp=2"}) {
      CAPTURE(helix::to_string(placement));
      const auto [model, decode] = llama_decode(plan, placement);
      check_passes(model, plan, decode);
    }
}

TEST_CASE(
    "the log-sum-exp merge of the KV shards is the reference attention context of its heads") {
  // Layer 0's context for the new token, derived here: a = RMSNorm(E[id]) · gain; q = a Wq;
  // keys and values = the layer's cache followed by a Wk, a Wv; per head h (kv head
  // g = h / (heads / kv_heads)) c_h = softmax(q_h K_gᵀ / sqrt(head_dim)) V_g over all keys.
  // Every LogSumExpMerge of layer 0 must hold c_h of its heads: the merge adds nothing but
  // rounding to the softmax over the whole cache.
  for (const helix::KVPlacement& placement : kv_placements)
    for (const char* plan : {"kvp=2,tp=2", "kvp=4,tp=1", "kvp=8,tp=8"}) {
      CAPTURE(plan);
      CAPTURE(helix::to_string(placement));
      const auto [model, decode] = llama_decode(plan, placement, true);
      REQUIRE(model.kv_heads == 8);
      const auto weights = helix::numerics::make_weights<double>(model);
      const auto input = helix::numerics::make_input<double>(model, decode, weights);
      const helix::numerics::LayerWeights<double>& w = weights.layers[0];
      const std::int64_t b = model.batch, n = model.seq_len, d = model.head_dim;
      REQUIRE(model.vocab > 0);
      Matrix<double> a(b, model.hidden);
      for (std::int64_t s = 0; s < b; ++s) {
        const auto row = weights.embedding.row(static_cast<Eigen::Index>(input.token_ids(s, 0)));
        a.row(s) = row.array() /
                   std::sqrt(row.squaredNorm() / static_cast<double>(model.hidden) +
                             helix::numerics::norm_epsilon) *
                   w.norm_gain[0].array();
      }
      const Matrix<double> q = a * w.wq, k_new = a * w.wk, v_new = a * w.wv;
      Matrix<double> context(b, model.heads * d);
      for (std::int64_t s = 0; s < b; ++s)
        for (std::int64_t h = 0; h < model.heads; ++h) {
          const std::int64_t g = h / (model.heads / model.kv_heads);
          Matrix<double> keys(n + 1, d), values(n + 1, d);
          keys.topRows(n) = input.cached_keys[0].block(s * n, g * d, n, d);
          values.topRows(n) = input.cached_values[0].block(s * n, g * d, n, d);
          keys.row(n) = k_new.block(s, g * d, 1, d);
          values.row(n) = v_new.block(s, g * d, 1, d);
          Eigen::RowVectorXd scores = q.block(s, h * d, 1, d) * keys.transpose() / std::sqrt(d);
          scores = (scores.array() - scores.maxCoeff()).exp().matrix();
          context.block(s, h * d, 1, d) = scores * values / scores.sum();
        }
      const helix::Dag dag = helix::build_dag(model, helix::parse_plan(plan), decode);
      std::size_t merges = 0;
      double worst = 0;
      const auto result = helix::numerics::execute<double>(
          dag, weights, input, [&](helix::Vertex v, std::int64_t, const Matrix<double>& out) {
            const helix::Op& op = dag[v];
            const auto* merge = helix::step_if<helix::step::LogSumExpMerge>(op);
            if (!merge || op.layer != 0)
              return;
            ++merges;
            const Matrix<double> expected =
                context.middleCols(merge->head_begin * d, merge->heads * d);
            REQUIRE(out.rows() == expected.rows());
            REQUIRE(out.cols() == expected.cols());
            worst = std::max(worst, (out - expected).cwiseAbs().maxCoeff() /
                                        context.cwiseAbs().maxCoeff());
          });
      // One merge per GPU of the stage: KVP × TPA.
      const helix::PlanSpec spec = helix::parse_plan(plan);
      CHECK(merges == static_cast<std::size_t>(helix::tensor_degree(spec)));
      CHECK(worst <= 1e-14);
      CHECK_FALSE(result.outputs.empty());
    }
}

TEST_CASE("softmax of partial scores per head_dim slice (the seed's material) fails verification") {
  const PlanSpec plan = helix::parse_plan("hp=4x4");
  const Model model = seed_for("hp=4x4");
  const auto broken = helix::SchemeVariant::broken_slice_local_softmax;
  const NumericsReport d = helix::numerics::verify<double>(model, plan, {}, broken);
  CHECK_FALSE(d.passed);
  CHECK(d.output.max_relative > 0.05); // off by tens of percent, not by rounding
  CHECK(d.layers[0].error.max_relative > 0.05);
  const NumericsReport f = helix::numerics::verify<float>(model, plan, {}, broken);
  CHECK_FALSE(f.passed);
  CHECK(f.output.max_relative > 1000 * f.tolerance);
  CHECK(helix::numerics::verify<double>(model, plan).passed); // same data, exact lowering
}

TEST_CASE("a ring all-reduce sums each chunk in ring order starting at the chunk's member") {
  // Four members, one column each; in float 1e8 + 1 loses the 1, so the order shows.
  const std::vector<float> shares{1e8f, 1.0f, -1e8f, 1.0f};
  std::vector<Matrix<float>> buffers(4, Matrix<float>::Zero(1, 4));
  for (std::size_t i = 0; i < 4; ++i)
    buffers[i].setConstant(shares[i]);
  helix::numerics::ring_reduce_scatter(buffers, 0);
  helix::numerics::ring_all_gather(buffers, 0);
  for (int chunk = 0; chunk < 4; ++chunk) {
    float expected = shares[static_cast<std::size_t>(chunk)];
    for (int j = 1; j < 4; ++j)
      expected = expected + shares[static_cast<std::size_t>((chunk + j) % 4)];
    for (const Matrix<float>& member : buffers)
      CHECK(member(0, chunk) == expected);
  }
  CHECK(buffers[0](0, 0) == 1.0f); // ((1e8 + 1) - 1e8) + 1
  CHECK(buffers[0](0, 1) == 0.0f); // ((1 - 1e8) + 1) + 1e8
}

TEST_CASE("a ring reduce-scatter leaves member j with slice j of the sum") {
  std::vector<Matrix<double>> buffers;
  for (int i = 0; i < 3; ++i)
    buffers.push_back(Matrix<double>::Constant(2, 7, i + 1)); // 7 columns: chunks 2, 2, 3
  helix::numerics::ring_reduce_scatter(buffers, -1);
  for (int j = 0; j < 3; ++j) {
    const auto chunk = helix::numerics::ring_chunk(7, 3, j);
    CHECK((buffers[static_cast<std::size_t>(j)].middleCols(chunk.begin, chunk.size).array() == 6)
              .all());
  }
}

TEST_CASE("the in-process collectives compute once the bits the ring leaves on every member") {
  // Float shares of magnitudes 1e-8 … 1e8: a sum in another order than the ring's differs, which
  // the plain member-order sum below shows. 4,099 columns (uneven chunks) and 5 rows: the sums
  // run over tiles of a few rows (32 KiB of floats), so tile edges are crossed too.
  std::mt19937 random(7);
  std::uniform_real_distribution<float> unit(-1, 1);
  std::uniform_int_distribution<int> exponent(-8, 8);
  for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{4}}) {
    CAPTURE(n);
    std::vector<Matrix<float>> members(n, Matrix<float>(5, 4099));
    for (Matrix<float>& m : members)
      for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] = unit(random) * std::pow(10.0f, static_cast<float>(exponent(random)));
    std::vector<const Matrix<float>*> inputs;
    for (const Matrix<float>& m : members)
      inputs.push_back(&m);

    std::vector<Matrix<float>> ring = members;
    helix::numerics::ring_all_reduce(ring);
    const Matrix<float> sum = helix::numerics::ring_all_reduce_sum(inputs);
    for (const Matrix<float>& member : ring)
      CHECK((member.array() == sum.array()).all());
    if (n == 4) {
      Matrix<float> in_member_order = members[0];
      for (std::size_t i = 1; i < n; ++i)
        in_member_order += members[i];
      CHECK_FALSE((in_member_order.array() == sum.array()).all());
    }

    std::vector<Matrix<float>> scattered = members;
    helix::numerics::ring_reduce_scatter_to_owners(scattered);
    for (std::size_t j = 0; j < n; ++j) {
      const Matrix<float> share =
          helix::numerics::ring_reduce_scatter_share(inputs, static_cast<std::int64_t>(j));
      CHECK(share.cols() == scattered[j].cols());
      CHECK((share.array() == scattered[j].array()).all());
    }

    std::vector<Matrix<float>> gathered = members;
    helix::numerics::gather_concatenate(gathered, static_cast<Eigen::Index>(n) * 4099);
    CHECK(helix::numerics::gathered(inputs, static_cast<Eigen::Index>(n) * 4099) == gathered[0]);
  }
}

TEST_CASE("ops replicated on several devices run once and give every device the same bits") {
  // Under tp=4 (no vocabulary) all four devices run the input, each layer's two norms and two
  // residual adds, and the output on the same tensors: (4·layers + 2) ops run once instead of 4
  // times. Every output and layer output is the same bits either way, for other plans too.
  const auto run = [](const helix::Dag& dag, const auto& weights, const auto& input, bool once,
                      std::size_t& kernels) {
    const helix::numerics::FullWeights<double> full(weights);
    const helix::numerics::FullInput<double> batch(
        boost::get_property(dag, boost::graph_bundle).model, input);
    helix::numerics::InProcessRing<double> rings(
        boost::get_property(dag, boost::graph_bundle).mesh);
    helix::numerics::RunOptions options;
    options.compute_replicas_once = once;
    helix::numerics::DagRunner<double, helix::numerics::FullWeights<double>,
                               helix::numerics::FullInput<double>,
                               helix::numerics::InProcessRing<double>>
        runner(dag, full, batch, rings, options);
    auto execution = runner.run();
    kernels = runner.kernels_run();
    return execution;
  };
  const Model vocab = gqa.with_activation(helix::Activation::swiglu).with_vocab(250);
  for (const auto& [model, plan, workload] :
       {std::tuple{seed_for("tp=4"), "tp=4", Workload{}},
        std::tuple{seed_for("hp=4x4"), "hp=4x4", Workload{}},
        std::tuple{seed_for("pp=2,tg=4x4"), "pp=2,tg=4x4", Workload{}},
        std::tuple{seed_for("hp=2x2", Workload::decode()), "hp=2x2", Workload::decode()},
        std::tuple{vocab.with_batch(4), "pp=2,tg=2x2,dp=2", Workload::prefill(2)}}) {
    CAPTURE(plan);
    const helix::Dag dag = helix::build_dag(model, helix::parse_plan(plan), workload);
    const auto weights = helix::numerics::make_weights<double>(model);
    const auto input = helix::numerics::make_input<double>(model, workload, weights);
    std::size_t once = 0, each = 0;
    const auto shared = run(dag, weights, input, true, once);
    const auto separate = run(dag, weights, input, false, each);
    const helix::numerics::OutputComparison outputs =
        helix::numerics::compare_outputs(shared.outputs, separate.outputs);
    CHECK(outputs.matched);
    CHECK(outputs.bit_identical);
    const helix::numerics::OutputComparison layers =
        helix::numerics::compare_outputs(shared.layer_outputs, separate.layer_outputs);
    CHECK(layers.matched);
    CHECK(layers.bit_identical);
    std::size_t compute_vertices = 0;
    for (auto [v, end] = boost::vertices(dag); v != end; ++v)
      compute_vertices += helix::is_communication(dag[*v].kind()) ? 0 : 1;
    CHECK(each == compute_vertices);
    CHECK(once < each);
    if (std::string(plan) == "tp=4")
      CHECK(each - once == static_cast<std::size_t>(4 * model.layers + 2) * 3);
  }
}

TEST_CASE("the executor takes weight slices from the steps, so a wrong slice is caught") {
  const Model model = seed_for("tp=4");
  helix::Dag dag = helix::build_dag(model, helix::parse_plan("tp=4"));
  for (auto [v, end] = boost::vertices(dag); v != end; ++v)
    if (dag[*v].kind() == helix::OpKind::q_projection && dag[*v].device == 1 &&
        dag[*v].layer == 0) {
      helix::linear_slice_of(dag[*v])->cols.begin += 8; // one head to the right
      break;
    }
  const auto weights = helix::numerics::make_weights<double>(model);
  const auto input = helix::numerics::make_input<double>(model, {}, weights);
  const Matrix<double> executed = helix::numerics::execute(dag, weights, input).assemble();
  const Matrix<double> reference =
      helix::numerics::reference_forward(model, {}, weights, input).output;
  CHECK((executed - reference).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("a tensor read from a device that does not hold it is an error naming the vertex") {
  const Model model = seed_for("tp=2");
  helix::Dag dag = helix::build_dag(model, helix::parse_plan("tp=2"));
  for (auto [e, end] = boost::edges(dag); e != end; ++e)
    if (dag[boost::target(*e, dag)].kind() == helix::OpKind::gelu) {
      dag[*e].device = 1 - dag[*e].device;
      break;
    }
  const auto weights = helix::numerics::make_weights<double>(model);
  const auto input = helix::numerics::make_input<double>(model, {}, weights);
  CHECK_THROWS_WITH_AS(helix::numerics::execute(dag, weights, input),
                       doctest::Contains("(gelu, layer 0)"), std::logic_error);
}

TEST_CASE("reference decode of a token equals prefill of the context followed by that token") {
  const Model model = gqa;
  const auto weights = helix::numerics::make_weights<double>(model);
  const auto decode = helix::numerics::make_input<double>(model, Workload::decode(), weights);
  const auto prefill = helix::numerics::make_input<double>(model, {}, weights);
  // The same context (same seed), then the decode token appended: seq_len + 1 tokens.
  helix::numerics::Input<double> longer;
  longer.batch = model.batch;
  longer.tokens = model.seq_len + 1;
  longer.x = helix::numerics::detail::append_per_sequence<double>(prefill.x, decode.x, model.batch);
  const Model longer_model = model.with_seq_len(model.seq_len + 1);
  const Matrix<double> all =
      helix::numerics::reference_forward(longer_model, {}, weights, longer).output;
  const Matrix<double> one =
      helix::numerics::reference_forward(model, Workload::decode(), weights, decode).output;
  for (std::int64_t b = 0; b < model.batch; ++b)
    CHECK((all.row(b * longer.tokens + model.seq_len) - one.row(b)).cwiseAbs().maxCoeff() < 1e-13);
}

TEST_CASE("prefill is causal: a later token does not change earlier outputs") {
  const Model model = gqa;
  const auto weights = helix::numerics::make_weights<double>(model);
  auto input = helix::numerics::make_input<double>(model, {}, weights);
  const Matrix<double> before =
      helix::numerics::reference_forward(model, {}, weights, input).output;
  input.x.row(model.seq_len - 1).setConstant(3.0); // last token of sequence 0
  const Matrix<double> after = helix::numerics::reference_forward(model, {}, weights, input).output;
  CHECK(before.topRows(model.seq_len - 1) == after.topRows(model.seq_len - 1));
  CHECK(before.row(model.seq_len - 1) != after.row(model.seq_len - 1));
}

TEST_CASE("weights and inputs are the same for the same seed and differ for another") {
  const Model model = gqa;
  const auto a = helix::numerics::make_weights<double>(model, 7);
  const auto b = helix::numerics::make_weights<double>(model, 7);
  const auto c = helix::numerics::make_weights<double>(model, 8);
  CHECK(a.layers[1].w2 == b.layers[1].w2);
  CHECK(a.layers[1].w2 != c.layers[1].w2);
  // Variance 1/fan_in: the entries of W1 [64, 256] have a mean square near 1/64.
  const double mean_square =
      a.layers[0].w1.squaredNorm() / static_cast<double>(a.layers[0].w1.size());
  CHECK(mean_square == doctest::Approx(1.0 / 64).epsilon(0.05));
  CHECK(a.layers[0].norm_gain[0].size() == model.hidden);
  CHECK(a.layers[0].norm_shift[0].size() == 0); // RMSNorm has no shift
}

TEST_CASE("verify refuses a model too large for a CPU, naming the tensor size and shrink") {
  // helix_seed: scores of 1024 sequences × 16 heads × 10000 queries × 10001 keys
  // = 1,638,563,840,000 elements.
  try {
    static_cast<void>(
        helix::numerics::verify<double>(helix::models::helix_seed, helix::parse_plan("hp=4x4")));
    FAIL("verify ran the full seed");
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    CHECK(message.find("attention scores tensor has 1638563840000 elements") != std::string::npos);
    CHECK(message.find("models::shrink") != std::string::npos);
  }
  // Decode of one token still prefills the 100,000-token context to build the cache:
  // 1 sequence × 4 heads × 100,000 × 100,001 = 40,000,400,000 score elements.
  const Model tiny_long{.layers = 1,
                        .hidden = 64,
                        .heads = 4,
                        .kv_heads = 4,
                        .head_dim = 16,
                        .ffn_hidden = 256,
                        .batch = 1,
                        .seq_len = 100'000,
                        .norm = helix::Norm::none};
  const auto decode = [&] {
    return helix::numerics::verify<double>(tiny_long, helix::parse_plan("tp=1"),
                                           Workload::decode());
  };
  CHECK_THROWS_WITH_AS(decode(), doctest::Contains("40000400000 elements"), std::invalid_argument);
}

TEST_CASE("shrink keeps every divisibility a plan needs and the seed's verification sizes") {
  const Model seed = helix::models::shrink(helix::models::helix_seed, helix::parse_plan("hp=4x4"));
  CHECK(seed.layers == 2);
  CHECK(seed.heads == 16);
  CHECK(seed.head_dim == 8);
  CHECK(seed.hidden == 128);
  CHECK(seed.ffn_hidden == 512);
  CHECK(seed.batch == 2);
  CHECK(seed.seq_len == 16);
  CHECK(seed.norm == helix::Norm::layernorm);
  const PlanSpec mixed[] = {helix::parse_plan("hp=4x4"), helix::parse_plan("pp=2,tg=4x4")};
  CHECK(helix::models::shrink(helix::models::helix_seed, mixed) == seed);
  CHECK(helix::models::shrink(helix::models::helix_seed, helix::parse_plan("pp=2,tg=2x2,dp=2"),
                              Workload::prefill(2))
            .batch == 8);
  for (const char* text : {"tp=8", "tp=16", "pp=4,tp=8,dp=2", "hp=8x4"}) {
    CAPTURE(text);
    const PlanSpec plan = helix::parse_plan(text);
    const Model small = helix::models::shrink(helix::models::llama31_405b, plan);
    CHECK(helix::validate(small, plan).empty());
    CHECK(small.heads <= 32);
    CHECK(small.heads > small.kv_heads); // still grouped-query attention
  }
}

TEST_CASE("shrink keeps two query and two kv heads per device wherever the full split has them") {
  // gpt3_175b tp=8: 12 heads (and kv heads) per device in full → 8 · 2 = 16 kv heads, grouping 1.
  const Model gpt = helix::models::shrink(helix::models::gpt3_175b, helix::parse_plan("tp=8"));
  CHECK(gpt.kv_heads == 16);
  CHECK(gpt.heads == 16);
  // llama3_70b tp=16 replicates its 8 kv heads; 64 / 16 = 4 query heads per device in full →
  // lcm(16, 8) · 2 = 32 query heads, 2 per device, the 8 kv heads kept.
  const Model llama = helix::models::shrink(helix::models::llama3_70b, helix::parse_plan("tp=16"));
  CHECK(llama.kv_heads == 8);
  CHECK(llama.heads == 32);
  // llama3_70b tp=8: one kv head per device in full, so one here; 4 query heads each.
  const Model one = helix::models::shrink(helix::models::llama3_70b, helix::parse_plan("tp=8"));
  CHECK(one.kv_heads == 8);
  CHECK(one.heads == 32);
  for (const auto& [model, plan] : {std::pair{gpt, "tp=8"}, std::pair{llama, "tp=16"}})
    check_passes(model, plan);
}

TEST_CASE("the numerics report names the plan, both precisions and the verdict") {
  std::ostringstream out;
  const helix::numerics::PlanNumerics result =
      helix::numerics::verify_plan(helix::models::helix_seed, helix::parse_plan("hp=4x4"), {},
                                   helix::SchemeVariant::broken_slice_local_softmax);
  helix::io::write_markdown(out, result);
  CHECK(result.as_expected);
  CHECK_FALSE(result.in_double.passed);
  const std::string text = out.str();
  CHECK(text.find("hp=4x4") != std::string::npos);
  CHECK(text.find("broken_slice_local_softmax lowering (expected to fail)") != std::string::npos);
  CHECK(text.find("FAIL (expected)") != std::string::npos);
  CHECK(text.find("layer 1") != std::string::npos);
  // Judged on the full model: batch 1024 does not split 3 ways, though a shrunk batch 6 would.
  CHECK_THROWS_AS(
      (void)helix::numerics::verify_plan(helix::models::helix_seed, helix::parse_plan("tp=2,dp=3")),
      helix::PlanError);
}

TEST_CASE("write_npy writes NumPy format 1.0, little endian, C order, and reads back") {
  const std::filesystem::path folder = helix::testing::scratch_folder("helix_test_numerics_npy");
  const std::vector<double> values{0.5, -1.25, 3.0, 1e-300, 7.0, 8.0};
  helix::io::write_npy<double>(folder / "a.npy", values, {2, 3});
  std::ifstream in(folder / "a.npy", std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t length = static_cast<unsigned char>(bytes[8]) +
                             256 * static_cast<std::size_t>(static_cast<unsigned char>(bytes[9]));
  CHECK((10 + length) % 64 == 0);
  const std::string dict = bytes.substr(10, length);
  CHECK(dict.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"));
  CHECK(dict.back() == '\n');
  REQUIRE(bytes.size() == 10 + length + values.size() * 8);
  CHECK(std::memcmp(bytes.data() + 10 + length, values.data(), values.size() * 8) == 0);
  const auto back = helix::io::read_npy<double>(folder / "a.npy");
  CHECK(back.shape == std::vector<std::int64_t>{2, 3});
  CHECK(back.data == values);

  const std::vector<float> one{1.0f, 2.0f, 3.0f};
  helix::io::write_npy<float>(folder / "b.npy", one, {3});
  const auto floats = helix::io::read_npy<float>(folder / "b.npy");
  CHECK(floats.shape == std::vector<std::int64_t>{3});
  CHECK(floats.data == one);
  std::ifstream b(folder / "b.npy", std::ios::binary);
  const std::string b_bytes{std::istreambuf_iterator<char>(b), std::istreambuf_iterator<char>()};
  CHECK(b_bytes.find("'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") !=
        std::string::npos);
  CHECK_THROWS_AS(helix::io::write_npy<double>(folder / "c.npy", values, {4, 2}),
                  std::invalid_argument);
  CHECK_FALSE(std::filesystem::exists(folder / "c.npy"));
  std::filesystem::remove_all(folder);
}

TEST_CASE("the numerics dump holds input, every weight, the reference and each plan's output") {
  const std::filesystem::path folder = helix::testing::scratch_folder("helix_test_numerics_dump");
  const PlanSpec plans[] = {helix::parse_plan("hp=4x4"), helix::parse_plan("pp=2,tg=4x4")};
  const Model model = helix::models::shrink(helix::models::helix_seed, plans);
  const auto written = helix::io::write_numerics_npy(folder, model, plans);
  // x, 2 layers × (6 weights + 2 norms × gain and shift), reference, 2 plans.
  CHECK(written.size() == 1 + 2 * 10 + 1 + 2);
  for (const char* name : {"x.npy", "layer1_wo.npy", "layer0_norm2_shift.npy", "y_reference.npy",
                           "y_hp_4x4.npy", "y_pp_2_tg_4x4.npy"})
    CHECK(std::filesystem::exists(folder / name));
  const auto reference = helix::io::read_npy<double>(folder / "y_reference.npy");
  const auto sharded = helix::io::read_npy<double>(folder / "y_pp_2_tg_4x4.npy");
  CHECK(reference.shape == std::vector<std::int64_t>{2, 16, 128});
  double worst = 0;
  for (std::size_t i = 0; i < reference.data.size(); ++i)
    worst = std::max(worst, std::abs(reference.data[i] - sharded.data[i]));
  CHECK(worst < 1e-12);
  const auto wq = helix::io::read_npy<double>(folder / "layer0_wq.npy");
  CHECK(wq.shape == std::vector<std::int64_t>{128, 128});
  std::filesystem::remove_all(folder);
}

TEST_CASE("a weight slice drawn alone holds the full weight's numbers there, bit for bit") {
  const Model model = gqa.with_activation(helix::Activation::swiglu).with_vocab(250);
  const auto weights = helix::numerics::make_weights<double>(model);
  // Strided columns (a head_dim slice of every head) and a row range.
  const helix::LinearSlice slice{helix::IndexRuns::range(8, 24), {2, 4, 8, 6}};
  const Matrix<double> drawn =
      helix::numerics::draw_weight_slice<double>(model, 1, helix::Weight::wq, slice);
  CHECK(drawn == helix::numerics::pack_slice(weights.layers[1].wq, slice));
  CHECK(helix::numerics::draw_weight<double>(model, -1, helix::Weight::lm_head) == weights.lm_head);
  CHECK(helix::numerics::make_layer_weights<double>(model, 0).w_gate == weights.layers[0].w_gate);
  CHECK_THROWS_WITH_AS(helix::numerics::draw_weight_slice<double>(
                           model, 0, helix::Weight::wk,
                           {helix::IndexRuns::range(0, 64), helix::IndexRuns::range(8, 16)}),
                       doctest::Contains("columns of a slice of wk"), std::invalid_argument);
  // The tokens of sequence 1 alone are rows 16..31 of the whole batch's.
  const auto input = helix::numerics::make_input<double>(gqa, {}, weights);
  CHECK(helix::numerics::draw_tokens<double>(gqa, 1, 1, gqa.seq_len, false) ==
        input.x.middleRows(gqa.seq_len, gqa.seq_len));
}

TEST_CASE("the DAG run from each device's own slices and sequences gives the executor's bits") {
  // The MPI ranks' weight and input sources, in one process with the in-memory rings: any
  // difference from execute() would be the sources' (MPI's part is tested under label mpi).
  const Model vocab = gqa.with_activation(helix::Activation::swiglu).with_vocab(250);
  for (const auto& [model, plan, workload] :
       {std::tuple{seed_for("pp=2,tg=4x4"), "pp=2,tg=4x4", Workload{}},
        std::tuple{seed_for("hp=4x4", Workload::decode()), "hp=4x4", Workload::decode()},
        std::tuple{vocab, "tp=4", Workload::decode()},
        std::tuple{vocab, "pp=2,tg=2x2,dp=2", Workload::prefill(2)}}) {
    CAPTURE(plan);
    const Model m = model.with_batch(std::max<std::int64_t>(model.batch, 4));
    const helix::Dag dag = helix::build_dag(m, helix::parse_plan(plan), workload);
    const auto weights = helix::numerics::make_weights<double>(m);
    const auto input = helix::numerics::make_input<double>(m, workload, weights);
    const auto expected = helix::numerics::execute(dag, weights, input);
    const auto everywhere = [](std::int64_t) { return true; };
    const helix::numerics::LocalWeights<double> local(dag, everywhere);
    const helix::numerics::LocalInput<double> sequences(dag, everywhere);
    helix::numerics::InProcessRing<double> rings(
        boost::get_property(dag, boost::graph_bundle).mesh);
    const auto got = helix::numerics::run_dag<double>(dag, local, sequences, rings);
    const helix::numerics::OutputComparison c =
        helix::numerics::compare_outputs(got.outputs, expected.outputs);
    CHECK(c.matched);
    CHECK(c.bit_identical);
    CHECK(c.tensors == expected.outputs.size());
  }
}

TEST_CASE("a device draws its share of the weights: a quarter of the blocks under tp=4") {
  const Model model = seed_for("tp=4");
  const helix::Dag dag = helix::build_dag(model, helix::parse_plan("tp=4"));
  const helix::numerics::LocalWeights<double> device1(
      dag, [](std::int64_t device) { return device == 1; });
  // Every matrix split 4 ways; the norms (2 per layer, gain and shift, hidden each) replicated.
  const std::int64_t norms = model.layers * 2 * 2 * model.hidden;
  const std::int64_t matrices = helix::parameters(model) - norms;
  CHECK(device1.bytes() == static_cast<std::int64_t>((matrices / 4 + norms) * sizeof(double)));
  CHECK(device1.slices() == static_cast<std::size_t>(model.layers * 6));
  CHECK_THROWS_WITH_AS(static_cast<void>(device1.slice(0, helix::Weight::wq, {})),
                       doctest::Contains("no local op holds this slice of wq"), std::logic_error);
}

TEST_CASE("the execution order is a topological order fixed by the graph alone") {
  const helix::Dag dag =
      helix::build_dag(seed_for("pp=2,tg=4x4"), helix::parse_plan("pp=2,tg=4x4"));
  const std::vector<helix::Vertex> order = helix::numerics::execution_order(dag);
  CHECK(order == helix::numerics::execution_order(helix::Dag(dag)));
  REQUIRE(order.size() == boost::num_vertices(dag));
  std::vector<std::size_t> position(order.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    position[order[i]] = i;
  for (auto [e, end] = boost::edges(dag); e != end; ++e)
    CHECK(position[boost::source(*e, dag)] < position[boost::target(*e, dag)]);
}

TEST_CASE("the reference at scale, block by block on a sample, is the reference's rows") {
  const Model vocab = gqa.with_activation(helix::Activation::swiglu).with_vocab(250).with_batch(4);
  for (const Model& model : {gqa.with_batch(4), vocab})
    for (const Workload& workload : {Workload{}, Workload::decode()}) {
      const auto weights = helix::numerics::make_weights<double>(model);
      const auto input = helix::numerics::make_input<double>(model, workload, weights);
      const Matrix<double> full =
          helix::numerics::reference_forward(model, workload, weights, input).output;
      const std::vector<std::int64_t> sample = helix::numerics::sample_sequences(4, 2);
      CHECK(sample == std::vector<std::int64_t>{0, 2});
      const Matrix<double> sampled =
          helix::numerics::reference_sample<double>(model, workload, sample);
      const std::int64_t rows = full.rows() / model.batch;
      REQUIRE(sampled.rows() == 2 * rows);
      CHECK((sampled.topRows(rows) - full.topRows(rows)).cwiseAbs().maxCoeff() < 1e-12);
      CHECK((sampled.bottomRows(rows) - full.middleRows(2 * rows, rows)).cwiseAbs().maxCoeff() <
            1e-12);
      // verify_sample judges an execution's outputs on the sample; a changed bit shows.
      const helix::Dag dag = helix::build_dag(model, helix::parse_plan("tp=2"), workload);
      auto outputs = helix::numerics::execute(dag, weights, input).outputs;
      const auto report = helix::numerics::verify_sample<double>(model, workload, outputs, sample);
      CHECK(report.passed);
      CHECK(report.error.max_relative < 1e-12);
      Matrix<double> changed = *outputs[1].value;
      changed(0, 0) += 1;
      outputs[1].value = std::make_shared<const Matrix<double>>(changed);
      const auto broken = helix::numerics::verify_sample<double>(model, workload, outputs, sample);
      CHECK_FALSE(broken.replicas_agree);
      CHECK_FALSE(broken.passed);
    }
  CHECK(helix::numerics::sample_sequences(8, 3) == std::vector<std::int64_t>{0, 2, 5});
  CHECK(helix::numerics::sample_sequences(3, 0).size() == 3);
}

namespace {

/// Every (op, device) name of `dag`, in dump order.
std::vector<std::string> all_names(const helix::Dag& dag) {
  const helix::OpNames names(dag);
  std::vector<std::string> out;
  for (helix::Vertex v : helix::numerics::dump_order(dag))
    for (std::int64_t device : helix::holders_of(dag, v))
      out.push_back(names.name(dag[v], device));
  return out;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

} // namespace

TEST_CASE("op names are unique for every kind of plan and spell layer, microbatch, op and device") {
  struct Case {
    Model model;
    const char* plan;
    Workload workload;
    std::vector<std::string> some;
  };
  const Case cases[] = {
      {helix::models::helix_seed,
       "pp=2,tg=4x4",
       {},
       {"layer01.reduce_scatter_mlp_output.dev09", "layer01.all_reduce_mlp_output.dev09",
        "layer01.all_gather_mlp_output.dev09", "transfer_from_dev01.dev09", "output.dev15"}},
      {helix::models::helix_seed,
       "hp=4x4",
       {},
       {"layer00.all_reduce_attention_scores.dev05", "layer00.norm1.dev00", "layer01.norm2.dev15"}},
      {helix::models::gpt3_175b,
       "pp=2,tp=4",
       Workload::prefill(2),
       {"mb1.input.dev03", "mb1.embedding.dev03", "mb0.all_reduce_embedding.dev00",
        "layer00.mb1.fc1.dev03", "mb1.lm_head.dev07", "mb1.all_gather_logits.dev07",
        "mb0.final_norm.dev04", "mb0.last_token.dev04", "mb1.transfer_from_dev02.dev06"}},
      {helix::models::llama3_70b,
       "pp=2,tp=4",
       Workload::decode(),
       {"layer00.kv_cache_keys.dev03", "layer00.kv_cache_values.dev03",
        "layer00.kv_append_values.dev03", "layer01.gate_projection.dev07", "layer01.swiglu.dev07"}},
      {helix::models::falcon_180b, "dp=2,tp=2", {}, {"layer01.parallel_sum.dev03"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.plan);
    const PlanSpec plan = helix::parse_plan(c.plan);
    const helix::Dag dag =
        helix::build_dag(helix::models::shrink(c.model, plan, c.workload), plan, c.workload);
    CHECK(helix::duplicate_op_names(dag).empty());
    const std::vector<std::string> names = all_names(dag);
    CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
    for (const std::string& name : c.some) {
      CAPTURE(name);
      CHECK(has(names, name));
    }
    // Built again, the same names in the same order: they depend on the graph alone.
    CHECK(all_names(helix::build_dag(helix::models::shrink(c.model, plan, c.workload), plan,
                                     c.workload)) == names);
  }
}

TEST_CASE("op names of tp=2 on device 1, in dump order, are the documented ones") {
  const helix::Dag dag = helix::build_dag(seed_for("tp=2"), helix::parse_plan("tp=2"));
  std::vector<std::string> device_1;
  for (const std::string& name : all_names(dag))
    if (name.ends_with(".dev01") && !name.starts_with("layer01"))
      device_1.push_back(name);
  const std::vector<std::string> documented{"input.dev01",
                                            "layer00.norm1.dev01",
                                            "layer00.q_projection.dev01",
                                            "layer00.k_projection.dev01",
                                            "layer00.v_projection.dev01",
                                            "layer00.attention_scores.dev01",
                                            "layer00.softmax.dev01",
                                            "layer00.attention_context.dev01",
                                            "layer00.out_projection.dev01",
                                            "layer00.all_reduce_attention_output.dev01",
                                            "layer00.residual_add_attention.dev01",
                                            "layer00.norm2.dev01",
                                            "layer00.fc1.dev01",
                                            "layer00.gelu.dev01",
                                            "layer00.fc2.dev01",
                                            "layer00.all_reduce_mlp_output.dev01",
                                            "layer00.residual_add_mlp.dev01",
                                            "output.dev01"};
  CHECK(device_1 == documented);
  const helix::OpNames names(dag);
  for (helix::Vertex v = 0; v < boost::num_vertices(dag); ++v)
    if (dag[v].kind() == helix::OpKind::out_projection && dag[v].device == 1 && dag[v].layer == 1)
      CHECK(names.file(dag[v], 1) == "dev01/layer01_out_projection.npy");
}

TEST_CASE(
    "expected tensors are what the executor computes: outputs and layer outputs bit for bit") {
  for (const char* plan_text : {"tp=4", "pp=2,tg=4x4", "dp=2,tp=2"}) {
    CAPTURE(plan_text);
    const PlanSpec plan = helix::parse_plan(plan_text);
    const Model model = seed_for(plan_text);
    const helix::Dag dag = helix::build_dag(model, plan);
    const auto weights = helix::numerics::make_weights<double>(model);
    const auto input = helix::numerics::make_input<double>(model, {}, weights);
    const auto executed = helix::numerics::execute(dag, weights, input);
    const auto expected = helix::numerics::expected(dag, weights, input);
    CHECK(static_cast<std::int64_t>(expected.tensors.size()) ==
          helix::numerics::expected_size(dag).tensors);
    const Matrix<double> output = executed.assemble();
    std::size_t outputs = 0, layer_outputs = 0;
    for (const auto& t : expected.tensors) {
      const helix::Op& op = dag[t.vertex];
      const std::int64_t rows = op.output[0] * input.tokens;
      if (op.kind() == helix::OpKind::output) {
        ++outputs;
        CHECK(t.value == output.middleRows(op.batch_begin * input.tokens, rows));
      }
      const auto* add = helix::step_if<helix::step::ResidualAdd>(op);
      if (add && add->branch == helix::Sublayer::mlp) {
        ++layer_outputs;
        CHECK(t.value ==
              executed.assemble_layer(op.layer).middleRows(op.batch_begin * input.tokens, rows));
      }
      CHECK(t.value.size() == t.shape.elements());
      CHECK(expected.find(t.name) == &t);
    }
    CHECK(outputs == executed.outputs.size());
    CHECK(layer_outputs == executed.layer_outputs.size());
  }
}

TEST_CASE("expected tensors stream in topological order, each after every tensor it is made of") {
  const PlanSpec plan = helix::parse_plan("pp=2,tg=2x2");
  const Model model = seed_for("pp=2,tg=2x2");
  const helix::Dag dag = helix::build_dag(model, plan);
  const auto weights = helix::numerics::make_weights<double>(model);
  const auto input = helix::numerics::make_input<double>(model, {}, weights);
  const helix::OpNames names(dag);
  std::set<std::string> seen;
  std::size_t late = 0;
  helix::numerics::stream_expected<double>(
      dag, weights, input, [&](helix::numerics::ExpectedTensor<double>&& t) {
        for (auto [e, end] = boost::in_edges(t.vertex, dag); e != end; ++e)
          late += seen.count(names.name(dag[boost::source(*e, dag)], dag[*e].device)) ? 0 : 1;
        seen.insert(t.name);
      });
  CHECK(late == 0);
  CHECK(static_cast<std::int64_t>(seen.size()) == helix::numerics::expected_size(dag).tensors);
}

TEST_CASE("a device's weight slice times its input is its Linear's expected output") {
  // hp=4x4 slices head_dim: Wq's columns are strided runs, concatenated in the slice.
  const PlanSpec plan = helix::parse_plan("hp=4x4");
  const Model model = seed_for("hp=4x4");
  const helix::Dag dag = helix::build_dag(model, plan);
  const auto weights = helix::numerics::make_weights<double>(model);
  const auto input = helix::numerics::make_input<double>(model, {}, weights);
  const auto expected = helix::numerics::expected(dag, weights, input);
  const auto holdings = helix::numerics::weight_holdings(dag);
  const auto slice_of = [&](std::int64_t device, const std::string& name) {
    for (const auto& h : holdings)
      if (h.device == device && h.name == name)
        return helix::numerics::weight_value(h, weights);
    FAIL("no holding " << name);
    return Matrix<double>();
  };
  const auto tensor = [&](const std::string& name) -> const Matrix<double>& {
    const auto* t = expected.find(name);
    REQUIRE(t);
    return t->value;
  };
  for (std::int64_t device : {0, 5, 15}) {
    CAPTURE(device);
    const std::string dev =
        device < 10 ? "dev0" + std::to_string(device) : "dev" + std::to_string(device);
    const Matrix<double> wq = slice_of(device, "layer01_wq");
    CHECK(wq.rows() == model.hidden);
    CHECK(wq.cols() == 4 * 2); // a group's 4 heads × 2 of head_dim 8
    const Matrix<double> q = tensor("layer01.norm1." + dev) * wq;
    CHECK((q - tensor("layer01.q_projection." + dev)).cwiseAbs().maxCoeff() < 1e-13);
    const Matrix<double> wo = slice_of(device, "layer01_wo");
    const Matrix<double> partial = tensor("layer01.attention_context." + dev) * wo;
    CHECK((partial - tensor("layer01.out_projection." + dev)).cwiseAbs().maxCoeff() < 1e-13);
    CHECK(slice_of(device, "layer00_norm2_gain") == weights.layers[0].norm_gain[1]);
  }
  // One holding per device, weight and layer: 2 layers × (6 weights + 2 norms × gain, shift).
  CHECK(holdings.size() == 16 * 2 * (6 + 4));
}

TEST_CASE("divergence: verify's absolute and relative errors, with NaN as infinite error") {
  using helix::numerics::error_between;
  const std::vector<double> expected{1.0, -4.0, 2.0};
  const std::vector<float> close{1.0f, -4.0f, 2.5f};
  const helix::numerics::ErrorMeasure e =
      error_between(std::span<const float>(close), std::span<const double>(expected));
  CHECK(e.max_abs == 0.5);
  CHECK(e.max_relative == 0.125);
  CHECK(helix::numerics::within(e, {0, 0.125}));
  CHECK_FALSE(helix::numerics::within(e, {0, 0.1}));
  CHECK(helix::numerics::within(e, {0.5, 0}));
  const std::vector<double> zeros(3, 0.0), tiny{0, 1e-30, 0};
  CHECK(
      error_between(std::span<const double>(zeros), std::span<const double>(zeros)).max_relative ==
      0);
  CHECK(std::isinf(
      error_between(std::span<const double>(tiny), std::span<const double>(zeros)).max_relative));
  CHECK(helix::numerics::within(
      error_between(std::span<const double>(tiny), std::span<const double>(zeros)), {1e-20, 0}));
  const std::vector<double> nan{1.0, std::numeric_limits<double>::quiet_NaN(), 2.0};
  const auto n = error_between(std::span<const double>(nan), std::span<const double>(expected));
  CHECK(std::isinf(n.max_abs));
  CHECK_FALSE(helix::numerics::within(n, {1e300, 1e300}));
  CHECK_THROWS_AS(
      error_between(std::span<const double>(zeros).first(2), std::span<const double>(expected)),
      std::invalid_argument);
}
