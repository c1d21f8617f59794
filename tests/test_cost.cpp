// cost area tests.
#include <doctest/doctest.h>
