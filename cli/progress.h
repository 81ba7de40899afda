// One progress line on stderr, shared by every command that works for long (model loading,
// convert, download): redrawn in place at most ten times a second when stderr is a terminal, and
// silent when it is not (a pipe, a log file) or when --quiet was given, so scripts read clean
// output. update() may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace transformers::cli {

// --quiet / -q on any command: no progress lines and no speed line.
bool quiet();
void set_quiet(bool quiet);

class ProgressLine {
 public:
  // `label` starts the line ("loading weights"); `bytes`: done/total are shown as MB.
  explicit ProgressLine(std::string label, bool bytes = false);
  ~ProgressLine();  // ends the line if one was left unfinished
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // done of total (total 0: unknown); `detail` is shown after the counts (a file name). The line
  // ends when done reaches total.
  void update(uint64_t done, uint64_t total, const std::string& detail = {});
  // A callback for LoadOptions::on_progress and the like.
  std::function<void(size_t, size_t)> callback();
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  bool bytes_ = false, enabled_ = false, drawn_ = false;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace transformers::cli
