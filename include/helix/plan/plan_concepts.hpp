// Concepts for the compile-time plan vocabulary: a Descriptor contributes to a PlanSpec, and a
// PlanDescriptor (a `Plan<...>`) carries the finished spec.
#pragma once

#include "helix/plan/spec.hpp"

#include <concepts>

namespace helix {

/// One partition descriptor such as `PipelineStages<2>`: it names its kind and writes its degrees
/// into a PlanSpec.
template <class D>
concept Descriptor = requires(PlanSpec& spec) {
  { D::kind } -> std::convertible_to<DescriptorKind>;
  D::apply(spec);
};

/// A whole plan: a type with a `static constexpr PlanSpec spec`.
template <class P>
concept PlanDescriptor = requires {
  { P::spec } -> std::convertible_to<PlanSpec>;
};

} // namespace helix
