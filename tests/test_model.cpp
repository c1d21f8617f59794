// Model area: presets hold the published sizes, derived numbers follow from the block equations.
#include "helix/model.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

using namespace helix;

TEST_CASE("gpt3_175b has 12·h² weights per layer plus two layernorms (Narayanan et al. 2021)") {
  // Wq, Wk, Wv, Wo are h×h each (96 heads × 128 = h); W1 and W2 are h×4h each: 4h² + 8h² = 12h².
  // Each layernorm has a gain and a shift of h.
  constexpr std::int64_t h = 12288;
  CHECK(parameters_per_layer(models::gpt3_175b) == 12 * h * h + 4 * h);
  // 96 layers · 12h² = 173,946,175,488, plus GPT-2's 50,257-token vocabulary held as 50,304 rows
  // (the next multiple of 128) in the embedding and again in the LM head, and the final
  // layernorm: 175,187,189,760, against Brown et al.'s "175.0B".
  CHECK(vocabulary_parameters(models::gpt3_175b) == 2 * 50'304 * h + 2 * h);
  CHECK(parameters(models::gpt3_175b) == 96 * (12 * h * h + 4 * h) + 2 * 50'304 * h + 2 * h);
  CHECK(parameters(models::gpt3_175b) == 175'187'189'760);
}

TEST_CASE("llama3_70b's grouped-query attention shrinks Wk and Wv to kv_heads·head_dim columns") {
  // Wq, Wo: 8192 × 8192; Wk, Wv: 8192 × (8·128 = 1024); W_gate, W1: 8192 × 28672 and
  // W2: 28672 × 8192 (SwiGLU); two rmsnorm gains.
  constexpr std::int64_t expected =
      2 * 8192LL * 8192 + 2 * 8192LL * 1024 + 3 * 8192LL * 28672 + 2 * 8192;
  CHECK(parameters_per_layer(models::llama3_70b) == expected);
  CHECK(kv_width(models::llama3_70b) == 1024);
}

TEST_CASE("a SwiGLU MLP holds a third matrix of W1's shape: llama3_70b is 70.6 B with it, "
          "11.8 B fewer with a two-matrix GELU MLP") {
  // LLaMA 3 70B: W_gate, W_up [8192, 28672] and W_down [28672, 8192] per layer, 80 layers:
  // 80 · (2·8192² + 2·8192·1024 + 3·8192·28672 + 2·8192) = 68,452,352,000. With the embedding
  // and LM head (2 · 128,256 · 8192) and the final RMSNorm (8192) that is the 70,553,706,496
  // parameters Meta publishes for the checkpoint.
  const Model m = models::llama3_70b;
  REQUIRE(m.activation == Activation::swiglu);
  constexpr std::int64_t per_layer =
      2 * 8192LL * 8192 + 2 * 8192LL * 1024 + 3 * 8192LL * 28672 + 2 * 8192;
  CHECK(parameters_per_layer(m) == per_layer);
  CHECK(parameters(m) == 80 * per_layer + 2 * 128'256LL * 8192 + 8192);
  CHECK(parameters(m) == 70'553'706'496);
  // The same sizes with GELU drop W_gate: 80 · 8192 · 28672 = 18,790,481,920 fewer.
  CHECK(parameters(m) - parameters(m.with_activation(Activation::gelu)) == 80 * 8192LL * 28672);
}

TEST_CASE("every preset but the seed has parameters() within 1% of its published count") {
  struct Published {
    std::string_view name;
    double count;
    const char* source;
  };
  // Published counts: the Llama ones are the checkpoints' exact sums of tensor sizes; GPT-3's and
  // Falcon's are the papers' round figures.
  const Published published[] = {
      // Includes 623,840 biases (MLP fc_in/fc_out per layer, LM head) helix does not model; helix
      // pads the vocabulary from 50,400 to 50,432 rows. The bound holds: 6,050,521,088 (−0.05%).
      {"gptj_6b", 6'053'381'344, "EleutherAI/gpt-j-6B model card, n_parameters"},
      {"llama2_7b", 6'738'415'616, "HF meta-llama/Llama-2-7b-hf, safetensors total"},
      {"llama2_70b", 68'976'648'192, "HF meta-llama/Llama-2-70b-hf, safetensors total"},
      {"llama3_8b", 8'030'261'248, "HF meta-llama/Meta-Llama-3-8B, safetensors total"},
      {"llama3_70b", 70'553'706'496, "HF meta-llama/Meta-Llama-3-70B, safetensors total"},
      {"llama31_405b", 405'853'388'800, "HF meta-llama/Llama-3.1-405B, safetensors total"},
      // GPT-3 ties its LM head to the embedding and has a learned position table; helix holds an
      // untied head and no position table: 175,187,189,760 (+0.11%).
      {"gpt3_175b", 175.0e9, "Brown et al. 2020, Table 2.1, \"175.0B\""},
      // Falcon ties its LM head and has two layernorms per parallel block; helix holds an untied
      // head and one: 179,520,189,440 (−0.27%).
      {"falcon_180b", 180e9, "Almazrouei et al. 2023, \"Falcon-180B\""},
  };
  for (const Published& p : published) {
    CAPTURE(p.name);
    CAPTURE(p.source);
    const std::optional<Model> m = models::by_name(p.name);
    REQUIRE(m.has_value());
    CHECK(std::abs(static_cast<double>(parameters(*m)) / p.count - 1) < 0.01);
  }
  // Every preset is in the table, the seed excepted (its material has no vocabulary, nothing to
  // compare with).
  for (const models::NamedModel& entry : models::all)
    CHECK((entry.name == "helix_seed" || std::ranges::any_of(published, [&](const Published& p) {
             return p.name == entry.name;
           })));
}

TEST_CASE("the Llama presets match Meta's checkpoints exactly: no biases, untied LM head") {
  // Llama 2 7B: 32 · (4·4096² + 3·4096·11008 + 2·4096) + 2·32000·4096 + 4096.
  CHECK(parameters(models::llama2_7b) ==
        32 * (4 * 4096LL * 4096 + 3 * 4096LL * 11008 + 2 * 4096) + 2 * 32000LL * 4096 + 4096);
  CHECK(parameters(models::llama2_7b) == 6'738'415'616);
  // Llama 2 70B: Llama 3 70B's blocks with 32,000 rows instead of 128,256.
  CHECK(parameters(models::llama2_70b) == 68'976'648'192);
  // Llama 3 8B: 32 · (2·4096² + 2·4096·1024 + 3·4096·14336 + 2·4096) + 2·128256·4096 + 4096.
  CHECK(parameters(models::llama3_8b) ==
        32 * (2 * 4096LL * 4096 + 2 * 4096LL * 1024 + 3 * 4096LL * 14336 + 2 * 4096) +
            2 * 128256LL * 4096 + 4096);
  CHECK(parameters(models::llama3_8b) == 8'030'261'248);
  CHECK(parameters(models::llama3_70b) == 70'553'706'496);
  // Llama 3.1 405B: 126 · (2·16384² + 2·16384·1024 + 3·16384·53248 + 2·16384) + 2·128256·16384
  // + 16384.
  CHECK(parameters(models::llama31_405b) == 405'853'388'800);
}

TEST_CASE("parallel-block presets hold one layernorm per layer: GPT-J and Falcon 180B") {
  // GPT-J: 4·4096² attention + 2·4096·16384 MLP + one layernorm (gain and shift, 2·4096).
  CHECK(parameters_per_layer(models::gptj_6b) == 4 * 4096LL * 4096 + 2 * 4096LL * 16384 + 8192);
  // Falcon 180B: Wq and Wo 14848 × (232·64 = 14848), Wk and Wv 14848 × (8·64 = 512), W1 and W2
  // 14848 × 59392, one layernorm.
  CHECK(attention_width(models::falcon_180b) == 14848);
  CHECK(kv_width(models::falcon_180b) == 512);
  CHECK(parameters_per_layer(models::falcon_180b) ==
        2 * 14848LL * 14848 + 2 * 14848LL * 512 + 2 * 14848LL * 59392 + 2 * 14848);
  // 65,024 = 508 · 128 needs no padding.
  CHECK(padded_vocab(models::falcon_180b) == 65024);
}

TEST_CASE("helix_seed is the seed's model: 16 heads × 512 = hidden 8192, batch 1024, seq 10000") {
  constexpr Model m = models::helix_seed;
  static_assert(attention_width(m) == m.hidden);
  CHECK(m.layers == 2);
  CHECK(m.ffn_hidden == 32768);
  CHECK(m.batch * m.seq_len == 10'240'000);
  CHECK(bits(m.dtype) == 16);
}

TEST_CASE("presets other than the seed default to batch 1, their context length and bf16") {
  // Context lengths: GPT-3, GPT-J and Falcon 2048, Llama 2 4096, Llama 3 8192 (config.json
  // max_position_embeddings; Llama 3.1 405B's pre-training length, see presets.hpp).
  const std::pair<std::string_view, std::int64_t> context[] = {
      {"gptj_6b", 2048},    {"llama2_7b", 4096},    {"llama2_70b", 4096}, {"llama3_8b", 8192},
      {"llama3_70b", 8192}, {"llama31_405b", 8192}, {"gpt3_175b", 2048},  {"falcon_180b", 2048}};
  for (const auto& [name, seq_len] : context) {
    CAPTURE(name);
    const Model m = *models::by_name(name);
    CHECK(m.batch == 1);
    CHECK(m.seq_len == seq_len);
    CHECK(m.dtype == DataType::bf16);
    CHECK(m.kv_dtype == DataType::bf16);
    CHECK(m.vocab > 0);
  }
  CHECK(models::llama31_405b.kv_heads == 8);
  CHECK(models::llama31_405b.norm == Norm::rmsnorm);
}

TEST_CASE("Llama presets use SwiGLU and RMSNorm, GPT-3, GPT-J and Falcon GELU and layernorm") {
  for (const Model& m : {models::llama2_7b, models::llama2_70b, models::llama3_8b,
                         models::llama3_70b, models::llama31_405b}) {
    CHECK(m.activation == Activation::swiglu);
    CHECK(m.norm == Norm::rmsnorm);
    CHECK_FALSE(m.parallel_block);
  }
  for (const Model& m : {models::gptj_6b, models::gpt3_175b, models::falcon_180b}) {
    CHECK(m.activation == Activation::gelu);
    CHECK(m.norm == Norm::layernorm);
  }
  CHECK(models::gptj_6b.parallel_block);
  CHECK(models::falcon_180b.parallel_block);
  CHECK_FALSE(models::gpt3_175b.parallel_block);
}

TEST_CASE(
    "helix_seed stays the seed material's block stack: no vocabulary, GELU, layernorm, fp16") {
  constexpr Model m = models::helix_seed;
  CHECK(m.vocab == 0);
  CHECK(vocabulary_parameters(m) == 0);
  CHECK(m.activation == Activation::gelu);
  CHECK(m.norm == Norm::layernorm);
  CHECK_FALSE(m.parallel_block);
  CHECK(m.dtype == DataType::fp16);
  CHECK(m.kv_dtype == DataType::fp16);
}

TEST_CASE("with_* changes one field and keeps the rest, designated initializers work too") {
  constexpr Model changed = models::llama3_70b.with_batch(4).with_seq_len(4096);
  static_assert(changed.batch == 4 && changed.seq_len == 4096);
  static_assert(changed.with_batch(1).with_seq_len(8192) == models::llama3_70b);
  constexpr Model tiny{.layers = 2, .hidden = 64, .heads = 4, .kv_heads = 2, .head_dim = 16};
  CHECK(tiny.ffn_hidden == 1);
  CHECK(kv_width(tiny) == 32);
}

TEST_CASE("models::by_name finds every preset and nothing else, all lists nine distinct ones") {
  CHECK(models::by_name("helix_seed") == models::helix_seed);
  CHECK(models::by_name("gptj_6b") == models::gptj_6b);
  CHECK(models::by_name("llama2_7b") == models::llama2_7b);
  CHECK(models::by_name("llama2_70b") == models::llama2_70b);
  CHECK(models::by_name("llama3_8b") == models::llama3_8b);
  CHECK(models::by_name("llama3_70b") == models::llama3_70b);
  CHECK(models::by_name("llama31_405b") == models::llama31_405b);
  CHECK(models::by_name("gpt3_175b") == models::gpt3_175b);
  CHECK(models::by_name("falcon_180b") == models::falcon_180b);
  CHECK_FALSE(models::by_name("gpt4").has_value());
  CHECK(models::all.size() == 9);
  // Distinct names and models: a view titles a model by finding it in `all`.
  for (std::size_t i = 0; i < models::all.size(); ++i)
    for (std::size_t j = i + 1; j < models::all.size(); ++j) {
      CHECK(models::all[i].name != models::all[j].name);
      CHECK_FALSE(models::all[i].model == models::all[j].model);
    }
}

TEST_CASE("a workload says how many tokens enter and how many each attends to") {
  constexpr Model m = models::gpt3_175b;
  CHECK(new_tokens(m, Workload::prefill()) == 2048);
  CHECK(attended_tokens(m, Workload::prefill()) == 2048);
  // Decode: one new token against a cache of seq_len, so it attends to seq_len + 1 keys.
  CHECK(new_tokens(m, Workload::decode()) == 1);
  CHECK(attended_tokens(m, Workload::decode()) == 2049);
  CHECK(Workload::decode(4).microbatches == 4);
}
