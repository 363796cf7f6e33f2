// What a long pipeline call reports while it works, and how its caller stops it. The pipeline
// never prints: a command-line tool draws progress bars from these calls, a GUI moves a bar,
// a test counts them. A null Observer* reports nothing and never cancels.
#pragma once

#include <cstdint>
#include <string>

#include "sqz/core/status.h"

namespace sqz::pipeline {

class Observer {
 public:
  virtual ~Observer() = default;
  // Stage `index` of `count` begins (compress has six: load, prune, share, calibrate, encode,
  // measure).
  virtual void stage(int /*index*/, int /*count*/, const std::string& /*what*/) {}
  // A task of `total` units begins; progress(done) reports units done so far (done <= total);
  // task_done() ends it. Tasks do not nest.
  virtual void task(const std::string& /*label*/, int64_t /*total*/) {}
  virtual void progress(int64_t /*done*/) {}
  virtual void task_done() {}
  // One line of summary (worth showing by default) or of detail (for a verbose mode).
  virtual void note(const std::string& /*line*/) {}
  virtual void detail(const std::string& /*line*/) {}
  // Polled between units of work; true makes the call return ErrorCode::kInterrupted.
  virtual bool cancelled() { return false; }
};

// A task on an optional observer: begins on construction, ends on destruction.
class Task {
 public:
  Task(Observer* observer, const std::string& label, int64_t total) : o_(observer) {
    if (o_) o_->task(label, total);
  }
  ~Task() {
    if (o_) o_->task_done();
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  // Reports progress; kInterrupted when the caller has asked to stop.
  Status advance(int64_t done) {
    if (!o_) return Status::ok();
    o_->progress(done);
    return o_->cancelled() ? Status(ErrorCode::kInterrupted, "cancelled by the caller")
                           : Status::ok();
  }

 private:
  Observer* o_;
};

}  // namespace sqz::pipeline
