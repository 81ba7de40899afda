// `transformers apply-chat-template` as a user runs it: every shared chat-template fixture through
// the real binary, compared byte for byte with what Python jinja2 printed (render_chat.py --json).
#include <array>
#include <cstdio>
#include <fstream>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/json.h"

namespace transformers {
namespace {

using CliRun = testing::ProcessResult;
CliRun run_cli(const std::string& args) { return testing::run_transformers(args); }

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(CliApplyChatTemplate, JsonOutputMatchesPythonOnEverySharedFixture) {
  auto root = testing::shared_path("chat_templates");
  ASSERT_TRUE(std::filesystem::is_directory(root / "expected")) << "missing fixtures " << root;
  size_t checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(root / "expected")) {
    std::string stem = e.path().stem().string();
    size_t sep = stem.find("__");
    ASSERT_NE(sep, std::string::npos) << stem;
    auto tmpl = root / "templates" / stem.substr(0, sep);
    auto ctx = root / "contexts" / (stem.substr(sep + 2) + ".json");
    CliRun r = run_cli("apply-chat-template " + q(tmpl) + " " + q(ctx) + " --no-tokenize --json --now 2024-09-03T12:00:00");
    EXPECT_EQ(r.exit_code, 0) << stem << ": " << r.err;
    EXPECT_EQ(r.out, read_text_file(e.path())) << stem;
    ++checked;
  }
  EXPECT_GE(checked, 84u);
}

TEST(CliApplyChatTemplate, PlainTextTokenIdsAndErrors) {
  auto root = testing::shared_path("chat_templates");
  auto ctx = root / "contexts" / "simple.json";
  // Plain text: exactly the rendered prompt, no trailing newline added.
  CliRun text = run_cli("apply-chat-template " + q(root / "templates" / "chatml") + " " + q(ctx) + " --no-tokenize");
  EXPECT_EQ(text.exit_code, 0) << text.err;
  Json expected = read_json_file(root / "expected" / "chatml__simple.json");
  EXPECT_EQ(text.out, expected["text"].get<std::string>());
  // A template's raise_exception: one-line error, exit status 1.
  CliRun fail = run_cli("apply-chat-template " + q(root / "templates" / "gemma") + " " + q(root / "contexts" / "system.json") +
                     " --no-tokenize");
  EXPECT_EQ(fail.exit_code, 1);
  EXPECT_EQ(fail.err, "error: TemplateError: System role not supported\n");
  // Tokenized: the ids of the rendered prompt, without added special tokens.
  auto qwen = testing::shared_path("tokenizers/models/qwen3");
  CliRun ids = run_cli("apply-chat-template " + q(qwen) + " " + q(ctx) + " --json");
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  Json j = Json::parse(ids.out);
  EXPECT_TRUE(j["ok"].get<bool>());
  auto input_ids = j["input_ids"].get<std::vector<int64_t>>();
  ASSERT_FALSE(input_ids.empty());
  EXPECT_EQ(input_ids.front(), 151644);  // <|im_start|>
  EXPECT_EQ(j["attention_mask"].size(), input_ids.size());
  // --continue-final-message leaves the last message open.
  CliRun cont = run_cli("apply-chat-template " + q(root / "templates" / "chatml") + " " + q(root / "contexts" / "no_gen_prompt.json") +
                     " --no-tokenize --continue-final-message");
  EXPECT_EQ(cont.exit_code, 0) << cont.err;
  EXPECT_EQ(cont.out.substr(cont.out.size() - 3), "Hi!");
  // A malformed conversation file: one line naming the file.
  auto bad = testing::scratch_dir("apply_chat_template_cli_input") / "bad.json";
  { std::ofstream(bad) << "{\"messages\": ["; }
  CliRun malformed = run_cli("apply-chat-template " + q(root / "templates" / "chatml") + " " + q(bad) + " --no-tokenize");
  EXPECT_EQ(malformed.exit_code, 1);
  EXPECT_NE(malformed.err.find("bad.json"), std::string::npos) << malformed.err;
}

TEST(CliApplyChatTemplate, AFolderWithoutATemplateIsNamedInTheError) {
  // The golden llama folder has weights and configs but no chat template anywhere.
  const std::string folder = testing::shared_path("golden/llama").string();
  auto ctx = testing::shared_path("chat_templates/contexts/simple.json");
  CliRun r = run_cli("apply-chat-template " + q(folder) + " " + q(ctx) + " --no-tokenize");
  testing::expect_one_line_error(r, folder);
  EXPECT_NE(r.err.find("does not have a chat template"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace transformers
