// The user-facing, compile-time descriptors and `Plan<...>`. They only record degrees; whether a
// combination is valid for a model is decided by the rules (see check.hpp).
#pragma once

#include "helix/plan/plan_concepts.hpp"
#include "helix/plan/spec.hpp"

#include <array>
#include <cstdint>

namespace helix {

namespace detail {
/// What every descriptor is: its kind and its degrees, recorded into a PlanSpec as the kind's row
/// in HELIX_DESCRIPTORS says.
template <DescriptorKind K, std::int64_t... Degrees>
struct DescriptorOf {
  static_assert(descriptor_row(K).degrees == 0 || descriptor_row(K).degrees == sizeof...(Degrees),
                "helix: descriptor: the number of degrees differs from its row in "
                "HELIX_DESCRIPTORS");
  static constexpr DescriptorKind kind = K;
  static constexpr void apply(PlanSpec& s) {
    record_descriptor(s, K, std::array<std::int64_t, sizeof...(Degrees)>{Degrees...});
  }
};
} // namespace detail

/// P pipeline stages; layers are dealt as evenly as possible, first stages taking the extra one,
/// unless a `LayerSplit` says otherwise.
template <std::int64_t P>
struct PipelineStages : detail::DescriptorOf<DescriptorKind::pipeline_stages, P> {};

/// G tensor groups of S devices over the whole pipeline: each stage gets G/P groups and runs
/// (G/P)·S-way tensor parallel with hierarchical all-reduce (reduce-scatter in the group,
/// all-reduce across groups, all-gather in the group).
template <std::int64_t G, std::int64_t S>
struct TensorGroups : detail::DescriptorOf<DescriptorKind::tensor_groups, G, S> {};

/// Flat Megatron tensor parallel of degree T in every stage (one group of T per stage).
template <std::int64_t T>
struct TensorParallel : detail::DescriptorOf<DescriptorKind::tensor_parallel, T> {};

/// Two-level attention: Hg head groups × Ds slices of head_dim; partial scores are all-reduced
/// over the slices before softmax; the MLP runs Hg·Ds-way tensor parallel.
template <std::int64_t Hg, std::int64_t Ds>
struct HeadPartitions : detail::DescriptorOf<DescriptorKind::head_partitions, Hg, Ds> {};

/// D replicas of the whole pipeline, each taking batch/D sequences.
template <std::int64_t D>
struct DataParallel : detail::DescriptorOf<DescriptorKind::data_parallel, D> {};

/// K shards of the KV cache along the sequence (NVIDIA-style Helix decode). Reserved: the rules
/// reject K > 1 until the scheme is built.
template <std::int64_t K>
struct KVParallel : detail::DescriptorOf<DescriptorKind::kv_parallel, K> {};

/// Explicit layers per pipeline stage, e.g. `LayerSplit<3, 1>`.
template <std::int64_t... Layers>
struct LayerSplit : detail::DescriptorOf<DescriptorKind::layer_split, Layers...> {
  static_assert(sizeof...(Layers) <= max_pipeline_stages,
                "helix: LayerSplit: at most 256 pipeline stages can be listed");
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
