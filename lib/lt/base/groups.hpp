// Shot groups: the one home of the many / medium / few convention that every
// public long-tail codebase uses (docs/method.md, "Setting"). A class with n
// TRAINING samples is many-shot when n > many, few-shot when n < few, and
// medium-shot otherwise; the thresholds are options (--many, --few).
#pragma once

#include <cstdint>
#include <vector>

namespace lt {

enum class ShotGroup { many = 0, medium = 1, few = 2 };
inline constexpr int kShotGroups = 3;
const char* group_name(ShotGroup group);  // "many", "medium", "few"

struct GroupThresholds {
    std::int64_t many = 100;  // many-shot: more training samples than this
    std::int64_t few = 20;    // few-shot: fewer training samples than this
    ShotGroup of(std::int64_t training_count) const;
    // Throws UsageError when few > many + 1 (the groups would overlap).
    void check() const;
};

// How many classes fall in each group; classes with no image (count 0) are
// counted apart as absent.
struct GroupSizes {
    int many = 0, medium = 0, few = 0, absent = 0;
};
GroupSizes group_sizes(const std::vector<std::int64_t>& class_counts, const GroupThresholds& thresholds = {});

}  // namespace lt
