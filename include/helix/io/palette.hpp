// One colour per operator kind, shared by every picture helix draws (DOT views, timeline SVG),
// so the same kind looks the same everywhere. The colours are the kind table's (graph/steps.hpp):
// each step alternative carries its own.
#pragma once

#include "helix/graph/steps.hpp"

namespace helix::io {

using helix::op_kind_color;

} // namespace helix::io
