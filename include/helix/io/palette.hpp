// One colour per operator kind, shared by every picture helix draws (DOT views, timeline SVG),
// so the same kind looks the same everywhere.
#pragma once

#include "helix/graph/ops.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace helix::io {

/// One colour per op kind, fixed so the same kind looks the same in every file and chart: attention
/// in blues and purples, the MLP in oranges, collectives in reds, transfers in magenta.
constexpr std::string_view op_kind_color(OpKind kind) {
  constexpr std::array<std::string_view, op_kind_count> colors{
      "#d9d9d9", // input
      "#dadaeb", // kv_cache
      "#ffffb3", // norm
      "#b3de69", // q_projection
      "#ccebc5", // k_projection
      "#a1d99b", // v_projection
      "#bcbddc", // kv_append
      "#80b1d3", // attention_scores
      "#bebada", // softmax
      "#9ecae1", // attention_context
      "#8dd3c7", // out_projection
      "#fccde5", // residual_add
      "#fdb462", // fc1
      "#fee391", // gelu
      "#fd8d3c", // fc2
      "#fb8072", // all_reduce
      "#f4a582", // reduce_scatter
      "#e7298a", // all_gather
      "#c994c7", // transfer
      "#bdbdbd", // output
  };
  return colors[static_cast<std::size_t>(kind)];
}

} // namespace helix::io
