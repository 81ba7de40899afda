// /v1/embeddings against `transformers forward` on the same token ids: a decoder's embedding is
// the mean over tokens of its last hidden state (after the final norm); an encoder's is the mean
// of its last_hidden_state, or the CLS row when 1_Pooling/config.json asks for it
// (sentence-transformers' layout).
#include <fstream>

#include "serving/embedding_reference.h"
#include "serving/serve_fixture.h"
#include "transformers/io/npy.h"

namespace transformers::testing {
namespace {

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
  const auto model = make_tiny_bert("serve-tiny-bert");
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
