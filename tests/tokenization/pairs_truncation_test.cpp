// Pairs, truncation (strategies, stride, sides, overflowing windows) against the real HF
// tokenizers (data/pairs_truncation.jsonl, made by data/pairs_truncation.mjs).
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "transformers/core/error.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

const char* kA = "The quick brown fox jumps over the lazy dog. Naïve café, résumé! 12345";
const char* kB = "Pack my box with five dozen liquor jugs? Ünïcödé 中文";

TEST(PairsAndTruncation, MatchRustTokenizers) {
  fs::path path = fs::path(TCPP_SOURCE_DIR) / "tests/tokenization/data/pairs_truncation.jsonl";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing fixture " << path;
  std::map<std::string, Tokenizer> tokenizers;
  std::string line;
  size_t cases = 0;
  while (std::getline(in, line)) {
    Json c = parse_json(line, path.string());
    std::string fam = c["fam"];
    if (!tokenizers.count(fam))
      tokenizers.emplace(fam, Tokenizer::from_pretrained(fs::path(TCPP_SHARED_DIR) / "tokenizers/models" / fam));
    const Tokenizer& tok = tokenizers.at(fam);
    EncodeOptions opts{.return_overflowing_tokens = true};
    if (c.contains("strategy")) {
      std::string s = c["strategy"];
      opts.truncation = s == "LongestFirst" ? Truncation::kLongestFirst
                        : s == "OnlyFirst"  ? Truncation::kOnlyFirst
                                            : Truncation::kOnlySecond;
      opts.max_length = c["max"].get<size_t>();
      opts.stride = c["stride"].get<size_t>();
      opts.truncation_side = c["direction"] == "left" ? Side::kLeft : Side::kRight;
    }
    std::string where = line.substr(0, 90);
    ++cases;
    const Json& r = c["r"];
    auto run = [&] {
      if (c["case"] == "pair")
        return tok(std::vector<std::pair<std::string, std::string>>{{kA, kB}}, opts);
      return tok(std::vector<std::string>{kA}, opts);
    };
    if (r.contains("error")) {
      EXPECT_THROW(run(), ValueError) << where;
      continue;
    }
    BatchEncoding b = run();
    ASSERT_EQ(b.size(), 1 + r["overflowing"].size()) << where;
    EXPECT_EQ(Json(b.input_ids[0]), r["ids"]) << where;
    EXPECT_EQ(Json(b.token_type_ids[0]), r["type_ids"]) << where;
    EXPECT_EQ(Json(b.tokens[0]), r["tokens"]) << where;
    EXPECT_EQ(Json(b.special_tokens_mask[0]), r["special"]) << where;
    EXPECT_EQ(Json(b.attention_mask[0]), r["attention"]) << where;
    Json offsets = Json::array();
    for (auto [s, e] : b.offset_mapping[0]) offsets.push_back({s, e});
    EXPECT_EQ(offsets, r["offsets"]) << where;
    for (size_t k = 0; k < r["overflowing"].size(); ++k) {
      EXPECT_EQ(Json(b.input_ids[k + 1]), r["overflowing"][k]["ids"]) << where << " window " << k;
      EXPECT_EQ(Json(b.token_type_ids[k + 1]), r["overflowing"][k]["type_ids"]) << where << " window " << k;
    }
  }
  EXPECT_GT(cases, 20u);
}

}  // namespace
}  // namespace transformers
