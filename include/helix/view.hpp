// What people look at: views of a Dag as data (whole model, one layer's MHA or MLP at full
// detail with shapes and placements on the edges, communication only) and the words they use.
// Drawing them is io's job (io/dot.hpp).
// Including it costs about what helix/graph.hpp does (benchmarks/README.md).
#pragma once

#include "helix/view/communication_view.hpp"
#include "helix/view/labels.hpp"
#include "helix/view/layer_view.hpp"
#include "helix/view/model_view.hpp"
#include "helix/view/view.hpp"
