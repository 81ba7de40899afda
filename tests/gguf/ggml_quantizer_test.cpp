// Our quantizers against llama.cpp's own: the bytes of ops::cast (GGML's reference quantizers) and
// of ops::quantize_weighted (its importance-weighted ones, what llama-quantize runs given an
// importance matrix) equal those of ggml_quantize_chunk from node-llama-cpp's prebuilt
// libggml-base.so, loaded with dlopen, for every format llama.cpp can quantize that we store.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "common/npm_package.h"
#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/gguf.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/models/auto.h"
#include "transformers/ops/ops.h"

namespace transformers::testing {
namespace {

// ggml.h: size_t ggml_quantize_chunk(enum ggml_type, const float* src, void* dst, int64_t start,
// int64_t nrows, int64_t n_per_row, const float* imatrix).
using QuantizeChunk = size_t (*)(int, const float*, void*, int64_t, int64_t, int64_t, const float*);

QuantizeChunk ggml_quantize_chunk() {
  const auto prefix = install_npm_package(npm_cache_dir("node-llama-cpp-3.22.1") / "node", "node-llama-cpp", "3.22.1",
                                          "NODE_LLAMA_CPP_SKIP_DOWNLOAD=true");
  if (prefix.empty()) return nullptr;
  const auto lib = prefix / "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(handle, nullptr) << lib << ": " << dlerror();
  return handle ? reinterpret_cast<QuantizeChunk>(dlsym(handle, "ggml_quantize_chunk")) : nullptr;
}

// A symbol of the same library (loaded by ggml_quantize_chunk() first).
void* ggml_symbol(const char* name) {
  const auto lib = npm_cache_dir("node-llama-cpp-3.22.1") / "node" /
                   "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  return handle ? dlsym(handle, name) : nullptr;
}

struct Format {
  DType dtype;
  int ggml_type;             // ggml.h's enum ggml_type
  const char* dequantizer;  // ggml-quants.h: void dequantize_row_<type>(const block*, float*, int64_t)
};
constexpr Format kFormats[] = {{DType::Q4_0, 2, "dequantize_row_q4_0"}, {DType::Q5_0, 6, "dequantize_row_q5_0"},
                               {DType::Q5_1, 7, "dequantize_row_q5_1"}, {DType::Q8_0, 8, "dequantize_row_q8_0"},
                               {DType::Q4_K, 12, "dequantize_row_q4_K"}, {DType::Q5_K, 13, "dequantize_row_q5_K"},
                               {DType::Q6_K, 14, "dequantize_row_q6_K"}};
using DequantizeRow = void (*)(const void*, float*, int64_t);

// Rows that visit the searches' corners: gaussian rows, a row of one sign, a row with an outlier
// per block, a row whose first blocks are zero, and rows of values 1000 times smaller.
std::vector<float> test_rows(int64_t rows, int64_t K, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * K));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k) {
      float v = normal(rng);
      if (r % 6 == 1) v = std::fabs(v);
      if (r % 6 == 2 && k % 37 == 5) v *= 12.0f;
      if (r % 6 == 3 && k < 300) v = 0.0f;
      if (r % 6 == 4) v *= 1e-3f;
      x[static_cast<size_t>(r * K + k)] = v;
    }
  return x;
}

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.raw_data());
  return {p, p + t.nbytes()};
}

}  // namespace

TEST(GgmlQuantizer, OurBytesAreLlamaCppsWithAndWithoutAnImportanceMatrix) {
  const QuantizeChunk quantize_chunk = ggml_quantize_chunk();
  ASSERT_NE(quantize_chunk, nullptr);
  std::mt19937 rng(11);
  const int64_t rows = 12, K = 768;
  const std::vector<float> x = test_rows(rows, K, rng);
  // Importances as calibration gives them: positive, spread over decades, some columns unused (0).
  std::vector<float> importance(static_cast<size_t>(K));
  std::uniform_real_distribution<float> decades(-3.0f, 2.0f);
  for (int64_t k = 0; k < K; ++k) importance[static_cast<size_t>(k)] = k % 97 == 3 ? 0.0f : std::pow(10.0f, decades(rng));
  const Tensor w = Tensor::from_values(x, {rows, K});
  const Tensor imatrix = Tensor::from_values(importance, {K});
  for (const Format& f : kFormats) {
    SCOPED_TRACE(dtype_torch_name(f.dtype));
    const Tensor plain = ops::cast(w, f.dtype), weighted = ops::quantize_weighted(w, f.dtype, imatrix);
    std::vector<unsigned char> want(plain.nbytes());
    ASSERT_EQ(quantize_chunk(f.ggml_type, x.data(), want.data(), 0, rows, K, nullptr), want.size());
    EXPECT_EQ(bytes_of(plain), want) << "reference quantizer";
    std::fill(want.begin(), want.end(), 0);
    ASSERT_EQ(quantize_chunk(f.ggml_type, x.data(), want.data(), 0, rows, K, importance.data()), want.size());
    EXPECT_EQ(bytes_of(weighted), want) << "importance-weighted quantizer";
    if (f.dtype != DType::Q8_0) {
      EXPECT_NE(bytes_of(weighted), bytes_of(plain)) << "the importances were not used";
    }
    // And the blocks read back as llama.cpp reads them.
    const auto dequantize_row = reinterpret_cast<DequantizeRow>(ggml_symbol(f.dequantizer));
    ASSERT_NE(dequantize_row, nullptr) << f.dequantizer;
    std::vector<float> theirs(x.size());
    dequantize_row(weighted.raw_data(), theirs.data(), rows * K);
    const Tensor ours = ops::cast(weighted, DType::F32);
    EXPECT_EQ(std::memcmp(ours.raw_data(), theirs.data(), theirs.size() * sizeof(float)), 0) << f.dequantizer;
  }
}

// Stacked expert matrices [E, N, K] take one importance row per expert.
TEST(GgmlQuantizer, StackedMatricesTakeOneImportanceRowEach) {
  const QuantizeChunk quantize_chunk = ggml_quantize_chunk();
  ASSERT_NE(quantize_chunk, nullptr);
  std::mt19937 rng(5);
  const int64_t E = 3, N = 4, K = 256;
  const std::vector<float> x = test_rows(E * N, K, rng);
  std::vector<float> importance(static_cast<size_t>(E * K));
  std::uniform_real_distribution<float> positive(0.01f, 4.0f);
  for (auto& v : importance) v = positive(rng);
  const Tensor q = ops::quantize_weighted(Tensor::from_values(x, {E, N, K}), DType::Q4_K,
                                          Tensor::from_values(importance, {E, K}));
  std::vector<unsigned char> want(q.nbytes());
  const size_t per_expert = want.size() / E;
  for (int64_t e = 0; e < E; ++e)
    quantize_chunk(12, x.data() + e * N * K, want.data() + e * per_expert, 0, N, K, importance.data() + e * K);
  EXPECT_EQ(bytes_of(q), want);
  EXPECT_THROW(ops::quantize_weighted(Tensor::from_values(x, {E, N, K}), DType::Q4_K,
                                      Tensor::from_values(std::vector<float>(K, 1.0f), {K})),
               ShapeError);
}

// The command line end to end: `transformers imatrix` over a text, then `export-gguf --outtype
// q4_k_m --imatrix`: the file's Q4_K and Q6_K matrices are the bytes llama.cpp's quantizer makes
// of the same weights with the importances the imatrix file holds.
TEST(GgmlQuantizer, ExportWithAnImportanceMatrixWritesLlamaCppsBytes) {
  const QuantizeChunk quantize_chunk = ggml_quantize_chunk();
  ASSERT_NE(quantize_chunk, nullptr);
  const auto model_dir = std::filesystem::path(TCPP_SOURCE_DIR) / "models/fortune-llama";
  const auto dir = scratch_dir("imatrix_export");
  const auto imatrix = dir / "fortune.imatrix.gguf", out = dir / "fortune-q4_k_m.gguf";
  auto r = run_transformers("imatrix " + model_dir.string() + " -f " + (model_dir / "heldout.txt").string() + " -o " +
                            imatrix.string() + " --ctx-size 128");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_transformers("export-gguf " + model_dir.string() + " " + out.string() + " --outtype q4_k_m --imatrix " +
                       imatrix.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const ImportanceMatrix m = ImportanceMatrix::load(imatrix);
  auto model = AutoModelForCausalLM::from_pretrained(model_dir, {.dtype = "float32"});
  const auto file = GgufFile::open(out);
  int checked = 0;
  for (const auto& p : model->named_parameters()) {
    // Rows llama.cpp's layout keeps in place (q/k are permuted, the tied table is the output).
    const bool in_place = p.name.find("v_proj") != std::string::npos || p.name.find("o_proj") != std::string::npos ||
                          p.name.find("mlp.") != std::string::npos;
    if (!in_place) continue;
    SCOPED_TRACE(p.name);
    const std::string gguf_name = "blk." + p.name.substr(13, p.name.find('.', 13) - 13) + "." +
                                  (p.name.find("v_proj") != std::string::npos   ? "attn_v.weight"
                                   : p.name.find("o_proj") != std::string::npos ? "attn_output.weight"
                                   : p.name.find("gate") != std::string::npos   ? "ffn_gate.weight"
                                   : p.name.find("up_proj") != std::string::npos ? "ffn_up.weight"
                                                                                  : "ffn_down.weight");
    ASSERT_TRUE(file->contains(gguf_name)) << gguf_name;
    const auto& info = file->info(gguf_name);
    const Tensor w = p.tensor->contiguous();
    const auto importance = m.importance(p.name, w.shape());
    ASSERT_TRUE(importance.has_value());
    std::vector<unsigned char> want(info.nbytes);
    ASSERT_EQ(quantize_chunk(static_cast<int>(info.type), w.data<float>(), want.data(), 0, w.size(0), w.size(1),
                             importance->data<float>()),
              want.size());
    const unsigned char* got = file->raw_bytes(gguf_name);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), got)) << gguf_name << " (GGML type " << info.type << ")";
    ++checked;
  }
  EXPECT_EQ(checked, 4 * 5);
}

}  // namespace transformers::testing
