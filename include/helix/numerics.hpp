// Numeric verification: deterministic weights, the unsharded Eigen reference, the executor that
// runs the Dag itself, and verify() comparing the two.
// Including it costs about 3.6 s of g++ -O2 (1.06× a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list; benchmarks/README.md). Nothing is instantiated until a TU calls verify, execute
// or reference_forward: keep non-template inline functions here from calling them.
#pragma once

#include "helix/numerics/collectives.hpp"
#include "helix/numerics/divergence.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/numerics/expected.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/local_share.hpp"
#include "helix/numerics/op_kernels.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/report.hpp"
#include "helix/numerics/shrink.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/numerics/weights.hpp"
