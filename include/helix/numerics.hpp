// Numeric verification: deterministic weights, the unsharded Eigen reference, the executor that
// runs the Dag itself, and verify() comparing the two.
#pragma once

#include "helix/numerics/collectives.hpp"
#include "helix/numerics/execute.hpp"
#include "helix/numerics/kernels.hpp"
#include "helix/numerics/reference.hpp"
#include "helix/numerics/report.hpp"
#include "helix/numerics/shrink.hpp"
#include "helix/numerics/verify.hpp"
#include "helix/numerics/weights.hpp"
