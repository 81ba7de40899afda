// The server under load and under attack: 16 concurrent streaming clients each get exactly what
// they get alone (greedy); malformed or hostile requests get the right status and the server
// keeps answering (run under ASan too).
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <atomic>
#include <thread>

#include "serving/serve_fixture.h"

namespace transformers::testing {
namespace {

// The text of a streamed chat completion (its content deltas joined).
std::string streamed_text(const ServeProcess& s, const Json& req) {
  Json r = req;
  r["stream"] = true;
  SseStream sse = post_sse(s, "/v1/chat/completions", r);
  EXPECT_EQ(sse.status, 200);
  EXPECT_FALSE(sse.data.empty());
  if (sse.data.empty()) return {};
  EXPECT_EQ(sse.data.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < sse.data.size(); ++i) {
    const Json c = Json::parse(sse.data[i]);
    if (!c["choices"].empty() && c["choices"][0]["delta"].contains("content"))
      text += c["choices"][0]["delta"]["content"].get<std::string>();
  }
  return text;
}

TEST(ServeTraffic, SixteenConcurrentStreamsEachGetWhatTheyGetAlone) {
  ServeProcess server({tiny_chat_model().string(), "--max-concurrency", "8"});
  std::vector<Json> requests;
  for (int i = 0; i < 16; ++i) {
    std::string question = "Question " + std::to_string(i) + ":";
    for (int w = 0; w < i * 3; ++w) question += " word" + std::to_string(w);  // prompts of different lengths
    requests.push_back({{"messages", {{{"role", "user"}, {"content", question}}}}, {"max_tokens", 8 + i % 5}, {"temperature", 0}});
  }
  std::vector<std::string> alone;
  for (const auto& r : requests) alone.push_back(streamed_text(server, r));
  std::vector<std::string> together(requests.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < requests.size(); ++i)
    clients.emplace_back([&, i] { together[i] = streamed_text(server, requests[i]); });
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(together[i], alone[i]) << "client " << i;
}

// Opens a TCP connection to the server; -1 on failure.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends a streaming request over a raw socket and reads until `frames` SSE frames came (the first
// is the role chunk, sent once the request is queued; the second carries a generated token); the
// caller holds the stream open and closes the socket to hang up. -1 on failure.
int open_stream(int port, const std::string& body, size_t frames) {
  const int fd = connect_to(port);
  if (fd < 0) return -1;
  const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return ::close(fd), -1;
  std::string got;
  char buf[512];
  auto count = [&] {
    size_t n = 0;
    for (size_t at = got.find("data: "); at != std::string::npos; at = got.find("data: ", at + 1)) ++n;
    return n;
  };
  while (count() < frames) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return ::close(fd), -1;
    got.append(buf, static_cast<size_t>(n));
  }
  return fd;
}

TEST(ServeTraffic, FullQueueIs429AndFreesWhenClientsLeave) {
  ServeProcess server({tiny_chat_model().string(), "--max-concurrency", "1", "--max-queue", "1"});
  const std::string forever = Json{{"messages", {{{"role", "user"}, {"content", "go"}}}}, {"max_tokens", 4000}, {"stream", true}}.dump();
  const int running = open_stream(server.port(), forever, 2);  // decoding
  const int waiting = open_stream(server.port(), forever, 1);  // queued behind it
  ASSERT_GE(running, 0);
  ASSERT_GE(waiting, 0);
  HttpReply full = post_json(server, "/v1/chat/completions", std::string(R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})"));
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_EQ(full.body["error"]["type"], "rate_limit_error");
  ::close(waiting);
  ::close(running);
  // Both hung up: their sequences are cancelled and the next request is served.
  // (Polled up to 5 minutes: a hang guard for ASan on a busy machine, not a speed bound.)
  HttpReply ok;
  for (int attempt = 0; attempt < 3000; ++attempt) {
    ok = post_json(server, "/v1/chat/completions", std::string(R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})"));
    if (ok.status != 429) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ok.status, 200) << ok.body;
}

class ServeHostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServeProcess({tiny_chat_model().string(), "--api-key", "sk-test-key", "--cors-origin",
                                "http://localhost:3000", "--max-tokens-limit", "4000"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static HttpReply post(const std::string& path, const std::string& body, httplib::Headers headers = {}) {
    headers.emplace("Authorization", "Bearer sk-test-key");
    return post_json(*server_, path, body, headers);
  }
  static void expect_error(const HttpReply& r, int status, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_TRUE(r.body.contains("error")) << r.body;
    for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(r.body["error"].contains(k)) << r.body;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(needle), std::string::npos) << r.body;
  }
  static ServeProcess* server_;
};
ServeProcess* ServeHostile::server_ = nullptr;

const std::string kChat = R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})";

TEST_F(ServeHostile, MalformedJsonAndWrongTypesAre400NamingTheField) {
  expect_error(post("/v1/chat/completions", "{\"messages\": ["), 400, "malformed JSON");
  expect_error(post("/v1/chat/completions", ""), 400, "malformed JSON");
  expect_error(post("/v1/chat/completions", std::string(200, '[')), 400, "malformed JSON");
  expect_error(post("/v1/chat/completions", R"({"messages": "hi"})"), 400, "messages");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "temperature": "0.5"})"), 400, "temperature");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": "5"})"), 400, "max_tokens");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000})"), 400, "max_tokens");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"})"), 400, "stream");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "logit_bias": {"x": 1}})"), 400, "logit_bias");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "n": 3})"), 400, "n:");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": 5}]})"), 400, "role");
  expect_error(post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": {"a": 1}}]})"), 400, "content");
  expect_error(post("/v1/completions", R"({"prompt": [1, -4]})"), 400, "prompt");
  expect_error(post("/v1/completions", R"({"prompt": 12})"), 400, "prompt");
  expect_error(post("/v1/embeddings", R"({"input": [{"x": 1}]})"), 400, "input");
  expect_error(post("/v1/responses", R"({"input": 3})"), 400, "input");
  expect_error(post("/detokenize", R"({"tokens": "abc"})"), 400, "tokens");
  EXPECT_EQ(post("/v1/chat/completions", kChat).status, 200);
}

TEST_F(ServeHostile, BodyTooLargeIs413) {
  expect_error(post("/v1/chat/completions", std::string(10 << 20, 'a')), 413, "too large");
  EXPECT_EQ(post("/v1/chat/completions", kChat).status, 200);
}

TEST_F(ServeHostile, UnknownModelAndRoute) {
  expect_error(post("/v1/chat/completions", R"({"model": "someone/else", "messages": [{"role": "user", "content": "hi"}]})"), 400, "someone/else");
  auto c = server_->client();
  auto r = c.Get("/v1/nothing", {{"Authorization", "Bearer sk-test-key"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(Json::parse(r->body).contains("error"));
}

TEST_F(ServeHostile, ApiKeyMissingOrWrongIs401AndHealthIsPublic) {
  expect_error(post_json(*server_, "/v1/chat/completions", kChat), 401, "API key");
  expect_error(post_json(*server_, "/v1/chat/completions", kChat, {{"Authorization", "Bearer sk-test-kex"}}), 401, "API key");
  expect_error(post_json(*server_, "/v1/chat/completions", kChat, {{"Authorization", "sk-test-key"}}), 401, "API key");
  auto c = server_->client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 401);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(ServeHostile, CorsOnlyForListedOrigins) {
  auto c = server_->client();
  auto evil = c.Get("/health", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(evil);
  EXPECT_EQ(evil->status, 403);
  EXPECT_FALSE(evil->has_header("Access-Control-Allow-Origin"));
  auto preflight = c.Options("/v1/chat/completions", {{"Origin", "http://localhost:3000"},
                                                       {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  HttpReply listed = post("/v1/chat/completions", kChat, {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(listed.status, 200);
  EXPECT_EQ(listed.headers.find("Access-Control-Allow-Origin")->second, "http://localhost:3000");
}

TEST_F(ServeHostile, ClientsVanishingMidStreamCancelTheirRequests) {
  const Json before = Json::parse(server_->client().Get("/health")->body)["engine"];
  const std::string body = Json{{"messages", {{{"role", "user"}, {"content", "go on forever"}}}}, {"max_tokens", 4000},
                                {"stream", true}, {"temperature", 0}}.dump();
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] {
      auto c = server_->client();
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/chat/completions";
      req.body = body;
      req.set_header("Content-Type", "application/json");
      req.set_header("Authorization", "Bearer sk-test-key");
      int chunks = 0;
      req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };  // then hang up
      c.send(req);
    });
  for (auto& t : clients) t.join();
  // Every cancelled sequence leaves the engine; far fewer than 8 x 4000 tokens were generated.
  Json engine;
  for (int poll = 0; poll < 3000; ++poll) {  // up to 5 minutes: a hang guard, as above
    engine = Json::parse(server_->client().Get("/health")->body)["engine"];
    if (engine["running"] == 0 && engine["queued"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(engine["running"], 0);
  EXPECT_EQ(engine["queued"], 0);
  EXPECT_LT(engine["generated_tokens"].get<int64_t>() - before["generated_tokens"].get<int64_t>(), 8 * 4000 / 2);
  EXPECT_EQ(post("/v1/chat/completions", kChat).status, 200);
}

TEST_F(ServeHostile, TwoHundredRapidConnectsLeaveItAnswering) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const int fd = connect_to(server_->port());
        if (fd < 0) continue;
        // Alternate: hang up at once, send half a request line, send garbage.
        if (i % 3 == 1) (void)!::write(fd, "POST /v1/chat/comp", 18);
        if (i % 3 == 2) (void)!::write(fd, "\x16\x03\x01garbage\r\n\r\n", 14);
        ::close(fd);
        if (t == 0 && i % 10 == 0) {
          auto r = server_->client().Get("/health");
          if (r && r->status == 200) ok++;
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 5);
  EXPECT_TRUE(server_->alive());
  EXPECT_EQ(post("/v1/chat/completions", kChat).status, 200);
}

}  // namespace
}  // namespace transformers::testing

namespace transformers::testing {
namespace {

TEST(ServeCli, BadFlagsAndModelsAreOneLineErrors) {
  expect_one_line_error(run_transformers("serve --cors-origin '*' --port 0"), "--cors-origin");
  expect_one_line_error(run_transformers("serve --api-key a --api-key-file /nonexistent --port 0"), "--api-key");
  expect_one_line_error(run_transformers("serve --chat-template-kwargs '[1]' --port 0"), "--chat-template-kwargs");
  expect_one_line_error(run_transformers("serve /no/such/model --port 0"), "/no/such/model");
  expect_one_line_error(run_transformers("serve --max-concurrency 0 --port 0"), "--max-concurrency");
  expect_one_line_error(run_transformers("serve --kv-cache-memory lots --port 0"), "--kv-cache-memory");
}

// A KV budget of a few blocks (16 KiB each for this model) and no prefix caching: answers are
// those of a server with the default budget, requests beyond the budget wait their turn.
TEST(ServeCli, ASmallKvCacheBudgetGivesTheSameAnswers) {
  const std::string model = tiny_chat_model().string();
  ServeProcess roomy({model});
  ServeProcess tight({model, "--kv-cache-memory", "48KB", "--no-prefix-caching"});
  ASSERT_GT(tight.port(), 0);
  const Json request = {{"model", model},
                        {"messages", Json::array({{{"role", "user"}, {"content", "a question that takes some room"}}})},
                        {"max_tokens", 40},
                        {"temperature", 0}};
  const HttpReply want = post_json(roomy, "/v1/chat/completions", request);
  ASSERT_EQ(want.status, 200) << want.body.dump();
  std::vector<std::thread> clients;
  std::vector<HttpReply> got(4);
  for (size_t i = 0; i < got.size(); ++i)
    clients.emplace_back([&, i] { got[i] = post_json(tight, "/v1/chat/completions", request); });
  for (auto& c : clients) c.join();
  for (const HttpReply& r : got) {
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["choices"][0]["message"]["content"], want.body["choices"][0]["message"]["content"]);
  }
}

}  // namespace
}  // namespace transformers::testing
