// Everything about partition schemes: descriptors, Plan, the mesh, the rules and their
// compile-time and run-time fronts, and plan text.
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
