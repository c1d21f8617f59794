// A plan spelled as part of a file name, the one spelling every writer uses (helix_deploy's views
// and timelines, the .npy dump's y_<plan>.npy): the plan's canonical text with every character
// other than an ASCII letter or digit made '_', so "split=3/1" makes no folder on any system.
#pragma once

#include "helix/plan/parse.hpp"
#include "helix/plan/spec.hpp"

#include <string>

namespace helix::io {

/// "pp=2,tg=4x4" → "pp_2_tg_4x4", "pp=2,split=3/1" → "pp_2_split_3_1".
inline std::string plan_file_part(const PlanSpec& plan) {
  std::string part = to_string(plan);
  for (char& c : part)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      c = '_';
  return part;
}

} // namespace helix::io
