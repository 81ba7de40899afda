// A program in a real terminal: a detached tmux session runs a command; the test types keys into
// it (send-keys) and reads the screen (capture-pane). Each session has its own tmux server socket,
// so tests never meet a user's tmux or each other.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/process.h"

namespace transformers::testing {

class TmuxSession {
 public:
  // Runs `command` (a shell command line) in a 200x50 terminal. The shell stays after it ends so
  // the screen can still be read.
  explicit TmuxSession(const std::string& command) {
    static int counter = 0;
    socket_ = "tcpp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    const ProcessResult r = run_command("tmux -L " + socket_ + " new-session -d -s main -x 200 -y 50 " +
                                        quote(command + "; echo \"[exit $?]\"; sleep 600"));
    EXPECT_EQ(r.exit_code, 0) << "tmux did not start: " << r.err;
  }
  ~TmuxSession() { run_command("tmux -L " + socket_ + " kill-server"); }
  TmuxSession(const TmuxSession&) = delete;
  TmuxSession& operator=(const TmuxSession&) = delete;

  // tmux key names ("Enter", "C-c") or literal text with literal = true.
  void send(const std::string& keys, bool literal = false) {
    run_command("tmux -L " + socket_ + " send-keys -t main " + (literal ? "-l " : "") + quote(keys));
  }
  void type_line(const std::string& text) {
    send(text, true);
    send("Enter");
  }
  // The whole screen and scrollback as text.
  std::string screen() const {
    return run_command("tmux -L " + socket_ + " capture-pane -p -J -S -1000 -t main").out;
  }
  // Waits until `done(screen)` holds; false (and a failure showing the screen) after `limit`.
  bool wait_for(const std::function<bool(const std::string&)>& done, std::chrono::seconds limit,
                const std::string& what) const {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done(screen())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "waited in vain for " << what << "; the screen:\n" << screen();
    return false;
  }
  bool wait_for_text(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(120)) const {
    return wait_for([&](const std::string& s) { return s.find(text) != std::string::npos; }, limit, "'" + text + "'");
  }

 private:
  static std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  std::string socket_;
};

}  // namespace transformers::testing
