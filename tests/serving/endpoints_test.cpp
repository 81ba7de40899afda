// Each endpoint of the real `transformers serve` over loopback HTTP: OpenAI's response shapes,
// greedy output equal to `transformers generate` on the prompt `transformers apply-chat-template`
// renders, streamed frames that join into the non-streamed text.
#include <fstream>

#include "serving/serve_fixture.h"
#include "transformers/io/safetensors.h"

namespace transformers::testing {
namespace {

class ServeEndpoints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServeProcess({tiny_chat_model().string()}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServeProcess* server_;
};
ServeProcess* ServeEndpoints::server_ = nullptr;

const Json kMessages = Json::parse(R"([{"role": "system", "content": "You are terse."},
                                       {"role": "user", "content": "Name three colours, déjà vu 😀"}])");

Json chat_request(int64_t max_tokens) {
  return {{"model", tiny_chat_model().string()}, {"messages", kMessages}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

// What `transformers generate` writes for these ids (greedy, special tokens left out of the text).
std::string generate_text(const std::vector<int64_t>& ids, int64_t max_new_tokens, const std::string& extra = "") {
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  auto r = run_transformers("generate " + tiny_chat_model().string() + " --input-ids \"" + list +
                            "\" --greedy --max-new-tokens " + std::to_string(max_new_tokens) + " --json --skip-special-tokens " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return Json::parse(r.out)["text"][0].get<std::string>();
}

// The prompt ids `transformers apply-chat-template` renders for kMessages (and tools).
std::vector<int64_t> rendered_prompt(const Json& tools = nullptr) {
  const auto conv = scratch_dir("serve-conversation") / "conversation.json";
  Json conversation = {{"messages", kMessages}, {"add_generation_prompt", true}};
  if (!tools.is_null()) conversation["tools"] = tools;
  std::ofstream(conv) << conversation.dump();
  auto r = run_transformers("apply-chat-template " + tiny_chat_model().string() + " " + conv.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return Json::parse(r.out)["input_ids"].get<std::vector<int64_t>>();
}

TEST_F(ServeEndpoints, GreedyChatCompletionEqualsGenerateOnTheRenderedPrompt) {
  HttpReply r = post_json(*server_, "/v1/chat/completions", chat_request(12));
  ASSERT_EQ(r.status, 200) << r.body;
  const Json& b = r.body;
  EXPECT_EQ(b["object"], "chat.completion");
  EXPECT_EQ(b["model"], tiny_chat_model().string());
  EXPECT_TRUE(b["created"].is_number_integer());
  ASSERT_EQ(b["choices"].size(), 1u);
  EXPECT_EQ(b["choices"][0]["index"], 0);
  EXPECT_EQ(b["choices"][0]["message"]["role"], "assistant");
  const std::vector<int64_t> prompt = rendered_prompt();
  EXPECT_EQ(b["usage"]["prompt_tokens"], prompt.size());
  EXPECT_EQ(b["usage"]["total_tokens"], b["usage"]["prompt_tokens"].get<int64_t>() + b["usage"]["completion_tokens"].get<int64_t>());
  EXPECT_EQ(b["choices"][0]["message"]["content"], generate_text(prompt, 12));
  EXPECT_EQ(b["choices"][0]["finish_reason"], b["usage"]["completion_tokens"] == 12 ? "length" : "stop");
  // The response id is the X-Request-ID header, echoed when the client sends one.
  EXPECT_EQ(b["id"], r.headers.find("X-Request-ID")->second);
  HttpReply echoed = post_json(*server_, "/v1/chat/completions", chat_request(2).dump(), {{"X-Request-ID", "my-req-42"}});
  EXPECT_EQ(echoed.body["id"], "my-req-42");
  EXPECT_EQ(echoed.headers.find("X-Request-ID")->second, "my-req-42");
}

TEST_F(ServeEndpoints, ToolsAndTemplateKwargsReachTheChatTemplate) {
  const Json tools = Json::parse(R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  Json req = chat_request(1);
  req["tools"] = tools;
  HttpReply r = post_json(*server_, "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], rendered_prompt(tools).size());
  EXPECT_GT(rendered_prompt(tools).size(), rendered_prompt().size() + 20);
  // tool_choice "none": the tools stay out of the prompt.
  req["tool_choice"] = "none";
  EXPECT_EQ(post_json(*server_, "/v1/chat/completions", req).body["usage"]["prompt_tokens"], rendered_prompt().size());
  // Qwen3's template closes an empty think block when enable_thinking is false: more prompt tokens.
  Json no_think = chat_request(1);
  no_think["chat_template_kwargs"] = {{"enable_thinking", false}};
  EXPECT_GT(post_json(*server_, "/v1/chat/completions", no_think).body["usage"]["prompt_tokens"].get<int64_t>(),
            static_cast<int64_t>(rendered_prompt().size()));
}

TEST(ServeWithoutModel, LoadsTheRequestedFolderOnFirstUse) {
  ServeProcess server({});
  auto models = server.client().Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_TRUE(Json::parse(models->body)["data"].empty());
  HttpReply none = post_json(server, "/v1/chat/completions", Json{{"messages", kMessages}});
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.body["error"]["param"], "model");
  HttpReply missing = post_json(server, "/v1/chat/completions", Json{{"model", "/no/such/folder"}, {"messages", kMessages}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "model_not_found");
  HttpReply ok = post_json(server, "/v1/chat/completions", chat_request(3));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body["choices"][0]["message"]["content"], generate_text(rendered_prompt(), 3));
  EXPECT_EQ(Json::parse(server.client().Get("/v1/models")->body)["data"][0]["id"], tiny_chat_model().string());
}

TEST_F(ServeEndpoints, CompletionFromTokenIdsEqualsGenerate) {
  const std::vector<int64_t> prompt{9707, 11, 1879, 0, 576};
  HttpReply r = post_json(*server_, "/v1/completions", Json{{"prompt", prompt}, {"max_tokens", 9}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["object"], "text_completion");
  EXPECT_EQ(r.body["choices"][0]["text"], generate_text(prompt, 9));
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], 5);
}

TEST_F(ServeEndpoints, StreamedChatFramesJoinIntoTheNonStreamedText) {
  Json req = chat_request(16);
  const std::string whole = post_json(*server_, "/v1/chat/completions", req).body["choices"][0]["message"]["content"];
  req["stream"] = true;
  req["stream_options"] = {{"include_usage", true}};
  SseStream s = post_sse(*server_, "/v1/chat/completions", req);
  ASSERT_EQ(s.status, 200);
  ASSERT_GE(s.data.size(), 4u);
  EXPECT_EQ(s.data.back(), "[DONE]");
  std::string joined;
  std::string id;
  for (size_t i = 0; i + 1 < s.data.size(); ++i) {
    const Json c = Json::parse(s.data[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (i == 0) id = c["id"];
    EXPECT_EQ(c["id"], id);
    if (i + 2 == s.data.size()) {  // the usage chunk
      EXPECT_TRUE(c["choices"].empty());
      EXPECT_EQ(c["usage"]["completion_tokens"], 16);
      continue;
    }
    ASSERT_EQ(c["choices"].size(), 1u);
    const Json& delta = c["choices"][0]["delta"];
    EXPECT_EQ(delta.contains("role"), i == 0) << s.data[i];
    if (delta.contains("content")) joined += delta["content"].get<std::string>();
    const bool last = i + 3 == s.data.size();
    EXPECT_EQ(c["choices"][0]["finish_reason"].is_null(), !last) << s.data[i];
    if (last) {
      EXPECT_EQ(c["choices"][0]["finish_reason"], "length");
    }
  }
  EXPECT_EQ(joined, whole);
}

TEST_F(ServeEndpoints, LogprobsStopAndLogitBias) {
  Json req = chat_request(6);
  req["logprobs"] = true;
  req["top_logprobs"] = 3;
  HttpReply r = post_json(*server_, "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  const Json& content = r.body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 6u);
  std::string joined;
  for (const auto& e : content) {
    ASSERT_EQ(e["top_logprobs"].size(), 3u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(e["token"], e["top_logprobs"][0]["token"]);
    EXPECT_FLOAT_EQ(e["logprob"].get<float>(), e["top_logprobs"][0]["logprob"].get<float>());
    EXPECT_GE(e["top_logprobs"][0]["logprob"].get<float>(), e["top_logprobs"][1]["logprob"].get<float>());
    EXPECT_LE(e["logprob"].get<float>(), 0.0f);
    joined += e["token"].get<std::string>();
  }
  const std::string text = r.body["choices"][0]["message"]["content"];
  EXPECT_EQ(joined, text);
  // A stop string (the text of a later token) ends the answer before its first occurrence.
  std::string stop;
  for (size_t k = 2; k < content.size() && stop.empty(); ++k) {
    const std::string t = content[k]["token"];
    if (t.find("\xEF\xBF\xBD") == std::string::npos && !t.empty() && t != " ") stop = t;  // whole characters only
  }
  ASSERT_FALSE(stop.empty());
  {
    Json with_stop = chat_request(6);
    with_stop["stop"] = stop;
    HttpReply s = post_json(*server_, "/v1/chat/completions", with_stop);
    EXPECT_EQ(s.body["choices"][0]["message"]["content"], text.substr(0, text.find(stop))) << stop;
    EXPECT_EQ(s.body["choices"][0]["finish_reason"], "stop");
  }
  // logit_bias -100 on the first greedy token changes the answer.
  Json one = chat_request(1);
  one["logprobs"] = true;
  HttpReply first = post_json(*server_, "/v1/chat/completions", one);
  auto tok = post_json(*server_, "/tokenize", Json{{"prompt", first.body["choices"][0]["logprobs"]["content"][0]["token"]}, {"add_special_tokens", false}});
  ASSERT_EQ(tok.body["tokens"].size(), 1u);
  Json biased = chat_request(6);
  biased["logit_bias"] = {{std::to_string(tok.body["tokens"][0].get<int64_t>()), -100}};
  EXPECT_NE(post_json(*server_, "/v1/chat/completions", biased).body["choices"][0]["message"]["content"], text);
}

// n choices: choice i is what a request alone with seed + i gets (the reference: n single
// requests); streamed, each index's deltas join into its non-streamed text; usage counts every
// choice's tokens and the prompt once.
TEST_F(ServeEndpoints, NChoicesEachEqualASingleRequestWithItsSeed) {
  Json req = chat_request(8);
  req["temperature"] = 1.0;
  req["seed"] = 42;
  req["n"] = 3;
  HttpReply r = post_json(*server_, "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["choices"].size(), 3u);
  std::vector<std::string> texts;
  int64_t completion_tokens = 0;
  for (int i = 0; i < 3; ++i) {
    const Json& c = r.body["choices"][i];
    EXPECT_EQ(c["index"], i);
    texts.push_back(c["message"]["content"]);
    Json alone = req;
    alone["n"] = 1;
    alone["seed"] = 42 + i;
    HttpReply a = post_json(*server_, "/v1/chat/completions", alone);
    EXPECT_EQ(a.body["choices"][0]["message"]["content"], texts.back()) << "choice " << i;
    completion_tokens += a.body["usage"]["completion_tokens"].get<int64_t>();
    EXPECT_EQ(r.body["usage"]["prompt_tokens"], a.body["usage"]["prompt_tokens"]);
  }
  EXPECT_EQ(r.body["usage"]["completion_tokens"], completion_tokens);
  EXPECT_TRUE(texts[0] != texts[1] || texts[1] != texts[2]) << "sampled choices with different seeds all alike";

  req["stream"] = true;
  SseStream s = post_sse(*server_, "/v1/chat/completions", req);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.data.back(), "[DONE]");
  std::vector<std::string> joined(3);
  std::vector<int> roles(3), finishes(3);
  for (size_t k = 0; k + 1 < s.data.size(); ++k) {
    const Json c = Json::parse(s.data[k]);
    ASSERT_EQ(c["choices"].size(), 1u) << s.data[k];
    const size_t i = c["choices"][0]["index"];
    ASSERT_LT(i, 3u);
    const Json& delta = c["choices"][0]["delta"];
    roles[i] += delta.contains("role");
    finishes[i] += !c["choices"][0]["finish_reason"].is_null();
    if (delta.contains("content")) joined[i] += delta["content"].get<std::string>();
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(joined[i], texts[i]) << "choice " << i;
    EXPECT_EQ(roles[i], 1);
    EXPECT_EQ(finishes[i], 1);
  }

  // The legacy completions endpoint: greedy choices are all the greedy answer.
  HttpReply c = post_json(*server_, "/v1/completions",
                          Json{{"prompt", "Once upon"}, {"max_tokens", 5}, {"temperature", 0}, {"n", 2}});
  ASSERT_EQ(c.status, 200) << c.body;
  ASSERT_EQ(c.body["choices"].size(), 2u);
  EXPECT_EQ(c.body["choices"][1]["index"], 1);
  EXPECT_EQ(c.body["choices"][0]["text"], c.body["choices"][1]["text"]);
  EXPECT_EQ(c.body["usage"]["completion_tokens"], 10);
}

// response_format json_object: sampled answers of the (random) tiny model are JSON objects when
// they end on their own, and JSON-object prefixes when max_tokens cut them, as nlohmann reads them.
TEST_F(ServeEndpoints, JsonObjectResponseFormatConstrainsTheAnswer) {
  int complete = 0;
  for (int seed = 1; seed <= 6; ++seed) {
    Json req = chat_request(40);
    req["temperature"] = 1.0;
    req["seed"] = seed;
    req["response_format"] = {{"type", "json_object"}};
    HttpReply r = post_json(*server_, "/v1/chat/completions", req);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string text = r.body["choices"][0]["message"]["content"];
    const std::string reason = r.body["choices"][0]["finish_reason"];
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text[text.find_first_not_of(" \t\n\r")], '{') << text;
    try {
      EXPECT_TRUE(Json::parse(text).is_object()) << text;
      EXPECT_EQ(reason, "stop") << text;
      ++complete;
    } catch (const Json::parse_error& e) {
      EXPECT_EQ(reason, "length") << text;
      // A prefix: nlohmann finds nothing wrong before the text runs out.
      EXPECT_GE(e.byte, text.size()) << text << ": " << e.what();
    }
  }
  std::printf("json_object: %d of 6 sampled answers closed their object within 40 tokens\n", complete);
  Json bad = chat_request(4);
  bad["response_format"] = {{"type", "json_schema"}};
  EXPECT_EQ(post_json(*server_, "/v1/chat/completions", bad).status, 400);
}

TEST_F(ServeEndpoints, ResponsesPlainAndStreamedEvents) {
  const Json req = {{"input", kMessages[1]["content"]}, {"instructions", "You are terse."}, {"max_output_tokens", 8}, {"temperature", 0}};
  HttpReply r = post_json(*server_, "/v1/responses", req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["object"], "response");
  EXPECT_EQ(r.body["status"], "completed");
  const Json& msg = r.body["output"].back();
  EXPECT_EQ(msg["type"], "message");
  EXPECT_EQ(msg["content"][0]["type"], "output_text");
  // instructions + input render as the system + user conversation of the chat endpoint.
  EXPECT_EQ(msg["content"][0]["text"], post_json(*server_, "/v1/chat/completions", chat_request(8)).body["choices"][0]["message"]["content"]);
  EXPECT_EQ(r.body["usage"]["output_tokens"], 8);

  Json sreq = req;
  sreq["stream"] = true;
  SseStream s = post_sse(*server_, "/v1/responses", sreq);
  ASSERT_GE(s.data.size(), 7u);
  EXPECT_EQ(s.events.front(), "response.created");
  EXPECT_EQ(s.events.back(), "response.completed");
  std::string deltas;
  for (size_t i = 0; i < s.data.size(); ++i) {
    const Json e = Json::parse(s.data[i]);
    EXPECT_EQ(e["type"], s.events[i]);
    EXPECT_EQ(e["sequence_number"], i);
    if (e["type"] == "response.output_text.delta") deltas += e["delta"].get<std::string>();
  }
  EXPECT_EQ(deltas, msg["content"][0]["text"]);
  EXPECT_EQ(Json::parse(s.data.back())["response"]["output"].back()["content"][0]["text"], deltas);
}

TEST_F(ServeEndpoints, EmbeddingsAreMeanPooledHiddenStatesInFloatAndBase64) {
  const Json req = {{"input", Json::array({"Hello world", "déjà vu"})}};
  HttpReply r = post_json(*server_, "/v1/embeddings", req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["object"], "list");
  ASSERT_EQ(r.body["data"].size(), 2u);
  const auto a = r.body["data"][0]["embedding"].get<std::vector<float>>();
  const auto b = r.body["data"][1]["embedding"].get<std::vector<float>>();
  EXPECT_EQ(a.size(), 64u);  // hidden_size of the tiny model
  EXPECT_NE(a, b);
  // One input alone gives the same vector as in the batch.
  EXPECT_EQ(post_json(*server_, "/v1/embeddings", Json{{"input", "Hello world"}}).body["data"][0]["embedding"].get<std::vector<float>>(), a);
  // base64: the same float32 values, little-endian (decoded here by hand).
  Json b64req = req;
  b64req["encoding_format"] = "base64";
  const std::string text = post_json(*server_, "/v1/embeddings", b64req).body["data"][0]["embedding"];
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  ASSERT_EQ(bytes.size(), a.size() * 4);
  std::vector<float> decoded(a.size());
  std::memcpy(decoded.data(), bytes.data(), bytes.size());
  EXPECT_EQ(decoded, a);
  // The usage counts the tokens of both inputs, as /tokenize counts them.
  const int64_t n = post_json(*server_, "/tokenize", Json{{"prompt", "Hello world"}}).body["count"].get<int64_t>() +
                    post_json(*server_, "/tokenize", Json{{"prompt", "déjà vu"}}).body["count"].get<int64_t>();
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], n);
}

TEST_F(ServeEndpoints, ModelsHealthTokenizeDetokenize) {
  auto c = server_->client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  const Json m = Json::parse(models->body);
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], tiny_chat_model().string());
  EXPECT_EQ(m["data"][0]["object"], "model");
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Json::parse(health->body)["status"], "ok");
  // Qwen's tokenizer: "Hello world" is [9707, 1879] ("Hello" and "Ġworld" in its tokenizer.json vocabulary).
  HttpReply t = post_json(*server_, "/tokenize", Json{{"prompt", "Hello world"}});
  EXPECT_EQ(t.body["tokens"], Json::parse("[9707, 1879]"));
  EXPECT_EQ(t.body["count"], 2);
  EXPECT_EQ(post_json(*server_, "/detokenize", Json{{"tokens", {9707, 1879}}}).body["prompt"], "Hello world");
}

// A LoRA adapter in PEFT's layout for tiny_chat_model's q_proj and v_proj (hidden 64; q 64, v 32
// outputs), with factors large enough to change its greedy output.
std::filesystem::path tiny_chat_adapter() {
  const auto dir = scratch_dir("serve-adapter");
  std::ofstream(dir / "adapter_config.json")
      << R"({"peft_type": "LORA", "r": 2, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]})";
  uint32_t state = 12345;
  auto factor = [&](int64_t rows, int64_t cols) {
    std::vector<float> v(static_cast<size_t>(rows * cols));
    for (float& x : v) x = static_cast<float>((state = state * 1664525u + 1013904223u) >> 8) / float(1 << 24) - 0.5f;
    return Tensor::from_values(v, {rows, cols});
  };
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (int layer = 0; layer < 2; ++layer)
    for (const auto& [proj, out] : {std::pair{"q_proj", int64_t{64}}, std::pair{"v_proj", int64_t{32}}}) {
      const std::string module = "base_model.model.model.layers." + std::to_string(layer) + ".self_attn." + proj;
      tensors.emplace_back(module + ".lora_A.weight", factor(2, 64));
      tensors.emplace_back(module + ".lora_B.weight", factor(out, 2));
    }
  save_safetensors(dir / "adapter_model.safetensors", tensors);
  return dir;
}

TEST(ServeAdapter, GreedyChatWithTheAdapterEqualsGenerateWithIt) {
  const auto adapter = tiny_chat_adapter();
  ServeProcess server({tiny_chat_model().string(), "--adapter", adapter.string()});
  HttpReply r = post_json(server, "/v1/chat/completions", chat_request(12));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<int64_t> prompt = rendered_prompt();
  const std::string adapted = generate_text(prompt, 12, "--adapter " + adapter.string());
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], adapted);
  EXPECT_NE(adapted, generate_text(prompt, 12)) << "the adapter changed nothing";
  // Streamed and batched requests go through the same adapted model.
  HttpReply twice = post_json(server, "/v1/chat/completions", chat_request(12));
  EXPECT_EQ(twice.body["choices"][0]["message"]["content"], adapted);
}

TEST(ServeAdapter, BadAdapterFolderIsOneLineStartupErrorNamingTheFile) {
  const auto empty = scratch_dir("serve-adapter-empty");
  expect_one_line_error(run_transformers("serve " + tiny_chat_model().string() + " --port 0 --adapter " + empty.string()),
                        (empty / "adapter_config.json").string());
  // Factors whose shapes do not fit the model: the error names the weights file and the key.
  const auto misfit = scratch_dir("serve-adapter-misfit");
  std::filesystem::copy_file(tiny_chat_adapter() / "adapter_config.json", misfit / "adapter_config.json");
  save_safetensors(misfit / "adapter_model.safetensors",
                   {{"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", Tensor::zeros({2, 63}, DType::F32)},
                    {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", Tensor::zeros({64, 2}, DType::F32)}});
  const auto r = run_transformers("serve " + tiny_chat_model().string() + " --port 0 --adapter " + misfit.string());
  expect_one_line_error(r, (misfit / "adapter_model.safetensors").string());
  EXPECT_NE(r.err.find("q_proj.lora_A.weight"), std::string::npos) << r.err;
  // Without a model to check against, the files are still checked at start.
  expect_one_line_error(run_transformers("serve --port 0 --adapter " + empty.string()), "adapter_config.json");
}

}  // namespace
}  // namespace transformers::testing
