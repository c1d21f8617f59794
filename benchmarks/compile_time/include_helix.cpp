// Compile-time probe: the cost of including helix/helix.hpp and nothing else.
#include <helix/helix.hpp>
