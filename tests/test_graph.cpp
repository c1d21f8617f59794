// graph area tests.
#include <doctest/doctest.h>
