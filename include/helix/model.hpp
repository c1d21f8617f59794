// The model vocabulary: Model, Workload and the named presets.
#pragma once

#include "helix/model/model.hpp"
#include "helix/model/presets.hpp"
