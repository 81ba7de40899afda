// `transformers embed` against serve's /v1/embeddings on the same texts (the two share the
// pooling code, so the vectors agree), and against hidden states that `transformers forward`
// writes, pooled here by hand (mean, last token, CLS) and normalised by hand.
#include <cmath>
#include <fstream>

#include "serving/embedding_reference.h"
#include "serving/serve_fixture.h"
#include "transformers/io/npy.h"

namespace transformers::testing {
namespace {

// The vectors `transformers embed ARGS` prints (--format json: one array of vectors).
std::vector<std::vector<float>> embed(const std::string& args) {
  auto r = run_transformers("embed " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  return Json::parse(r.out).get<std::vector<std::vector<float>>>();
}

std::vector<int64_t> served_ids(const ServeProcess& s, const std::string& text) {
  return post_json(s, "/tokenize", Json{{"prompt", text}}).body["tokens"].get<std::vector<int64_t>>();
}

// The last hidden state [1, L, H] of `ids`: an encoder's last_hidden_state, a decoder's last
// hidden_states entry (after the final norm).
Tensor forward_last_hidden_state(const std::filesystem::path& model, const std::vector<int64_t>& ids, bool encoder) {
  const auto dir = scratch_dir("embed-forward");
  const std::string out = encoder ? " --last-hidden-state " + (dir / "h.npy").string() : " --hidden-states " + (dir / "h.npy").string();
  auto r = run_transformers("forward " + model.string() + " --input-ids \"" + id_list(ids) + "\" --out " + (dir / "logits.npy").string() + out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const Tensor h = load_npy(dir / "h.npy");
  if (encoder) return h;
  return h.select(0, h.size(0) - 1).contiguous();  // [layers + 1, 1, L, H] -> [1, L, H]
}

const std::vector<std::string> kTexts = {"The first sentence to embed.", "Une deuxième phrase, déjà vue"};

TEST(EmbedCommand, DecoderEqualsServedEmbeddingsAndHandPooling) {
  const auto model = tiny_chat_model();
  const auto cli = embed(model.string() + " \"" + kTexts[0] + "\" \"" + kTexts[1] + "\"");
  ASSERT_EQ(cli.size(), 2u);
  std::vector<std::vector<int64_t>> ids;
  {
    ServeProcess server({model.string()});
    HttpReply r = post_json(server, "/v1/embeddings", Json{{"input", kTexts}});
    ASSERT_EQ(r.status, 200) << r.body;
    for (size_t i = 0; i < kTexts.size(); ++i) {
      expect_close(cli[i], r.body["data"][i]["embedding"].get<std::vector<float>>(), 1e-6f);
      ids.push_back(served_ids(server, kTexts[i]));
    }
  }
  // Mean and last-token pooling, by hand, of forward's hidden states.
  const Tensor h = forward_last_hidden_state(model, ids[1], /*encoder=*/false);
  const int64_t L = h.size(1), H = h.size(2);
  expect_close(cli[1], mean_rows(h, 0, L, H));
  const auto last = embed(model.string() + " --pooling last \"" + kTexts[1] + "\"");
  ASSERT_EQ(last.size(), 1u);
  expect_close(last[0], mean_rows(h, (L - 1) * H, 1, H));
}

TEST(EmbedCommand, EncoderMeanOrClsEqualsHandPoolingOfForward) {
  const auto model = make_tiny_bert("embed-tiny-bert");
  const std::string text = "An encoder embeds this";
  std::vector<int64_t> ids;
  {
    ServeProcess server({model.string()});
    ids = served_ids(server, text);
  }
  ASSERT_EQ(ids.front(), 101);  // [CLS]
  const Tensor h = forward_last_hidden_state(model, ids, /*encoder=*/true);  // [1, L, H]
  const int64_t L = h.size(1), H = h.size(2);
  const std::vector<float> mean = mean_rows(h, 0, L, H), cls = mean_rows(h, 0, 1, H);

  const auto by_mean = embed(model.string() + " \"" + text + "\"");
  ASSERT_EQ(by_mean.size(), 1u);
  expect_close(by_mean[0], mean);
  const auto by_flag = embed(model.string() + " --pooling cls \"" + text + "\"");
  ASSERT_EQ(by_flag.size(), 1u);
  expect_close(by_flag[0], cls);
  // sentence-transformers' folder layout picks CLS by itself.
  std::filesystem::create_directories(model / "1_Pooling");
  std::ofstream(model / "1_Pooling" / "config.json") << R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false})";
  const auto by_folder = embed(model.string() + " \"" + text + "\"");
  ASSERT_EQ(by_folder.size(), 1u);
  expect_close(by_folder[0], cls);
  // --normalize: the CLS row over its own L2 norm.
  const auto normalized = embed(model.string() + " --normalize \"" + text + "\"");
  ASSERT_EQ(normalized.size(), 1u);
  double norm = 0;
  for (float v : cls) norm += static_cast<double>(v) * v;
  std::vector<float> unit;
  for (float v : cls) unit.push_back(static_cast<float>(v / std::sqrt(norm)));
  expect_close(normalized[0], unit, 1e-6f);
}

TEST(EmbedCommand, StdinLinesAndJsonlGiveTheSameVectors) {
  const auto model = tiny_chat_model();
  const auto args = embed(model.string() + " \"" + kTexts[0] + "\" \"" + kTexts[1] + "\"");
  auto r = run_command("printf '%s\\n%s\\n' \"" + kTexts[0] + "\" \"" + kTexts[1] + "\" | " + std::string(TCPP_BINARY_DIR) +
                       "/cli/transformers embed " + model.string() + " --format jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    ASSERT_LT(i, args.size());
    const Json record = Json::parse(line);
    EXPECT_EQ(record["text"], kTexts[i]);
    expect_close(record["embedding"].get<std::vector<float>>(), args[i], 0.0f);
  }
  EXPECT_EQ(i, 2u);
}

TEST(EmbedCommand, BadInputIsOneLineError) {
  expect_one_line_error(run_transformers("embed " + tiny_chat_model().string() + " --pooling max hi"), "--pooling");
  const auto model = make_tiny_bert("embed-bad-pooling");
  std::filesystem::create_directories(model / "1_Pooling");
  std::ofstream(model / "1_Pooling" / "config.json") << R"({"pooling_mode_cls_token": "yes"})";
  expect_one_line_error(run_transformers("embed " + model.string() + " hi"), "pooling_mode_cls_token");
}

}  // namespace
}  // namespace transformers::testing
