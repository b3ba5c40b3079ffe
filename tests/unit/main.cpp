// The doctest runner of the unit tests: one binary per wing (tests/unit/<wing>/*.cpp).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
