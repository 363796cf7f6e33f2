#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include "common.h"
#include "sqz/report/text.h"

namespace sqz::cli {

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::update(int64_t done) {
  if (!enabled_ || total_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = done > 0 ? elapsed * (total_ - done) / done : 0;
  const int width = 30, filled = static_cast<int>(width * done / total_);
  std::fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld  %.0fs elapsed, ETA %.0fs ",
               report::printable(label_).c_str(), filled, "##############################",
               width - filled, "", static_cast<long long>(done), static_cast<long long>(total_),
               elapsed, eta);
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace sqz::cli

namespace sqz::cli {

void ConsoleObserver::stage(int index, int count, const std::string& what) {
  if (!quiet_)
    std::fprintf(stderr, "[%d/%d] %s\n", index, count, report::printable(flag_words(what)).c_str());
}

void ConsoleObserver::task(const std::string& label, int64_t total) {
  bar_ = std::make_unique<Progress>(label, total, !quiet_ && !label.empty());
}

void ConsoleObserver::progress(int64_t done) {
  if (bar_) bar_->update(done);
}

void ConsoleObserver::task_done() { bar_.reset(); }

void ConsoleObserver::note(const std::string& line) {
  if (!quiet_) std::fprintf(stderr, "%s\n", report::printable(flag_words(line)).c_str());
}

void ConsoleObserver::detail(const std::string& line) {
  if (verbose_ && !quiet_) std::fprintf(stderr, "%s\n", report::printable(flag_words(line)).c_str());
}

}  // namespace sqz::cli
