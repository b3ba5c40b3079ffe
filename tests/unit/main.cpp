// The doctest runner of the unit tests (tests/unit/*.cpp, one file per module).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
