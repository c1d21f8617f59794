// Placement: the DAG's second static type beside shapes. Per mesh axis a tensor piece is
// `Replicate` (every member holds the whole), `Shard(dim)` (each member holds its part of `dim`)
// or `Partial` (each member holds an addend; a sum is still owed over the axis), as PyTorch
// DTensor and JAX sharding name them.
#pragma once

#include "helix/plan/mesh.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace helix {

/// `log_sum_exp_partial` is KV-parallel decode's partial attention: each member holds the output
/// and log-sum-exp of attention over its shard of the keys, and an exact log-sum-exp merge (not a
/// sum) is owed over the axis, as DTensor's `Partial` carries the reduction it owes.
enum class Distribution : std::uint8_t { replicate, shard, partial, log_sum_exp_partial };

/// How one axis holds a tensor. `Shard(d)` means the member's piece along dimension d is picked
/// by its coordinate on the axis; pieces may repeat (GQA kv heads replicated over more devices
/// than there are kv heads), which weight tiling, not placement, accounts for.
struct Placement {
  Distribution kind = Distribution::replicate;
  std::uint8_t dim = 0; ///< for shard only
  friend constexpr bool operator==(const Placement&, const Placement&) = default;

  static constexpr Placement replicate() { return {}; }
  static constexpr Placement shard(std::size_t dim) {
    return {Distribution::shard, static_cast<std::uint8_t>(dim)};
  }
  static constexpr Placement partial() { return {Distribution::partial, 0}; }
  static constexpr Placement log_sum_exp_partial() {
    return {Distribution::log_sum_exp_partial, 0};
  }
  constexpr bool is_partial() const { return kind == Distribution::partial; }
  constexpr bool is_log_sum_exp_partial() const {
    return kind == Distribution::log_sum_exp_partial;
  }
  constexpr bool is_shard() const { return kind == Distribution::shard; }
  constexpr bool is_replicate() const { return kind == Distribution::replicate; }
};

/// A tensor's placement over every axis of its stage's submesh, indexed by Role. The pipeline
/// entry is unused: a stage's tensors live on that stage only (as DTensor places a pipeline
/// stage's tensors on the stage's submesh); activations are `Shard(0)` (batch) over data.
struct TensorPlacement {
  std::array<Placement, role_count> axes{};
  friend constexpr bool operator==(const TensorPlacement&, const TensorPlacement&) = default;

  constexpr Placement& operator[](Role role) { return axes[static_cast<std::size_t>(role)]; }
  constexpr const Placement& operator[](Role role) const {
    return axes[static_cast<std::size_t>(role)];
  }
  constexpr bool any_partial() const {
    for (const Placement& p : axes)
      if (p.is_partial() || p.is_log_sum_exp_partial())
        return true;
    return false;
  }
};

/// "R", "S(2)", "P", "P(lse)".
inline std::string to_string(const Placement& p) {
  switch (p.kind) {
  case Distribution::replicate:
    return "R";
  case Distribution::shard:
    return "S(" + std::to_string(p.dim) + ")";
  case Distribution::partial:
    return "P";
  case Distribution::log_sum_exp_partial:
    return "P(lse)";
  }
  return "?";
}

/// The placement over `mesh`'s axes that are not replicated, in mesh order: "tg:P·tp:S(2)"; "R"
/// when every axis holds the whole tensor.
///
/// Example: an FC2 output in `pp=2,tg=4x4` owes its sum over both tensor axes: "tg:P·tp:P".
inline std::string placement_text(const TensorPlacement& placement, const Mesh& mesh) {
  std::string text;
  for (std::size_t i = 0; i < mesh.axis_count; ++i) {
    const Role role = mesh.axes[i].role;
    if (role == Role::pipeline || placement[role].is_replicate())
      continue;
    text +=
        (text.empty() ? "" : "·") + std::string(role_key(role)) + ":" + to_string(placement[role]);
  }
  return text.empty() ? "R" : text;
}

} // namespace helix
