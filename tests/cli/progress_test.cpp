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

}  // namespace
}  // namespace transformers
