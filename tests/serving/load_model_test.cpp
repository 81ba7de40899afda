// POST /load_model: v5's SSE progress events (processor, config, weights with counts, ready) read
// over loopback from the real server, the model then served; a second load answers "cached"; a
// new model replaces the loaded one; statuses for what is wrong before loading, an error event
// for a load that fails midway; `transformers chat`'s client reads the same events.
#include <fstream>

#include "cli/openai_client.h"
#include "serving/embedding_reference.h"
#include "serving/serve_fixture.h"

namespace transformers::testing {
namespace {

std::vector<Json> load_events(const ServeProcess& s, const std::string& model, int* status = nullptr) {
  const SseStream sse = post_sse(s, "/load_model", Json{{"model", model}});
  if (status) *status = sse.status;
  std::vector<Json> events;
  for (const std::string& d : sse.data) events.push_back(Json::parse(d));
  return events;
}

std::vector<std::string> model_ids(const ServeProcess& s) {
  auto client = s.client();
  auto r = client.Get("/v1/models");
  std::vector<std::string> ids;
  EXPECT_TRUE(r) << "GET /v1/models: no response";
  if (!r) return ids;
  const Json listing = Json::parse(r->body);
  for (const Json& m : listing["data"])
    if (m["owned_by"] == "transformers-cpp") ids.push_back(m["id"].get<std::string>());  // loaded, not cached
  return ids;
}

TEST(LoadModel, StreamsV5ProgressThenServesTheModel) {
  ServeProcess server({});
  const std::string model = tiny_chat_model().string();
  int status = 0;
  const std::vector<Json> events = load_events(server, model, &status);
  EXPECT_EQ(status, 200);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[0], (Json{{"status", "loading"}, {"model", model}, {"stage", "processor"}}));
  EXPECT_EQ(events[1], (Json{{"status", "loading"}, {"model", model}, {"stage", "config"}}));
  uint64_t previous = 0, total = 0;
  for (size_t i = 2; i + 1 < events.size(); ++i) {
    const Json& e = events[i];
    EXPECT_EQ(e["stage"], "weights") << e;
    const uint64_t current = e["progress"]["current"].get<uint64_t>();
    total = e["progress"]["total"].get<uint64_t>();
    EXPECT_GT(current, previous) << "counts only grow";
    EXPECT_LE(current, total);
    previous = current;
  }
  EXPECT_GT(total, 0u);
  EXPECT_EQ(previous, total) << "the last weights event is complete";
  EXPECT_EQ(events.back(), (Json{{"status", "ready"}, {"model", model}, {"cached", false}}));
  EXPECT_EQ(model_ids(server), std::vector<std::string>{model});

  // Loaded already: one event.
  EXPECT_EQ(load_events(server, model), std::vector<Json>{(Json{{"status", "ready"}, {"model", model}, {"cached", true}})});
  HttpReply chat = post_json(server, "/v1/chat/completions",
                             Json{{"model", model}, {"max_tokens", 2}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(chat.status, 200) << chat.body;

  // Another model replaces it (one model at a time).
  const auto bert = make_tiny_bert("load-model-bert");
  EXPECT_EQ(load_events(server, bert.string()).back(), (Json{{"status", "ready"}, {"model", bert.string()}, {"cached", false}}));
  EXPECT_EQ(model_ids(server), std::vector<std::string>{bert.string()});
}

TEST(LoadModel, BadModelsGetAStatusOrAnErrorEvent) {
  ServeProcess server({});
  HttpReply missing = post_json(server, "/load_model", Json::object());
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body["error"]["param"], "model");
  HttpReply unknown = post_json(server, "/load_model", Json{{"model", "/nonexistent/model-folder"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["code"], "model_not_found");

  const auto broken_config = scratch_dir("load-model-broken-config");
  std::ofstream(broken_config / "config.json") << R"({"model_type": "qwen2", "hidden_size": )";
  HttpReply bad_config = post_json(server, "/load_model", Json{{"model", broken_config.string()}});
  EXPECT_EQ(bad_config.status, 400);
  EXPECT_NE(bad_config.body["error"]["message"].get<std::string>().find("config.json"), std::string::npos) << bad_config.body;

  // Its config parses, its weights do not: the stream has begun, so the failure is an event.
  const auto broken_weights = scratch_dir("load-model-broken-weights");
  for (const auto& f : std::filesystem::directory_iterator(tiny_chat_model()))
    std::filesystem::copy_file(f.path(), broken_weights / f.path().filename());
  std::ofstream(broken_weights / "model.safetensors", std::ios::trunc) << "not a safetensors file";
  const std::vector<Json> events = load_events(server, broken_weights.string());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["status"], "error") << events.back();
  EXPECT_EQ(events.back()["model"], broken_weights.string());
  EXPECT_NE(events.back()["message"].get<std::string>().find("model.safetensors"), std::string::npos) << events.back();
  EXPECT_TRUE(model_ids(server).empty());
  // The server goes on.
  EXPECT_EQ(load_events(server, tiny_chat_model().string()).back()["status"], "ready");
}

TEST(LoadModel, PinnedServerAnswersCachedOrRefuses) {
  const std::string model = tiny_chat_model().string();
  ServeProcess server({model});
  EXPECT_EQ(load_events(server, model), std::vector<Json>{(Json{{"status", "ready"}, {"model", model}, {"cached", true}})});
  HttpReply other = post_json(server, "/load_model", Json{{"model", make_tiny_bert("load-model-pinned").string()}});
  EXPECT_EQ(other.status, 400);
  EXPECT_EQ(other.body["error"]["code"], "model_not_served");
}

TEST(LoadModel, ChatClientReadsTheEventsAndReportsFailures) {
  ServeProcess server({});
  cli::OpenAIClient client(server.base_url(), "");
  std::string why;
  EXPECT_TRUE(client.healthy(why)) << why;
  std::vector<std::string> statuses;
  EXPECT_TRUE(client.load_model(tiny_chat_model().string(), [&](const Json& e) { statuses.push_back(e["status"]); }));
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.front(), "loading");
  EXPECT_EQ(statuses.back(), "ready");
  EXPECT_THROW(client.load_model("/nonexistent/model-folder", [](const Json&) {}), IoError);
}

}  // namespace
}  // namespace transformers::testing
