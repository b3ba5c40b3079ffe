// The ids a message names: a few, then a count of the rest.
#include "lt/base/log.hpp"

#include <doctest/doctest.h>

#include <numeric>

TEST_CASE("log: some_of names every id up to the limit, then how many more") {
    CHECK(lt::log::some_of({}) == "");
    CHECK(lt::log::some_of({3, 7, 9}) == "3, 7, 9");
    std::vector<std::int64_t> fifteen(15);
    std::iota(fifteen.begin(), fifteen.end(), 0);
    CHECK(lt::log::some_of(fifteen) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (5 more)");
    CHECK(lt::log::some_of(fifteen, 2) == "0, 1, ... (13 more)");
    CHECK(lt::log::some_of({4, 5}, 2) == "4, 5");
}
