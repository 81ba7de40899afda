// `transformers generate` / `forward` on hostile model folders and flags: exit status 1 with one
// "error:" line naming the key, flag or field, never a crash or an allocation the size of the
// hostile value; and the hostile-but-valid cases give Transformers' result.
#include <fstream>

#include "common/golden_copy.h"
#include "common/process.h"
#include "transformers/io/json.h"

namespace transformers {
namespace {

using testing::edited_golden_copy;
using testing::expect_one_line_error;
using testing::ProcessResult;

ProcessResult run(const std::string& args) { return testing::run_transformers(args); }

std::string golden(const std::string& arch) { return testing::golden_dir(arch).string(); }

const std::string kIds = " --input-ids \"1,17,42\"";

std::string generate_in(const std::filesystem::path& dir, const std::string& flags = " --max-new-tokens 2") {
  return "generate " + dir.string() + kIds + flags;
}

TEST(CliHardening, QwenNegativeMaxWindowLayersGeneratesLikeTransformers) {
  // v5: every layer i >= -5 slides; the window (4096) exceeds the sequence, so the greedy ids
  // are the golden ones.
  for (const std::string arch : {"qwen2", "qwen3", "qwen3_moe"}) {
    SCOPED_TRACE(arch);
    auto dir = edited_golden_copy("cli_mwl_" + arch, arch, [](Json& c) {
      c["use_sliding_window"] = true;
      c["sliding_window"] = 4096;
      c["max_window_layers"] = -5;
    });
    Json gen = read_json_file(testing::golden_dir(arch) / "generate.json");
    std::string ids;
    for (const auto& row : gen["input_ids"]) {
      if (!ids.empty()) ids += ";";
      for (size_t i = 0; i < row.size(); ++i) ids += (i ? "," : "") + std::to_string(row[i].get<int64_t>());
    }
    ProcessResult r = run("generate " + dir.string() + " --input-ids \"" + ids + "\" --max-new-tokens 8 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(parse_json(r.out, "generate output")["sequences"], gen["output_ids"]);
  }
}

TEST(CliHardening, HostileConfigValuesAreOneLineErrorsNamingTheKey) {
  auto edit = [](const std::string& name, const std::string& key, const Json& value) {
    return edited_golden_copy(name, "qwen2", [&](Json& c) { c[key] = value; });
  };
  expect_one_line_error(run(generate_in(edit("cli_h_float", "hidden_size", 64.9))), "'hidden_size' must be an integer");
  expect_one_line_error(run(generate_in(edit("cli_h_zero", "hidden_size", 0))), "hidden_size is 0, out of range");
  expect_one_line_error(run(generate_in(edit("cli_h_layers", "num_hidden_layers", 1000000000))),
                        "num_hidden_layers is 1000000000, out of range");
  expect_one_line_error(run(generate_in(edit("cli_h_layers_ck", "num_hidden_layers", 5000))),
                        "num_hidden_layers is 5000 but the checkpoint holds weights for 2 layers");
  expect_one_line_error(run(generate_in(edit("cli_h_head_dim", "head_dim", 1 << 30))), "head_dim is 1073741824, out of range");
  expect_one_line_error(run(generate_in(edit("cli_h_dtype", "torch_dtype", 32))), "'torch_dtype'");
  expect_one_line_error(run(generate_in(edit("cli_h_eos", "eos_token_id", Json::array({"x"})))), "'eos_token_id'");
  expect_one_line_error(run(generate_in(edit("cli_h_theta", "rope_theta", 0))), "rope_theta is 0, out of range");
  expect_one_line_error(run(generate_in(edit("cli_h_window", "sliding_window", -1))), "sliding_window is -1, out of range");
  // A scaled rope falls back on max_position_embeddings; without it the frequencies divide by 0.
  auto no_length = edited_golden_copy("cli_h_rope_length", "qwen2", [](Json& c) {
    c.erase("max_position_embeddings");
    c["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  });
  expect_one_line_error(run(generate_in(no_length)),
                        "config.json: rope_scaling (rope_type 'dynamic') needs max_position_embeddings");
}

// Writes `text` as `file` of a copy of the golden qwen2.
std::filesystem::path golden_copy_with(const std::string& name, const std::string& file, const std::string& text) {
  auto dir = edited_golden_copy(name, "qwen2", [](Json&) {});
  std::ofstream(dir / file, std::ios::binary) << text;
  return dir;
}

std::string nested_json(size_t levels) {
  return "{\"unused\": " + std::string(levels, '[') + std::string(levels, ']') + "}";
}

TEST(CliHardening, DeepJsonFilesAreOneLineErrorsNamingTheFile) {
  // A million levels in a key nobody reads: refused before a recursive parser sees them.
  const std::string deep = nested_json(1'000'000);
  expect_one_line_error(run(generate_in(golden_copy_with("cli_h_deep_config", "config.json", deep))),
                        "config.json: JSON nests deeper than 128 levels");
  expect_one_line_error(run(generate_in(golden_copy_with("cli_h_deep_gen", "generation_config.json", deep))),
                        "generation_config.json: JSON nests deeper than 128 levels");
  // A safetensors header nested as deep (an 8-byte little-endian length, then the header).
  std::string header = nested_json(1'000'000), st(8, '\0');
  for (int i = 0; i < 8; ++i) st[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  expect_one_line_error(run(generate_in(golden_copy_with("cli_h_deep_st", "model.safetensors", st + header))),
                        "model.safetensors: header: JSON nests deeper than 128 levels");
  // A conversation file nested 100k levels.
  auto dir = testing::scratch_dir("cli_h_deep_conv");
  std::ofstream(dir / "conversation.json")
      << "{\"messages\": [{\"role\": \"user\", \"content\": " << std::string(100'000, '[') << std::string(100'000, ']')
      << "}]}";
  expect_one_line_error(run("apply-chat-template " + testing::shared_path("tokenizers/models/llama3").string() + " " +
                            (dir / "conversation.json").string() + " --no-tokenize"),
                        "conversation.json: JSON nests deeper than 128 levels");
}

TEST(CliHardening, AnUnusedLayerIsAWarningNotSilence) {
  auto dir = edited_golden_copy("cli_h_one_layer", "qwen2", [](Json& c) { c["num_hidden_layers"] = 1; });
  ProcessResult r = run(generate_in(dir));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.rfind("warning: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("model.layers.1."), std::string::npos) << r.err;
}

TEST(CliHardening, GenerationFlagsOutOfRangeNameTheFlag) {
  const std::string m = "generate " + golden("llama") + kIds;
  expect_one_line_error(run(m + " --max-new-tokens -1"), "--max-new-tokens must be from 1 to 16777216, got -1");
  expect_one_line_error(run(m + " --max-new-tokens 0"), "--max-new-tokens must be from 1");
  expect_one_line_error(run(m + " --max-new-tokens 9223372036854775807"), "--max-new-tokens");
  expect_one_line_error(run(m + " --seed -5 --do-sample"), "--seed must be an integer from 0 to 2^64-1, got '-5'");
  expect_one_line_error(run(m + " --num-beams 1000000"), "--num-beams must be from 1 to 1024, got 1000000");
  expect_one_line_error(run(m + " --num-return-sequences 99999 --do-sample"), "--num-return-sequences must be from 1 to 65536");
  expect_one_line_error(run(m + " --max-new-tokens 1000000 --cache-implementation static --num-beams 1000"),
                        "static cache of");
  // Valid extremes still run.
  ProcessResult ok = run(m + " --max-new-tokens 2 --seed 18446744073709551615 --do-sample");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(CliHardening, GenerationConfigFileValuesNameTheKey) {
  auto gen = [](const std::string& name, const Json& patch) {
    return edited_golden_copy(name, "llama", [&](Json& g) { g.update(patch); }, "generation_config.json");
  };
  expect_one_line_error(run(generate_in(gen("cli_g_beams", {{"num_beams", 1000000000}}))), "num_beams is 1000000000");
  expect_one_line_error(run(generate_in(gen("cli_g_cache", {{"cache_implementation", "static"}, {"max_cache_len", 1000000000000}}))),
                        "max_cache_len is 1000000000000");
  expect_one_line_error(run(generate_in(gen("cli_g_maxlen", {{"max_length", INT64_MAX}}), "")),
                        "max_length is 9223372036854775807");
  expect_one_line_error(run(generate_in(gen("cli_g_forced", {{"forced_eos_token_id", -7}}))),
                        "forced_eos_token_id contains token id -7");
  expect_one_line_error(run(generate_in(gen("cli_g_bad_words", {{"bad_words_ids", {{3}, {100000}}}}))),
                        "bad_words_ids contains token id 100000");
  expect_one_line_error(run(generate_in(gen("cli_g_eos", {{"eos_token_id", "2"}}))),
                        "generation_config.json: key 'eos_token_id'");
  expect_one_line_error(run(generate_in(gen("cli_g_decay", {{"exponential_decay_length_penalty", {"a", 2}}}))),
                        "key 'exponential_decay_length_penalty'");
}

TEST(CliHardening, ForwardRefusesMoreIdsThanMaxPositionEmbeddings) {
  std::string ids;
  for (int i = 0; i < 129; ++i) ids += (i ? ",1" : "1");  // the golden llama has 128 positions
  auto dir = testing::scratch_dir("cli_h_forward");
  expect_one_line_error(run("forward " + golden("llama") + " --input-ids \"" + ids + "\" --out " + (dir / "l.npy").string()),
                        "forward: the input has 129 tokens but the model's max_position_embeddings is 128");
}

}  // namespace
}  // namespace transformers
