// The hand-written scanners for the GPT-2 / Llama-3 / Qwen pre-tokenization regexes must split
// exactly as Oniguruma does: checked on the sample corpus and on random strings drawn from the
// characters where the patterns branch (contractions, letters, digits, \r\n, spaces, marks...).
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "transformers/io/json.h"
#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/regex.h"

namespace transformers::tokenization {
namespace {

const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kQwen =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<std::string> corpus() {
  std::filesystem::path path = std::filesystem::path(TCPP_SHARED_DIR) / "tokenizers/texts/samples.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing fixture " << path;
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) texts.push_back(parse_json(line, path.string())["text"].get<std::string>());
  // Random strings over the characters where the patterns branch.
  const char* palette[] = {"a", "Z", "é", "ſ", "S", "T", "'", "s", "t", "re", "VE", "m", "LL", "d",
                           "0", "7", "٣", "Ⅻ", "²", " ", "  ", "\t", "\n", "\r", "\r\n", "\xC2\xA0",
                           "\xE2\x80\xA8", "\xE3\x80\x80", "!", "?!", "-", "_", "中", "文", "🤗", "́",
                           "\xC2\x85", "\x0B", "\x0C", ".", "$", "ß", "İ", "K",
                           // marks in and out of canonical order, composing and not
                           "\xCC\x81", "\xCC\xA3", "\xCC\x88", "\xE0\xA4\xBC", "\xD6\xB8",
                           "\xE0\xA4\x95", "e", "o", "\xE1\x85\xA1", "\xE1\x84\x80", "\xEA\xB0\x80",
                           "\xE2\x84\xAB", "\xE0\xA5\x98", "\xD9\x8E", "\xD8\xA8"};
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, std::size(palette) - 1), len(0, 24);
  for (int n = 0; n < 20000; ++n) {
    std::string s;
    for (size_t k = len(rng); k > 0; --k) s += palette[pick(rng)];
    texts.push_back(std::move(s));
  }
  return texts;
}

void expect_same_as_oniguruma(const char* pattern) {
  Regex regex(pattern, "test");
  ASSERT_TRUE(regex.has_scanner()) << pattern;
  for (const auto& text : corpus()) {
    std::vector<ByteRange> fast, slow;
    regex.find_all(text, fast);
    regex.find_all_oniguruma(text, slow);
    ASSERT_TRUE(fast == slow) << "pattern " << pattern << " on " << Json(text).dump().substr(0, 300);
  }
}

TEST(PatternScanner, Gpt2AgreesWithOniguruma) { expect_same_as_oniguruma(std::string(kGpt2Pattern).c_str()); }
TEST(PatternScanner, Llama3AgreesWithOniguruma) { expect_same_as_oniguruma(kLlama3); }
TEST(PatternScanner, QwenAgreesWithOniguruma) { expect_same_as_oniguruma(kQwen); }

}  // namespace
}  // namespace transformers::tokenization

#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {
namespace {

// The NFC quick check used by the fast path may say "maybe not" freely but never "unchanged"
// for a text that NFC changes.
TEST(UnicodeQuickCheck, NfcQuickNeverLies) {
  auto texts = corpus();
  for (const char* extra : {"e\xCC\x81", "\xE2\x84\xAB", "\xE0\xA5\x98", "\xE1\x84\x80\xE1\x85\xA1",
                            "\xEA\xB0\x80\xE1\x86\xA8", "\xEF\xAC\x81", "A\xCC\x8A", "\xC3\x85"})
    texts.push_back(extra);
  size_t quick = 0;
  for (const auto& text : texts) {
    if (!is_nfc_quick(text)) continue;
    ++quick;
    auto changes = normalize_with_changes(text, NormalizationForm::kNFC);
    std::string out;
    for (auto [c, change] : changes) {
      ASSERT_EQ(change, 0) << Json(text).dump().substr(0, 200);
      append_utf8(out, c);
    }
    ASSERT_TRUE(out == text) << "NFC changes " << Json(text).dump().substr(0, 200);
  }
  EXPECT_GT(quick, texts.size() / 4);  // the check must stay useful, not only safe
}

}  // namespace
}  // namespace transformers::tokenization

#include <cstdlib>

#include "transformers/tokenization/tokenizer.h"

namespace transformers::tokenization {
namespace {

// Sentencepiece-style BPE cuts its one long word before each U+2581 run when the vocabulary
// makes that safe: the ids must equal the uncut run's, on the corpus and on random strings
// (spaces, U+2581 runs, byte-fallback and unknown chars).
TEST(BpeWordSplit, SameIdsAsWholeWord) {
  auto texts = corpus();
  for (const char* extra : {"a  b", "▁▁x▁", "  lead", "trail  ", "x▁▁▁▁y z", "\xF0\x9F\xA4\x97 \xF0\x9F\xA4\x97"})
    texts.push_back(extra);
  for (const char* family : {"llama2", "gemma", "mistral-v0.3"}) {
    auto dir = std::filesystem::path(TCPP_SHARED_DIR) / "tokenizers/models" / family;
    setenv("TCPP_TOKENIZER_NO_WORD_SPLIT", "1", 1);
    auto whole = Tokenizer::from_pretrained(dir);
    unsetenv("TCPP_TOKENIZER_NO_WORD_SPLIT");
    auto cut = Tokenizer::from_pretrained(dir);
    for (const auto& text : texts)
      ASSERT_EQ(cut.encode(text), whole.encode(text)) << family << " " << Json(text).dump().substr(0, 200);
  }
}

}  // namespace
}  // namespace transformers::tokenization
