// The world of devices as ordered axes with roles. A device's rank is the row-major index of its
// coordinates, outermost axis first, so the innermost axis holds the closest devices.
#pragma once

#include "helix/plan/spec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace helix {

// The roles a mesh axis can play, outermost first; one row per role: X(identifier, name, key),
// the key being the short name placements print ("tg:P·tp:S(2)"), the plan text's own keys.
//   pipeline      stages that run consecutive layers
//   data          replicas that split the batch
//   kv_seq        KV-parallel decode: shards of the KV cache along the sequence
//   tensor_group  outer tensor axis: groups inside a stage (hierarchical collectives)
//   tensor        inner tensor axis: members of a group, or head groups of HeadPartitions
//   head_dim      slices of head_dim (two-level attention)
#define HELIX_ROLES(X)                                                                             \
  X(pipeline, "pipeline", "pp")                                                                    \
  X(data, "data", "dp")                                                                            \
  X(kv_seq, "kv_seq", "kv")                                                                        \
  X(tensor_group, "tensor_group", "tg")                                                            \
  X(tensor, "tensor", "tp")                                                                        \
  X(head_dim, "head_dim", "hd")

enum class Role : std::uint8_t {
#define HELIX_ROLE_ENUM(id, name, key) id,
  HELIX_ROLES(HELIX_ROLE_ENUM)
#undef HELIX_ROLE_ENUM
};

/// Name of each role, indexed by its value.
inline constexpr std::array role_names{
#define HELIX_ROLE_NAME(id, name, key) std::string_view{name},
    HELIX_ROLES(HELIX_ROLE_NAME)
#undef HELIX_ROLE_NAME
};
inline constexpr std::size_t role_count = role_names.size();
/// Short key of each role, indexed by its value.
inline constexpr std::array<std::string_view, role_count> role_keys{
#define HELIX_ROLE_KEY(id, name, key) std::string_view{key},
    HELIX_ROLES(HELIX_ROLE_KEY)
#undef HELIX_ROLE_KEY
};

static_assert(
    [] {
      for (std::size_t i = 0; i < role_count; ++i)
        if (role_names[i].empty() || role_keys[i].empty())
          return false;
      return true;
    }(),
    "helix: HELIX_ROLES: every role needs a name and a key");

constexpr std::string_view role_name(Role role) {
  return role_names[static_cast<std::size_t>(role)];
}
constexpr std::string_view role_key(Role role) {
  return role_keys[static_cast<std::size_t>(role)];
}

/// A device's place in a mesh: one coordinate per role, 0 along every axis the mesh lacks.
struct Coordinates {
  std::int64_t pipeline = 0;
  std::int64_t data = 0;
  std::int64_t kv_seq = 0;
  std::int64_t tensor_group = 0;
  std::int64_t tensor = 0;
  std::int64_t head_dim = 0;

  friend constexpr bool operator==(const Coordinates&, const Coordinates&) = default;

  constexpr std::int64_t& operator[](Role role) { return this->*field(role); }
  constexpr const std::int64_t& operator[](Role role) const { return this->*field(role); }

private:
  static constexpr std::int64_t Coordinates::*field(Role role) {
    switch (role) {
#define HELIX_ROLE_FIELD(id, name, key)                                                            \
  case Role::id:                                                                                   \
    return &Coordinates::id;
      HELIX_ROLES(HELIX_ROLE_FIELD)
#undef HELIX_ROLE_FIELD
    }
    return &Coordinates::pipeline; // unreachable: the switch names every role
  }
};

struct Axis {
  Role role = Role::tensor;
  std::int64_t size = 1;
  friend constexpr bool operator==(const Axis&, const Axis&) = default;
};

/// A mesh has at most one axis per role.
inline constexpr std::size_t max_mesh_axes = role_count;

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

  /// The coordinates of `rank`, one per role.
  /// @pre 0 <= rank < size(); no role names two axes.
  /// @post `rank(coordinates(r)) == r`, and each coordinate c[role] lies in [0, extent(role)).
  ///
  /// Example: in [pipeline 2, data 2, kv_seq 2, tensor 2, head_dim 2], rank 22 = 1·16 + 0·8 +
  /// 1·4 + 1·2 + 0 has coordinates {.pipeline = 1, .data = 0, .kv_seq = 1, .tensor = 1,
  /// .head_dim = 0} (tensor_group 0: the mesh has no such axis).
  constexpr Coordinates coordinates(std::int64_t rank) const {
    Coordinates c;
    for (std::size_t i = axis_count; i-- > 0;) {
      c[axes[i].role] = rank % axes[i].size;
      rank /= axes[i].size;
    }
    return c;
  }

  /// The rank of the device at `c`: the row-major index of its coordinates, outermost axis first.
  /// @pre 0 <= c[role] < extent(role) for every role (so 0 along the axes the mesh lacks); no role
  /// names two axes.
  /// @post 0 <= result < size(), and `coordinates(rank(c)) == c`.
  ///
  /// Example: in [pipeline 2, data 2, kv_seq 2, tensor 2, head_dim 2],
  /// `rank({.pipeline = 1, .kv_seq = 1, .tensor = 1})` is 1·16 + 0·8 + 1·4 + 1·2 + 0 = 22.
  constexpr std::int64_t rank(const Coordinates& c) const {
    std::int64_t r = 0;
    for (std::size_t i = 0; i < axis_count; ++i)
      r = r * axes[i].size + c[axes[i].role];
    return r;
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
  mesh.push(Role::tensor,
            p.has(DescriptorKind::head_partitions) ? p.head_groups : tensor_group_size(p));
  mesh.push(Role::head_dim, head_dim_split(p));
  return mesh;
}

} // namespace helix
