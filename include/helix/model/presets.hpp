// Named models: the seed deployment's model and eight public architectures at their published
// configurations (HF config.json or the paper, cited per preset), plus a lookup by name for
// command-line tools. Every field can be changed with `with_*` or designated initializers.
#pragma once

#include "helix/model/model.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace helix::models {

// Rotary position embeddings (GPT-J, Llama, Falcon) and learned position embeddings (GPT-3) are
// not modelled: rotary holds no weights, changes no shape or communication and costs a few FLOPs
// per element of Q and K; GPT-3's 2048 × 12288 position table is 0.01% of its weights. Biases
// are not modelled either (README, "Block equations"). Batch is 1 (a user sets it with --batch);
// seq_len is the context length the model was trained with, except Llama 3.1 405B (8192, its
// pre-training length, rather than the 131,072 its long-context stage reached). Weights are bf16
// unless the seed says otherwise.

/// The model of the seed document: 2 layers, 16 heads × 512 (hidden 8192), MLP 32768,
/// batch 1024, sequence 10000, FP16. No vocabulary: the seed material describes the block stack.
inline constexpr Model helix_seed{.layers = 2,
                                  .hidden = 8192,
                                  .heads = 16,
                                  .kv_heads = 16,
                                  .head_dim = 512,
                                  .ffn_hidden = 32768,
                                  .batch = 1024,
                                  .seq_len = 10000,
                                  .dtype = DataType::fp16,
                                  .kv_dtype = DataType::fp16,
                                  .norm = Norm::layernorm};

/// GPT-J 6B (EleutherAI, HF EleutherAI/gpt-j-6B config.json and model card): n_layer 28, n_embd
/// 4096, n_head 16 × 256, n_inner 16384 (4 · 4096), GELU, one layernorm per block with attention
/// and MLP in parallel, n_positions 2048, vocab_size 50400 (the embedding's rows; the GPT-2
/// tokenizer uses 50,257 of them), untied LM head. Published: 6,053,381,344 parameters, which
/// include the MLP and LM-head biases helix does not model (0.6 M).
inline constexpr Model gptj_6b{.layers = 28,
                               .hidden = 4096,
                               .heads = 16,
                               .kv_heads = 16,
                               .head_dim = 256,
                               .ffn_hidden = 16384,
                               .batch = 1,
                               .seq_len = 2048,
                               .norm = Norm::layernorm,
                               .activation = Activation::gelu,
                               .vocab = 50400,
                               .parallel_block = true};

/// Llama 2 7B (Touvron et al. 2023; HF meta-llama/Llama-2-7b-hf config.json): 32 layers, hidden
/// 4096, 32 heads × 128 (no GQA), intermediate_size 11008, SwiGLU, RMSNorm, vocab 32000,
/// max_position_embeddings 4096, untied LM head. Published: 6,738,415,616 parameters.
inline constexpr Model llama2_7b{.layers = 32,
                                 .hidden = 4096,
                                 .heads = 32,
                                 .kv_heads = 32,
                                 .head_dim = 128,
                                 .ffn_hidden = 11008,
                                 .batch = 1,
                                 .seq_len = 4096,
                                 .norm = Norm::rmsnorm,
                                 .activation = Activation::swiglu,
                                 .vocab = 32000};

/// Llama 2 70B (Touvron et al. 2023; HF meta-llama/Llama-2-70b-hf config.json): 80 layers,
/// hidden 8192, 64 heads × 128, 8 kv heads, intermediate_size 28672, SwiGLU, RMSNorm, vocab
/// 32000, max_position_embeddings 4096. Published: 68,976,648,192 parameters.
inline constexpr Model llama2_70b{.layers = 80,
                                  .hidden = 8192,
                                  .heads = 64,
                                  .kv_heads = 8,
                                  .head_dim = 128,
                                  .ffn_hidden = 28672,
                                  .batch = 1,
                                  .seq_len = 4096,
                                  .norm = Norm::rmsnorm,
                                  .activation = Activation::swiglu,
                                  .vocab = 32000};

/// Llama 3 8B (Meta 2024; HF meta-llama/Meta-Llama-3-8B config.json): 32 layers, hidden 4096,
/// 32 heads × 128, 8 kv heads, intermediate_size 14336, SwiGLU, RMSNorm, vocab 128256,
/// max_position_embeddings 8192. Published: 8,030,261,248 parameters.
inline constexpr Model llama3_8b{.layers = 32,
                                 .hidden = 4096,
                                 .heads = 32,
                                 .kv_heads = 8,
                                 .head_dim = 128,
                                 .ffn_hidden = 14336,
                                 .batch = 1,
                                 .seq_len = 8192,
                                 .norm = Norm::rmsnorm,
                                 .activation = Activation::swiglu,
                                 .vocab = 128256};

/// Llama 3 70B (Meta 2024; HF meta-llama/Meta-Llama-3-70B config.json): 80 layers, hidden 8192,
/// 64 heads × 128, 8 kv heads, intermediate_size 28672, SwiGLU, RMSNorm, vocab 128256,
/// max_position_embeddings 8192. Published: 70,553,706,496 parameters.
inline constexpr Model llama3_70b{.layers = 80,
                                  .hidden = 8192,
                                  .heads = 64,
                                  .kv_heads = 8,
                                  .head_dim = 128,
                                  .ffn_hidden = 28672,
                                  .batch = 1,
                                  .seq_len = 8192,
                                  .norm = Norm::rmsnorm,
                                  .activation = Activation::swiglu,
                                  .vocab = 128256};

/// Llama 3.1 405B (Dubey et al. 2024, "The Llama 3 Herd of Models", Table 3; HF
/// meta-llama/Llama-3.1-405B config.json): 126 layers, hidden 16384, 128 heads × 128, 8 kv
/// heads, intermediate_size 53248, SwiGLU, RMSNorm, vocab 128256. Published: 405,853,388,800
/// parameters.
inline constexpr Model llama31_405b{.layers = 126,
                                    .hidden = 16384,
                                    .heads = 128,
                                    .kv_heads = 8,
                                    .head_dim = 128,
                                    .ffn_hidden = 53248,
                                    .batch = 1,
                                    .seq_len = 8192,
                                    .norm = Norm::rmsnorm,
                                    .activation = Activation::swiglu,
                                    .vocab = 128256};

/// GPT-3 175B (Brown et al. 2020, Table 2.1): 96 layers, d_model 12288, 96 heads × 128, d_ff
/// 4 · d_model, GELU, layernorm, context 2048; GPT-2's BPE vocabulary of 50257 tokens (Radford et
/// al. 2019). Published: "175.0B" parameters. GPT-3 ties its LM head to the embedding; helix
/// holds both (as a pipeline's first and last stages do), so its count is 0.6 B above the tied one.
inline constexpr Model gpt3_175b{.layers = 96,
                                 .hidden = 12288,
                                 .heads = 96,
                                 .kv_heads = 96,
                                 .head_dim = 128,
                                 .ffn_hidden = 49152,
                                 .batch = 1,
                                 .seq_len = 2048,
                                 .norm = Norm::layernorm,
                                 .activation = Activation::gelu,
                                 .vocab = 50257};

/// Falcon 180B (Almazrouei et al. 2023, "The Falcon Series of Open Language Models"; HF
/// tiiuae/falcon-180B config.json): 80 layers, hidden 14848, 232 heads × 64, 8 kv heads
/// (num_kv_heads), MLP 4 · 14848 = 59392, GELU, layernorm, attention and MLP in parallel
/// (parallel_attn), vocab 65024, max_position_embeddings 2048. Published: "180B" parameters.
/// Falcon's new decoder architecture gives attention and MLP a layernorm each over the same
/// input; helix's parallel block has one (2.4 M weights fewer), and holds an LM head Falcon ties.
inline constexpr Model falcon_180b{.layers = 80,
                                   .hidden = 14848,
                                   .heads = 232,
                                   .kv_heads = 8,
                                   .head_dim = 64,
                                   .ffn_hidden = 59392,
                                   .batch = 1,
                                   .seq_len = 2048,
                                   .norm = Norm::layernorm,
                                   .activation = Activation::gelu,
                                   .vocab = 65024,
                                   .parallel_block = true};

struct NamedModel {
  std::string_view name;
  Model model;
};

inline constexpr std::array<NamedModel, 9> all{{{"helix_seed", helix_seed},
                                                {"gptj_6b", gptj_6b},
                                                {"llama2_7b", llama2_7b},
                                                {"llama2_70b", llama2_70b},
                                                {"llama3_8b", llama3_8b},
                                                {"llama3_70b", llama3_70b},
                                                {"llama31_405b", llama31_405b},
                                                {"gpt3_175b", gpt3_175b},
                                                {"falcon_180b", falcon_180b}}};

/// The preset called `name`, or nothing.
constexpr std::optional<Model> by_name(std::string_view name) {
  for (const NamedModel& entry : all)
    if (entry.name == name)
      return entry.model;
  return std::nullopt;
}

/// Every preset's name, comma-separated, for messages and --help.
inline std::string names() {
  std::string text;
  for (const NamedModel& entry : all)
    text += (text.empty() ? "" : ", ") + std::string(entry.name);
  return text;
}

} // namespace helix::models
