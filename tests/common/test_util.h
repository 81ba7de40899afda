// Shared helpers of the test suites: where the reference data is, and tensor comparisons.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "transformers/core/tensor.h"

namespace transformers::testing {

// Expects f() to throw E (or a subclass) whose message contains `text`.
template <typename E, typename F>
void expect_error_naming(F f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << text << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

// ../shared beside the checkout (TRANSFORMERS_SHARED_DIR overrides). A missing fixture fails the
// test with a message; it never skips.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("TRANSFORMERS_SHARED_DIR")) return env;
  return TCPP_SHARED_DIR;
}

inline std::filesystem::path shared_path(const std::string& relative) {
  auto p = shared_dir() / relative;
  EXPECT_TRUE(std::filesystem::exists(p)) << "missing reference fixture " << p
                                          << " (the shared/ folder must sit beside the checkout)";
  return p;
}

// This test process's own folder under the build tree: CTest runs tests in parallel processes,
// each of which may build the same fixture (a tiny model) under the same name, so names are
// scoped per process. Removed when the process exits (a leftover of a reused pid is cleared
// first).
inline const std::filesystem::path& process_scratch_root() {
  // Never destroyed: the exit handler below runs after static destructors would have.
  static const std::filesystem::path* root = [] {
    auto* r = new std::filesystem::path(std::filesystem::path(TCPP_BINARY_DIR) / "test-scratch" /
                                        ("p" + std::to_string(::getpid())));
    std::filesystem::remove_all(*r);
    std::filesystem::create_directories(*r);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*root, ec);
    });
    return r;
  }();
  return *root;
}

// A fresh empty folder for files a test writes (per test process, see above).
inline std::filesystem::path scratch_dir(const std::string& name) {
  auto p = process_scratch_root() / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  Tensor ac = a.contiguous(), bc = b.contiguous();
  float m = 0;
  for (int64_t i = 0; i < ac.numel(); ++i) m = std::max(m, std::fabs(ac.data<float>()[i] - bc.data<float>()[i]));
  return m;
}

inline float max_abs(const Tensor& a) {
  Tensor ac = a.contiguous();
  float m = 0;
  for (int64_t i = 0; i < ac.numel(); ++i) m = std::max(m, std::fabs(ac.data<float>()[i]));
  return m;
}

inline Tensor random_tensor(const Shape& shape, std::mt19937& rng, float scale = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::normal_distribution<float> dist(0.0f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

}  // namespace transformers::testing
