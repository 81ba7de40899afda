// What the embedding tests compare with: hidden states that `transformers forward` writes, pooled
// by hand, and a tiny BERT folder with the real BERT tokenizer.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/core/tensor.h"

namespace transformers::testing {

inline std::string id_list(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// The mean of L rows of H floats of an f32 tensor, starting at element `offset`.
inline std::vector<float> mean_rows(const Tensor& t, int64_t offset, int64_t L, int64_t H) {
  std::vector<float> m(static_cast<size_t>(H), 0.0f);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t h = 0; h < H; ++h) m[h] += t.data<float>()[offset + i * H + h];
  for (float& v : m) v /= static_cast<float>(L);
  return m;
}

inline void expect_close(const std::vector<float>& a, const std::vector<float>& b, float tolerance = 1e-5f) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tolerance) << "dimension " << i;
}

// A tiny random BERT (make_tiny_model) with bert-base-uncased's tokenizer, in a fresh folder.
inline std::filesystem::path make_tiny_bert(const std::string& name) {
  const auto model = scratch_dir(name);
  auto made = run_command(std::string(TCPP_BINARY_DIR) + "/tools/make_tiny_model --arch bert --vocab 30522 --seed 5 --out " + model.string());
  EXPECT_EQ(made.exit_code, 0) << made.err;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(shared_path(std::string("tokenizers/models/bert/") + f), model / f);
  return model;
}

}  // namespace transformers::testing
