// `transformers serve` without a pinned model and models by Hub name: the Hub cache (a folder in
// huggingface_hub's layout, pointed to by HF_HUB_CACHE) is listed by GET /v1/models as v5 lists it
// (org/name, org/name@ref), and a request naming a cached model is answered by that snapshot,
// exactly as the same model named by its folder.
#include <gtest/gtest.h>

#include <cstdlib>

#include "serving/serve_fixture.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

// models--acme--tiny-chat with refs main and v1 (the same snapshot), files as relative links into
// blobs/ as huggingface_hub writes them.
fs::path hub_cache_with_tiny_model() {
  const fs::path cache = testing::scratch_dir("serve-hub-cache");
  const fs::path repo = cache / "models--acme--tiny-chat";
  const std::string sha = "0123456789abcdef0123456789abcdef01234567";
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / sha);
  int n = 0;
  for (const auto& f : fs::directory_iterator(testing::tiny_chat_model())) {
    const std::string blob = "blob" + std::to_string(n++);
    fs::copy_file(f.path(), repo / "blobs" / blob);
    fs::create_symlink(fs::path("../../blobs") / blob, repo / "snapshots" / sha / f.path().filename());
  }
  std::ofstream(repo / "refs" / "main") << sha;
  std::ofstream(repo / "refs" / "v1") << sha;
  return cache;
}

TEST(ServeHubModels, CachedModelsAreListedAndServedByName) {
  const fs::path cache = hub_cache_with_tiny_model();
  ::setenv("HF_HUB_CACHE", cache.c_str(), 1);  // inherited by the server process
  testing::ServeProcess server({});
  ::unsetenv("HF_HUB_CACHE");
  ASSERT_GT(server.port(), 0);
  auto c = server.client();
  auto listing = c.Get("/v1/models");
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->status, 200) << listing->body;
  std::set<std::string> ids;
  const Json models = Json::parse(listing->body);
  for (const Json& m : models["data"]) ids.insert(m["id"].get<std::string>());
  EXPECT_TRUE(ids.contains("acme/tiny-chat")) << listing->body;
  EXPECT_TRUE(ids.contains("acme/tiny-chat@v1")) << listing->body;

  const Json messages = Json::array({{{"role", "user"}, {"content", "hello"}}});
  auto ask = [&](const std::string& model) {
    return testing::post_json(server, "/v1/chat/completions",
                              Json{{"model", model}, {"messages", messages}, {"max_tokens", 6}, {"temperature", 0}});
  };
  const auto by_name = ask("acme/tiny-chat");
  ASSERT_EQ(by_name.status, 200) << by_name.body.dump();
  const auto by_folder = ask(testing::tiny_chat_model().string());
  ASSERT_EQ(by_folder.status, 200) << by_folder.body.dump();
  EXPECT_EQ(by_name.body["choices"][0]["message"]["content"], by_folder.body["choices"][0]["message"]["content"]);
  const auto missing = ask("acme/not-there");
  EXPECT_EQ(missing.status, 404) << missing.body.dump();
  EXPECT_NE(missing.body.dump().find("not in the Hub cache"), std::string::npos) << missing.body.dump();
}

}  // namespace
}  // namespace transformers
