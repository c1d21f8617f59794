// The DAG's vertices and edges: an Op is where it runs (device or group, layer, stage, replica,
// microbatch, batch range) + what flows (input and output shapes) + its Step; a Tensor is a shape
// and a placement living on a device. This is also the one header that reads a step's
// alternatives directly; everything else visits it or uses the accessors below.
#pragma once

#include "helix/graph/detail/overloaded.hpp"
#include "helix/graph/placement.hpp"
#include "helix/graph/shape.hpp"
#include "helix/graph/steps.hpp"
#include "helix/model/data_type.hpp"
#include "helix/plan/device_group.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <variant>

namespace helix {

/// One operator. Compute ops run on `device`; a collective spans its step's group and a transfer
/// goes from its step's source to its destination (their `device` is -1).
struct Op {
  Step step{};
  std::int64_t device = -1;
  std::int64_t layer = -1; ///< -1 for input, output and transfers
  std::int64_t stage = 0;
  std::int64_t replica = 0; ///< data-parallel index
  std::int64_t microbatch = 0;
  /// Sequences of the full batch this op processes: [batch_begin, batch_begin + shape[0]).
  std::int64_t batch_begin = 0;
  /// Expected input shapes by argument (collectives: every member's input is inputs[0]).
  std::array<Shape, 3> inputs{};
  std::size_t input_count = 0;
  Shape output{};
  friend constexpr bool operator==(const Op&, const Op&) = default;

  constexpr OpKind kind() const { return static_cast<OpKind>(step.index()); }
};

/// A tensor flowing from one op to another. `port` is the consumer's argument index, or the
/// member index when the consumer is a collective; `device` is where the tensor lives.
struct Tensor {
  Shape shape{};
  DataType dtype = DataType::bf16;
  std::int64_t device = -1;
  std::size_t port = 0;
  TensorPlacement placement{};
  friend constexpr bool operator==(const Tensor&, const Tensor&) = default;
};

namespace detail {
// A linear chain of index tests instead of std::visit's table: the same exhaustiveness (every
// alternative is handed to `handlers`, so a missing handler does not compile) at a fraction of
// libstdc++'s compile time per visit, which every interpreter pays.
template <std::size_t I, class StepType, class Handlers>
constexpr decltype(auto) visit_from(StepType& step, Handlers& handlers) {
  static_assert(std::is_invocable_v<Handlers&, decltype(*std::get_if<I>(&step))>,
                "helix: visit_step: a handler is missing for a step alternative (see the note "
                "naming it): every interpreter handles every kind");
  if constexpr (I + 1 == std::variant_size_v<std::remove_const_t<StepType>>) {
    return handlers(*std::get_if<I>(&step));
  } else {
    if (step.index() == I)
      return handlers(*std::get_if<I>(&step));
    return visit_from<I + 1>(step, handlers);
  }
}
} // namespace detail

/// Calls the handler for `step`'s alternative; handlers must cover every alternative and return
/// the same type.
template <class Handlers>
constexpr decltype(auto) visit_step(const Step& step, Handlers&& handlers) {
  return detail::visit_from<0>(step, handlers);
}
template <class Handlers>
constexpr decltype(auto) visit_step(Step& step, Handlers&& handlers) {
  return detail::visit_from<0>(step, handlers);
}
/// The same for an op's step.
template <class Handlers>
constexpr decltype(auto) visit_step(const Op& op, Handlers&& handlers) {
  return visit_step(op.step, handlers);
}

/// The step as alternative `S`, or null.
template <class S>
constexpr const S* step_if(const Op& op) {
  return std::get_if<S>(&op.step);
}
template <class S>
constexpr S* step_if(Op& op) {
  return std::get_if<S>(&op.step);
}

namespace detail {
/// `op`'s step as its common part `Base` (a collective's, an attention op's heads, a Linear's
/// slice), or null when the step has no such part; const when `op` is.
template <class Base, class O>
constexpr auto step_base(O& op) {
  using Result = std::conditional_t<std::is_const_v<O>, const Base*, Base*>;
  return visit_step(op.step, []<class S>(S& s) -> Result {
    if constexpr (std::derived_from<std::remove_const_t<S>, Base>)
      return &s;
    else
      return nullptr;
  });
}
} // namespace detail

/// A collective's common data (group, phase, purpose, algorithm), or null for other steps.
constexpr const step::Collective* collective_of(const Op& op) {
  return detail::step_base<step::Collective>(op);
}
constexpr step::Collective* collective_of(Op& op) {
  return detail::step_base<step::Collective>(op);
}

/// A transfer's ends, or null for other steps.
constexpr const step::Transfer* transfer_of(const Op& op) {
  return step_if<step::Transfer>(op);
}

/// The heads an attention op covers, or null for other steps.
constexpr const AttentionHeads* attention_heads_of(const Op& op) {
  return detail::step_base<AttentionHeads>(op);
}
constexpr AttentionHeads* attention_heads_of(Op& op) {
  return detail::step_base<AttentionHeads>(op);
}

/// The KV shard a KV cache or partial attention op holds, or null for other steps (and for a KV
/// cache outside KV-parallel decode, whose one shard is the whole cache: still returned).
constexpr const KVShard* kv_shard_of(const Op& op) {
  return visit_step(op.step, []<class S>(const S& s) -> const KVShard* {
    if constexpr (requires { s.shard; })
      return &s.shard;
    else
      return nullptr;
  });
}

/// A Linear's slice, or null for other steps.
constexpr const LinearSlice* linear_slice_of(const Op& op) {
  return detail::step_base<LinearSlice>(op);
}
constexpr LinearSlice* linear_slice_of(Op& op) {
  return detail::step_base<LinearSlice>(op);
}

/// Which full weight a Linear reads, and its slice of it.
struct WeightSlice {
  Weight weight = Weight::wq;
  LinearSlice slice;
  friend constexpr bool operator==(const WeightSlice&, const WeightSlice&) = default;
};

/// A Linear's weight and slice, or nothing for other steps.
constexpr std::optional<WeightSlice> weight_slice_of(const Op& op) {
  return visit_step(op.step, []<class S>(const S& s) -> std::optional<WeightSlice> {
    if constexpr (LinearStep<S>)
      return WeightSlice{S::weight, s};
    else
      return std::nullopt;
  });
}
namespace detail {
constexpr Sublayer collective_sublayer(const step::Collective& c) {
  return c.purpose == CollectivePurpose::mlp_output || c.purpose == CollectivePurpose::block_output
             ? Sublayer::mlp
             : Sublayer::attention;
}
} // namespace detail

/// Which half of its layer an op belongs to, from its step alone where the step says (norms,
/// residual adds, collectives, the MLP's ops), else attention for ops inside a layer. A parallel
/// block's sum of both branches, its all-reduce and residual add count as the MLP half, which
/// ends the layer; the embedding and the LM head are outside every layer.
constexpr Sublayer sublayer_of(const Op& op) {
  if (op.layer < 0)
    return Sublayer::none;
  return visit_step(
      op, detail::overloaded{
              [](const step::Norm& n) { return n.slot == 0 ? Sublayer::attention : Sublayer::mlp; },
              [](const step::ResidualAdd& r) { return r.branch; },
              [](const step::Fc1&) { return Sublayer::mlp; },
              [](const step::GateProjection&) { return Sublayer::mlp; },
              [](const step::Gelu&) { return Sublayer::mlp; },
              [](const step::SwiGlu&) { return Sublayer::mlp; },
              [](const step::Fc2&) { return Sublayer::mlp; },
              [](const step::ParallelSum&) { return Sublayer::mlp; },
              [](const step::Embedding&) { return Sublayer::none; },
              [](const step::LastToken&) { return Sublayer::none; },
              [](const step::LmHead&) { return Sublayer::none; },
              [](const step::AllReduce& c) { return detail::collective_sublayer(c); },
              [](const step::ReduceScatter& c) { return detail::collective_sublayer(c); },
              [](const step::AllGather& c) { return detail::collective_sublayer(c); },
              [](const step::Input&) { return Sublayer::none; },
              [](const step::Output&) { return Sublayer::none; },
              [](const step::Transfer&) { return Sublayer::none; },
              [](const step::QProjection&) { return Sublayer::attention; },
              [](const step::KProjection&) { return Sublayer::attention; },
              [](const step::VProjection&) { return Sublayer::attention; },
              [](const step::OutProjection&) { return Sublayer::attention; },
              [](const step::KVCache&) { return Sublayer::attention; },
              [](const step::KVAppend&) { return Sublayer::attention; },
              [](const step::AttentionScores&) { return Sublayer::attention; },
              [](const step::PartialAttention&) { return Sublayer::attention; },
              [](const step::LogSumExpMerge&) { return Sublayer::attention; },
              [](const step::AllToAll&) { return Sublayer::attention; },
              [](const step::Softmax&) { return Sublayer::attention; },
              [](const step::AttentionContext&) { return Sublayer::attention; },
          });
}

} // namespace helix
