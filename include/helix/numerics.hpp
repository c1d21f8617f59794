// Numeric verification: deterministic weights, the unsharded Eigen reference, the executor that
// runs the Dag itself, and verify() comparing the two.
// Cost to include (g++ 12 -O2, benchmarks/README.md "Compile time"): about what <Eigen/Dense> plus
// Boost.Graph's adjacency_list cost alone (~3 s). Nothing is instantiated until a TU calls
// verify/execute/reference_forward: keep non-template inline functions here from calling them.
#pragma once

#include "helix/numerics/collectives.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/report.hpp"
#include "helix/numerics/shrink.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/numerics/weights.hpp"
