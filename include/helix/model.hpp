// The model vocabulary: Model, Workload and the named presets.
// Including it costs about 0.13 s of g++ -O2 (0.04× a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list; benchmarks/README.md).
#pragma once

#include "helix/model/model.hpp"
#include "helix/model/presets.hpp"
