// Umbrella header: the whole library. Include the area headers (helix/plan.hpp, helix/graph.hpp,
// ...) instead where compile time matters; numerics pulls in Eigen.
// Including it costs about 4.4 s of g++ -O2 (1.29× a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list; benchmarks/README.md).
#pragma once

#include "helix/cost.hpp"
#include "helix/graph.hpp"
#include "helix/io.hpp"
#include "helix/model.hpp"
#include "helix/numerics.hpp"
#include "helix/plan.hpp"
#include "helix/view.hpp"
