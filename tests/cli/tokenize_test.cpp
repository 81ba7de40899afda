// `transformers tokenize` as a user runs it: the shared sample texts through the real binary,
// byte for byte equal to what the Rust tokenizers printed through hf_encode.mjs.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/process.h"

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
    TokenizeRun r = run_tokenize(q(tokenizers / "models" / family) + " --jsonl < " + q(samples));
    ASSERT_EQ(r.exit_code, 0) << r.out.substr(0, 500);
    EXPECT_TRUE(r.out == read_text_file(expected)) << family << ": output differs from " << expected;
  }
}

TEST(CliTokenize, TextAndIdsAndErrors) {
  fs::path gpt2 = fs::path(TCPP_SHARED_DIR) / "tokenizers/models/gpt2";
  TokenizeRun ids = run_tokenize(q(gpt2) + " --ids --text 'Hello there'");
  EXPECT_EQ(ids.exit_code, 0);
  EXPECT_EQ(ids.out, "[15496,612]\n");
  TokenizeRun rec = run_tokenize(q(gpt2) + " --text 'Hi'");
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

}  // namespace
}  // namespace transformers
