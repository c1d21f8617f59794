// The vocabulary of DAG vertices and edges: operator kinds, their typed payloads (which slice of
// which full weight a Linear holds, which heads an attention op covers, which devices a
// collective spans) and the tensor on an edge. All constexpr value types.
#pragma once

#include "helix/graph/shape.hpp"
#include "helix/model/model.hpp"
#include "helix/plan/mesh.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

namespace helix {

enum class OpKind : std::uint8_t {
  input,             ///< the microbatch's activations enter on a device
  kv_cache,          ///< decode: keys or values of the `seq_len` cached tokens (a source)
  norm,              ///< layernorm / rmsnorm over hidden (weights replicated)
  q_projection,      ///< a @ Wq[:, cols]
  k_projection,      ///< a @ Wk[:, cols]
  v_projection,      ///< a @ Wv[:, cols]
  kv_append,         ///< decode: cache ++ new token's keys or values along the sequence
  attention_scores,  ///< q kᵀ per head (partial over a head_dim slice for HeadPartitions)
  softmax,           ///< softmax(scores / sqrt(head_dim) + causal mask) over keys
  attention_context, ///< p v per head
  out_projection,    ///< context @ Wo[rows, :], a partial sum of the block output
  residual_add,      ///< x + branch
  fc1,               ///< a @ W1[:, cols]
  gelu,              ///< tanh-approximated GELU
  fc2,               ///< h @ W2[rows, :], a partial sum
  all_reduce,        ///< collective: every member ends with the sum
  reduce_scatter,    ///< collective: member j ends with slice j (of the last dim) of the sum
  all_gather,        ///< collective: every member ends with the concatenation of the slices
  transfer,          ///< point-to-point send/recv between pipeline stages
  output,            ///< the block stack's result leaves on a device
};
inline constexpr std::size_t op_kind_count = 20;

constexpr std::string_view op_kind_name(OpKind kind) {
  constexpr std::array<std::string_view, op_kind_count> names{"input",
                                                              "kv_cache",
                                                              "norm",
                                                              "q_projection",
                                                              "k_projection",
                                                              "v_projection",
                                                              "kv_append",
                                                              "attention_scores",
                                                              "softmax",
                                                              "attention_context",
                                                              "out_projection",
                                                              "residual_add",
                                                              "fc1",
                                                              "gelu",
                                                              "fc2",
                                                              "all_reduce",
                                                              "reduce_scatter",
                                                              "all_gather",
                                                              "transfer",
                                                              "output"};
  return names[static_cast<std::size_t>(kind)];
}

constexpr bool is_collective(OpKind kind) {
  return kind == OpKind::all_reduce || kind == OpKind::reduce_scatter || kind == OpKind::all_gather;
}
constexpr bool is_communication(OpKind kind) {
  return is_collective(kind) || kind == OpKind::transfer;
}
constexpr bool is_linear(OpKind kind) {
  return kind == OpKind::q_projection || kind == OpKind::k_projection ||
         kind == OpKind::v_projection || kind == OpKind::out_projection || kind == OpKind::fc1 ||
         kind == OpKind::fc2;
}
constexpr bool is_attention(OpKind kind) {
  return kind == OpKind::kv_cache || kind == OpKind::kv_append ||
         kind == OpKind::attention_scores || kind == OpKind::softmax ||
         kind == OpKind::attention_context;
}

/// The full (unsharded) weights of one block.
enum class Weight : std::uint8_t { wq, wk, wv, wo, w1, w2 };
inline constexpr std::size_t weight_count = 6;

constexpr std::string_view weight_name(Weight w) {
  constexpr std::array<std::string_view, weight_count> names{"wq", "wk", "wv", "wo", "w1", "w2"};
  return names[static_cast<std::size_t>(w)];
}

/// Shape [rows, columns] of a full (unsharded) weight of `model`, stored [in, out].
/// Example: `full_weight_shape(models::llama3_70b, Weight::wk)` is {8192, 8 · 128}.
constexpr std::array<std::int64_t, 2> full_weight_shape(const Model& model, Weight weight) {
  switch (weight) {
  case Weight::wq:
    return {model.hidden, attention_width(model)};
  case Weight::wk:
  case Weight::wv:
    return {model.hidden, kv_width(model)};
  case Weight::wo:
    return {attention_width(model), model.hidden};
  case Weight::w1:
    return {model.hidden, model.ffn_hidden};
  case Weight::w2:
    break;
  }
  return {model.ffn_hidden, model.hidden};
}

/// A strided set of indices: `count` runs of `size` consecutive indices, run i starting at
/// `begin + i·stride`. Contiguous ranges have count 1.
///
/// Example: HeadPartitions slice s of head_dim 512 into 4, for heads 4..7, is the column set
/// {begin = 4·512 + s·128, size = 128, stride = 512, count = 4} of Wq.
struct IndexRuns {
  std::int64_t begin = 0;
  std::int64_t size = 0;
  std::int64_t stride = 0;
  std::int64_t count = 1;
  friend constexpr bool operator==(const IndexRuns&, const IndexRuns&) = default;
  constexpr std::int64_t total() const { return size * count; }
  static constexpr IndexRuns range(std::int64_t begin, std::int64_t size) {
    return {begin, size, size, 1};
  }
};

/// A Linear's share of a full weight: `y = x @ W[rows, cols]`.
struct LinearSlice {
  Weight weight = Weight::wq;
  IndexRuns rows;
  IndexRuns cols;
  friend constexpr bool operator==(const LinearSlice&, const LinearSlice&) = default;
};

/// The heads an attention op covers: query heads [head_begin, +heads), the key/value heads
/// [kv_head_begin, +kv_heads) they read, and the head_dim slice [dim_begin, +dims).
struct AttentionSlice {
  std::int64_t head_begin = 0;
  std::int64_t heads = 0;
  std::int64_t kv_head_begin = 0;
  std::int64_t kv_heads = 0;
  std::int64_t dim_begin = 0;
  std::int64_t dims = 0;
  /// For kv_cache / kv_append: false = keys, true = values.
  bool values = false;
  /// For softmax: mask keys after the query's position (prefill).
  bool causal = false;
  friend constexpr bool operator==(const AttentionSlice&, const AttentionSlice&) = default;
};

/// Which of a block's two norms (0 before attention, 1 before the MLP).
struct NormSlot {
  std::int64_t index = 0;
  friend constexpr bool operator==(const NormSlot&, const NormSlot&) = default;
};

/// What a collective is for, so views and costs can name it.
enum class CollectivePurpose : std::uint8_t { attention_scores, attention_output, mlp_output };

/// Which step of an all-reduce a collective vertex is.
enum class CollectivePhase : std::uint8_t {
  flat,                       ///< a whole all-reduce in one ring over the group
  intra_group_reduce_scatter, ///< hierarchical step 1, inside a tensor group
  inter_group_all_reduce,     ///< hierarchical step 2, same-rank members across groups
  intra_group_all_gather,     ///< hierarchical step 3, inside a tensor group
};

constexpr std::string_view collective_phase_name(CollectivePhase phase) {
  constexpr std::array<std::string_view, 4> names{
      "flat", "intra-group reduce-scatter", "inter-group all-reduce", "intra-group all-gather"};
  return names[static_cast<std::size_t>(phase)];
}

/// Mesh axes as a bit set (bit = Role value).
using AxisMask = std::uint8_t;
constexpr AxisMask axis_bit(Role role) {
  return static_cast<AxisMask>(1u << static_cast<unsigned>(role));
}

/// The devices that vary along the axes in `axes` and share every other coordinate with `anchor`,
/// in row-major (ring) order.
struct DeviceGroup {
  std::int64_t anchor = 0;
  AxisMask axes = 0;
  friend constexpr bool operator==(const DeviceGroup&, const DeviceGroup&) = default;
};

/// Size of `group` in `mesh`.
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

struct CollectiveOp {
  CollectivePurpose purpose = CollectivePurpose::attention_output;
  CollectivePhase phase = CollectivePhase::flat;
  /// Number of the logical all-reduce this vertex is (a step of), counted per microbatch and
  /// replica over the whole forward.
  std::int64_t logical = 0;
  DeviceGroup group;
  friend constexpr bool operator==(const CollectiveOp&, const CollectiveOp&) = default;
};

struct TransferOp {
  std::int64_t source = 0;
  std::int64_t destination = 0;
  friend constexpr bool operator==(const TransferOp&, const TransferOp&) = default;
};

using Payload =
    std::variant<std::monostate, LinearSlice, AttentionSlice, NormSlot, CollectiveOp, TransferOp>;

/// One operator. Compute ops run on `device`; a collective spans `CollectiveOp::group` and a
/// transfer goes from `TransferOp::source` to `destination` (their `device` is -1).
struct Op {
  OpKind kind = OpKind::input;
  std::int64_t device = -1;
  std::int64_t layer = -1; ///< -1 for input, output and transfers
  std::int64_t stage = 0;
  std::int64_t replica = 0; ///< data-parallel index
  std::int64_t microbatch = 0;
  /// Sequences of the full batch this op processes: [batch_begin, batch_begin + shape[0]).
  std::int64_t batch_begin = 0;
  Payload payload{};
  /// Expected input shapes by argument (collectives: every member's input is inputs[0]).
  std::array<Shape, 3> inputs{};
  std::size_t input_count = 0;
  Shape output{};
  std::int64_t flops = 0;
  /// Bytes moved: for compute, read + written from memory (weights included); for
  /// communication, the size of one member's input.
  std::int64_t bytes = 0;
  friend constexpr bool operator==(const Op&, const Op&) = default;
};

/// A tensor flowing from one op to another. `port` is the consumer's argument index, or the
/// member index when the consumer is a collective; `device` is where the tensor lives.
struct Tensor {
  Shape shape{};
  std::int64_t dtype_bytes = 2;
  std::int64_t device = -1;
  std::size_t port = 0;
  friend constexpr bool operator==(const Tensor&, const Tensor&) = default;
};

} // namespace helix
