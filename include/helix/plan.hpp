// Everything about partition schemes: descriptors, Plan, the mesh, the rules and their
// compile-time and run-time fronts, and plan text.
// Including it costs about 0.39 s of g++ -O2 (0.12× a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list; benchmarks/README.md).
#pragma once

#include "helix/plan/check.hpp"
#include "helix/plan/descriptors.hpp"
#include "helix/plan/device_group.hpp"
#include "helix/plan/mesh.hpp"
#include "helix/plan/parse.hpp"
#include "helix/plan/rules.hpp"
#include "helix/plan/spec.hpp"
#include "helix/plan/stages.hpp"
#include "helix/plan/validate.hpp"
