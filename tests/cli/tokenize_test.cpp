// `transformers tokenize` as a user runs it: the shared sample texts through the real binary,
// byte for byte equal to what the Rust tokenizers printed through hf_encode.mjs.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/process.h"

#include "transformers/io/files.h"
#include "transformers/io/json.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

struct TokenizeRun {
  int exit_code = -1;
  std::string out;
};

// stdout followed by stderr (the error exits are read from `out`).
TokenizeRun run_tokenize(const std::string& args) {
  testing::ProcessResult r = testing::run_transformers("tokenize " + args);
  return {r.exit_code, r.out + r.err};
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

TEST(CliTokenize, JsonlOutputIsByteIdenticalToHfEncode) {
  fs::path tokenizers = fs::path(TCPP_SHARED_DIR) / "tokenizers";
  fs::path samples = tokenizers / "texts/samples.jsonl";
  ASSERT_TRUE(fs::exists(samples)) << "missing fixture " << samples;
  for (const char* family : {"gpt2", "llama2", "t5", "bert"}) {
    fs::path expected = tokenizers / "expected" / (std::string(family) + ".jsonl");
    ASSERT_TRUE(fs::exists(expected)) << "missing fixture " << expected;
    TokenizeRun r = run_tokenize(q(tokenizers / "models" / family) + " --format hf-encode --jsonl < " + q(samples));
    ASSERT_EQ(r.exit_code, 0) << r.out.substr(0, 500);
    EXPECT_TRUE(r.out == read_text_file(expected)) << family << ": output differs from " << expected;
  }
}

TEST(CliTokenize, TextAndIdsAndErrors) {
  fs::path gpt2 = fs::path(TCPP_SHARED_DIR) / "tokenizers/models/gpt2";
  TokenizeRun ids = run_tokenize(q(gpt2) + " --ids --text 'Hello there'");
  EXPECT_EQ(ids.exit_code, 0);
  EXPECT_EQ(ids.out, "[15496,612]\n");
  TokenizeRun rec = run_tokenize(q(gpt2) + " --format hf-encode --text 'Hi'");
  ASSERT_EQ(rec.exit_code, 0);
  Json j = parse_json(rec.out, "stdout");
  EXPECT_EQ(j["with_special"]["tokens"], Json::array({"Hi"}));
  TokenizeRun missing = run_tokenize("/nonexistent/folder --text x");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("/nonexistent/folder"), std::string::npos) << missing.out;
  fs::path bad = fs::path(TCPP_BINARY_DIR) / ("tokenize_bad_" + std::to_string(::getpid()) + ".jsonl");
  { std::ofstream(bad) << "not json\n"; }
  TokenizeRun bad_line = run_tokenize(q(gpt2) + " --jsonl < " + q(bad));
  fs::remove(bad);
  EXPECT_EQ(bad_line.exit_code, 1);
  EXPECT_NE(bad_line.out.find("stdin line 1"), std::string::npos) << bad_line.out;
}

// The default output is v5's BatchEncoding per text; its ids, masks and offsets equal the Rust
// library's (../shared/tokenizers/expected, written by hf_encode.mjs) for the same texts, read from
// stdin one per line or given with --text.
TEST(CliTokenize, DefaultOutputIsV5sBatchEncodingAndReadsStdinLines) {
  const fs::path tokenizers = fs::path(TCPP_SHARED_DIR) / "tokenizers";
  for (const char* family : {"bert", "llama2"}) {
    const std::vector<std::string> expected_lines = [&] {
      std::vector<std::string> lines;
      std::istringstream in(read_text_file(tokenizers / "expected" / (std::string(family) + ".jsonl")));
      for (std::string l; std::getline(in, l);) lines.push_back(l);
      return lines;
    }();
    ASSERT_GE(expected_lines.size(), 3u) << family;
    std::string texts;
    std::vector<Json> expected;
    for (const std::string& l : expected_lines) {
      Json e = parse_json(l, "expected");
      const std::string text = e["text"].get<std::string>();
      if (text.find_first_of("\n\r") != std::string::npos) continue;  // one text per stdin line
      texts += text + "\n";
      expected.push_back(std::move(e));
      if (expected.size() == 8) break;
    }
    const fs::path input = fs::path(TCPP_BINARY_DIR) / ("tokenize_lines_" + std::to_string(::getpid()) + ".txt");
    write_file_atomically(input, texts);
    TokenizeRun r = run_tokenize(q(tokenizers / "models" / family) + " --offsets < " + q(input));
    fs::remove(input);
    ASSERT_EQ(r.exit_code, 0) << r.out.substr(0, 500);
    std::istringstream out(r.out);
    size_t i = 0;
    for (std::string line; std::getline(out, line); ++i) {
      ASSERT_LT(i, expected.size()) << family << ": more lines than texts";
      const Json got = parse_json(line, "tokenize output");
      const Json& want = expected[i]["with_special"];
      EXPECT_EQ(got["input_ids"], want["ids"]) << family << " text " << i;
      EXPECT_EQ(got["offset_mapping"], want["offsets"]) << family << " text " << i;
      EXPECT_EQ(got["attention_mask"], Json(std::vector<int64_t>(want["ids"].size(), 1))) << family << " text " << i;
      EXPECT_EQ(got.contains("token_type_ids"), std::string(family) == "bert") << line;
    }
    EXPECT_EQ(i, expected.size()) << family;
  }
  // --no-special-tokens gives the Rust library's add_special_tokens=False ids.
  std::string first_line;
  std::getline(std::istringstream(read_text_file(tokenizers / "expected/bert.jsonl")) >> std::ws, first_line);
  const Json first = parse_json(first_line, "expected");
  TokenizeRun r = run_tokenize(q(tokenizers / "models/bert") + " --no-special-tokens --tokens --text " +
                               q(first["text"].get<std::string>()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const Json got = parse_json(r.out, "tokenize output");
  EXPECT_EQ(got["input_ids"], first["no_special"]["ids"]);
  EXPECT_EQ(got["tokens"], first["no_special"]["tokens"]);
}

}  // namespace
}  // namespace transformers
