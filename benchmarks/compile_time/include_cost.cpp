// Compile-time probe: the cost of including helix/cost.hpp and nothing else.
#include <helix/cost.hpp>
