// /v1/embeddings against `transformers forward` on the same token ids: a decoder's embedding is
// the mean over tokens of its last hidden state (after the final norm); an encoder's is the mean
// of its last_hidden_state, or the CLS row when 1_Pooling/config.json asks for it
// (sentence-transformers' layout).
#include <fstream>

#include "serving/serve_fixture.h"
#include "transformers/io/npy.h"

namespace transformers::testing {
namespace {

std::string id_list(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// Row `t` of a [.., L, H] f32 tensor's last two dims, starting at element `offset`.
std::vector<float> mean_rows(const Tensor& t, int64_t offset, int64_t L, int64_t H) {
  std::vector<float> m(static_cast<size_t>(H), 0.0f);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t h = 0; h < H; ++h) m[h] += t.data<float>()[offset + i * H + h];
  for (float& v : m) v /= static_cast<float>(L);
  return m;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << "dimension " << i;
}

std::vector<float> served_embedding(const ServeProcess& s, const std::string& text, std::vector<int64_t>& ids) {
  ids = post_json(s, "/tokenize", Json{{"prompt", text}}).body["tokens"].get<std::vector<int64_t>>();
  HttpReply r = post_json(s, "/v1/embeddings", Json{{"input", text}});
  EXPECT_EQ(r.status, 200) << r.body;
  return r.body["data"][0]["embedding"].get<std::vector<float>>();
}

TEST(ServeEmbeddings, DecoderMeanOfLastHiddenStateEqualsForward) {
  ServeProcess server({tiny_chat_model().string()});
  std::vector<int64_t> ids;
  const auto served = served_embedding(server, "Embeddings of a decoder, déjà vu", ids);
  const auto dir = scratch_dir("serve-embed-decoder");
  auto r = run_transformers("forward " + tiny_chat_model().string() + " --input-ids \"" + id_list(ids) + "\" --out " +
                            (dir / "logits.npy").string() + " --hidden-states " + (dir / "hs.npy").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor hs = load_npy(dir / "hs.npy");  // [layers + 1, 1, L, H]
  const int64_t L = hs.size(2), H = hs.size(3);
  expect_close(served, mean_rows(hs, (hs.size(0) - 1) * L * H, L, H));
}

TEST(ServeEmbeddings, EncoderMeanOrClsPoolingEqualsForward) {
  const auto model = scratch_dir("serve-tiny-bert");
  auto made = run_command(std::string(TCPP_BINARY_DIR) + "/tools/make_tiny_model --arch bert --vocab 30522 --seed 5 --out " + model.string());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(shared_path(std::string("tokenizers/models/bert/") + f), model / f);
  std::vector<int64_t> ids;
  std::vector<float> mean, cls;
  {
    ServeProcess server({model.string()});
    mean = served_embedding(server, "An encoder embeds this", ids);
    HttpReply chat = post_json(server, "/v1/chat/completions", Json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}});
    EXPECT_EQ(chat.status, 400);
    EXPECT_EQ(chat.body["error"]["code"], "model_not_generative");
  }
  std::filesystem::create_directories(model / "1_Pooling");
  std::ofstream(model / "1_Pooling" / "config.json") << R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false})";
  {
    ServeProcess server({model.string()});
    cls = served_embedding(server, "An encoder embeds this", ids);
  }
  EXPECT_EQ(ids.front(), 101);  // [CLS]
  const auto dir = scratch_dir("serve-embed-encoder");
  auto r = run_transformers("forward " + model.string() + " --input-ids \"" + id_list(ids) + "\" --out " + (dir / "logits.npy").string() +
                            " --last-hidden-state " + (dir / "h.npy").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor h = load_npy(dir / "h.npy");  // [1, L, H]
  const int64_t L = h.size(1), H = h.size(2);
  expect_close(mean, mean_rows(h, 0, L, H));
  expect_close(cls, mean_rows(h, 0, 1, H));
}

}  // namespace
}  // namespace transformers::testing
