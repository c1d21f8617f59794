// Named models: the seed deployment's model and three public architectures, plus a lookup by
// name for command-line tools. Every field can be changed with `with_*` or designated initializers.
#pragma once

#include "helix/model/model.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace helix::models {

/// The model of the seed document: 2 layers, 16 heads × 512 (hidden 8192), MLP 32768,
/// batch 1024, sequence 10000, FP16.
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

/// GPT-3 175B (Brown et al. 2020).
inline constexpr Model gpt3_175b{.layers = 96,
                                 .hidden = 12288,
                                 .heads = 96,
                                 .kv_heads = 96,
                                 .head_dim = 128,
                                 .ffn_hidden = 49152,
                                 .batch = 1,
                                 .seq_len = 2048,
                                 .norm = Norm::layernorm};

/// Llama 3 70B: grouped-query attention with 8 KV heads.
inline constexpr Model llama3_70b{.layers = 80,
                                  .hidden = 8192,
                                  .heads = 64,
                                  .kv_heads = 8,
                                  .head_dim = 128,
                                  .ffn_hidden = 28672,
                                  .batch = 1,
                                  .seq_len = 8192,
                                  .norm = Norm::rmsnorm};

/// Llama 3.1 405B.
inline constexpr Model llama31_405b{.layers = 126,
                                    .hidden = 16384,
                                    .heads = 128,
                                    .kv_heads = 8,
                                    .head_dim = 128,
                                    .ffn_hidden = 53248,
                                    .batch = 1,
                                    .seq_len = 8192,
                                    .norm = Norm::rmsnorm};

struct NamedModel {
  std::string_view name;
  Model model;
};

inline constexpr std::array<NamedModel, 4> all{{{"helix_seed", helix_seed},
                                                {"gpt3_175b", gpt3_175b},
                                                {"llama3_70b", llama3_70b},
                                                {"llama31_405b", llama31_405b}}};

/// The preset called `name`, or nothing.
constexpr std::optional<Model> by_name(std::string_view name) {
  for (const NamedModel& entry : all)
    if (entry.name == name)
      return entry.model;
  return std::nullopt;
}

} // namespace helix::models
