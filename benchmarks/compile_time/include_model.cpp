// Compile-time probe: the cost of including helix/model.hpp and nothing else.
#include <helix/model.hpp>
