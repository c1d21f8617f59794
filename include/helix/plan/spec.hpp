// PlanSpec: the plain value a partition scheme stands for, whether it was written as
// `Plan<PipelineStages<2>, TensorGroups<4,4>>` or parsed from "pp=2,tg=4x4". Rules and the
// mesh are computed from it; nothing here judges whether it is valid.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace helix {

// The descriptors a plan is made of, in the order their degrees appear in text; one row each:
// X(identifier, C++ name, text key, degrees (0: a list of any length), separator between the
//   degrees in text ('\0' for one degree), the PlanSpec fields the degrees fill, in order)
// The rows are expanded into DescriptorKind here and into `descriptor_rows` below PlanSpec, from
// which the descriptor templates, `parse_plan` and `to_string` all derive.
#define HELIX_DESCRIPTORS(X)                                                                       \
  X(pipeline_stages, "PipelineStages", "pp", 1, '\0', &PlanSpec::pipeline_stages, nullptr)         \
  X(tensor_groups, "TensorGroups", "tg", 2, 'x', &PlanSpec::tensor_groups,                         \
    &PlanSpec::tensor_group_size)                                                                  \
  X(tensor_parallel, "TensorParallel", "tp", 1, '\0', &PlanSpec::tensor_group_size, nullptr)       \
  X(head_partitions, "HeadPartitions", "hp", 2, 'x', &PlanSpec::head_groups,                       \
    &PlanSpec::dim_slices)                                                                         \
  X(data_parallel, "DataParallel", "dp", 1, '\0', &PlanSpec::data_parallel, nullptr)               \
  X(kv_parallel, "KVParallel", "kvp", 1, '\0', &PlanSpec::kv_parallel, nullptr)                    \
  X(layer_split, "LayerSplit", "split", 0, '/', nullptr, nullptr)

enum class DescriptorKind : std::uint8_t {
#define HELIX_DESCRIPTOR_ENUM(id, name, key, degrees, separator, first, second) id,
  HELIX_DESCRIPTORS(HELIX_DESCRIPTOR_ENUM)
#undef HELIX_DESCRIPTOR_ENUM
};
inline constexpr std::size_t descriptor_kind_count = 0
#define HELIX_DESCRIPTOR_COUNT(id, name, key, degrees, separator, first, second) +1
    HELIX_DESCRIPTORS(HELIX_DESCRIPTOR_COUNT)
#undef HELIX_DESCRIPTOR_COUNT
    ;

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

/// One row of HELIX_DESCRIPTORS: how a descriptor is spelled and which PlanSpec fields it fills.
struct DescriptorRow {
  DescriptorKind kind{};
  std::string_view name;   ///< as written in C++: "PipelineStages"
  std::string_view key;    ///< as written in text: "pp"
  std::size_t degrees = 1; ///< how many degrees it takes; 0: a list (LayerSplit's layer counts)
  char separator = '\0';   ///< between the degrees in text: 'x' in "tg=4x4", '/' in "split=3/1"
  std::array<std::int64_t PlanSpec::*, 2> fields{}; ///< fields the degrees fill, in order
};

inline constexpr std::array descriptor_rows{
#define HELIX_DESCRIPTOR_ROW(id, name, key, degrees, separator, first, second)                     \
  DescriptorRow{DescriptorKind::id, name, key, degrees, separator, {first, second}},
    HELIX_DESCRIPTORS(HELIX_DESCRIPTOR_ROW)
#undef HELIX_DESCRIPTOR_ROW
};

namespace detail {
/// Every row complete: in enumerator order, named in C++ and text, names and keys distinct, one
/// field per degree, a separator unless one degree; only LayerSplit takes a list (its layer counts
/// go to `layer_split`, not to a field of the row).
constexpr bool descriptor_rows_complete() {
  if (descriptor_rows.size() != descriptor_kind_count)
    return false;
  for (std::size_t i = 0; i < descriptor_rows.size(); ++i) {
    const DescriptorRow& row = descriptor_rows[i];
    if (static_cast<std::size_t>(row.kind) != i || row.name.empty() || row.key.empty() ||
        row.degrees > row.fields.size() || (row.separator == '\0') != (row.degrees == 1) ||
        (row.degrees == 0) != (row.kind == DescriptorKind::layer_split))
      return false;
    for (std::size_t f = 0; f < row.fields.size(); ++f)
      if ((row.fields[f] != nullptr) != (f < row.degrees))
        return false;
    for (std::size_t j = 0; j < i; ++j)
      if (descriptor_rows[j].key == row.key || descriptor_rows[j].name == row.name)
        return false;
  }
  return true;
}
} // namespace detail
static_assert(detail::descriptor_rows_complete(),
              "helix: HELIX_DESCRIPTORS: every descriptor needs a complete row");

constexpr const DescriptorRow& descriptor_row(DescriptorKind kind) {
  return descriptor_rows[static_cast<std::size_t>(kind)];
}

/// Name of a descriptor as a user writes it in C++ (`PipelineStages`) and in text (`pp`).
constexpr std::string_view descriptor_name(DescriptorKind kind) {
  return descriptor_row(kind).name;
}
constexpr std::string_view descriptor_key(DescriptorKind kind) {
  return descriptor_row(kind).key;
}

/// Records descriptor `kind` with `degrees` in `p`: counts it as given and writes the degrees into
/// the fields its row names (a list into `layer_split`). Nothing is judged here; the rules do that.
/// @pre `degrees.size()` is the row's degree count, or at most max_pipeline_stages for a list.
constexpr void record_descriptor(PlanSpec& p, DescriptorKind kind,
                                 std::span<const std::int64_t> degrees) {
  const DescriptorRow& row = descriptor_row(kind);
  ++p.given[static_cast<std::size_t>(kind)];
  if (row.degrees == 0) {
    p.layer_split_count = static_cast<std::int64_t>(degrees.size());
    for (std::size_t i = 0; i < degrees.size(); ++i)
      p.layer_split[i] = degrees[i];
    return;
  }
  for (std::size_t i = 0; i < row.degrees; ++i)
    p.*row.fields[i] = degrees[i];
}

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

/// Devices that run one replica of a stage's attention heads: the head groups times the head_dim
/// slices (KV-parallel decode repeats this group once per KV shard).
constexpr std::int64_t attention_degree(const PlanSpec& p) {
  return head_split(p) * head_dim_split(p);
}

/// Devices that share one replica of a stage's weights: the tensor degree of the MLP and of
/// every row-parallel linear. Under `KVParallel<K>` the out-projection and the MLP run tensor
/// parallel over all K × attention-degree devices of the stage (Helix's N = KVP × TPA).
constexpr std::int64_t tensor_degree(const PlanSpec& p) {
  return p.kv_parallel * attention_degree(p);
}

/// Devices in the whole mesh.
constexpr std::int64_t world_size(const PlanSpec& p) {
  return p.pipeline_stages * p.data_parallel * tensor_degree(p);
}

} // namespace helix
