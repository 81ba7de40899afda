// Acceptance: the official `openai` npm client (Node 20), unmodified, against `transformers serve`:
// a chat completion, a streamed chat completion with usage, a completion, embeddings and a
// responses call, each equal to the same request sent over plain HTTP. The client is installed
// with npm into ~/.cache/transformers-cpp/npm-openai-<version> when absent; without network the
// test fails saying so.
#include <cstdlib>

#include "common/npm_package.h"
#include "serving/serve_fixture.h"

namespace transformers::testing {
namespace {

constexpr char kOpenAiVersion[] = "4.104.0";

// The folder holding node_modules/openai and the script; empty (with a failure) when npm failed.
std::filesystem::path install_client() {
  const auto dir = install_npm_package(npm_cache_dir(std::string("npm-openai-") + kOpenAiVersion), "openai", kOpenAiVersion);
  if (dir.empty()) return {};
  std::filesystem::copy_file(std::filesystem::path(TCPP_SOURCE_DIR) / "tests/serving/openai_client.mjs", dir / "openai_client.mjs",
                             std::filesystem::copy_options::overwrite_existing);
  return dir;
}

TEST(ServeOpenAiClient, OfficialNodeClientRunsUnmodified) {
  const auto dir = install_client();
  ASSERT_FALSE(dir.empty());
  ServeProcess server({tiny_chat_model().string(), "--api-key", "sk-node-test"});
  const std::string model = tiny_chat_model().string();
  auto r = run_command("node " + (dir / "openai_client.mjs").string() + " " + server.base_url() + " " + model + " sk-node-test");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json out = Json::parse(r.out);

  // The same requests over plain HTTP.
  const httplib::Headers key{{"Authorization", "Bearer sk-node-test"}};
  const Json messages = Json::parse(R"([{"role": "user", "content": "Say hi"}])");
  const Json chat = post_json(server, "/v1/chat/completions",
                              Json{{"model", model}, {"messages", messages}, {"max_tokens", 8}, {"temperature", 0}}.dump(), key)
                        .body;
  EXPECT_EQ(out["chat"], chat["choices"][0]["message"]["content"]);
  EXPECT_EQ(out["chat_finish"], chat["choices"][0]["finish_reason"]);
  EXPECT_EQ(out["stream"], out["chat"]);
  EXPECT_EQ(out["stream_usage"], chat["usage"]);
  const Json completion =
      post_json(server, "/v1/completions", Json{{"prompt", "Hello, world"}, {"max_tokens", 6}, {"temperature", 0}}.dump(), key).body;
  EXPECT_EQ(out["completion"], completion["choices"][0]["text"]);
  const Json embedding = post_json(server, "/v1/embeddings", Json{{"input", "Hello world"}}.dump(), key).body;
  EXPECT_EQ(out["embedding"].get<std::vector<float>>(), embedding["data"][0]["embedding"].get<std::vector<float>>());
  EXPECT_EQ(out["responses"], chat["choices"][0]["message"]["content"]);
}

}  // namespace
}  // namespace transformers::testing
