// DeviceGroup: the devices that vary along some mesh axes and agree on all the others, with its
// algebra (size, members in ring order, a rank's position). Collectives span one; a plan's rules
// prescribe which axes each collective's group must vary along.
#pragma once

#include "helix/plan/mesh.hpp"

#include <cstddef>
#include <cstdint>

namespace helix {

/// Mesh axes as a bit set (bit = Role value).
using AxisMask = std::uint8_t;
constexpr AxisMask axis_bit(Role role) {
  return static_cast<AxisMask>(1u << static_cast<unsigned>(role));
}

/// The tensor axes of a stage: what a flat tensor-parallel collective spans. KV-parallel decode's
/// KV shards are among them: its out-projection and MLP run tensor parallel over every device of
/// the stage (absent, the axis has size 1 and changes nothing).
inline constexpr AxisMask tensor_axes =
    static_cast<AxisMask>(axis_bit(Role::kv_seq) | axis_bit(Role::tensor_group) |
                          axis_bit(Role::tensor) | axis_bit(Role::head_dim));

/// The axes a hierarchical all-reduce's middle step spans (same-rank members of every tensor
/// group of the stage): the tensor groups, and under KVParallel the KV shards, whose devices
/// form groups of their own.
inline constexpr AxisMask outer_group_axes =
    static_cast<AxisMask>(axis_bit(Role::kv_seq) | axis_bit(Role::tensor_group));

/// The devices that vary along the axes in `axes` and share every other coordinate with `anchor`,
/// in row-major (ring) order.
struct DeviceGroup {
  std::int64_t anchor = 0;
  AxisMask axes = 0;
  friend constexpr bool operator==(const DeviceGroup&, const DeviceGroup&) = default;
};

/// Number of devices in `group` on `mesh`: the product of the sizes of its axes.
/// Example: on [pipeline 2, tensor_group 2, tensor 4], the group {anchor 8, tensor} has 4.
constexpr std::int64_t group_size(const Mesh& mesh, const DeviceGroup& group) {
  std::int64_t n = 1;
  for (std::size_t i = 0; i < mesh.axis_count; ++i)
    if (group.axes & axis_bit(mesh.axes[i].role))
      n *= mesh.axes[i].size;
  return n;
}

/// The `index`-th member of `group` in ring order. @pre 0 <= index < group_size(mesh, group).
constexpr std::int64_t group_member(const Mesh& mesh, const DeviceGroup& group,
                                    std::int64_t index) {
  std::int64_t rank = group.anchor;
  for (std::size_t i = mesh.axis_count; i-- > 0;) {
    const Axis& axis = mesh.axes[i];
    if (!(group.axes & axis_bit(axis.role)))
      continue;
    rank = mesh.with_coordinate(rank, axis.role, index % axis.size);
    index /= axis.size;
  }
  return rank;
}

/// Position of `rank` in `group`'s ring order, or -1 when it is not a member.
/// @post group_member(mesh, group, group_index(mesh, group, r)) == r for every member r.
constexpr std::int64_t group_index(const Mesh& mesh, const DeviceGroup& group, std::int64_t rank) {
  std::int64_t index = 0;
  for (std::size_t i = 0; i < mesh.axis_count; ++i) {
    const Axis& axis = mesh.axes[i];
    const std::int64_t c = mesh.coordinate(rank, axis.role);
    if (group.axes & axis_bit(axis.role))
      index = index * axis.size + c;
    else if (c != mesh.coordinate(group.anchor, axis.role))
      return -1;
  }
  return index;
}

} // namespace helix
