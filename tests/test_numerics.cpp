// numerics area tests.
#include <doctest/doctest.h>
