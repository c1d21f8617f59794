// Shared test fixture of the plan search: a model small enough that a 4-GPU search builds every
// DAG in milliseconds, with every divisibility of a 4-GPU plan but some that the rules reject.
#pragma once

#include "helix/model/model.hpp"

namespace helix::testing {

/// 2 layers, hidden 64, 4 heads of 16 (kv heads 4), ffn 256, batch 2, 8 tokens: every
/// divisibility of a 4-GPU plan holds but pipelines of 4 stages (2 layers) and data parallel ×
/// microbatches above 2 (batch 2).
inline constexpr Model search_model{.layers = 2,
                                    .hidden = 64,
                                    .heads = 4,
                                    .kv_heads = 4,
                                    .head_dim = 16,
                                    .ffn_hidden = 256,
                                    .batch = 2,
                                    .seq_len = 8};

} // namespace helix::testing
