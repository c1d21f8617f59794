// The operator DAG: its vocabulary (steps, shapes, placements), the lowering, the Boost graph and
// its checks.
// Including it costs about 2.7 s of g++ -O2 (0.80× a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list; benchmarks/README.md).
#pragma once

#include "helix/graph/check.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/lowering.hpp"
#include "helix/graph/op_names.hpp"
#include "helix/graph/op_signature.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/placement.hpp"
#include "helix/graph/placement_rules.hpp"
#include "helix/graph/shape.hpp"
#include "helix/graph/shape_rules.hpp"
#include "helix/graph/step_data.hpp"
#include "helix/graph/steps.hpp"
