#include "cli/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace transformers::cli {

namespace {
std::atomic<bool> g_quiet{false};

std::string amount(uint64_t n, bool bytes) {
  if (!bytes) return std::to_string(n);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / 1e6);
  return buf;
}
}  // namespace

bool quiet() { return g_quiet.load(); }
void set_quiet(bool q) { g_quiet.store(q); }

ProgressLine::ProgressLine(std::string label, bool bytes)
    : label_(std::move(label)), bytes_(bytes), enabled_(!quiet() && ::isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() {
  if (drawn_) std::fputc('\n', stderr);
}

void ProgressLine::update(uint64_t done, uint64_t total, const std::string& detail) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const bool last = total > 0 && done >= total;
  if (drawn_ && !last && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  std::string line = "\r\033[K" + label_ + " " + amount(done, bytes_);
  if (total > 0) {
    line += "/" + amount(total, bytes_);
    const int width = 24, filled = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) /
                                                   static_cast<double>(total));
    line += " [" + std::string(static_cast<size_t>(std::min(filled, width)), '#') +
            std::string(static_cast<size_t>(width - std::min(filled, width)), ' ') + "]";
  }
  if (!detail.empty()) line += " " + detail;
  if (last) line += "\n";  // complete: the next output starts on a line of its own
  drawn_ = !last;
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

std::function<void(size_t, size_t)> ProgressLine::callback() {
  return [this](size_t done, size_t total) { update(done, total); };
}

}  // namespace transformers::cli
