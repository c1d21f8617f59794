// The world of devices as ordered axes with roles. A device's rank is the row-major index of its
// coordinates, outermost axis first, so the innermost axis holds the closest devices.
#pragma once

#include "helix/plan/spec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace helix {

enum class Role : std::uint8_t {
  pipeline,     ///< stages that run consecutive layers
  data,         ///< replicas that split the batch
  kv_seq,       ///< KV-parallel decode: shards of the KV cache along the sequence
  tensor_group, ///< outer tensor axis: groups inside a stage (hierarchical collectives)
  tensor,       ///< inner tensor axis: members of a group, or head groups of HeadPartitions
  head_dim,     ///< slices of head_dim (two-level attention)
};

constexpr std::string_view role_name(Role role) {
  constexpr std::array<std::string_view, 6> names{"pipeline",     "data",   "kv_seq",
                                                  "tensor_group", "tensor", "head_dim"};
  return names[static_cast<std::size_t>(role)];
}

struct Axis {
  Role role = Role::tensor;
  std::int64_t size = 1;
  friend constexpr bool operator==(const Axis&, const Axis&) = default;
};

inline constexpr std::size_t max_mesh_axes = 6;

struct Mesh {
  std::array<Axis, max_mesh_axes> axes{};
  std::size_t axis_count = 0;

  friend constexpr bool operator==(const Mesh&, const Mesh&) = default;

  constexpr std::int64_t size() const {
    std::int64_t n = 1;
    for (std::size_t i = 0; i < axis_count; ++i)
      n *= axes[i].size;
    return n;
  }

  /// Size of the axis with `role`, or 1 when the mesh has none.
  constexpr std::int64_t extent(Role role) const {
    for (std::size_t i = 0; i < axis_count; ++i)
      if (axes[i].role == role)
        return axes[i].size;
    return 1;
  }

  /// Product of the sizes of the axes inside (after) the one with `role`.
  constexpr std::int64_t stride(Role role) const {
    std::int64_t n = 1;
    for (std::size_t i = axis_count; i-- > 0;) {
      if (axes[i].role == role)
        return n;
      n *= axes[i].size;
    }
    return n;
  }

  /// Coordinate of `rank` along the axis with `role` (0 when the mesh has no such axis).
  constexpr std::int64_t coordinate(std::int64_t rank, Role role) const {
    return rank / stride(role) % extent(role);
  }

  /// The rank with coordinate `value` along `role` and every other coordinate taken from `rank`.
  constexpr std::int64_t with_coordinate(std::int64_t rank, Role role, std::int64_t value) const {
    return rank + (value - coordinate(rank, role)) * stride(role);
  }

private:
  friend constexpr Mesh make_mesh(const PlanSpec&);
  constexpr void push(Role role, std::int64_t size) {
    if (size > 1)
      axes[axis_count++] = Axis{role, size};
  }
};

/// The mesh a plan describes: [pipeline, data, kv_seq, tensor_group, tensor, head_dim], axes of
/// size 1 left out. `HeadPartitions<Hg,Ds>` uses tensor = Hg and head_dim = Ds.
/// @pre the plan passed the rules (degrees ≥ 1, groups divide among stages).
///
/// Example: `Plan<PipelineStages<2>, TensorGroups<4,4>>` → [pipeline 2, tensor_group 2, tensor 4]:
/// ranks 0–7 are stage 0 (groups 0 and 1), ranks 8–15 stage 1.
constexpr Mesh make_mesh(const PlanSpec& p) {
  Mesh mesh;
  mesh.push(Role::pipeline, p.pipeline_stages);
  mesh.push(Role::data, p.data_parallel);
  mesh.push(Role::kv_seq, p.kv_parallel);
  mesh.push(Role::tensor_group, groups_per_stage(p));
  mesh.push(Role::tensor, p.has(DescriptorKind::head_partitions) ? p.head_groups : group_size(p));
  mesh.push(Role::head_dim, head_dim_split(p));
  return mesh;
}

} // namespace helix
