// Verification-size models: a preset shrunk until a CPU runs it in milliseconds, keeping every
// divisibility the plans need, so the shrunk model is cut up exactly the way the full one is.
#pragma once

#include "helix/model/model.hpp"
#include "helix/plan/spec.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <numeric>
#include <span>

namespace helix::models {

/// A model that every plan in `plans` partitions the same way it partitions `model`:
/// - heads and kv heads kept up to 32 heads; above, kv heads = the lcm of the plans' head splits
///   times the kv heads per device (at most 2: as many as the full split gives every plan) with
///   up to 4 query heads each; or, when a plan replicates kv heads, the kv heads kept and
///   heads = lcm(head splits, kv heads) times the query heads per device (at most 2). So a device
///   holds two heads wherever the full split gives it two, and slicing inside a device shows;
/// - head_dim the smallest multiple of every plan's dimension slices that is at least 8 (never
///   more than the model's);
/// - hidden = heads · head_dim and ffn = 4 · hidden, which every tensor degree and group size
///   divides because the heads and head_dim do;
/// - layers kept with an explicit layer split, else min(layers, max(2, pipeline stages));
/// - under KVParallel<K>, the query heads per device a multiple of K;
/// - batch 2 · (data parallel · microbatches), the lcm over the plans; seq_len 16 (more when
///   interleaved KV chunks need it to reach every shard); norm kept;
/// - a vocabulary of 125 (padded to 128) tokens, or more when a tensor degree needs it.
/// @pre every plan is valid for `model` and `workload`.
///
/// Example: helix_seed with `hp=4x4` or `pp=2,tg=4x4` → 2 layers, 16 heads × 8, hidden 128,
/// ffn 512, batch 2, seq_len 16.
inline Model shrink(const Model& model, std::span<const PlanSpec> plans,
                    const Workload& workload = {}) {
  std::int64_t slices = 1, splits = 1, stages = 1, replicas = 1, kv_shards = 1;
  bool explicit_split = false, replicated_kv = false;
  // Heads per device in the full model's split, for the plan that gives fewest, at most 2.
  std::int64_t heads_per_device = 2, kv_heads_per_device = 2;
  for (const PlanSpec& p : plans) {
    heads_per_device = std::min(heads_per_device, model.heads / head_split(p));
    if (head_split(p) <= model.kv_heads)
      kv_heads_per_device = std::min(kv_heads_per_device, model.kv_heads / head_split(p));
    slices = std::lcm(slices, head_dim_split(p));
    splits = std::lcm(splits, head_split(p));
    stages = std::max(stages, p.pipeline_stages);
    replicas = std::lcm(replicas, p.data_parallel);
    kv_shards = std::lcm(kv_shards, p.kv_parallel);
    explicit_split = explicit_split || p.layer_split_count > 0;
    replicated_kv = replicated_kv || head_split(p) > model.kv_heads;
  }
  Model small = model;
  if (model.heads > 32) {
    // kv heads a multiple of the head splits' lcm (or the kv heads of a replicating plan) keeps
    // every kv rule; up to 4 query heads per kv head keep the grouping visible.
    const std::int64_t group = std::min<std::int64_t>(model.heads / model.kv_heads, 4);
    small.kv_heads = replicated_kv ? model.kv_heads : splits * kv_heads_per_device;
    small.heads = replicated_kv ? std::lcm(splits, model.kv_heads) * heads_per_device
                                : small.kv_heads * group;
    // KV-parallel decode hands each shard an equal share of a device's query heads.
    const std::int64_t per_device = small.heads / splits;
    small.heads = std::lcm(per_device, kv_shards) * splits;
  }
  const std::int64_t at_least_8 = (8 + slices - 1) / slices * slices;
  small.head_dim = std::min(model.head_dim, at_least_8);
  small.hidden = small.heads * small.head_dim;
  small.ffn_hidden = 4 * small.hidden;
  if (!explicit_split)
    small.layers = std::min(model.layers, std::max<std::int64_t>(2, stages));
  small.batch = 2 * replicas * workload.microbatches;
  small.seq_len = 16;
  // Every KV shard holds cached tokens, and interleaved chunks reach the last shard with a
  // partial chunk to spare: (K − 1)·chunk + 1 cached tokens at least, plus half a chunk.
  if (kv_shards > 1 && workload.kv_placement.layout == KVLayout::interleaved)
    small.seq_len =
        std::max<std::int64_t>(small.seq_len, (kv_shards - 1) * workload.kv_placement.chunk + 1 +
                                                  workload.kv_placement.chunk / 2);
  if (model.vocab > 0) {
    // Padded to the smallest multiple of 128 every plan's tensor degree divides (it divides the
    // full model's padded vocabulary, a multiple of 128, so this is at most that), less 3 so that
    // padded rows exist, never looked up, as in GPT-3's 50,257 → 50,304.
    std::int64_t padded = vocab_padding_multiple;
    for (const PlanSpec& p : plans)
      padded = std::lcm(padded, tensor_degree(p));
    small.vocab = std::min(model.vocab, padded - 3);
  }
  return small;
}

/// The same for one plan.
inline Model shrink(const Model& model, const PlanSpec& plan, const Workload& workload = {}) {
  return shrink(model, std::span<const PlanSpec>(&plan, 1), workload);
}

} // namespace helix::models
