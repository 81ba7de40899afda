// `transformers convert` as a user runs it: every golden model converted f32 -> f32 gives the
// same tensors (names, dtypes, shapes, bytes); bf16 and back differs only by the rounding;
// re-sharding writes an index; --fused-layout writes the runtime MoE layout.
#include <cstring>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/json.h"
#include "transformers/io/safetensors.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

std::string golden(const std::string& arch) { return testing::shared_path("golden/" + arch).string(); }

testing::ProcessResult convert(const std::string& src, const fs::path& dst, const std::string& flags = "") {
  return testing::run_transformers("convert " + src + " " + dst.string() + " " + flags);
}

class ConvertCli : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvertCli, SameTensorsThenBf16AndBackOnlyRounds) {
  const std::string arch = GetParam();
  const fs::path same = testing::scratch_dir("convert-same-" + arch);
  auto r = convert(golden(arch), same);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto orig = SafetensorsCheckpoint::open(golden(arch)), copy = SafetensorsCheckpoint::open(same);
  ASSERT_EQ(copy.names(), orig.names());
  for (const auto& n : orig.names()) {
    Tensor a = orig.tensor(n), b = copy.tensor(n);
    ASSERT_EQ(a.dtype(), b.dtype()) << n;
    ASSERT_EQ(a.shape(), b.shape()) << n;
    EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << n;
  }
  EXPECT_TRUE(fs::exists(same / "config.json"));

  const fs::path bf16 = testing::scratch_dir("convert-bf16-" + arch), back = testing::scratch_dir("convert-back-" + arch);
  ASSERT_EQ(convert(golden(arch), bf16, "--dtype bf16").exit_code, 0);
  ASSERT_EQ(convert(bf16.string(), back, "--dtype f32").exit_code, 0);
  auto round = SafetensorsCheckpoint::open(back);
  ASSERT_EQ(round.names(), orig.names());
  for (const auto& n : orig.names()) {
    Tensor expected = ops::cast(ops::cast(orig.tensor(n), DType::BF16), DType::F32);
    EXPECT_EQ(testing::max_abs_diff(round.tensor(n), expected), 0.0f) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, ConvertCli,
                         ::testing::Values("llama", "llama3", "mistral", "qwen2", "qwen3", "mixtral", "qwen3_moe",
                                           "gemma2", "gemma3", "phi3", "gpt2"));

TEST(ConvertCliOptions, ShardsAndFusedLayout) {
  const fs::path dst = testing::scratch_dir("convert-shards");
  auto r = convert(golden("qwen3_moe"), dst, "--max-shard-size 100KB --fused-layout");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json index = read_json_file(dst / "model.safetensors.index.json");
  EXPECT_EQ(index["weight_map"]["model.layers.0.mlp.experts.gate_up_proj"].get<std::string>().rfind("model-", 0), 0u);
  EXPECT_FALSE(index["weight_map"].contains("model.layers.0.mlp.experts.0.up_proj.weight"));
  auto bad = convert(golden("qwen3_moe"), testing::scratch_dir("convert-bad"), "--max-shard-size lots");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("lots"), std::string::npos) << bad.err;
}

// --quantization q4_0: the folder holds the Q4_0 blocks GGML's quantizer makes from the f32
// weights (our dtype name "Q4_0"), float embeddings and lm_head, and a quantization_config; a
// generate run of it gives the same ids as quantizing the golden model while loading. An unknown
// format is an error naming the flag.
TEST(ConvertCliOptions, QuantizationWritesBlocksAndReloadsQuantized) {
  const fs::path dst = testing::scratch_dir("convert-q4");
  auto r = convert(golden("llama"), dst, "--quantization q4_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto orig = SafetensorsCheckpoint::open(golden("llama")), q = SafetensorsCheckpoint::open(dst);
  const Tensor w = q.tensor("model.layers.1.mlp.down_proj.weight");
  ASSERT_EQ(w.dtype(), DType::Q4_0);
  const Tensor want = ops::cast(orig.tensor("model.layers.1.mlp.down_proj.weight"), DType::Q4_0);
  EXPECT_EQ(std::memcmp(w.raw_data(), want.raw_data(), want.nbytes()), 0);
  EXPECT_EQ(q.tensor("lm_head.weight").dtype(), DType::F32);
  EXPECT_EQ(q.tensor("model.embed_tokens.weight").dtype(), DType::F32);
  EXPECT_EQ(read_json_file(dst / "config.json")["quantization_config"]["quant_method"], "q4_0");
  const std::string gen = "generate --input-ids 1,5,9,33 --max-new-tokens 8 ";
  auto from_folder = testing::run_transformers(gen + dst.string());
  auto on_load = testing::run_transformers(gen + golden("llama") + " --quantization q4_0");
  ASSERT_EQ(from_folder.exit_code, 0) << from_folder.err;
  EXPECT_EQ(from_folder.out, on_load.out);
  auto bad = testing::run_transformers(gen + golden("llama") + " --quantization int3");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--quantization: unknown quantization 'int3'"), std::string::npos) << bad.err;
}

// --imatrix FILE (from `transformers imatrix`): the K-quant blocks are GGML's importance-weighted
// ones for that file's importances; --imatrix alone, or a file that is no importance matrix, is one
// error line naming the flag or the file.
TEST(ConvertCliOptions, ImportanceMatrixWeightsTheQuantizer) {
  const fs::path model = fs::path(TCPP_SOURCE_DIR) / "models/fortune-llama";
  const fs::path dir = testing::scratch_dir("convert-imatrix"), imatrix = dir / "fortune.imatrix.gguf";
  auto r = testing::run_transformers("imatrix " + model.string() + " -f " + (model / "heldout.txt").string() + " -o " +
                                     imatrix.string() + " -c 64 --chunks 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("in 4 chunks"), std::string::npos) << r.err;
  r = convert(model.string(), dir / "q4_k", "--quantization q4_k --imatrix " + imatrix.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto orig = SafetensorsCheckpoint::open(model), q = SafetensorsCheckpoint::open(dir / "q4_k");
  const std::string name = "model.layers.2.mlp.down_proj.weight";
  const Tensor w = q.tensor(name), source = orig.tensor(name);
  const auto importance = ImportanceMatrix::load(imatrix).importance(name, source.shape());
  ASSERT_TRUE(importance.has_value());
  const Tensor want = ops::quantize_weighted(source, DType::Q4_K, *importance);
  ASSERT_EQ(w.dtype(), DType::Q4_K);
  EXPECT_EQ(std::memcmp(w.raw_data(), want.raw_data(), want.nbytes()), 0);
  EXPECT_NE(std::memcmp(w.raw_data(), ops::cast(source, DType::Q4_K).raw_data(), want.nbytes()), 0);
  auto alone = convert(model.string(), dir / "alone", "--imatrix " + imatrix.string());
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_NE(alone.err.find("--imatrix needs --quantization"), std::string::npos) << alone.err;
  auto not_imatrix = convert(model.string(), dir / "bad", "--quantization q4_k --imatrix " + (dir / "q4_k/config.json").string());
  EXPECT_EQ(not_imatrix.exit_code, 1);
  EXPECT_NE(not_imatrix.err.find("config.json"), std::string::npos) << not_imatrix.err;
}

}  // namespace
}  // namespace transformers
