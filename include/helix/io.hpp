// What people read and tools load: views of a Dag as Graphviz DOT (and SVG through Graphviz),
// tensors as .npy, simulated timelines as SVG; every file written atomically.
#pragma once

#include "helix/io/atomic_file.hpp"
#include "helix/io/dot.hpp"
#include "helix/io/npy.hpp"
#include "helix/io/palette.hpp"
#include "helix/io/timeline_svg.hpp"
#include "helix/view.hpp"
