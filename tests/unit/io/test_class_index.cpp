// Class-id alignment: rows by id, dense or sparse ids, unions and
// intersections, missing ids.
#include "lt/io/schema.hpp"

#include <doctest/doctest.h>

TEST_CASE("ClassIndex: rows by class id, whatever the order or spread of the ids") {
    for (const std::vector<std::int64_t>& ids :
         {std::vector<std::int64_t>{3, 0, 7}, std::vector<std::int64_t>{3000000000, 0, 7}}) {
        const lt::ClassIndex index(ids);
        CHECK(index.size() == 3);
        CHECK(index.row(ids[0]) == 0);
        CHECK(index.row(0) == 1);
        CHECK(index.row(7) == 2);
        CHECK(index.row(5) == lt::ClassIndex::kNone);
        CHECK(index.row(-1) == lt::ClassIndex::kNone);
        CHECK(index.rows({7, 5, 0}) == std::vector<std::int64_t>{2, lt::ClassIndex::kNone, 1});
        CHECK(index.first_missing({0, 7}) == std::nullopt);
        CHECK(index.first_missing({0, 9, 8}) == 9);
    }
    CHECK(lt::ClassIndex({1, 2, 3}).same_ids(lt::ClassIndex({3, 1, 2})));
    CHECK(!lt::ClassIndex({1, 2, 3}).same_ids(lt::ClassIndex({1, 2})));
    CHECK(!lt::ClassIndex({1, 2}).same_ids(lt::ClassIndex({1, 4})));
    CHECK(lt::ClassIndex().row(0) == lt::ClassIndex::kNone);
}

TEST_CASE("union_ids and common_ids are sorted sets") {
    CHECK(lt::union_ids({5, 1, 3}, {3, 2}) == std::vector<std::int64_t>{1, 2, 3, 5});
    CHECK(lt::common_ids({5, 1, 3}, {3, 5, 8}) == std::vector<std::int64_t>{3, 5});
    CHECK(lt::common_ids({1}, {2}).empty());
}
