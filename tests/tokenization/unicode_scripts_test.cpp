// The UnicodeScripts pre-tokenizer against the real HF tokenizers on every code point: texts that
// hold each code point once, in order ("run"), and each after a Latin 'a' ("latin") or a Greek 'α'
// ("greek"), so that a wrong script, a wrong "Any" or a wrong Hiragana/Katakana fold shows up as
// a cut in the wrong place. The reference cuts come from tools/unicode_scripts_splits.mjs (HF
// tokenizers through its N-API binding, installed from npm on first use).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/npm_package.h"
#include "common/process.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"
#include "transformers/tokenization/unicode.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;
using testing::install_npm_package;
using testing::npm_cache_dir;
using testing::run_command;

constexpr const char* kHfTokenizersVersion = "0.6.0";
constexpr size_t kChunk = 8192;  // code points per text, as in the .mjs script

constexpr const char* kTokenizerJson = R"({"version":"1.0","truncation":null,"padding":null,
  "added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"UnicodeScripts"},
  "post_processor":null,"decoder":null,
  "model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}})";

std::vector<char32_t> every_code_point() {
  std::vector<char32_t> out;
  for (char32_t c = 1; c <= 0x10FFFF; ++c)
    if (c < 0xD800 || c > 0xDFFF) out.push_back(c);
  return out;
}

std::string make_text(const std::string& mode, const std::vector<char32_t>& cps, size_t begin,
                      size_t end) {
  std::string s;
  for (size_t i = begin; i < end; ++i) {
    if (mode == "latin") s += "a";
    if (mode == "greek") s += "\xCE\xB1";
    tokenization::append_utf8(s, cps[i]);
  }
  return s;
}

std::string hex(char32_t c) {
  std::ostringstream o;
  o << "U+" << std::hex << std::uppercase << static_cast<uint32_t>(c);
  return o.str();
}

TEST(UnicodeScripts, EveryCodePointCutsAsHfTokenizers) {
  const fs::path prefix = install_npm_package(
      npm_cache_dir(std::string("hf-tokenizers-") + kHfTokenizersVersion), "@anush008/tokenizers",
      kHfTokenizersVersion);
  ASSERT_FALSE(prefix.empty());
  const fs::path json_path = fs::path(TCPP_BINARY_DIR) / "test-scratch" / "unicode_scripts.json";
  fs::create_directories(json_path.parent_path());
  write_file_atomically(json_path, kTokenizerJson);
  const std::string script =
      (fs::path(TCPP_SOURCE_DIR) / "tests/tokenization/tools/unicode_scripts_splits.mjs").string();
  auto ref = run_command("NODE_PATH=" + (prefix / "node_modules").string() + " node " + script +
                         " " + json_path.string());
  ASSERT_EQ(ref.exit_code, 0) << ref.err;

  auto tok = Tokenizer::from_json_string(kTokenizerJson, "UnicodeScripts tokenizer");
  const auto cps = every_code_point();
  std::istringstream lines(ref.out);
  size_t mismatches = 0, texts = 0;
  for (const std::string mode : {"run", "latin", "greek"}) {
    for (size_t begin = 0; begin < cps.size(); begin += kChunk, ++texts) {
      const size_t end = std::min(begin + kChunk, cps.size());
      std::string line;
      ASSERT_TRUE(std::getline(lines, line)) << "the reference ended early at " << mode;
      auto expected = parse_json(line, "reference").get<std::vector<size_t>>();
      auto enc = tok.encode_full(make_text(mode, cps, begin, end), false);
      std::vector<size_t> got;
      for (const auto& o : enc.offsets) got.push_back(o.first);
      if (got == expected) continue;
      // Name the code points where only one side cuts.
      std::vector<size_t> only_ours, only_hf;
      std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(),
                          std::back_inserter(only_ours));
      std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(),
                          std::back_inserter(only_hf));
      const size_t step = mode == "run" ? 1 : 2;
      auto name = [&](const std::vector<size_t>& cuts) {
        std::string s;
        for (size_t k = 0; k < cuts.size() && k < 8; ++k) s += " " + hex(cps[begin + cuts[k] / step]);
        return s;
      };
      ADD_FAILURE() << mode << " text from " << hex(cps[begin]) << ": cuts before" << name(only_ours)
                    << " only here, before" << name(only_hf) << " only in HF";
      if (++mismatches >= 20) return;
    }
  }
  EXPECT_EQ(texts, 3 * ((cps.size() + kChunk - 1) / kChunk));
}

}  // namespace
}  // namespace transformers
