// Component combinations the shared families do not use (add_prefix_space, lstrip/rstrip/
// single_word added tokens, NFKD/NFKC, Split behaviours, Digits, Punctuation, CharDelimiterSplit,
// Nmt, BertProcessing, post-processor Sequence, CTC...): each variant is a shared tokenizer.json
// with a JSON patch (data/variants.json); the expected outputs come from the real HF tokenizers
// on the patched file (data/make_variants.sh).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;
const fs::path kData = fs::path(TCPP_SOURCE_DIR) / "tests/tokenization/data";

Json encoding_json(const Encoding& e) {
  Json offsets = Json::array();
  for (auto [s, t] : e.offsets) offsets.push_back({s, t});
  return {{"ids", e.ids}, {"tokens", e.tokens}, {"offsets", offsets}};
}

std::vector<Json> read_jsonl(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing fixture " << path;
  std::vector<Json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(parse_json(line, path.string()));
  return out;
}

TEST(Variants, MatchRustTokenizers) {
  Json variants = read_json_file(kData / "variants.json");
  auto texts = read_jsonl(kData / "variant_texts.jsonl");
  ASSERT_GT(variants.size(), 5u);
  for (const Json& v : variants) {
    std::string name = v["name"];
    fs::path base = fs::path(TCPP_SHARED_DIR) / "tokenizers/models" / v["base"].get<std::string>() /
                    "tokenizer.json";
    ASSERT_TRUE(fs::exists(base)) << "missing fixture " << base;
    Json patched = read_json_file(base).patch(v["patch"]);
    Tokenizer tok = Tokenizer::from_json_string(patched.dump(), name);
    auto expected = read_jsonl(kData / ("variant_" + name + ".jsonl"));
    ASSERT_EQ(expected.size(), texts.size()) << name;
    size_t failures = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      std::string text = texts[i]["text"];
      Encoding e = tok.encode_full(text, true);
      std::string decode = tok.decode(e.ids, {.clean_up_tokenization_spaces = false});
      std::string skip = tok.decode(e.ids, {.skip_special_tokens = true, .clean_up_tokenization_spaces = false});
      bool ok = encoding_json(e) == expected[i]["with_special"] && decode == expected[i]["decode"] &&
                skip == expected[i]["decode_skip"] && tok.encode(text) == e.ids;
      if (!ok && ++failures <= 2)
        ADD_FAILURE() << name << " text " << i << " " << Json(text).dump().substr(0, 120)
                      << "\n expected " << expected[i]["with_special"].dump().substr(0, 700)
                      << "\n actual   " << encoding_json(e).dump().substr(0, 700)
                      << "\n expected decode " << expected[i]["decode"].dump().substr(0, 200)
                      << "\n actual decode   " << Json(decode).dump().substr(0, 200);
    }
    EXPECT_EQ(failures, 0u) << name << ": " << failures << " of " << texts.size() << " differ";
  }
}

}  // namespace
}  // namespace transformers
