// Compile-time probe: the cost of including helix/numerics.hpp and nothing else.
#include <helix/numerics.hpp>
