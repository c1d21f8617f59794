// The user-facing, compile-time descriptors and `Plan<...>`. They only record degrees; whether a
// combination is valid for a model is decided by the rules (see check.hpp).
#pragma once

#include "helix/plan/plan_concepts.hpp"
#include "helix/plan/spec.hpp"

#include <cstddef>
#include <cstdint>

namespace helix {

namespace detail {
constexpr void count(PlanSpec& spec, DescriptorKind kind) {
  ++spec.given[static_cast<std::size_t>(kind)];
}
} // namespace detail

/// P pipeline stages; layers are dealt as evenly as possible, first stages taking the extra one,
/// unless a `LayerSplit` says otherwise.
template <std::int64_t P>
struct PipelineStages {
  static constexpr DescriptorKind kind = DescriptorKind::pipeline_stages;
  static constexpr void apply(PlanSpec& s) {
    detail::count(s, kind);
    s.pipeline_stages = P;
  }
};

/// G tensor groups of S devices over the whole pipeline: each stage gets G/P groups and runs
/// (G/P)·S-way tensor parallel with hierarchical all-reduce (reduce-scatter in the group,
/// all-reduce across groups, all-gather in the group).
template <std::int64_t G, std::int64_t S>
struct TensorGroups {
  static constexpr DescriptorKind kind = DescriptorKind::tensor_groups;
  static constexpr void apply(PlanSpec& s) {
    detail::count(s, kind);
    s.tensor_groups = G;
    s.tensor_group_size = S;
  }
};

/// Flat Megatron tensor parallel of degree T in every stage (one group of T per stage).
template <std::int64_t T>
struct TensorParallel {
  static constexpr DescriptorKind kind = DescriptorKind::tensor_parallel;
  static constexpr void apply(PlanSpec& s) {
    detail::count(s, kind);
    s.tensor_group_size = T;
  }
};

/// Two-level attention: Hg head groups × Ds slices of head_dim; partial scores are all-reduced
/// over the slices before softmax; the MLP runs Hg·Ds-way tensor parallel.
template <std::int64_t Hg, std::int64_t Ds>
struct HeadPartitions {
  static constexpr DescriptorKind kind = DescriptorKind::head_partitions;
  static constexpr void apply(PlanSpec& s) {
    detail::count(s, kind);
    s.head_groups = Hg;
    s.dim_slices = Ds;
  }
};

/// D replicas of the whole pipeline, each taking batch/D sequences.
template <std::int64_t D>
struct DataParallel {
  static constexpr DescriptorKind kind = DescriptorKind::data_parallel;
  static constexpr void apply(PlanSpec& s) {
    detail::count(s, kind);
    s.data_parallel = D;
  }
};

/// K shards of the KV cache along the sequence (NVIDIA-style Helix decode). Reserved: the rules
/// reject K > 1 until the scheme is built.
template <std::int64_t K>
struct KVParallel {
  static constexpr DescriptorKind kind = DescriptorKind::kv_parallel;
  static constexpr void apply(PlanSpec& s) {
    detail::count(s, kind);
    s.kv_parallel = K;
  }
};

/// Explicit layers per pipeline stage, e.g. `LayerSplit<3, 1>`.
template <std::int64_t... Layers>
struct LayerSplit {
  static constexpr DescriptorKind kind = DescriptorKind::layer_split;
  static_assert(sizeof...(Layers) <= max_pipeline_stages,
                "helix: LayerSplit: at most 256 pipeline stages can be listed");
  static constexpr void apply(PlanSpec& s) {
    detail::count(s, kind);
    s.layer_split_count = 0;
    ((s.layer_split[static_cast<std::size_t>(s.layer_split_count++)] = Layers), ...);
  }
};

/// A partition scheme: descriptors in any order, each at most once.
///
/// Example: `Plan<PipelineStages<2>, TensorGroups<4, 4>>` is 16 GPUs: two stages, each of two
/// 4-GPU groups running 8-way tensor parallel.
template <Descriptor... Ds>
struct Plan {
  static constexpr PlanSpec spec = [] {
    PlanSpec s;
    (Ds::apply(s), ...);
    return s;
  }();
};

} // namespace helix
