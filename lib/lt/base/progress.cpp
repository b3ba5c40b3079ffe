#include "lt/base/progress.hpp"

#include "lt/base/log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace lt {

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      enabled_(log::level() >= 1 && isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() { finish(); }

double Progress::rate() const {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
}

void Progress::advance(std::int64_t n) {
    done_ += n;
    draw(false);
}

void Progress::set_suffix(std::string suffix) { suffix_ = std::move(suffix); }

void Progress::draw(bool force) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    double per_second = rate();
    std::string line = fmt::format("\r{}: {}: {}", log::tool(), label_, done_);
    if (total_ > 0) {
        double fraction = static_cast<double>(done_) / static_cast<double>(total_);
        int width = 24, filled = static_cast<int>(fraction * width);
        line += fmt::format("/{} [{}{}] {:3.0f}%", total_, std::string(filled, '#'),
                            std::string(width - filled, '.'), 100 * fraction);
        if (per_second > 0 && done_ < total_)
            line += fmt::format(" ETA {:.0f}s", static_cast<double>(total_ - done_) / per_second);
    }
    line += fmt::format(" {:.1f} {}/s", per_second, unit_);
    if (!suffix_.empty()) line += " " + suffix_;
    std::fprintf(stderr, "%s\033[K", line.c_str());
    std::fflush(stderr);
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    if (!enabled_) return;
    draw(true);
    std::fputc('\n', stderr);
}

}  // namespace lt
