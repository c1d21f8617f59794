// io area tests.
#include <doctest/doctest.h>
