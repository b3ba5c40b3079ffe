#include "lt/base/progress.hpp"

#include "lt/base/log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace lt {

namespace {

std::atomic<double> interval_seconds{0.0};

// "45s", "3m05s", "2h07m".
std::string duration_text(double seconds) {
    const auto total = static_cast<long long>(seconds + 0.5);
    if (total < 60) return fmt::format("{}s", total);
    if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
    return fmt::format("{}h{:02}m", total / 3600, total % 3600 / 60);
}

}  // namespace

void set_progress_interval(double seconds) { interval_seconds = seconds > 0 ? seconds : 0.0; }
double progress_interval() { return interval_seconds; }

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      mode_(log::level() < 1 || log::rank() > 0 ? Mode::off
            : isatty(STDERR_FILENO)             ? Mode::terminal
            : progress_interval() > 0           ? Mode::log
                                                : Mode::off),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
    if (mode_ == Mode::log) logger_ = std::thread([this] { log_lines(); });
}

Progress::~Progress() { finish(); }

double Progress::rate() const {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
}

void Progress::advance(std::int64_t n) {
    done_ += n;
    if (mode_ == Mode::terminal) draw(false);
}

void Progress::set_suffix(std::string suffix) {
    std::lock_guard<std::mutex> lock(mutex_);
    suffix_ = std::move(suffix);
}

std::string Progress::line() const {
    const std::int64_t done = done_;
    const double per_second = rate();
    const bool bar = mode_ == Mode::terminal;
    std::string text = fmt::format("{}: {}", label_, done);
    if (total_ > 0) {
        const double fraction = static_cast<double>(done) / static_cast<double>(total_);
        text += fmt::format("/{}", total_);
        if (bar) {
            const int width = 24, filled = std::min(width, static_cast<int>(fraction * width));
            text += fmt::format(" [{}{}]", std::string(filled, '#'), std::string(width - filled, '.'));
        }
        text += fmt::format(bar ? " {:3.0f}%" : " ({:.0f}%)", 100 * fraction);
    }
    if (!bar)
        text += fmt::format(" after {}",
                            duration_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()));
    text += fmt::format("{} {:.1f} {}/s", bar ? "" : ",", per_second, unit_);
    if (total_ > 0 && per_second > 0 && done < total_)
        text += fmt::format("{} ETA {}", bar ? "" : ",", duration_text(static_cast<double>(total_ - done) / per_second));
    if (!suffix_.empty()) text += (bar ? " " : ", ") + suffix_;
    return text;
}

void Progress::draw(bool force) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r%s: %s\033[K", log::tool().c_str(), line().c_str());
    std::fflush(stderr);
}

void Progress::log_lines() {
    const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(progress_interval()));
    std::unique_lock<std::mutex> lock(mutex_);
    auto next = start_ + interval;
    while (!wake_.wait_until(lock, next, [this] { return finished_; })) {
        log::write(line());
        // Steady: a late wake-up (a busy machine) delays the next line, it does not add one.
        next = std::max(next + interval, std::chrono::steady_clock::now() + interval / 2);
    }
}

void Progress::finish() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (finished_) return;
        finished_ = true;
    }
    wake_.notify_all();
    if (logger_.joinable()) logger_.join();
    if (mode_ != Mode::terminal) return;
    draw(true);
    std::fputc('\n', stderr);
}

}  // namespace lt
