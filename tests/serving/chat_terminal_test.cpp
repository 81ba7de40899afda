// `transformers chat` in a real terminal (tmux) against the real `transformers serve`: a two-turn
// conversation, !set, Ctrl-C during an answer (the session goes on), !save and !exit. The saved
// conversation's answers are checked against the server's own non-streamed answers to the same
// messages (greedy), so the client's streaming and history keeping are checked, not just drawn.
#include <gtest/gtest.h>

#include "common/tmux.h"
#include "serving/serve_fixture.h"

namespace transformers {
namespace {

using namespace std::chrono_literals;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The prompt "you> " at the start of a line, as many times as the client asked for input.
size_t prompts(const std::string& screen) { return count("\n" + screen, "\nyou> "); }

TEST(ChatTerminal, TwoTurnsSetInterruptSaveAndExit) {
  const auto model = testing::tiny_chat_model();
  testing::ServeProcess server({model.string()});
  ASSERT_GT(server.port(), 0);
  const auto saves = testing::scratch_dir("chat-terminal-saves");
  const std::string chat = std::string(TCPP_BINARY_DIR) + "/cli/transformers chat " + server.base_url() + " " +
                           model.string() + " max_new_tokens=8 do_sample=false --save-folder " + saves.string();
  testing::TmuxSession tty(chat);
  ASSERT_TRUE(tty.wait_for_text("!help lists the commands"));
  auto wait_prompts = [&](size_t n, const std::string& what) {
    return tty.wait_for([&](const std::string& s) { return prompts(s) >= n; }, 120s, what);
  };
  ASSERT_TRUE(wait_prompts(1, "the first prompt"));

  tty.type_line("hello there");
  ASSERT_TRUE(wait_prompts(2, "the first answer"));
  tty.type_line("!set temperature=0");
  ASSERT_TRUE(tty.wait_for_text("\"temperature\":0"));
  ASSERT_TRUE(wait_prompts(3, "the prompt after !set"));
  tty.type_line("tell me more");
  ASSERT_TRUE(wait_prompts(4, "the second answer"));

  // A long answer, stopped with Ctrl-C once it streams: the client says so and asks again.
  tty.type_line("!set max_new_tokens=3000");
  ASSERT_TRUE(wait_prompts(5, "the prompt after the second !set"));
  tty.type_line("count to a thousand");
  const size_t before = tty.screen().size();
  ASSERT_TRUE(tty.wait_for([&](const std::string& s) { return s.find("count to a thousand") != std::string::npos &&
                                                              s.size() > before + 40; },
                           120s, "the long answer to start"));
  tty.send("C-c");
  ASSERT_TRUE(tty.wait_for_text("[stopped]"));
  ASSERT_TRUE(wait_prompts(6, "the prompt after Ctrl-C"));

  const auto file = saves / "conversation.json";
  tty.type_line("!save " + file.string());
  ASSERT_TRUE(tty.wait_for_text("saved " + file.string()));
  tty.type_line("!exit");
  ASSERT_TRUE(tty.wait_for_text("[exit 0]"));

  const Json saved = read_json_file(file);
  const Json& history = saved["chat_history"];
  ASSERT_EQ(history.size(), 6u) << history.dump();  // three questions, three answers (the last cut)
  EXPECT_EQ(history[0], (Json{{"role", "user"}, {"content", "hello there"}}));
  EXPECT_EQ(history[2]["content"], "tell me more");
  EXPECT_EQ(saved["settings"]["generation_config"]["max_new_tokens"], 3000);
  // The server alone, not streamed, answers each question as the chat showed it.
  for (size_t turn : {1u, 3u}) {
    Json messages = Json::array();
    for (size_t i = 0; i < turn; ++i) messages.push_back(history[i]);
    const auto reply = testing::post_json(server, "/v1/chat/completions",
                                          Json{{"model", model.string()}, {"messages", messages}, {"max_tokens", 8},
                                               {"temperature", 0}});
    ASSERT_EQ(reply.status, 200) << reply.body.dump();
    EXPECT_EQ(history[turn]["content"], reply.body["choices"][0]["message"]["content"]) << "turn " << turn;
  }
  // The interrupted answer is a prefix of the uninterrupted one.
  Json messages = Json::array();
  for (size_t i = 0; i < 5; ++i) messages.push_back(history[i]);
  const auto full = testing::post_json(server, "/v1/chat/completions",
                                       Json{{"model", model.string()}, {"messages", messages}, {"max_tokens", 3000},
                                            {"temperature", 0}});
  ASSERT_EQ(full.status, 200);
  const std::string whole = full.body["choices"][0]["message"]["content"], cut = history[5]["content"];
  EXPECT_LT(cut.size(), whole.size());
  EXPECT_EQ(whole.substr(0, cut.size()), cut);
}

TEST(ChatTerminal, NoServerIsAOneLineError) {
  // The default local server is absent in the test environment's port 8000? Not guaranteed: use a
  // closed port through the URL form, whose first request fails with one line naming it.
  testing::TmuxSession tty(std::string(TCPP_BINARY_DIR) + "/cli/transformers chat http://127.0.0.1:9 some/model");
  ASSERT_TRUE(tty.wait_for_text("!help lists the commands"));
  tty.type_line("hi");
  ASSERT_TRUE(tty.wait_for_text("error: "));
  EXPECT_NE(tty.screen().find("127.0.0.1:9"), std::string::npos) << tty.screen();
  tty.type_line("!exit");
  ASSERT_TRUE(tty.wait_for_text("[exit 0]"));
}

}  // namespace
}  // namespace transformers
