// Runs the real `transformers` executable (or any command) as a user would, capturing stdout,
// stderr and the exit status. Shared by the CLI test files.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>

#include "transformers/io/json.h"

namespace transformers::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  bool signaled = false;
  std::string out, err;
};

inline ProcessResult run_command(const std::string& command) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::path(TCPP_BINARY_DIR) / "test-scratch";
  std::filesystem::create_directories(dir);
  const std::string err_file =
      (dir / ("stderr_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
  ProcessResult r;
  FILE* p = ::popen((command + " 2>" + err_file).c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.signaled = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_text_file(err_file);
  std::filesystem::remove(err_file);
  return r;
}

// `transformers ARGS` with the binary of this build tree.
inline ProcessResult run_transformers(const std::string& args) {
  return run_command(std::string(TCPP_BINARY_DIR) + "/cli/transformers " + args);
}

// The CLI's answer to bad input: exit status 1 and one line "error: ..." containing `needle`.
inline void expect_one_line_error(const ProcessResult& r, const std::string& needle) {
  EXPECT_FALSE(r.signaled) << "crashed: " << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "expected one line: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

}  // namespace transformers::testing
