// `transformers generate` with the sampling / beam / padding flags, as a user runs it.
#include <algorithm>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"

namespace transformers {
namespace {

testing::ProcessResult run(const std::string& args) { return testing::run_transformers(args); }

std::string golden(const std::string& arch) { return testing::shared_path("golden/" + arch).string(); }

Json run_json(const std::string& args) {
  auto r = run(args + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return parse_json(r.out, "generate --json output");
}

TEST(CliGenerate, UnequalRowsAreLeftPaddedAndMatchEachRowAlone) {
  const std::string m = "generate " + golden("llama") + " --max-new-tokens 5";
  Json batch = run_json(m + " --input-ids \"1,17,42,99,3;1,5,5\"");
  Json a = run_json(m + " --input-ids \"1,17,42,99,3\"");
  Json b = run_json(m + " --input-ids \"1,5,5\"");
  ASSERT_EQ(batch["sequences"].size(), 2u);
  EXPECT_EQ(batch["sequences"][0], a["sequences"][0]);
  auto row = batch["sequences"][1].get<std::vector<int64_t>>();
  EXPECT_EQ(std::vector<int64_t>(row.begin() + 2, row.end()), b["sequences"][0].get<std::vector<int64_t>>());
  // The same batch given explicitly with --attention-mask.
  Json masked = run_json(m + " --input-ids \"1,17,42,99,3;0,0,1,5,5\" --attention-mask \"1,1,1,1,1;0,0,1,1,1\"");
  EXPECT_EQ(masked["sequences"][1], batch["sequences"][1]);
}

TEST(CliGenerate, SeededSamplingAndBeams) {
  const std::string m = "generate " + golden("qwen2") + " --input-ids \"1,17,42\" --max-new-tokens 6";
  const std::string sample = m + " --do-sample --temperature 1.5 --top-k 0 --top-p 0.95 --min-p 0.01";
  EXPECT_EQ(run_json(sample + " --seed 1")["sequences"], run_json(sample + " --seed 1")["sequences"]);
  bool differs = false;
  for (int s = 2; s < 6 && !differs; ++s)
    differs = run_json(sample + " --seed " + std::to_string(s))["sequences"] != run_json(sample + " --seed 1")["sequences"];
  EXPECT_TRUE(differs);
  Json beams = run_json(m + " --num-beams 3 --num-return-sequences 2");
  ASSERT_EQ(beams["sequences"].size(), 2u);
  ASSERT_EQ(beams["sequences_scores"].size(), 2u);
  EXPECT_GE(beams["sequences_scores"][0].get<double>(), beams["sequences_scores"][1].get<double>());
  // Static cache gives what the dynamic one gives.
  EXPECT_EQ(run_json(m + " --cache-implementation static")["sequences"], run_json(m)["sequences"]);
}

TEST(CliGenerate, GenerationConfigJsonOverridesFields) {
  const std::string m = "generate " + golden("llama") + " --input-ids \"1,17,42\" --max-new-tokens 8";
  Json plain = run_json(m);
  // Ban the first generated token: the result changes and never contains it.
  const int64_t first = plain["sequences"][0][3].get<int64_t>();
  Json banned = run_json(m + " --generation-config '{\"suppress_tokens\": [" + std::to_string(first) + "]}'");
  auto row = banned["sequences"][0].get<std::vector<int64_t>>();
  EXPECT_EQ(std::count(row.begin() + 3, row.end(), first), 0);
  EXPECT_NE(banned["sequences"], plain["sequences"]);
  auto r = run(m + " --generation-config '[1]'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--generation-config"), std::string::npos) << r.err;
}

TEST(CliGenerate, ContradictoryFlagsGiveOneLineErrors) {
  const std::string m = "generate " + golden("llama") + " --input-ids \"1,17,42\"";
  auto r = run(m + " --num-return-sequences 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("num_return_sequences"), std::string::npos) << r.err;
  r = run(m + " --do-sample --temperature 0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
  r = run(m + " --stop x");  // the golden folders have no tokenizer
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--stop"), std::string::npos) << r.err;
  r = run("generate " + golden("llama") + " --input-ids \"1,17;1\" --attention-mask \"1,1;1\"");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--input-ids"), std::string::npos) << r.err;
}

// Every spelling of a setting gives the same GenerationConfig, shown by the same seeded samples:
// the dashed flags, Python's keyword spelling, v5 chat's key=value words, --generation-config
// as JSON and as a file.
TEST(CliGenerate, FlagAliasesKeyValueWordsAndConfigFilesAgree) {
  const std::string m = "generate " + golden("qwen2") + " --input-ids \"1,17,42\" --seed 7";
  const Json reference =
      run_json(m + " --max-new-tokens 6 --do-sample --temperature 1.5 --top-k 0 --top-p 0.9 --num-return-sequences 2");
  ASSERT_EQ(reference["sequences"].size(), 2u);
  EXPECT_EQ(run_json(m + " --max_new_tokens 6 --do_sample --temperature 1.5 --top_k 0 --top_p 0.9 "
                         "--num_return_sequences 2")["sequences"],
            reference["sequences"]);
  EXPECT_EQ(run_json(m + " max_new_tokens=6 do_sample=True temperature=1.5 top_k=0 top_p=0.9 num_return_sequences=2")
                ["sequences"],
            reference["sequences"]);
  const std::string json =
      R"({"max_new_tokens": 6, "do_sample": true, "temperature": 1.5, "top_k": 0, "top_p": 0.9, "num_return_sequences": 2})";
  EXPECT_EQ(run_json(m + " --generation-config '" + json + "'")["sequences"], reference["sequences"]);
  const std::filesystem::path file = testing::scratch_dir("gen_config") / "generation_config.json";
  write_file_atomically(file, json);
  EXPECT_EQ(run_json(m + " --generation-config " + file.string())["sequences"], reference["sequences"]);
  EXPECT_EQ(run_json(m + " --generation_config " + file.parent_path().string())["sequences"], reference["sequences"]);
  // Named flags win over key=value words, which win over the config file.
  EXPECT_EQ(run_json(m + " --generation-config " + file.string() + " max_new_tokens=2 --max-new-tokens 6")["sequences"],
            reference["sequences"]);
  EXPECT_EQ(run_json(m + " --generation-config " + file.string() + " max_new_tokens=2")["sequences"][0].size(), 5u);
}

TEST(CliGenerate, BadSettingsNameTheirFlagOrWord) {
  const std::string m = "generate " + golden("llama") + " --input-ids \"1,17,42\"";
  testing::expect_one_line_error(run(m + " max_new_tokens"), "'max_new_tokens' is not key=value");
  testing::expect_one_line_error(run(m + " max_new_tokens=abc"), "max_new_tokens");
  testing::expect_one_line_error(run(m + " --generation-config /no/such/file.json"), "--generation-config");
  testing::expect_one_line_error(run(m + " --threads 0"), "--threads");
  testing::expect_one_line_error(testing::run_command("TRANSFORMERS_NUM_THREADS=two " + std::string(TCPP_BINARY_DIR) +
                                                      "/cli/transformers " + m),
                                 "TRANSFORMERS_NUM_THREADS");
}

TEST(CliGenerate, ASpeedLineGoesToStderrUnlessQuiet) {
  const std::string m = "generate " + golden("llama") + " --input-ids \"1,17,42\" --max-new-tokens 4 --threads 1";
  auto r = run(m);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("prompt: 3 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generation: 4 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("time to first token"), std::string::npos) << r.err;
  r = run(m + " --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), ','), 3 + 4 - 1);  // only the ids on stdout
}

}  // namespace
}  // namespace transformers
