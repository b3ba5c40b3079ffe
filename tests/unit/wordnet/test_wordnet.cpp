// WordNet Leacock-Chodorow similarity (lt-wordnet) against values derived by
// hand from the WordNet 3.0 hypernym chains that `wn dog -hypen` and
// `wn cat -hypen` print:
//   dog, domestic dog => canine, canid => carnivore => ...
//   cat, true cat     => feline, felid => carnivore => ...
// so dog.n.01 and cat.n.01 meet at carnivore, 2 + 2 = 4 edges, a path of 5
// nodes, and LCH = -ln(5 / (2 * 19)) = ln(7.6) = 2.028148247292285 (the
// value NLTK's dog.lch_similarity(cat) gives).
#include "lt/base/error.hpp"
#include "lt/wordnet/wordnet.hpp"

#include <doctest/doctest.h>

#include "temp_folder.hpp"

#include <cmath>

namespace wn = lt::wordnet;

TEST_CASE("wordnet: LCH formula, NLTK convention") {
    CHECK(wn::lch_from_path(4) == doctest::Approx(2.028148247292285).epsilon(1e-12));
    CHECK(wn::lch_from_path(0) == doctest::Approx(std::log(38.0)).epsilon(1e-12));  // same synset
    CHECK(wn::lch_from_path(4, 20) == doctest::Approx(std::log(8.0)).epsilon(1e-12));
    CHECK(std::isnan(wn::lch_from_path(-1)));  // no common ancestor
}

TEST_CASE("wordnet: synset names") {
    CHECK(wn::noun_offset("n02084071") == 2084071);  // dog, domestic dog, Canis familiaris
    CHECK(wn::noun_offset("02084071") == 2084071);
    CHECK(wn::noun_offset("dog.n.01") == 2084071);
    CHECK(wn::noun_offset("cat.n.01") == 2121620);   // cat, true cat
    CHECK(wn::noun_offset("Domestic dog.n.01") == 2084071);
    CHECK(wn::noun_id(2084071) == "n02084071");
    CHECK_THROWS_AS(wn::noun_offset("n02084072"), lt::Error);  // not the start of a synset
    CHECK_THROWS_AS(wn::noun_offset("dog.n.9"), lt::Error);    // dog has 7 noun senses
    CHECK_THROWS_AS(wn::noun_offset("dog"), lt::Error);
    CHECK_THROWS_AS(wn::noun_offset("nosuchnoun.n.01"), lt::Error);
}

TEST_CASE("wordnet: dog vs cat, by hand from wn -hypen") {
    long dog = wn::noun_offset("dog.n.01"), cat = wn::noun_offset("cat.n.01");
    long carnivore = wn::noun_offset("carnivore.n.01");
    auto up = wn::ancestor_distances(dog);
    CHECK(up.at(dog) == 0);
    CHECK(up.at(wn::noun_offset("canine.n.02")) == 1);
    CHECK(up.at(carnivore) == 2);
    // entity: 8 edges through domestic animal (the shorter of dog's two chains)
    CHECK(up.at(wn::noun_offset("entity.n.01")) == 8);
    CHECK(wn::shortest_path(dog, cat) == 4);
    CHECK(wn::shortest_path(cat, dog) == 4);
    CHECK(wn::lch(dog, cat) == doctest::Approx(2.028148247292285).epsilon(1e-12));
    CHECK(wn::lch(dog, dog) == doctest::Approx(std::log(38.0)).epsilon(1e-12));
    // an instance hypernym link counts: Einstein.n.01 => physicist (instance of)
    long einstein = wn::noun_offset("einstein.n.01"), physicist = wn::noun_offset("physicist.n.01");
    CHECK(wn::shortest_path(einstein, physicist) == 1);
}

TEST_CASE("wordnet: a name map; a name listed with two ids is ambiguous") {
    lt::test::TempFolder folder;
    const wn::NameMap map = wn::read_map(folder.write(
        "map.txt", "# id name\nn02012849 crane\nn02084071 dog\nn03126707 crane\nn02084071 dog\nn02121620 domestic cat\n"));
    CHECK(map.find("dog") == "n02084071");  // listed twice with one id: not ambiguous
    CHECK(map.find("domestic cat") == "n02121620");
    CHECK(map.find("cat").empty());
    CHECK_THROWS_WITH_AS(map.find("crane"),
                         "class name 'crane' is ambiguous: the map gives it n02012849 (line 2), n03126707 (line 4)",
                         lt::Error);
}
