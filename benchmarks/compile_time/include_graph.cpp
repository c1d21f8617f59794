// Compile-time probe: the cost of including helix/graph.hpp and nothing else.
#include <helix/graph.hpp>
