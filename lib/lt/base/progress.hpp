// A progress line on stderr (rate and ETA), drawn only when stderr is a
// terminal and the tool is not quiet, so logs and pipes stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lt {

class Progress {
public:
    // total = 0 means unknown. unit names what is counted ("images", "rows").
    Progress(std::string label, std::int64_t total, std::string unit = "items");
    ~Progress();
    void advance(std::int64_t n = 1);
    void set_suffix(std::string suffix);  // e.g. "loss 1.23"
    void finish();
    double rate() const;  // items per second so far

private:
    void draw(bool force);
    std::string label_, unit_, suffix_;
    std::int64_t total_, done_ = 0;
    bool enabled_, finished_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace lt
