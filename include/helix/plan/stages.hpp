// Which layers each pipeline stage runs: an explicit LayerSplit, or an even deal in which the
// first stages take the extra layer (10 layers over 4 stages → 3, 3, 2, 2).
#pragma once

#include "helix/model/model.hpp"
#include "helix/plan/spec.hpp"

#include <cstddef>
#include <cstdint>

namespace helix {

/// Layers run by `stage`. @pre the plan passed the rules.
constexpr std::int64_t layers_in_stage(const Model& m, const PlanSpec& p, std::int64_t stage) {
  if (p.layer_split_count > 0)
    return p.layer_split[static_cast<std::size_t>(stage)];
  return m.layers / p.pipeline_stages + (stage < m.layers % p.pipeline_stages ? 1 : 0);
}

/// Index of the first layer of `stage`.
constexpr std::int64_t first_layer_of_stage(const Model& m, const PlanSpec& p, std::int64_t stage) {
  std::int64_t first = 0;
  for (std::int64_t s = 0; s < stage; ++s)
    first += layers_in_stage(m, p, s);
  return first;
}

/// The stage that runs `layer`.
constexpr std::int64_t stage_of_layer(const Model& m, const PlanSpec& p, std::int64_t layer) {
  std::int64_t stage = 0;
  while (layer >= first_layer_of_stage(m, p, stage) + layers_in_stage(m, p, stage))
    ++stage;
  return stage;
}

} // namespace helix
