// The byte-level fast path (fast_byte_level.cpp) against the general pipeline of the same
// tokenizer.json, which expected_files_test checks against the Rust library: every field of the
// full encoding and the ids-only encoding, on texts aimed at the fast path's own bookkeeping
// (chars split across tokens, NFC that composes or reorders chars next to added tokens, normalized
// added tokens matched on NFC text, invalid UTF-8, add_prefix_space).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer_json.h"

namespace transformers::tokenization {
namespace {

namespace fs = std::filesystem;

const fs::path kModels = fs::path(TCPP_SHARED_DIR) / "tokenizers" / "models";

const std::vector<std::string> kTexts = {
    "",
    "Hello world",
    "  leading spaces\n\ttabs\r\n  trailing  ",
    "don't I'LL we've 12345678 3.14159",
    "h\xC3\xA9llo w\xC3\xB6rld \xC3\xB1",                       // precomposed
    "e\xCC\x81te\xCC\x81 cafe\xCC\x81",                         // NFC composes e + U+0301
    "a\xCC\xA3\xCC\x81 q\xCC\x87\xCC\xA3 x",                    // NFC reorders the marks
    "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8 \xEA\xB0\x81",        // Hangul jamo, then a syllable
    "\xE2\x84\xAB \xC3\x85",                                    // U+212B becomes U+00C5
    "\xCC\x81 a leading combining mark",
    "Ka\xCC\x81 <|im_start|>e\xCC\x81<|im_end|> x<|endoftext|>",  // added tokens in NFC text
    "<|endoftext|>",
    "<|endoftext|><|endoftext|>e\xCC\x81",
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\xA4\x97\xF0\x9F\xA4\x97 "
    "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",                // CJK, emoji, ZWJ sequence
    "\xFF\xFE invalid \xC3 bytes e\xCC\x81",                     // invalid UTF-8
};

std::string describe(const std::string& text) {
  return Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Compares both paths of one tokenizer.json on every text of `texts`.
void expect_same_as_general(TokenizerJson& tok, const std::vector<std::string>& texts,
                            const std::string& name) {
  ASSERT_TRUE(tok.has_fast_path()) << name << ": the fast path was not detected";
  for (const std::string& text : texts) {
    tok.set_fast_path_enabled(true);
    Encoding fast = tok.encode_sequence(text, 0);
    std::vector<int64_t> fast_ids = tok.encode_ids(text, false);
    tok.set_fast_path_enabled(false);
    Encoding general = tok.encode_sequence(text, 0);
    SCOPED_TRACE(name + " on " + describe(text));
    EXPECT_EQ(fast.ids, general.ids);
    EXPECT_EQ(fast_ids, general.ids);
    EXPECT_EQ(fast.tokens, general.tokens);
    EXPECT_EQ(fast.offsets, general.offsets);
    EXPECT_EQ(fast.word_ids, general.word_ids);
    EXPECT_EQ(fast.type_ids, general.type_ids);
    EXPECT_EQ(fast.special_tokens_mask, general.special_tokens_mask);
    EXPECT_EQ(fast.attention_mask, general.attention_mask);
    EXPECT_EQ(fast.sequence_ids, general.sequence_ids);
  }
}

Json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json(ss.str(), path.string());
}

class FastPath : public ::testing::TestWithParam<std::string> {};

TEST_P(FastPath, AgreesWithGeneralPipeline) {
  auto tok = TokenizerJson::from_file(kModels / GetParam() / "tokenizer.json");
  expect_same_as_general(*tok, kTexts, GetParam());
}

INSTANTIATE_TEST_SUITE_P(ByteLevelFamilies, FastPath,
                         ::testing::Values("gpt2", "llama3", "qwen3", "roberta", "modernbert"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// An added token with normalized=true is matched on the NFC text: its offsets come back through
// the NFC alignments, and its string is the normalized text it matched.
TEST(FastPath, NormalizedAddedTokenOnNfcText) {
  Json json = read_json(kModels / "qwen3" / "tokenizer.json");
  json["added_tokens"].push_back({{"id", 999999},
                                  {"content", "\xC3\xA9x"},  // "éx" (NFC)
                                  {"single_word", false},
                                  {"lstrip", false},
                                  {"rstrip", false},
                                  {"normalized", true},
                                  {"special", false}});
  auto tok = TokenizerJson::from_string(json.dump(), "qwen3 + a normalized added token");
  std::vector<std::string> texts = kTexts;
  texts.push_back("e\xCC\x81x and \xC3\xA9x and e\xCC\x81xe\xCC\x81x <|im_end|>e\xCC\x81x");
  expect_same_as_general(*tok, texts, "qwen3 + normalized added token");
  // The match is a token of its own, spanning the 3 input chars "e", U+0301, "x".
  tok->set_fast_path_enabled(true);
  Encoding e = tok->encode_sequence("e\xCC\x81x", 0);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e.offsets[0], (Offsets{0, 3}));
  EXPECT_EQ(e.tokens[0], "\xC3\xA9x");
}

// With add_prefix_space the fast path must leave texts without a leading space to the general
// pipeline (which prepends one); the results agree either way.
TEST(FastPath, AddPrefixSpaceVariant) {
  Json json = read_json(kModels / "gpt2" / "tokenizer.json");
  json["pre_tokenizer"]["add_prefix_space"] = true;
  auto tok = TokenizerJson::from_string(json.dump(), "gpt2 + add_prefix_space");
  std::vector<std::string> texts = kTexts;
  texts.insert(texts.end(), {"Hello", " Hello", "<|endoftext|>Hi", "Hi<|endoftext|> there"});
  expect_same_as_general(*tok, texts, "gpt2 + add_prefix_space");
}

}  // namespace
}  // namespace transformers::tokenization
