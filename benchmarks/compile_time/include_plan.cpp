// Compile-time probe: the cost of including helix/plan.hpp and nothing else.
#include <helix/plan.hpp>
