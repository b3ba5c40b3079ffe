// Progress of a long step on stderr (count, rate, ETA), unless the tool is
// quiet:
//   - on a terminal, a line redrawn in place (a bar);
//   - elsewhere (a log file: nohup, SLURM, make), one plain line every
//     progress_interval() seconds, so logs show that a long step advances
//     without filling up with redraws. The interval is a process-wide
//     setting, 0 (no lines) by default; tools with long steps let the user
//     choose it (--progress-interval, applied by cli::run_tool).
// advance() may be called from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace lt {

// Seconds between progress lines off a terminal; 0 = none.
void set_progress_interval(double seconds);
double progress_interval();

class Progress {
public:
    // total = 0 means unknown. unit names what is counted ("images", "rows").
    Progress(std::string label, std::int64_t total, std::string unit = "items");
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    void advance(std::int64_t n = 1);
    void set_suffix(std::string suffix);  // e.g. "loss 1.23"
    void finish();
    double rate() const;  // items per second so far

private:
    enum class Mode { off, terminal, log };
    std::string line() const;  // "<label>: done/total [bar] ..." without the tool name
    void draw(bool force);     // the terminal bar
    void log_lines();          // the thread of Mode::log

    const std::string label_, unit_;
    const std::int64_t total_;
    const Mode mode_;
    const std::chrono::steady_clock::time_point start_;
    std::atomic<std::int64_t> done_{0};
    mutable std::mutex mutex_;  // suffix_, last_draw_, finished_, the thread's wake-up
    std::string suffix_;
    std::chrono::steady_clock::time_point last_draw_;
    bool finished_ = false;
    std::condition_variable wake_;
    std::thread logger_;
};

}  // namespace lt
