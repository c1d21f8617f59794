// PlanSpec: the plain value a partition scheme stands for, whether it was written as
// `Plan<PipelineStages<2>, TensorGroups<4,4>>` or parsed from "pp=2,tg=4x4". Rules and the
// mesh are computed from it; nothing here judges whether it is valid.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace helix {

/// The descriptors a plan is made of, in the order their degrees appear in text.
enum class DescriptorKind : std::uint8_t {
  pipeline_stages,
  tensor_groups,
  tensor_parallel,
  head_partitions,
  data_parallel,
  kv_parallel,
  layer_split,
};
inline constexpr std::size_t descriptor_kind_count = 7;

/// Name of a descriptor as a user writes it in C++ (`PipelineStages`) and in text (`pp`).
constexpr std::string_view descriptor_name(DescriptorKind kind) {
  constexpr std::array<std::string_view, descriptor_kind_count> names{
      "PipelineStages", "TensorGroups", "TensorParallel", "HeadPartitions",
      "DataParallel",   "KVParallel",   "LayerSplit"};
  return names[static_cast<std::size_t>(kind)];
}
constexpr std::string_view descriptor_key(DescriptorKind kind) {
  constexpr std::array<std::string_view, descriptor_kind_count> keys{"pp", "tg", "tp",   "hp",
                                                                     "dp", "kv", "split"};
  return keys[static_cast<std::size_t>(kind)];
}

/// Most pipeline stages an explicit layer split can list.
inline constexpr std::size_t max_pipeline_stages = 256;

struct PlanSpec {
  std::int64_t pipeline_stages = 1;
  /// `TensorGroups<G,S>`: G groups of S devices over all stages (G/P per stage).
  /// `TensorParallel<T>` is one group of T per stage.
  std::int64_t tensor_groups = 1;
  std::int64_t tensor_group_size = 1;
  /// `HeadPartitions<Hg,Ds>`: Hg head groups × Ds slices of head_dim, per stage.
  std::int64_t head_groups = 1;
  std::int64_t dim_slices = 1;
  std::int64_t data_parallel = 1;
  std::int64_t kv_parallel = 1;
  /// Layers per stage when given explicitly; `layer_split_count == 0` means "deal evenly".
  std::array<std::int64_t, max_pipeline_stages> layer_split{};
  std::int64_t layer_split_count = 0;
  /// How many times each descriptor was given (a plan may name each at most once).
  std::array<std::int64_t, descriptor_kind_count> given{};

  friend constexpr bool operator==(const PlanSpec&, const PlanSpec&) = default;

  constexpr bool has(DescriptorKind kind) const {
    return given[static_cast<std::size_t>(kind)] > 0;
  }
};

/// Tensor groups inside one pipeline stage. @pre the plan passed the rules.
constexpr std::int64_t groups_per_stage(const PlanSpec& p) {
  if (p.has(DescriptorKind::tensor_groups))
    return p.tensor_groups / p.pipeline_stages;
  return 1;
}

/// Devices of one tensor group: the size of the inner, closest tensor axis (1 when the plan has
/// neither TensorGroups nor TensorParallel). Not `group_size(Mesh, DeviceGroup)`, which counts the
/// members of any device group. The field `p.tensor_group_size` holds the degree as written.
constexpr std::int64_t tensor_group_size(const PlanSpec& p) {
  if (p.has(DescriptorKind::tensor_groups) || p.has(DescriptorKind::tensor_parallel))
    return p.tensor_group_size;
  return 1;
}

/// Ways the attention heads are split (head groups for HeadPartitions).
constexpr std::int64_t head_split(const PlanSpec& p) {
  if (p.has(DescriptorKind::head_partitions))
    return p.head_groups;
  return groups_per_stage(p) * tensor_group_size(p);
}

/// Ways head_dim is split (1 unless HeadPartitions).
constexpr std::int64_t head_dim_split(const PlanSpec& p) {
  return p.has(DescriptorKind::head_partitions) ? p.dim_slices : 1;
}

/// Devices that share one replica of a stage's weights: the tensor degree of the MLP and of
/// every row-parallel linear.
constexpr std::int64_t tensor_degree(const PlanSpec& p) {
  return head_split(p) * head_dim_split(p);
}

/// Devices in the whole mesh.
constexpr std::int64_t world_size(const PlanSpec& p) {
  return p.pipeline_stages * p.data_parallel * p.kv_parallel * tensor_degree(p);
}

} // namespace helix
