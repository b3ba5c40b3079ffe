// lt-info's pieces: count summaries against hand computations, the JSON and
// text renderings, and descriptions of files written here.
#include "lt/base/error.hpp"
#include "lt/info/info.hpp"
#include "lt/io/h5.hpp"
#include "lt/io/schema.hpp"
#include "temp_folder.hpp"

#include <doctest/doctest.h>

#include <cmath>

TEST_CASE("count summary: min, median (mean of the middle two when even), max and shot groups") {
    const lt::GroupThresholds thresholds;  // many n > 100, few n < 20
    // sorted 5 9 17 31 58 108 201 373 691 1280: the middle two are 58 and 108
    const std::vector<std::int64_t> counts = {1280, 691, 373, 201, 108, 58, 31, 17, 9, 5};
    CHECK(lt::info::count_summary(counts, thresholds).json() ==
          "{\"classes\": 10, \"samples\": 2773, \"min\": 5, \"median\": 83, \"max\": 1280, \"groups\": {\"many\": 5, "
          "\"medium\": 2, \"few\": 3, \"thresholds\": \"many n > 100, few n < 20\"}}");
    const lt::info::Value odd = lt::info::count_summary({3, 0, 100, 20, 101}, thresholds);
    CHECK(odd.find("median")->json() == "20");
    CHECK(odd.find("samples")->json() == "224");
    CHECK(odd.find("groups")->json() ==
          "{\"many\": 1, \"medium\": 2, \"few\": 1, \"without_samples\": 1, \"thresholds\": \"many n > 100, few n < 20\"}");
    CHECK(lt::info::count_summary({7, 8}, thresholds).find("median")->json() == "7.5");
}

TEST_CASE("values render as one-line JSON and as indented text") {
    lt::info::Value doc = lt::info::Value::object();
    doc.add("name", "a \"quoted\"\tname\n");
    doc.add("missing", lt::info::Value());
    doc.add("ok", true);
    doc.add("scale", 16.5);
    lt::info::Value& shape = doc.add("shape", lt::info::Value::array());
    shape.push(10000);
    shape.push(64);
    lt::info::Value& members = doc.add("members", lt::info::Value::array());
    for (const char* kind : {"cosine", "linear"}) {
        lt::info::Value& member = members.push(lt::info::Value::object());
        member.add("kind", kind);
        member.add("classes", 3);
    }
    doc.add("nested", lt::info::Value::object()).add("nan", std::nan(""));
    CHECK(doc.json() ==
          "{\"name\": \"a \\\"quoted\\\"\\tname\\n\", \"missing\": null, \"ok\": true, \"scale\": 16.5, "
          "\"shape\": [10000, 64], \"members\": [{\"kind\": \"cosine\", \"classes\": 3}, {\"kind\": \"linear\", "
          "\"classes\": 3}], \"nested\": {\"nan\": null}}");
    CHECK(doc.text() == "name: a \"quoted\"\tname\n"
                        "missing: -\n"
                        "ok: yes\n"
                        "scale: 16.5\n"
                        "shape: [10000, 64]\n"
                        "members:\n"
                        "  - kind: cosine\n"
                        "    classes: 3\n"
                        "  - kind: linear\n"
                        "    classes: 3\n"
                        "nested:\n"
                        "  nan: nan\n");
}

TEST_CASE("describe: a composed classifier and an ensemble; a non-lt HDF5 file is an error") {
    lt::test::TempFolder dir;
    lt::Classifier classifier;
    classifier.weights = lt::Matrix(3, 2);
    classifier.weights.values = {1, 0, 0, 1, 1, 1};
    classifier.class_ids = {2, 5, 9};
    classifier.class_counts = {300, 40, 4};
    classifier.composition = {{"mode", "p2w"}, {"k", "20"}, {"tau", "10"}, {"terms", "kt,p,w"}};
    {
        lt::h5::OutputFile out(dir.file("wh20.h5"), "classifier");
        lt::write_classifier_group(out, classifier);
        out.commit();
        lt::h5::OutputFile ensemble(dir.file("ensemble.h5"), "ensemble");
        lt::write_ensemble(ensemble, {classifier, classifier});
        ensemble.commit();
        lt::h5::OutputFile foreign(dir.file("foreign.h5"), "classifier");
        foreign.commit();
    }
    const lt::GroupThresholds thresholds;
    const lt::info::Value wh = lt::info::describe(dir.file("wh20.h5"), thresholds);
    CHECK(wh.find("type")->json() == "\"classifier\"");
    CHECK(wh.find("classifier")->json() ==
          "{\"kind\": \"cosine\", \"scale\": 16, \"classes\": 3, \"dim\": 2, \"composition\": {\"mode\": \"p2w\", "
          "\"k\": 20, \"tau\": 10, \"terms\": \"kt,p,w\"}}");
    CHECK(wh.find("class_ids")->json() == "{\"min\": 2, \"max\": 9}");
    CHECK(wh.find("class_counts")->find("median")->json() == "40");
    CHECK(wh.find("provenance")->find("tool") != nullptr);
    CHECK(wh.find("attributes") == nullptr);  // kind, scale, mode, k, tau, terms are shown above

    const lt::info::Value ensemble = lt::info::describe(dir.file("ensemble.h5"), thresholds);
    CHECK(ensemble.find("rule")->json() == "\"mean-prob\"");
    CHECK(ensemble.find("members")->size() == 2);
    CHECK_THROWS_WITH_AS(lt::info::describe(dir.file("foreign.h5"), thresholds),
                         doctest::Contains("missing dataset '/weights'"), lt::SchemaError);
    CHECK(lt::info::class_counts_tsv(dir.file("wh20.h5")) == "class_id\tcount\n2\t300\n5\t40\n9\t4\n");
}
