// What people read and tools load: views of a Dag as Graphviz DOT (and SVG through Graphviz),
// tensors as .npy, simulated timelines as SVG, cost comparisons and numerics reports as
// markdown; every file written atomically. JSON (helix/io/json.hpp, target helix::json) is not
// included here: it needs nlohmann_json, which helix::helix does not.
// Including it costs about 4.3 s of g++ -O2 (1.27× a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list; benchmarks/README.md).
#pragma once

#include "helix/io/atomic_file.hpp"
#include "helix/io/dot.hpp"
#include "helix/io/file_names.hpp"
#include "helix/io/markdown.hpp"
#include "helix/io/npy.hpp"
#include "helix/io/palette.hpp"
#include "helix/io/timeline_svg.hpp"
#include "helix/view.hpp"
