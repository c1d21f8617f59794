// Umbrella header: the whole library.
#pragma once

#include "helix/graph.hpp"
#include "helix/model.hpp"
#include "helix/plan.hpp"
