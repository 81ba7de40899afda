// `transformers forward` on an encoder (BERT) as a user runs it: --attention-mask and
// --token-type-ids in the --input-ids syntax, the head's logits and --last-hidden-state written
// as .npy and equal to Transformers' outputs; decoder-only flags refused in one line.
#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/npy.h"

namespace transformers {
namespace {

std::string golden(const std::string& arch) { return testing::shared_path("golden/" + arch).string(); }

// "a,b,c;d,e,f" from an int64 [B, L] .npy file.
std::string id_matrix(const std::string& npy) {
  Tensor t = load_npy(npy);
  std::string s;
  for (int64_t b = 0; b < t.size(0); ++b) {
    if (b) s += ";";
    for (int64_t l = 0; l < t.size(1); ++l) s += (l ? "," : "") + std::to_string(t.data<int64_t>()[b * t.size(1) + l]);
  }
  return s;
}

TEST(CliEncoder, BertForwardWritesMaskedLMLogitsAndLastHiddenState) {
  auto dir = testing::scratch_dir("cli_forward_bert");
  const std::string g = golden("bert");
  auto r = testing::run_transformers("forward " + g + " --input-ids \"" + id_matrix(g + "/input_ids.npy") +
                                     "\" --attention-mask \"" + id_matrix(g + "/attention_mask.npy") +
                                     "\" --token-type-ids \"" + id_matrix(g + "/token_type_ids.npy") + "\" --out " +
                                     (dir / "logits.npy").string() + " --last-hidden-state " + (dir / "h.npy").string() +
                                     " --hidden-states " + (dir / "hs.npy").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(testing::max_abs_diff(load_npy(dir / "logits.npy"), load_npy(g + "/logits.npy")), 1e-4f);
  EXPECT_LE(testing::max_abs_diff(load_npy(dir / "h.npy"), load_npy(g + "/last_hidden_state.npy")), 1e-4f);
  EXPECT_LE(testing::max_abs_diff(load_npy(dir / "hs.npy"), load_npy(g + "/hidden_states.npy")), 1e-4f);
}

TEST(CliEncoder, FlagErrorsAreOneLine) {
  auto one_line = [](const testing::ProcessResult& r, const std::string& needle) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  };
  one_line(testing::run_transformers("forward " + golden("llama") + " --input-ids \"1,2\" --token-type-ids \"0,0\" --out /dev/null"),
           "decoder model");
  one_line(testing::run_transformers("forward " + golden("bert") + " --input-ids \"1,2\" --attention-mask \"1,1,1\" --out /dev/null"),
           "--attention-mask");
}

}  // namespace
}  // namespace transformers
