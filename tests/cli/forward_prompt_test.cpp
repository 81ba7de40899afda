// `transformers forward --prompt`: the text goes through the folder's tokenizer, so the logits
// equal those of `forward --input-ids` with the ids `transformers tokenize` gives (itself checked
// against the Rust tokenizers library) for a tiny random Llama with the real Llama-2 tokenizer.
#include <filesystem>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/npy.h"
#include "transformers/io/json.h"

namespace transformers {
namespace {

std::filesystem::path tiny_llama_with_tokenizer() {
  static const std::filesystem::path dir = [] {
    auto d = testing::scratch_dir("forward-prompt-llama");
    auto r = testing::run_command(std::string(TCPP_BINARY_DIR) + "/tools/make_tiny_model --arch llama --out " +
                                  d.string() + " --vocab 32000 --seed 5");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      std::filesystem::copy_file(testing::shared_path(std::string("tokenizers/models/llama2/") + f), d / f);
    return d;
  }();
  return dir;
}

TEST(CliForwardPrompt, PromptEqualsItsTokenIds) {
  const auto m = tiny_llama_with_tokenizer();
  const auto out = testing::scratch_dir("forward-prompt-out");
  const std::string text = "The capital of France is";
  auto tok = testing::run_transformers("tokenize " + m.string() + " --ids --text '" + text + "'");
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  std::string ids;
  for (const auto& id : parse_json(tok.out, "tokenize")) ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int64_t>());
  auto a = testing::run_transformers("forward " + m.string() + " --prompt '" + text + "' --out " + (out / "a.npy").string());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = testing::run_transformers("forward " + m.string() + " --input_ids " + ids + " --out " + (out / "b.npy").string());
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const Tensor la = load_npy(out / "a.npy"), lb = load_npy(out / "b.npy");
  ASSERT_EQ(la.shape(), lb.shape());
  EXPECT_EQ(la.size(1), static_cast<int64_t>(std::count(ids.begin(), ids.end(), ',') + 1));
  EXPECT_EQ(testing::max_abs_diff(la, lb), 0.0f);
}

TEST(CliForwardPrompt, ErrorsAreOneLine) {
  const auto m = tiny_llama_with_tokenizer().string();
  testing::expect_one_line_error(testing::run_transformers("forward " + m + " --out /dev/null"), "--prompt");
  testing::expect_one_line_error(
      testing::run_transformers("forward " + m + " --prompt a --input-ids 1 --out /dev/null"), "exactly one");
  // Llama-2's tokenizer has no pad token: a batch of unequal prompts cannot be padded.
  testing::expect_one_line_error(
      testing::run_transformers("forward " + m + " --prompt 'a b c' --prompt 'd' --out /dev/null"), "pad");
}

}  // namespace
}  // namespace transformers
