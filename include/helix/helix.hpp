// Umbrella header: the whole library. Include the area headers (helix/plan.hpp, helix/graph.hpp,
// ...) instead where compile time matters; numerics pulls in Eigen.
#pragma once

#include "helix/cost.hpp"
#include "helix/graph.hpp"
#include "helix/io.hpp"
#include "helix/model.hpp"
#include "helix/numerics.hpp"
#include "helix/plan.hpp"
#include "helix/view.hpp"
