// Compile-time probe: the cost of including helix/io.hpp and nothing else.
#include <helix/io.hpp>
