// Progress lines appear on a terminal (a real one: tmux) and never in piped output or with
// --quiet, so scripts that read stderr see only errors and the speed line.
#include <gtest/gtest.h>

#include "common/process.h"
#include "common/test_util.h"
#include "common/tmux.h"

namespace transformers {
namespace {

std::string generate_command(const std::string& extra) {
  return std::string(TCPP_BINARY_DIR) + "/cli/transformers generate " + testing::shared_path("golden/llama").string() +
         " --input-ids 1,17,42 --max-new-tokens 2" + extra;
}

TEST(Progress, LoadingShowsALineOnATerminal) {
  testing::TmuxSession tty(generate_command(""));
  ASSERT_TRUE(tty.wait_for_text("[exit 0]"));
  const std::string screen = tty.screen();
  EXPECT_NE(screen.find("loading weights"), std::string::npos) << screen;
  EXPECT_NE(screen.find("#]"), std::string::npos) << screen;  // the bar reached its end
}

TEST(Progress, QuietOrPipedOutputHasNoProgressLine) {
  testing::TmuxSession quiet(generate_command(" --quiet"));
  ASSERT_TRUE(quiet.wait_for_text("[exit 0]"));
  EXPECT_EQ(quiet.screen().find("loading weights"), std::string::npos) << quiet.screen();
  EXPECT_EQ(quiet.screen().find("tokens/s"), std::string::npos) << quiet.screen();  // nor a speed line

  const testing::ProcessResult piped = testing::run_command(generate_command(""));  // stderr to a file
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find("loading weights"), std::string::npos) << piped.err;
  EXPECT_NE(piped.err.find("tokens/s"), std::string::npos) << piped.err;
}

// Saving (convert, make_tiny_model) draws its own lines, run to the end of their bars.
TEST(Progress, SavingShowsLinesOnATerminalOnly) {
  const auto dir = testing::scratch_dir("progress-saving");
  const std::string make = std::string(TCPP_BINARY_DIR) + "/tools/make_tiny_model --arch qwen2 --out " + (dir / "made").string();
  testing::TmuxSession made(make);
  ASSERT_TRUE(made.wait_for_text("[exit 0]"));
  for (const char* line : {"initialising weights", "saving weights"}) {
    const std::string screen = made.screen();
    const size_t at = screen.find(line);
    ASSERT_NE(at, std::string::npos) << screen;
    EXPECT_NE(screen.find("#]", at), std::string::npos) << screen;
  }
  auto convert = [&](const std::string& dst) {
    return std::string(TCPP_BINARY_DIR) + "/cli/transformers convert " + (dir / "made").string() + " " + (dir / dst).string() +
           " --dtype bf16";
  };
  testing::TmuxSession converted(convert("converted"));
  ASSERT_TRUE(converted.wait_for_text("[exit 0]"));
  EXPECT_NE(converted.screen().find("saving weights"), std::string::npos) << converted.screen();

  const testing::ProcessResult piped_make = testing::run_command(make + "-piped");
  EXPECT_EQ(piped_make.exit_code, 0) << piped_make.err;
  EXPECT_EQ(piped_make.err, "");
  const testing::ProcessResult piped_convert = testing::run_command(convert("converted-piped"));
  EXPECT_EQ(piped_convert.exit_code, 0) << piped_convert.err;
  EXPECT_EQ(piped_convert.err.find("weights"), std::string::npos) << piped_convert.err;
  testing::TmuxSession quiet(make + "-quiet --quiet");
  ASSERT_TRUE(quiet.wait_for_text("[exit 0]"));
  EXPECT_EQ(quiet.screen().find("weights"), std::string::npos) << quiet.screen();
}

}  // namespace
}  // namespace transformers
