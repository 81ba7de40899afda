// Node packages that tests run as independent references (the official openai client,
// llama.cpp through node-llama-cpp), installed once with npm into
// ~/.cache/transformers-cpp/<folder> (the npm registry is reachable; nothing else is). Without
// network the test fails saying so.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/process.h"

namespace transformers::testing {

inline std::filesystem::path npm_cache_dir(const std::string& folder) {
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/tmp") / ".cache" / "transformers-cpp" / folder;
}

// The prefix holding node_modules/<package>, installed at `version` when absent; empty (with a
// test failure) when npm failed. `env` prefixes the npm command (e.g. "NAME=value").
inline std::filesystem::path install_npm_package(const std::filesystem::path& prefix, const std::string& package,
                                                 const std::string& version, const std::string& env = "") {
  if (!std::filesystem::exists(prefix / "node_modules" / package / "package.json")) {
    std::filesystem::create_directories(prefix);
    auto r = run_command(env + " npm install --no-audit --no-fund --prefix " + prefix.string() + " " + package + "@" + version);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "npm could not install " << package << "@" << version << " into " << prefix
                    << " (no network or no npm?); the test needs it as its reference:\n" << r.err;
      return {};
    }
  }
  return prefix;
}

}  // namespace transformers::testing
