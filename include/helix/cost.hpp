// What a plan costs: hardware presets, per-operator roofline and α-β costs, memory per device,
// the simulated timeline, the comparison of plans with verdicts on the seed's claims, and
// predictions held against measurements. Calibration (helix/cost/calibration.hpp, Eigen's
// unsupported Levenberg-Marquardt) is included by whoever fits.
// Including it costs about 2.4 s of g++ -O2 (0.71× a TU of only Eigen/Dense and Boost.Graph's
// adjacency_list; benchmarks/README.md).
#pragma once

#include "helix/cost/compare.hpp"
#include "helix/cost/generation.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/memory.hpp"
#include "helix/cost/op_cost.hpp"
#include "helix/cost/schedule.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/cost/units.hpp"
#include "helix/cost/validation.hpp"
#include "helix/cost/work.hpp"
