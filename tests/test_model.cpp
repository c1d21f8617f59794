// Model area: presets hold the published sizes, derived numbers follow from the block equations.
#include "helix/model.hpp"

#include <doctest/doctest.h>

using namespace helix;

TEST_CASE("gpt3_175b has 12·h² weights per layer plus two layernorms (Narayanan et al. 2021)") {
  // Wq, Wk, Wv, Wo are h×h each (96 heads × 128 = h); W1 and W2 are h×4h each: 4h² + 8h² = 12h².
  // Each layernorm has a gain and a shift of h.
  constexpr std::int64_t h = 12288;
  CHECK(parameters_per_layer(models::gpt3_175b) == 12 * h * h + 4 * h);
  // 96 layers · 12h² = 173,946,175,488: the "175B" less embeddings.
  CHECK(parameters(models::gpt3_175b) == 96 * (12 * h * h + 4 * h));
}

TEST_CASE("llama3_70b's grouped-query attention shrinks Wk and Wv to kv_heads·head_dim columns") {
  // Wq, Wo: 8192 × 8192; Wk, Wv: 8192 × (8·128 = 1024); W1, W2: 8192 × 28672; two rmsnorm gains.
  constexpr std::int64_t expected =
      2 * 8192LL * 8192 + 2 * 8192LL * 1024 + 2 * 8192LL * 28672 + 2 * 8192;
  CHECK(parameters_per_layer(models::llama3_70b) == expected);
  CHECK(kv_width(models::llama3_70b) == 1024);
}

TEST_CASE("a SwiGLU MLP holds a third matrix of W1's shape: llama3_70b as served is 70.6 B "
          "without its embedding and LM head") {
  // LLaMA 3 70B: W_gate, W_up [8192, 28672] and W_down [28672, 8192] per layer, 80 layers:
  // 80 · (2·8192² + 2·8192·1024 + 3·8192·28672 + 2·8192) = 68,452,352,000. With the embedding
  // and LM head (2 · 128,256 · 8192) and the final RMSNorm (8192) that is the 70,553,706,496
  // parameters Meta publishes for the checkpoint.
  const Model m = models::llama3_70b.with_activation(Activation::swiglu);
  constexpr std::int64_t per_layer =
      2 * 8192LL * 8192 + 2 * 8192LL * 1024 + 3 * 8192LL * 28672 + 2 * 8192;
  CHECK(parameters_per_layer(m) == per_layer);
  CHECK(parameters(m) == 80 * per_layer);
  CHECK(parameters(m) + 2 * 128'256LL * 8192 + 8192 == 70'553'706'496);
}

TEST_CASE("helix_seed is the seed's model: 16 heads × 512 = hidden 8192, batch 1024, seq 10000") {
  constexpr Model m = models::helix_seed;
  static_assert(attention_width(m) == m.hidden);
  CHECK(m.layers == 2);
  CHECK(m.ffn_hidden == 32768);
  CHECK(m.batch * m.seq_len == 10'240'000);
  CHECK(bits(m.dtype) == 16);
}

TEST_CASE("presets other than the seed default to batch 1 and their published sequence") {
  CHECK(models::gpt3_175b.batch == 1);
  CHECK(models::gpt3_175b.seq_len == 2048);
  CHECK(models::llama3_70b.seq_len == 8192);
  CHECK(models::llama31_405b.seq_len == 8192);
  CHECK(models::llama31_405b.kv_heads == 8);
  CHECK(models::llama31_405b.norm == Norm::rmsnorm);
}

TEST_CASE("with_* changes one field and keeps the rest; designated initializers work too") {
  constexpr Model changed = models::llama3_70b.with_batch(4).with_seq_len(4096);
  static_assert(changed.batch == 4 && changed.seq_len == 4096);
  static_assert(changed.with_batch(1).with_seq_len(8192) == models::llama3_70b);
  constexpr Model tiny{.layers = 2, .hidden = 64, .heads = 4, .kv_heads = 2, .head_dim = 16};
  CHECK(tiny.ffn_hidden == 1);
  CHECK(kv_width(tiny) == 32);
}

TEST_CASE("models::by_name finds every preset and nothing else") {
  CHECK(models::by_name("helix_seed") == models::helix_seed);
  CHECK(models::by_name("llama31_405b") == models::llama31_405b);
  CHECK_FALSE(models::by_name("gpt4").has_value());
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
