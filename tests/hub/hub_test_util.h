// Helpers of the Hub tests: tiny models made by tools/make_tiny_model, environment variables
// set for one test, and a Hub cache laid out by hand exactly as huggingface_hub writes it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/process.h"
#include "common/test_util.h"
#include "fake_hub.h"
#include "transformers/io/files.h"

namespace transformers::testing {

namespace fs = std::filesystem;

// A tiny random llama checkpoint (config.json, generation_config.json, model.safetensors).
inline fs::path tiny_model(const std::string& name, int seed = 0) {
  const fs::path dir = scratch_dir(name);
  auto r =
      run_command(std::string(TCPP_BINARY_DIR) + "/tools/make_tiny_model --arch llama --seed " +
                  std::to_string(seed) + " --out " + dir.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

// {file name -> bytes} of a folder's regular files (links followed).
inline std::map<std::string, std::string> folder_files(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (fs::is_regular_file(e.path()))
      files[e.path().filename().string()] = read_text_file(e.path());
  return files;
}

// Sets (or with nullopt unsets) an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// models--org--name/{blobs/<sha256>, snapshots/<sha>/<file> -> ../../blobs/<sha256>, refs/<ref>}
// written by hand, as huggingface_hub lays them out (relative symlinks into blobs).
inline fs::path handmade_cache_repo(const fs::path& cache, const std::string& org_name,
                                    const std::string& sha,
                                    const std::map<std::string, std::string>& files,
                                    const std::string& ref = "main") {
  const fs::path repo = cache / ("models--" + org_name.substr(0, org_name.find('/')) + "--" +
                                 org_name.substr(org_name.find('/') + 1));
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "snapshots" / sha);
  fs::create_directories(repo / "refs");
  for (const auto& [name, bytes] : files) {
    const std::string etag = sha256_hex(bytes);
    write_file_atomically(repo / "blobs" / etag, bytes);
    fs::create_symlink("../../blobs/" + etag, repo / "snapshots" / sha / name);
  }
  if (!ref.empty()) write_file_atomically(repo / "refs" / ref, sha);
  return repo / "snapshots" / sha;
}

}  // namespace transformers::testing
