// The `transformers` command as a user runs it: a real process, real files, exit codes and the
// one-line errors for malformed input.
#include <fstream>
#include <functional>

#include "common/golden_copy.h"
#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"

namespace transformers {
namespace {

using RunResult = testing::ProcessResult;
RunResult run(const std::string& args) { return testing::run_transformers(args); }

std::string golden(const std::string& arch) { return testing::shared_path("golden/" + arch).string(); }

using testing::edited_golden_copy;
using testing::expect_one_line_error;

TEST(Cli, ForwardWritesTransformersLogitsAndHiddenStates) {
  auto dir = testing::scratch_dir("cli_forward");
  RunResult r = run("forward " + golden("qwen2") +
                    " --input-ids \"1,17,42,99,3,250,128,7,64,200;1,5,5,5,180,33,91,12,255,140\" --out " +
                    (dir / "logits.npy").string() + " --hidden-states " + (dir / "hs.npy").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(testing::max_abs_diff(load_npy(dir / "logits.npy"), load_npy(golden("qwen2") + "/logits.npy")), 1e-4f);
  EXPECT_LE(testing::max_abs_diff(load_npy(dir / "hs.npy"), load_npy(golden("qwen2") + "/hidden_states.npy")), 1e-4f);
}

TEST(Cli, GenerateJsonReproducesGreedyIds) {
  Json gen = read_json_file(golden("mistral") + "/generate.json");
  std::string ids;
  for (const auto& row : gen["input_ids"]) {
    if (!ids.empty()) ids += ";";
    for (size_t i = 0; i < row.size(); ++i) ids += (i ? "," : "") + std::to_string(row[i].get<int64_t>());
  }
  RunResult r = run("generate " + golden("mistral") + " --input-ids \"" + ids + "\" --max-new-tokens 8 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json out = parse_json(r.out, "generate output");
  EXPECT_EQ(out["sequences"], gen["output_ids"]);
}

TEST(Cli, VersionEnvAndHelp) {
  EXPECT_EQ(run("version").exit_code, 0);
  RunResult env = run("env");
  EXPECT_EQ(env.exit_code, 0);
  EXPECT_NE(env.out.find("llama"), std::string::npos);
  for (const char* sub : {"forward", "generate", "env", "version"}) {
    RunResult h = run(std::string(sub) + " --help");
    EXPECT_EQ(h.exit_code, 0) << sub;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, MalformedInputsGiveOneLineErrors) {
  const std::string ids = " --input-ids \"1,2,3\" --out /dev/null";
  expect_one_line_error(run("forward /nonexistent/model" + ids), "/nonexistent/model");
  expect_one_line_error(run("forward " + golden("llama") + " --input-ids \"1,x,3\" --out /dev/null"), "--input-ids");
  expect_one_line_error(run("forward " + golden("llama") + " --input-ids \"1,2;3\" --out /dev/null"), "different lengths");
  expect_one_line_error(run("forward " + golden("llama") + " --input-ids \"1,999\" --out /dev/null"), "out of range");
  auto unknown = edited_golden_copy("cli_unknown", "llama", [](Json& c) { c["model_type"] = "not_a_model"; });
  expect_one_line_error(run("forward " + unknown.string() + ids), "unknown model_type 'not_a_model'");
  auto missing = edited_golden_copy("cli_missing", "llama", [](Json& c) { c.erase("hidden_size"); });
  expect_one_line_error(run("forward " + missing.string() + ids), "hidden_size");
  auto mismatch = edited_golden_copy("cli_mismatch", "llama", [](Json& c) { c["intermediate_size"] = 96; });
  expect_one_line_error(run("forward " + mismatch.string() + ids), "shape mismatch");
  auto rope = edited_golden_copy("cli_rope", "llama", [](Json& c) { c["rope_scaling"] = {{"rope_type", "warp_drive"}}; });
  expect_one_line_error(run("forward " + rope.string() + ids), "warp_drive");
  auto truncated = edited_golden_copy("cli_truncated", "llama", [](Json&) {});
  std::string weights = read_text_file(truncated / "model.safetensors");
  std::ofstream(truncated / "model.safetensors", std::ios::binary | std::ios::trunc) << weights.substr(0, weights.size() - 100);
  expect_one_line_error(run("forward " + truncated.string() + ids), "model.safetensors");
  auto badjson = edited_golden_copy("cli_badjson", "llama", [](Json&) {});
  std::ofstream(badjson / "config.json", std::ios::trunc) << "{\"model_type\": ";
  expect_one_line_error(run("forward " + badjson.string() + ids), "config.json");
}

// The completion script, run by bash itself: command names complete from their prefix, options
// of the command being typed (both spellings) from theirs, the global --threads everywhere.
TEST(Cli, BashCompletionCompletesCommandsAndTheirOptions) {
  RunResult script = run("completion bash");
  ASSERT_EQ(script.exit_code, 0) << script.err;
  const std::string file = (testing::scratch_dir("completion") / "transformers.bash").string();
  write_file_atomically(file, script.out);
  auto complete = [&](const std::string& words, int cword) {
    RunResult r = testing::run_command("bash -c 'source " + file + "; COMP_WORDS=(" + words + "); COMP_CWORD=" +
                                       std::to_string(cword) + "; _transformers; echo \"${COMPREPLY[*]}\"'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(complete("transformers gen", 1), "generate\n");
  EXPECT_EQ(complete("transformers generate m --max", 3), "--max-new-tokens --max_new_tokens\n");
  EXPECT_EQ(complete("transformers tokenize m --thr", 3), "--threads\n");
  EXPECT_EQ(complete("transformers chat --system", 2), "--system-prompt\n");
  expect_one_line_error(run("completion fish"), "fish");
}

// How a command was called is wrong: the error line itself names where the usage is, whether
// CLI11 found the fault or the command did. Faults in the data carry no such hint.
TEST(Cli, UsageErrorsCarryTheHintOnTheirOneLine) {
  const std::string tiny = golden("llama");
  const std::pair<std::string, std::string> cases[] = {
      {"generate", "model is required"},
      {"generate " + tiny + " --max-new-tokens x", "--max-new-tokens"},
      {"generate " + tiny + " --prompt hi --no-such-flag", "--no-such-flag"},
      {"generate " + tiny, "give exactly one of --input-ids and --prompt"},
      {"generate " + tiny + " --input-ids 1,2 --do-sample --greedy", "contradict"},
      {"generate " + tiny + " --input-ids 1,2 max_new_tokens", "is not key=value"},
      {"forward " + tiny + " --out /dev/null", "give exactly one of --input-ids and --prompt"},
      {"serve --api-key a --api-key-file b", "not both"},
      {"chat http://localhost:1", "no MODEL_ID"},
      {"embed " + tiny + " --pooling max hi", "--pooling"},
  };
  for (const auto& [args, needle] : cases) {
    const std::string command = args.substr(0, args.find(' '));
    const RunResult r = run(args);
    expect_one_line_error(r, needle);
    EXPECT_NE(r.err.find(" (see 'transformers " + command + " --help')\n"), std::string::npos) << args << ": " << r.err;
  }
  const RunResult data = run("forward /nonexistent/model --input-ids 1,2 --out /dev/null");
  expect_one_line_error(data, "/nonexistent/model");
  EXPECT_EQ(data.err.find("--help"), std::string::npos) << data.err;
  const RunResult none = run("");
  expect_one_line_error(none, "(see 'transformers --help')");
}

}  // namespace
}  // namespace transformers
