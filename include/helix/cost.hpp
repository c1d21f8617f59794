// What a plan costs: hardware presets, per-operator roofline and α-β costs, memory per device,
// the simulated timeline and the comparison of plans with verdicts on the seed's claims.
#pragma once

#include "helix/cost/compare.hpp"
#include "helix/cost/hardware.hpp"
#include "helix/cost/memory.hpp"
#include "helix/cost/op_cost.hpp"
#include "helix/cost/schedule.hpp"
#include "helix/cost/simulate.hpp"
#include "helix/cost/units.hpp"
#include "helix/cost/work.hpp"
