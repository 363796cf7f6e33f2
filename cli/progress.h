// A progress bar with ETA on stderr, drawn only when stderr is a terminal, and the pipeline
// observer that draws one per task and prints stage lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sqz/pipeline/observer.h"

namespace sqz::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled);
  ~Progress();
  void update(int64_t done);
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Prints "[i/n] what" stage lines and notes on stderr unless quiet, details when verbose,
// and a progress bar per task.
class ConsoleObserver : public pipeline::Observer {
 public:
  ConsoleObserver(bool quiet, bool verbose) : quiet_(quiet), verbose_(verbose) {}
  void stage(int index, int count, const std::string& what) override;
  void task(const std::string& label, int64_t total) override;
  void progress(int64_t done) override;
  void task_done() override;
  void note(const std::string& line) override;
  void detail(const std::string& line) override;

 private:
  bool quiet_, verbose_;
  std::unique_ptr<Progress> bar_;
};

}  // namespace sqz::cli
