// Plan area: descriptors, the mesh, the rules at compile time and run time, and plan text.
#include "helix/model.hpp"
#include "helix/plan.hpp"

#include "compile_fail/cases.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include <initializer_list>
#include <limits>
#include <string>
#include <utility>

using namespace helix;

namespace {
using Optimized = Plan<PipelineStages<2>, TensorGroups<4, 4>>;
using Baseline = Plan<HeadPartitions<4, 4>>;

bool reports(const std::vector<std::string>& messages, const std::string& rule) {
  for (const std::string& m : messages)
    if (m.starts_with("helix: " + rule + ":"))
      return true;
  return false;
}
} // namespace

TEST_CASE("the seed's two plans are valid for helix_seed, at compile time and at run time") {
  static_assert(is_valid_plan<models::helix_seed, Optimized>);
  static_assert(is_valid_plan<models::helix_seed, Baseline>);
  check_plan<models::helix_seed, Optimized>();
  CHECK(validate(models::helix_seed, Optimized::spec).empty());
  CHECK(validate(models::helix_seed, parse_plan("hp=4x4")).empty());
}

TEST_CASE("Plan<PipelineStages<2>, TensorGroups<4,4>> is two stages of two 4-GPU groups") {
  constexpr PlanSpec p = Optimized::spec;
  static_assert(world_size(p) == 16);
  static_assert(groups_per_stage(p) == 2 && tensor_group_size(p) == 4);
  static_assert(tensor_degree(p) == 8); // "8×2 head groups": 8 GPUs × 2 heads per stage
  constexpr Mesh mesh = make_mesh(p);
  static_assert(mesh.axis_count == 3 && mesh.size() == 16);
  // Rank = (stage·2 + group)·4 + member: rank 9 is stage 1, group 0 (of that stage), member 1.
  CHECK(mesh.coordinate(9, Role::pipeline) == 1);
  CHECK(mesh.coordinate(9, Role::tensor_group) == 0);
  CHECK(mesh.coordinate(9, Role::tensor) == 1);
  // Groups 0,1 → stage 0 = GPUs 0–7; groups 2,3 → stage 1 = GPUs 8–15.
  CHECK(mesh.coordinate(7, Role::pipeline) == 0);
  CHECK(mesh.coordinate(8, Role::pipeline) == 1);
  CHECK(mesh.with_coordinate(9, Role::tensor_group, 1) == 13);
}

TEST_CASE("HeadPartitions<4,4> is a flat 16-GPU mesh: GPU (g, s) has rank 4g + s") {
  constexpr Mesh mesh = make_mesh(Baseline::spec);
  static_assert(world_size(Baseline::spec) == 16);
  static_assert(head_split(Baseline::spec) == 4 && head_dim_split(Baseline::spec) == 4);
  static_assert(tensor_degree(Baseline::spec) == 16);
  CHECK(mesh.coordinate(6, Role::tensor) == 1);
  CHECK(mesh.coordinate(6, Role::head_dim) == 2);
}

TEST_CASE("TensorParallel<T> with PipelineStages<P> is T-way per stage, DataParallel replicates") {
  using P = Plan<PipelineStages<2>, TensorParallel<4>, DataParallel<3>>;
  static_assert(world_size(P::spec) == 24);
  static_assert(tensor_degree(P::spec) == 4 && groups_per_stage(P::spec) == 1);
  constexpr Mesh mesh = make_mesh(P::spec);
  // [pipeline 2, data 3, tensor 4]: rank 17 = (1·3 + 1)·4 + 1.
  CHECK(mesh.coordinate(17, Role::pipeline) == 1);
  CHECK(mesh.coordinate(17, Role::data) == 1);
  CHECK(mesh.coordinate(17, Role::tensor) == 1);
  CHECK(mesh.extent(Role::head_dim) == 1);
}

namespace {
/// A mesh written axis by axis, for shapes the rules do not accept yet (kv_seq > 1, or tensor
/// groups beside head_dim slices).
Mesh mesh_of(std::initializer_list<Axis> axes) {
  Mesh mesh;
  for (const Axis& axis : axes)
    mesh.axes[mesh.axis_count++] = axis;
  return mesh;
}

/// rank and coordinates invert each other over every rank and every coordinate tuple in range.
void check_rank_and_coordinates_invert(const Mesh& mesh) {
  for (std::int64_t r = 0; r < mesh.size(); ++r) {
    CAPTURE(r);
    const Coordinates c = mesh.coordinates(r);
    CHECK(mesh.rank(c) == r);
    for (Role role : {Role::pipeline, Role::data, Role::kv_seq, Role::tensor_group, Role::tensor,
                      Role::head_dim})
      CHECK(c[role] == mesh.coordinate(r, role));
  }
  std::int64_t tuples = 0;
  using enum Role;
  for (std::int64_t p = 0; p < mesh.extent(pipeline); ++p)
    for (std::int64_t d = 0; d < mesh.extent(data); ++d)
      for (std::int64_t k = 0; k < mesh.extent(kv_seq); ++k)
        for (std::int64_t g = 0; g < mesh.extent(tensor_group); ++g)
          for (std::int64_t t = 0; t < mesh.extent(tensor); ++t)
            for (std::int64_t h = 0; h < mesh.extent(head_dim); ++h) {
              const Coordinates c{.pipeline = p,
                                  .data = d,
                                  .kv_seq = k,
                                  .tensor_group = g,
                                  .tensor = t,
                                  .head_dim = h};
              const std::int64_t r = mesh.rank(c);
              CHECK((0 <= r && r < mesh.size()));
              CHECK(mesh.coordinates(r) == c);
              ++tuples;
            }
  CHECK(tuples == mesh.size());
}
} // namespace

TEST_CASE("Mesh::rank and Mesh::coordinates invert each other over every axis") {
  using enum Role;
  // [pipeline 2, data 2, kv_seq 2, tensor 2, head_dim 2]: (1,0,1,1,0) → 1·16 + 0·8 + 1·4 + 1·2 + 0.
  const Mesh five = mesh_of({{pipeline, 2}, {data, 2}, {kv_seq, 2}, {tensor, 2}, {head_dim, 2}});
  const Coordinates c{.pipeline = 1, .data = 0, .kv_seq = 1, .tensor = 1, .head_dim = 0};
  CHECK(five.rank(c) == 22);
  CHECK(five.coordinates(22) == c);
  CHECK(five.coordinates(22).tensor_group == 0); // the mesh has no tensor_group axis
  // Every role at a size above 1, sizes distinct so a swapped stride shows: 2·3·2·2·4·2 = 192.
  const Mesh all = mesh_of(
      {{pipeline, 2}, {data, 3}, {kv_seq, 2}, {tensor_group, 2}, {tensor, 4}, {head_dim, 2}});
  REQUIRE(all.size() == 192);
  // Hand-derived, strides 96, 32, 16, 8, 2, 1: 1·96 + 2·32 + 1·16 + 0·8 + 3·2 + 1 = 183.
  const Coordinates deep{
      .pipeline = 1, .data = 2, .kv_seq = 1, .tensor_group = 0, .tensor = 3, .head_dim = 1};
  CHECK(all.rank(deep) == 183);
  CHECK(all.coordinates(183) == deep);
  // rank follows the mesh's axis order, whatever the roles: here head_dim outermost.
  const Mesh reordered = mesh_of({{head_dim, 3}, {kv_seq, 2}, {pipeline, 2}});
  CHECK(reordered.rank({.pipeline = 1, .kv_seq = 1, .head_dim = 2}) == 2 * 4 + 1 * 2 + 1);
  for (const Mesh& mesh :
       {five, all, reordered, make_mesh(Optimized::spec), make_mesh(Baseline::spec),
        make_mesh(parse_plan("pp=2,dp=3,tp=4")), make_mesh(parse_plan("pp=3,dp=2,kvp=2,tg=6x2")),
        make_mesh(parse_plan("tp=1"))}) {
    CAPTURE(mesh.size());
    check_rank_and_coordinates_invert(mesh);
  }
  // Both are constexpr.
  constexpr Mesh optimized = make_mesh(Optimized::spec);
  static_assert(optimized.rank({.pipeline = 1, .tensor_group = 1, .tensor = 1}) == 13);
  static_assert(optimized.coordinates(13) ==
                Coordinates{.pipeline = 1, .tensor_group = 1, .tensor = 1});
}

TEST_CASE("names, keys and text of descriptors and roles come from one row each") {
  CHECK(descriptor_name(DescriptorKind::kv_parallel) == "KVParallel");
  CHECK(descriptor_key(DescriptorKind::layer_split) == "split");
  CHECK(role_name(Role::kv_seq) == "kv_seq");
  CHECK(role_name(Role::head_dim) == "head_dim");
  static_assert(descriptor_rows.size() == descriptor_kind_count && role_names.size() == role_count);
  // Each row fills the same fields from C++ and from text.
  CHECK(parse_plan("tg=4x2") == Plan<TensorGroups<4, 2>>::spec);
  CHECK(parse_plan("hp=8x2") == Plan<HeadPartitions<8, 2>>::spec);
  CHECK(parse_plan("dp=3") == Plan<DataParallel<3>>::spec);
  CHECK(parse_plan("kvp=2") == Plan<KVParallel<2>>::spec);
  CHECK(parse_plan("split=3/0/1") == Plan<LayerSplit<3, 0, 1>>::spec);
  CHECK(to_string(Plan<KVParallel<2>, DataParallel<3>, PipelineStages<2>>::spec) ==
        "pp=2,dp=3,kvp=2");
}

TEST_CASE(
    "KV shards partition the cached positions and put the new token where the placement says") {
  // Contiguous over 3 shards of 10 cached tokens: [⌊k·10/3⌋, ⌊(k+1)·10/3⌋) = [0,3), [3,6),
  // [6,10); the new token (position 10) joins the last shard.
  const KVPlacement contiguous{};
  const KVShard c0{0, 3, contiguous}, c1{1, 3, contiguous}, c2{2, 3, contiguous};
  CHECK(c0.cached(10) == 3);
  CHECK(c1.cached(10) == 3);
  CHECK(c2.cached(10) == 4);
  CHECK(c2.position(0, 10) == 6);
  CHECK(c2.owner_of_new(10) == 2);
  CHECK(c2.keys(10) == 5);
  CHECK(c0.keys(10) == 3);
  // Interleaved 16-token chunks over 4 shards, 100 cached: chunks 0…6 (the last holds 96–99) go
  // to shards 0,1,2,3,0,1,2: shard 1 holds 16–31 and 80–95 (32 tokens), shard 2 holds 32–47 and
  // 96–99 (20), shard 3 holds 48–63 (16); the new token (position 100, chunk 6) joins shard 2.
  const KVPlacement interleaved{KVLayout::interleaved, 16};
  const KVShard i1{1, 4, interleaved}, i2{2, 4, interleaved}, i3{3, 4, interleaved};
  CHECK(i1.cached(100) == 32);
  CHECK(i2.cached(100) == 20);
  CHECK(i3.cached(100) == 16);
  CHECK(i1.position(16, 100) == 80);
  CHECK(i2.position(17, 100) == 97);
  CHECK(i2.owns_new(100));
  CHECK_FALSE(i1.owns_new(100));
  // Every position is held by exactly one shard, for both placements and several lengths.
  for (const KVPlacement& placement :
       {contiguous, interleaved, KVPlacement{KVLayout::interleaved, 3}})
    for (std::int64_t n : {5, 16, 47, 100, 129}) {
      std::vector<int> held(static_cast<std::size_t>(n), 0);
      std::int64_t owners = 0;
      for (std::int64_t k = 0; k < 4; ++k) {
        const KVShard shard{k, 4, placement};
        for (std::int64_t i = 0; i < shard.cached(n); ++i)
          ++held.at(static_cast<std::size_t>(shard.position(i, n)));
        owners += shard.owns_new(n) ? 1 : 0;
      }
      CAPTURE(n);
      CHECK(std::ranges::all_of(held, [](int h) { return h == 1; }));
      CHECK(owners == 1);
    }
  CHECK(kv_placement_named("interleaved:16") == interleaved);
  CHECK(kv_placement_named("contiguous") == contiguous);
  CHECK_FALSE(kv_placement_named("interleaved:0"));
  CHECK_FALSE(kv_placement_named("interleaved:"));
  CHECK_FALSE(kv_placement_named("striped"));
  CHECK(to_string(interleaved) == "interleaved:16");
}

TEST_CASE("KVParallel multiplies the tensor degree: attention on TPA devices per KV shard, the MLP "
          "on all of them") {
  constexpr PlanSpec helix_decode = Plan<KVParallel<8>, TensorParallel<8>>::spec;
  static_assert(attention_degree(helix_decode) == 8 && tensor_degree(helix_decode) == 64 &&
                world_size(helix_decode) == 64);
  CHECK(parse_plan("kvp=8,tp=8") == helix_decode);
  CHECK(to_string(helix_decode) == "tp=8,kvp=8");
  // [kv_seq 8, tensor 8]: the KV shard is the outer coordinate.
  const Mesh mesh = make_mesh(helix_decode);
  CHECK(mesh.coordinates(19) == Coordinates{.kv_seq = 2, .tensor = 3});
  static_assert(is_valid_plan<models::llama3_70b, Plan<KVParallel<8>, TensorParallel<8>>,
                              Workload::decode()>);
  static_assert(!is_valid_plan<models::llama3_70b, Plan<KVParallel<8>, TensorParallel<8>>>,
                "a prefill has no KV cache to shard");
}

TEST_CASE("layers are dealt evenly with the extra layers on the first stages, or as split") {
  constexpr Model m = models::helix_seed.with_layers(10);
  constexpr PlanSpec even = Plan<PipelineStages<4>>::spec;
  CHECK(layers_in_stage(m, even, 0) == 3);
  CHECK(layers_in_stage(m, even, 1) == 3);
  CHECK(layers_in_stage(m, even, 2) == 2);
  CHECK(layers_in_stage(m, even, 3) == 2);
  CHECK(first_layer_of_stage(m, even, 2) == 6);
  CHECK(stage_of_layer(m, even, 5) == 1);
  CHECK(stage_of_layer(m, even, 9) == 3);
  constexpr PlanSpec split = Plan<PipelineStages<2>, LayerSplit<7, 3>>::spec;
  static_assert(is_valid_plan<m, Plan<PipelineStages<2>, LayerSplit<7, 3>>>);
  CHECK(layers_in_stage(m, split, 0) == 7);
  CHECK(stage_of_layer(m, split, 7) == 1);
}

TEST_CASE("every rule holds for a plan that respects it and breaks, with its numbers, otherwise") {
  const Model seed = models::helix_seed;
  struct Row {
    Model model;
    std::string plan;
    Workload workload;
    std::string rule;
    std::string numbers; // the part of the message that must carry the numbers
  };
  // Each row breaks exactly the rule named; the accepted twin is checked below it.
  const Row rows[] = {
      {seed, "tp=3", {}, "heads vs tensor degree", "(heads = 16, tensor degree = 3)"},
      {models::llama3_70b,
       "tp=12",
       {},
       "kv heads vs tensor degree",
       "(kv heads = 8, tensor degree = 12)"},
      {seed,
       "hp=4x3",
       {},
       "head_dim vs dimension slices",
       "(head_dim = 512, dimension slices = 3)"},
      {seed.with_ffn_hidden(32770),
       "tp=4",
       {},
       "ffn vs tensor degree",
       "(ffn hidden = 32770, tensor degree = 4)"},
      {seed.with_hidden(8190),
       "tg=2x4",
       {},
       "hidden vs group size",
       "(hidden = 8190, group size = 4)"},
      // Scatter-gather pipeline sends cut hidden into one slice per tensor device: 8190 / 4 is not
      // whole (a flat ring needs no even shard, so only this rule breaks).
      {seed.with_hidden(8190),
       "pp=2,tp=4",
       {},
       "hidden vs pipeline slices",
       "(hidden = 8190, tensor degree = 4)"},
      {seed, "pp=3", {}, "layers vs pipeline stages", "(layers = 2, stages = 3)"},
      {seed, "pp=2,tg=3x4", {}, "groups vs stages", "(groups = 3, stages = 2)"},
      {seed.with_batch(6), "dp=2", Workload::prefill(2), "batch vs data parallel and microbatches",
       "(batch = 6, data parallel x microbatches = 4)"},
      {seed.with_heads(12).with_kv_heads(8),
       "tp=4",
       {},
       "heads vs kv heads",
       "(heads = 12, kv heads = 8)"},
      {seed, "pp=2,split=1/1/1", {}, "layer split vs stages", "(counts listed = 3, stages = 2)"},
      {seed, "pp=2,split=2/1", {}, "layer split vs layers", "(layers in split = 3, layers = 2)"},
      {seed,
       "pp=2,split=2/0",
       {},
       "layers vs pipeline stages",
       "(layers of a stage in the split: layers = 0, stages = 2)"},
      {seed, "tp=2,hp=2x2", {}, "one tensor scheme", "(schemes given = 2, allowed = 1)"},
      {seed,
       "kvp=2",
       {},
       "kv parallel decode only",
       "(workload prefill: kv parallel degree = 2, allowed in prefill = 1)"},
      {seed, "tp=2", Workload::prefill(0), "degree at least one",
       "(microbatches: degree = 0, minimum = 1)"},
      {seed.with_head_dim(0),
       "tp=2",
       {},
       "model size positive",
       "(head_dim: value = 0, minimum = 1)"},
      {seed.with_seq_len(4'000'000'000), "tp=2", {}, "sizes fit 64-bit", "attention score bits"},
      // Degrees of 10^15 each: their product, 10^30, is past 2^63 ≈ 9.2·10^18.
      {seed,
       "tg=1000000000000000x1000000000000000",
       {},
       "sizes fit 64-bit",
       "product of the plan's degrees"},
      // GPT-3 at batch 3072 × 8192 tokens: the projections are 8·96·3072·8192·12288·96·128
      // ≈ 2.9·10^18 FLOPs, the MLP bound 6·96·3072·8192·12288·49152 ≈ 8.8·10^18; each fits under
      // 2^63 ≈ 9.2·10^18, their sum does not.
      {models::gpt3_175b.with_batch(3072).with_seq_len(8192),
       "tp=8",
       {},
       "sizes fit 64-bit",
       "forward FLOPs"},
      // Sizes of 1, batch 2^63 / 24: the lowering counts 41·B FLOPs (mostly element-wise ops),
      // past 2^63 (the rule's bound is 52·B).
      {Model{.layers = 1,
             .hidden = 1,
             .heads = 1,
             .kv_heads = 1,
             .head_dim = 1,
             .ffn_hidden = 1,
             .batch = std::numeric_limits<std::int64_t>::max() / 24,
             .seq_len = 1,
             .dtype = DataType::fp4, // 4 bits per value: the sizes in bits still fit
             .kv_dtype = DataType::fp4,
             .norm = Norm::layernorm},
       "tp=1",
       {},
       "sizes fit 64-bit",
       "FLOPs"},
      {seed.with_seq_len(std::numeric_limits<std::int64_t>::max()),
       "tp=2",
       {},
       "sizes fit 64-bit",
       "seq_len + 1"},
      // KV-parallel decode (Helix). TPA = 16 attention devices for 8 kv heads would duplicate
      // kv heads across devices, which the scheme exists to avoid.
      {models::llama3_70b, "kvp=2,tp=16", Workload::decode(), "kv heads vs attention degree",
       "(attention tensor degree = 16, kv heads = 8)"},
      // 64 heads / 8 = 8 heads per attention device cannot be dealt to 16 KV shards.
      {models::llama3_70b, "kvp=16,tp=8", Workload::decode(), "heads vs kv parallel",
       "(heads per device = 8, kv parallel degree = 16)"},
      // Contiguous blocks need one cached token per shard; interleaved:16 over 4 shards needs the
      // last shard's first chunk, which starts at position 3·16 = 48: 49 tokens.
      {models::llama3_70b.with_seq_len(3), "kvp=4,tp=8", Workload::decode(),
       "kv length vs kv parallel", "cached tokens = 3, tokens the placement needs = 4)"},
      {models::llama3_70b.with_seq_len(40), "kvp=4,tp=8",
       Workload::decode().with_kv_placement({KVLayout::interleaved, 16}),
       "kv length vs kv parallel", "cached tokens = 40, tokens the placement needs = 49)"},
      {seed, "hp=4x4,kvp=2", Workload::decode(), "kv parallel tensor scheme",
       "(kv parallel degree = 2, head_dim slices allowed = 1)"},
      {models::llama3_70b, "kvp=2,tp=8",
       Workload::decode().with_kv_placement({KVLayout::interleaved, 0}), "degree at least one",
       "(KV placement chunk: degree = 0, minimum = 1)"},
      // Tensor degree 16·512 = 8192 (per stage); the rule's bound, dp · microbatches · t ·
      // 41 · max(layers, stages) = 1024 · 1 · 8192 · 41 · 2 = 687,865,856 vertices.
      {seed,
       "pp=2,hp=16x512,dp=1024",
       {},
       "DAG size",
       "(vertices (upper bound) = 687865856, limit = 16777216)"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.plan);
    CAPTURE(row.rule);
    const std::vector<std::string> messages =
        validate(row.model, parse_plan(row.plan), row.workload);
    REQUIRE(reports(messages, row.rule));
    bool has_numbers = false;
    for (const std::string& m : messages)
      has_numbers = has_numbers || m.find(row.numbers) != std::string::npos;
    CHECK(has_numbers);
  }
  // The accepted side of each rule, one valid plan per rule above.
  const Row accepted[] = {
      {seed, "tp=4", {}, "", ""},
      {models::llama3_70b, "tp=16", {}, "", ""}, // 16 / 8 kv heads: each kv head on 2 devices
      {models::llama3_70b, "tp=4", {}, "", ""},  // 8 kv heads / 4: two per device
      {seed, "hp=4x4", {}, "", ""},
      {seed.with_hidden(8190), "tp=4", {}, "", ""}, // a flat ring needs no even shard of hidden
      // Full sends do not split hidden; one stage sends nothing.
      {seed.with_hidden(8190), "pp=2,tp=4", Workload{}.with_pipeline_send(PipelineSend::full), "",
       ""},
      {seed, "pp=2", {}, "", ""},
      {seed, "pp=2,tg=4x4", {}, "", ""},
      {seed.with_batch(8), "dp=2", Workload::prefill(4), "", ""},
      {seed, "pp=2,split=1/1", {}, "", ""},
      {seed, "tp=16", Workload::decode(), "", ""},
      {seed, "pp=2,hp=16x512", {}, "", ""}, // tensor degree 8192: bound 475,136
      {models::llama3_70b, "kvp=2,tp=8", Workload::decode(), "", ""},
      {models::llama3_70b, "kvp=8,tp=8", Workload::decode(), "", ""}, // 8 heads, 1 per shard
      {models::llama3_70b.with_seq_len(4), "kvp=4,tp=8", Workload::decode(), "", ""},
      {models::llama3_70b.with_seq_len(49), "kvp=4,tp=8",
       Workload::decode().with_kv_placement({KVLayout::interleaved, 16}), "", ""},
      {seed, "tg=2x4,kvp=2", Workload::decode(), "", ""},
  };
  for (const Row& row : accepted) {
    CAPTURE(row.plan);
    CHECK(validate(row.model, parse_plan(row.plan), row.workload).empty());
  }
}

TEST_CASE("validate reports every broken rule at once, not only the first") {
  const std::vector<std::string> messages = validate(models::helix_seed, parse_plan("tp=3"));
  CHECK(reports(messages, "heads vs tensor degree"));
  CHECK(reports(messages, "kv heads vs tensor degree"));
  CHECK(reports(messages, "ffn vs tensor degree"));
  CHECK(messages.size() == 3);
}

namespace {
template <int I>
void check_case_reports_same_rule() {
  using Case = compile_fail::Case<I>;
  CAPTURE(I);
  const std::vector<std::string> messages = validate(Case::model, Case::plan::spec, Case::workload);
  CHECK(reports(messages, Case::rule));
  CHECK_FALSE(is_valid_plan<Case::model, typename Case::plan, Case::workload>);
}
template <int... I>
void check_all_cases(std::integer_sequence<int, I...>) {
  (check_case_reports_same_rule<I + 1>(), ...);
}
} // namespace

TEST_CASE("each plan that fails to compile reports the same rule at run time") {
  check_all_cases(std::make_integer_sequence<int, compile_fail::case_count>{});
}

TEST_CASE("plan text parses to the same spec as the descriptors, and back") {
  CHECK(parse_plan("pp=2,tg=4x4") == Optimized::spec);
  CHECK(parse_plan(" tg=4x4 , pp=2 ") == Optimized::spec);
  CHECK(parse_plan("hp=4x4") == Baseline::spec);
  CHECK(parse_plan("tp=16") == Plan<TensorParallel<16>>::spec);
  CHECK(parse_plan("pp=2,tp=4,dp=3") ==
        Plan<PipelineStages<2>, TensorParallel<4>, DataParallel<3>>::spec);
  CHECK(parse_plan("pp=2,split=3/1") == Plan<PipelineStages<2>, LayerSplit<3, 1>>::spec);
  for (const char* text :
       {"pp=2,tg=4x4", "hp=4x4", "tp=8,dp=2", "pp=3,tp=2,split=1/2/3", "tp=4,kvp=2"})
    CHECK(to_string(parse_plan(text)) == text);
}

TEST_CASE("malformed plan text throws an error naming the token, and never crashes") {
  struct Bad {
    const char* text;
    const char* words;
  };
  const Bad bad[] = {
      {"pp=0", "'pp=0': degree at least one"},
      {"tg=4x", "'tg=4x': a number is missing"},
      {"tg=4", "'tg=4': expected 2 numbers separated by 'x'"},
      {"tg=4x4x4", "'tg=4x4x4': expected 2 numbers"},
      {"pp=2,pp=3", "'pp=3': descriptor given once"},
      {"xx=1", "'xx=1': unknown key 'xx'"},
      {"pp=99999999999999999999", "is too large"},
      {"pp=1000000000000001", "is too large"},
      {"", "empty plan"},
      {"   ", "empty plan"},
      {"pp=2,", "empty descriptor between commas"},
      {"pp", "'pp': expected key=value"},
      {"pp=", "'pp=': a number is missing"},
      {"pp=-2", "'-2' is not a whole number"},
      {"pp=2.5", "'2.5' is not a whole number"},
      {"tp=0x10", "not a whole number"},
      {"split=1//1", "'split=1//1': a number is missing"},
      {"hp=4x0", "'hp=4x0': degree at least one"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.text);
    CHECK_THROWS_WITH_AS(static_cast<void>(parse_plan(b.text)), doctest::Contains(b.words),
                         PlanTextError);
  }
}
