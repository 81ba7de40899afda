// Acceptance test: every tokenizer family in ../shared/tokenizers/models against what the Rust
// `tokenizers` library returned (../shared/tokenizers/expected/<family>.jsonl): ids, tokens,
// offsets (code points), decode and decode with skip_special_tokens, for every sample text.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

const fs::path kTokenizers = fs::path(TCPP_SHARED_DIR) / "tokenizers";

Json encoding_json(const Encoding& e) {
  Json offsets = Json::array();
  for (auto [s, t] : e.offsets) offsets.push_back({s, t});
  return {{"ids", e.ids}, {"tokens", e.tokens}, {"offsets", offsets}};
}

class ExpectedFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ExpectedFile, MatchesRustTokenizers) {
  const std::string family = GetParam();
  fs::path folder = kTokenizers / "models" / family;
  fs::path expected_path = kTokenizers / "expected" / (family + ".jsonl");
  ASSERT_TRUE(fs::exists(folder / "tokenizer.json")) << "missing fixture " << folder;
  ASSERT_TRUE(fs::exists(expected_path)) << "missing fixture " << expected_path;
  Tokenizer tok = Tokenizer::from_pretrained(folder);
  std::ifstream in(expected_path);
  std::string line;
  size_t total = 0, failures = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Json expected = parse_json(line, expected_path.string());
    std::string text = expected["text"].get<std::string>();
    ++total;
    Encoding with = tok.encode_full(text, true);
    Encoding without = tok.encode_full(text, false);
    std::vector<std::string> problems;
    if (encoding_json(with) != expected["with_special"]) problems.push_back("with_special");
    if (encoding_json(without) != expected["no_special"]) problems.push_back("no_special");
    // The ids-only path (its own fast paths) must agree with the full encoding.
    if (tok.encode(text, true) != with.ids) problems.push_back("encode(ids, special)");
    if (tok.encode(text, false) != without.ids) problems.push_back("encode(ids)");
    // The reference is the Rust decode, which never applies clean_up_tokenization_spaces.
    DecodeOptions raw{.skip_special_tokens = false, .clean_up_tokenization_spaces = false};
    DecodeOptions skip{.skip_special_tokens = true, .clean_up_tokenization_spaces = false};
    if (tok.decode(with.ids, raw) != expected["decode"].get<std::string>()) problems.push_back("decode");
    if (tok.decode(with.ids, skip) != expected["decode_skip"].get<std::string>())
      problems.push_back("decode_skip");
    if (!problems.empty()) {
      ++failures;
      if (failures <= 3) {
        std::ostringstream msg;
        msg << family << " text #" << expected["i"] << " " << Json(text).dump() << " differs in";
        for (auto& p : problems) msg << " " << p;
        msg << "\n  expected: " << expected["with_special"].dump().substr(0, 1500)
            << "\n  actual:   " << encoding_json(with).dump().substr(0, 1500)
            << "\n  expected decode: " << expected["decode"].dump().substr(0, 300)
            << "\n  actual decode:   " << Json(tok.decode(with.ids, raw)).dump().substr(0, 300);
        ADD_FAILURE() << msg.str();
      }
    }
  }
  EXPECT_GT(total, 400u) << "expected file " << expected_path << " looks truncated";
  EXPECT_EQ(failures, 0u) << family << ": " << failures << " of " << total << " texts differ";
  std::printf("[ %-16s ] %zu/%zu texts identical\n", family.c_str(), total - failures, total);
}

INSTANTIATE_TEST_SUITE_P(Families, ExpectedFile,
                         ::testing::Values("bert", "gemma", "gpt2", "llama2", "llama3",
                                           "mistral-v0.3", "modernbert", "phi-3", "qwen3",
                                           "roberta", "t5", "wordlevel-codet5"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (auto& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace transformers
