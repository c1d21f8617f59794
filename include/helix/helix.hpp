// Umbrella header: the whole library. Include the area headers (helix/plan.hpp, helix/graph.hpp,
// ...) instead where compile time matters; numerics pulls in Eigen.
// Including it costs about 1.4× the g++ -O2 CPU time of a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list (benchmarks/README.md, "Compile time").
#pragma once

#include "helix/cost.hpp"
#include "helix/graph.hpp"
#include "helix/io.hpp"
#include "helix/model.hpp"
#include "helix/numerics.hpp"
#include "helix/plan.hpp"
#include "helix/view.hpp"
