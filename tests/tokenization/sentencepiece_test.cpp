// The sentencepiece fallback (libsentencepiece) against Google's sentencepiece compiled to WASM
// (../shared/tools/sp_encode.mjs; expected files in data/, see data/README.md).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> sample_texts() {
  fs::path path = fs::path(TCPP_SHARED_DIR) / "tokenizers/texts/samples.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing fixture " << path;
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Json v = parse_json(line, path.string());
    texts.push_back(v.is_string() ? v.get<std::string>() : v["text"].get<std::string>());
  }
  return texts;
}

struct SpCase {
  const char* name;
  const char* model;  // relative to ../shared/tokenizers/models
};

class SentencePieceFile : public ::testing::TestWithParam<SpCase> {};

TEST_P(SentencePieceFile, MatchesSentencePieceWasm) {
  const SpCase& c = GetParam();
  fs::path model = fs::path(TCPP_SHARED_DIR) / "tokenizers/models" / c.model;
  fs::path expected_path = fs::path(TCPP_SOURCE_DIR) / "tests/tokenization/data" /
                           (std::string("sp_") + c.name + ".jsonl");
  ASSERT_TRUE(fs::exists(model)) << "missing fixture " << model;
  ASSERT_TRUE(fs::exists(expected_path)) << "missing fixture " << expected_path;
  auto texts = sample_texts();
  Tokenizer tok = Tokenizer::from_pretrained(model);
  std::ifstream in(expected_path);
  std::string line;
  size_t total = 0, failures = 0;
  while (std::getline(in, line)) {
    Json expected = parse_json(line, expected_path.string());
    size_t i = expected["i"].get<size_t>();
    ASSERT_LT(i, texts.size());
    ++total;
    auto ids = tok.encode(texts[i], /*add_special_tokens=*/false);
    bool ok = ids == expected["ids"].get<std::vector<int64_t>>();
    ok &= tok.decode(ids) == expected["decode"].get<std::string>();
    if (!ok && ++failures <= 3)
      ADD_FAILURE() << c.name << " text #" << i << ": expected " << expected.dump().substr(0, 400)
                    << "\n got ids " << Json(ids).dump().substr(0, 400);
  }
  EXPECT_EQ(total, texts.size());
  EXPECT_EQ(failures, 0u) << failures << " of " << total << " differ";
}

INSTANTIATE_TEST_SUITE_P(Models, SentencePieceFile,
                         ::testing::Values(SpCase{"albert_30k-clean", "sentencepiece/albert_30k-clean.model"},
                                           SpCase{"llama2", "sentencepiece/llama2_tokenizer.model"},
                                           SpCase{"mistral_v0.3", "mistral-v0.3/tokenizer.model.v3"}),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (auto& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace transformers
