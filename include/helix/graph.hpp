// The operator DAG: its vocabulary, the lowering, the Boost graph and its checks.
#pragma once

#include "helix/graph/check.hpp"
#include "helix/graph/dag.hpp"
#include "helix/graph/lowering.hpp"
#include "helix/graph/op_signature.hpp"
#include "helix/graph/ops.hpp"
#include "helix/graph/shape.hpp"
#include "helix/graph/shape_rules.hpp"
#include "helix/graph/views.hpp"
