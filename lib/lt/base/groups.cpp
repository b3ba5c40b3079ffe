#include "lt/base/groups.hpp"

#include "lt/base/error.hpp"

#include <fmt/format.h>

namespace lt {

const char* group_name(ShotGroup group) {
    switch (group) {
        case ShotGroup::many: return "many";
        case ShotGroup::medium: return "medium";
        case ShotGroup::few: return "few";
    }
    return "?";
}

ShotGroup GroupThresholds::of(std::int64_t training_count) const {
    if (training_count > many) return ShotGroup::many;
    if (training_count < few) return ShotGroup::few;
    return ShotGroup::medium;
}

void GroupThresholds::check() const {
    if (few > many + 1)
        throw UsageError(fmt::format("--few {} is above --many {}: the groups would overlap", few, many));
}

GroupSizes group_sizes(const std::vector<std::int64_t>& class_counts, const GroupThresholds& thresholds) {
    GroupSizes sizes;
    for (std::int64_t count : class_counts) {
        if (count == 0) {
            ++sizes.absent;
            continue;
        }
        switch (thresholds.of(count)) {
            case ShotGroup::many: ++sizes.many; break;
            case ShotGroup::medium: ++sizes.medium; break;
            case ShotGroup::few: ++sizes.few; break;
        }
    }
    return sizes;
}

}  // namespace lt
