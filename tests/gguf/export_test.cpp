// `transformers export-gguf` against llama.cpp itself (node-llama-cpp's prebuilt binaries): the
// golden models, exported, generate the golden greedy ids in llama.cpp; the tensors read back
// are the checkpoint's, with the Q/K rows permuted by the formula of llama.cpp's converter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "common/npm_package.h"
#include "common/process.h"
#include "common/test_util.h"
#include "transformers/gguf/gguf_export.h"
#include "transformers/io/gguf.h"
#include "transformers/io/safetensors.h"
#include "transformers/loading/quantization.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"
#include "transformers/tokenization/gguf_vocab.h"
#include "transformers/ops/ops.h"

namespace transformers::testing {
namespace {

constexpr char kNodeLlamaCppVersion[] = "3.22.1";

// The folder with node_modules/node-llama-cpp and the runner script (the layout the speed race
// in bench/ uses too); empty with a failure when npm failed.
std::filesystem::path llama_cpp_runner() {
  const auto prefix = install_npm_package(npm_cache_dir(std::string("node-llama-cpp-") + kNodeLlamaCppVersion) / "node",
                                          "node-llama-cpp", kNodeLlamaCppVersion, "NODE_LLAMA_CPP_SKIP_DOWNLOAD=true");
  if (prefix.empty()) return {};
  std::filesystem::copy_file(std::filesystem::path(TCPP_SOURCE_DIR) / "tests/gguf/llama_cpp_run.mjs",
                             prefix / "llama_cpp_run.mjs", std::filesystem::copy_options::overwrite_existing);
  return prefix / "llama_cpp_run.mjs";
}

Json golden_generate(const std::string& arch) { return read_json_file(shared_path("golden/" + arch + "/generate.json")); }

}  // namespace

TEST(GgufExport, LlamaCppGeneratesTheGoldenGreedyIds) {
  const auto runner = llama_cpp_runner();
  ASSERT_FALSE(runner.empty());
  // gemma2 / gemma3: (1 + w) norms, query_pre_attn_scalar folded into the queries, softcaps and
  // sliding windows (6 and 4, shorter than the 18 positions) as llama.cpp reads them.
  for (const char* name : {"llama", "llama3", "qwen2", "qwen3", "gemma2", "gemma3"}) {
    const std::string arch(name);
    SCOPED_TRACE(arch);
    const auto out = scratch_dir("gguf_export") / (arch + ".gguf");
    const auto r = run_transformers("export-gguf " + shared_path("golden/" + arch).string() + " " + out.string() +
                                    " --outtype f32");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json golden = golden_generate(arch);
    const auto n = golden["new_ids"][0].size();
    const auto run = run_command("node " + runner.string() + " " + out.string() + " generate '" +
                                 golden["input_ids"].dump() + "' " + std::to_string(n));
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(Json::parse(run.out), golden["new_ids"]);
  }
}

// Quantized files: our run of a Q8_0 / Q4_0 GGUF file (blocks kept packed) equals our own
// quantize-on-load of the checkpoint with the same blocks everywhere (--quantization X-all), so the
// file holds exactly GGML's blocks of our rows (Q/K permutation undone); llama.cpp runs the same
// file. Its greedy ids are printed beside ours, not compared: its activation rounding differs
// from our kernels' (f16 against f32 block scales), and these random models' top logits are often
// closer than that.
TEST(GgufExport, QuantizedFilesRunHereAsOurQuantizedLoadAndInLlamaCpp) {
  const auto runner = llama_cpp_runner();
  ASSERT_FALSE(runner.empty());
  for (const char* type : {"q8_0", "q4_0"})
    for (const char* name : {"llama", "qwen2", "qwen3"}) {
      const std::string arch(name);
      SCOPED_TRACE(arch + " " + type);
      const auto out = scratch_dir("gguf_export") / (arch + "_" + type + ".gguf");
      const auto r = run_transformers("export-gguf " + shared_path("golden/" + arch).string() + " " + out.string() +
                                      " --outtype " + type);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const Json input = golden_generate(arch)["input_ids"];
      std::string rows;
      for (const auto& row : input) {
        rows += rows.empty() ? "" : ";";
        for (size_t i = 0; i < row.size(); ++i) rows += (i ? "," : "") + std::to_string(row[i].get<int64_t>());
      }
      const std::string generate = " --input-ids '" + rows + "' --max-new-tokens 8 -q";
      const auto from_file = run_transformers("generate " + out.string() + generate);
      const auto on_load = run_transformers("generate " + shared_path("golden/" + arch).string() + " --quantization " +
                                            type + "-all" + generate);
      ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
      ASSERT_EQ(on_load.exit_code, 0) << on_load.err;
      EXPECT_EQ(from_file.out, on_load.out);
      const auto theirs = run_command("node " + runner.string() + " " + out.string() + " generate '" + input.dump() + "' 8");
      ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
      const Json ids = Json::parse(theirs.out);
      ASSERT_EQ(ids.size(), input.size());
      std::printf("%s %s: ours %s| llama.cpp %s\n", arch.c_str(), type, from_file.out.c_str(), ids.dump().c_str());
    }
}

// The K formats on models/fortune-llama (rows of 256 and 768: whole super-blocks; the golden
// models' rows of 64 are not): our run of a q4_k / q6_k / q4_k_m file (read packed) equals our
// quantize-on-load with the same blocks (--quantization X-all; q4_k_m's Q6_K for the tied
// embedding, v_proj and down_proj of layers 2 and 3), and llama.cpp loads and runs the file; its
// greedy ids are printed beside ours (measured: identical to ours for all three).
TEST(GgufExport, KQuantFilesRunHereAsOurQuantizedLoadAndInLlamaCpp) {
  const auto runner = llama_cpp_runner();
  ASSERT_FALSE(runner.empty());
  const auto model = std::filesystem::path(TCPP_SOURCE_DIR) / "models/fortune-llama";
  for (const std::string type : {"q4_k", "q6_k", "q4_k_m"}) {
    SCOPED_TRACE(type);
    const auto out = scratch_dir("gguf_export") / ("fortune_" + type + ".gguf");
    const auto r = run_transformers("export-gguf " + model.string() + " " + out.string() + " --outtype " + type);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto f = GgufFile::open(out);
    const GgmlType v2 = static_cast<GgmlType>(f->info("blk.2.attn_v.weight").type);
    const GgmlType q2 = static_cast<GgmlType>(f->info("blk.2.attn_q.weight").type);
    EXPECT_EQ(v2, type == "q4_k" ? GgmlType::Q4_K : GgmlType::Q6_K);
    EXPECT_EQ(q2, type == "q6_k" ? GgmlType::Q6_K : GgmlType::Q4_K);
    // --greedy --repetition-penalty 1: the folder's generation_config samples with a repetition
    // penalty of 1.1; the file has none (q4_k_m's continuation repeats a token, which the penalty
    // changed: the difference this test once skipped, with identical weights).
    const std::string generate = " --input-ids '5,17,300,41;9,8,7,6' --max-new-tokens 8 --greedy --repetition-penalty 1 -q";
    const auto from_file = run_transformers("generate " + out.string() + generate);
    const auto on_load = run_transformers("generate " + model.string() + " --quantization " + type + "-all" + generate);
    ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
    ASSERT_EQ(on_load.exit_code, 0) << on_load.err;
    EXPECT_EQ(from_file.out, on_load.out);
    const auto theirs = run_command("node " + runner.string() + " " + out.string() + " generate '[[5,17,300,41],[9,8,7,6]]' 8");
    ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
    const Json ids = Json::parse(theirs.out);
    ASSERT_EQ(ids.size(), 2u);
    std::printf("fortune-llama %s: ours %s| llama.cpp %s\n", type.c_str(), from_file.out.c_str(), ids.dump().c_str());
  }
}

// Tensor by tensor: each parameter read from a q4_k / q6_k / q4_k_m file has the dtype and the
// bytes of the checkpoint quantized on load with the same method (-all: embeddings too), so both
// paths follow one rule (quantization.h's dtype_for) and quantize the same rows. q4_k_m's Q6_K
// tensors, by llama.cpp's rule: fortune-llama (tied, 4 layers) the embedding and v_proj /
// down_proj of layers 2 and 3; an untied 2-layer model lm_head and layer 1's v_proj / down_proj,
// its embedding Q4_K (llama.cpp's token_embd). A model of hidden size 320 (rows of 1.25
// super-blocks, as Qwen2.5-0.5B's 896) takes llama.cpp's fallback there: Q5_0 for Q4_K, Q8_0 for
// Q6_K; its down_proj rows of 512 stay K-quants.
// q4_k_m's Q6_K matrices of the 2-layer models above (llama.cpp's rule): lm_head and layer 1's
// v_proj and down_proj.
bool q6_rule_picks(const std::string& name) {
  return name == "lm_head.weight" || name == "model.layers.1.self_attn.v_proj.weight" ||
         name == "model.layers.1.mlp.down_proj.weight";
}

// A random untied 2-layer llama of `hidden` (heads of 64) written to `folder`.
void save_random_llama(const std::filesystem::path& folder, int64_t hidden, int64_t kv_heads, unsigned seed) {
  const Json config = {{"model_type", "llama"}, {"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 512},
                       {"hidden_size", hidden}, {"intermediate_size", 512}, {"num_hidden_layers", 2},
                       {"num_attention_heads", hidden / 64}, {"num_key_value_heads", kv_heads}, {"head_dim", 64},
                       {"max_position_embeddings", 128}, {"tie_word_embeddings", false}, {"rms_norm_eps", 1e-6}};
  save_pretrained(*make_random_model(PretrainedConfig::from_json(config), seed, 0.1), folder);
}

TEST(GgufExport, KQuantFilesHoldTheBytesOfQuantizeOnLoad) {
  const auto untied = scratch_dir("gguf_untied_llama");
  const auto files = scratch_dir("gguf_export_bytes");
  save_random_llama(untied, 256, 2, 11);
  const auto narrow = scratch_dir("gguf_narrow_llama");
  save_random_llama(narrow, 320, 5, 12);
  const std::pair<std::filesystem::path, size_t> models[] = {
      {std::filesystem::path(TCPP_SOURCE_DIR) / "models/fortune-llama", 5}, {untied, 3}, {narrow, 1}};
  for (const auto& [folder, q4_k_m_q6] : models)
    for (const std::string type : {"q4_k", "q6_k", "q4_k_m"}) {
      SCOPED_TRACE(folder.filename().string() + " " + type);
      const auto out = files / (folder.filename().string() + "_" + type + ".gguf");
      const auto r = run_transformers("export-gguf " + folder.string() + " " + out.string() + " --outtype " + type);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto from_file = AutoModelForCausalLM::from_pretrained(out);
      QuantizationConfig all = QuantizationConfig::from_name(type, "test");
      all.modules_to_not_convert = std::vector<std::string>{};
      all.quantize_embeddings = true;
      const auto on_load = AutoModelForCausalLM::from_pretrained(folder, {.quantization_config = all});
      const auto ours = on_load->named_parameters();
      std::set<const void*> q6;  // tensors (a tied lm_head shares the embedding's)
      for (const auto& p : from_file->named_parameters()) {
        const auto it = std::find_if(ours.begin(), ours.end(), [&](const auto& o) { return o.name == p.name; });
        ASSERT_NE(it, ours.end()) << p.name;
        const Tensor a = p.tensor->contiguous(), b = it->tensor->contiguous();
        ASSERT_EQ(dtype_safetensors_name(a.dtype()), dtype_safetensors_name(b.dtype())) << p.name;
        ASSERT_EQ(a.nbytes(), b.nbytes()) << p.name;
        EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << p.name;
        if (a.dtype() == DType::Q6_K) q6.insert(p.tensor->raw_data());
        if (folder == narrow && p.tensor->dim() == 2 && p.tensor->size(-1) == 320) {
          EXPECT_EQ(a.dtype(), type == "q6_k" || (type == "q4_k_m" && q6_rule_picks(p.name)) ? DType::Q8_0 : DType::Q5_0)
              << p.name;
        }
      }
      if (type == "q4_k_m") {
        EXPECT_EQ(q6.size(), q4_k_m_q6);
      }
    }
}

// Rows that are not whole super-blocks (hidden size 320): the q4_k_m file's Q5_0 and Q8_0
// fallbacks run in llama.cpp (its ids printed beside ours: a random model's argmaxes are near
// ties), and here from the file exactly as quantized on load.
TEST(GgufExport, FallbackBlocksRunInLlamaCpp) {
  const auto runner = llama_cpp_runner();
  ASSERT_FALSE(runner.empty());
  const auto folder = scratch_dir("gguf_narrow_run");
  save_random_llama(folder, 320, 5, 13);
  const auto out = scratch_dir("gguf_export") / "narrow_q4_k_m.gguf";
  const auto r = run_transformers("export-gguf " + folder.string() + " " + out.string() + " --outtype q4_k_m");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto f = GgufFile::open(out);
  EXPECT_EQ(static_cast<GgmlType>(f->info("blk.0.attn_q.weight").type), GgmlType::Q5_0);
  EXPECT_EQ(static_cast<GgmlType>(f->info("blk.1.attn_v.weight").type), GgmlType::Q8_0);
  EXPECT_EQ(static_cast<GgmlType>(f->info("blk.1.ffn_down.weight").type), GgmlType::Q6_K);
  const std::string generate = " --input-ids '5,17,300,41' --max-new-tokens 6 --greedy -q";
  const auto from_file = run_transformers("generate " + out.string() + generate);
  const auto on_load = run_transformers("generate " + folder.string() + " --quantization q4_k_m-all" + generate);
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, on_load.out);
  const auto theirs = run_command("node " + runner.string() + " " + out.string() + " generate '[[5,17,300,41]]' 6");
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  ASSERT_EQ(Json::parse(theirs.out).size(), 1u);
  std::printf("narrow q4_k_m: ours %s| llama.cpp %s\n", from_file.out.c_str(), theirs.out.c_str());
}

TEST(GgufExport, TensorsAndMetadataReadBack) {
  const auto folder = shared_path("golden/llama");
  const auto model = AutoModelForCausalLM::from_pretrained(folder);
  const auto out = scratch_dir("gguf_export") / "llama_readback.gguf";
  const auto report = gguf::export_gguf(*model, out, {.outtype = "f32", .write_tokenizer = [&](GgufWriter& w) {
    return tokenization::write_gguf_vocabulary(w, model->config(), folder);
  }});
  EXPECT_EQ(report.architecture, "llama");
  EXPECT_EQ(report.tokenizer_model, "gpt2");  // vocab 256: the byte-level placeholder

  const auto f = GgufFile::open(out);
  const auto& c = model->config();
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), c.num_hidden_layers);
  EXPECT_EQ(f->get_int("llama.attention.head_count_kv"), c.num_key_value_heads);
  EXPECT_EQ(f->get_int("general.file_type"), 0);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_number("llama.attention.layer_norm_rms_epsilon")),
                  static_cast<float>(c.rms_norm_eps));
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->array_size(), static_cast<size_t>(c.vocab_size));

  const auto checkpoint = SafetensorsCheckpoint::open(folder);
  // Rows of head h, half i, position j (j < D/2) move from h*D + i*D/2 + j to h*D + 2j + i.
  auto expect_permuted = [&](const std::string& hf, const std::string& gg, int64_t heads) {
    const std::vector<float> original = ops::to_float_vector(checkpoint.tensor(hf));
    const Tensor stored = f->tensor(gg);
    const std::vector<float> written = ops::to_float_vector(stored);
    const int64_t rows = stored.size(0), cols = stored.size(1), D = rows / heads;
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < D / 2; ++j)
          for (int64_t k = 0; k < cols; ++k)
            ASSERT_EQ(written[(h * D + 2 * j + i) * cols + k], original[(h * D + i * D / 2 + j) * cols + k])
                << gg << " head " << h;
  };
  expect_permuted("model.layers.1.self_attn.q_proj.weight", "blk.1.attn_q.weight", c.num_attention_heads);
  expect_permuted("model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", c.num_key_value_heads);
  EXPECT_EQ(ops::to_float_vector(f->tensor("blk.0.ffn_down.weight")),
            ops::to_float_vector(checkpoint.tensor("model.layers.0.mlp.down_proj.weight")));
  EXPECT_EQ(ops::to_float_vector(f->tensor("output.weight")), ops::to_float_vector(checkpoint.tensor("lm_head.weight")));
}

TEST(GgufExport, SixteenBitTypesAndTiedEmbeddings) {
  const auto model = AutoModelForCausalLM::from_pretrained(shared_path("golden/qwen2"));  // tied, q/k/v biases
  const Tensor* q_proj = nullptr;
  for (const auto& p : model->named_parameters())
    if (p.name == "model.layers.0.self_attn.q_proj.weight") q_proj = p.tensor;
  ASSERT_NE(q_proj, nullptr);
  for (const std::string type : {"f16", "bf16"}) {
    const auto out = scratch_dir("gguf_export") / ("qwen2_" + type + ".gguf");
    gguf::export_gguf(*model, out, {.outtype = type, .write_tokenizer = [&](GgufWriter& w) {
      return tokenization::write_gguf_vocabulary(w, model->config(), {});
    }});
    const auto f = GgufFile::open(out);
    EXPECT_FALSE(f->contains("output.weight"));  // tied: llama.cpp reuses token_embd
    const Tensor q = f->tensor("blk.0.attn_q.weight");
    EXPECT_EQ(q.dtype(), type == "f16" ? DType::F16 : DType::BF16);
    EXPECT_EQ(f->tensor("blk.0.attn_q.bias").dtype(), DType::F32);  // 1-D tensors stay F32
    // qwen2 is not permuted: the 16-bit rounding of the checkpoint's values.
    EXPECT_EQ(ops::to_float_vector(ops::cast(q, DType::F32)),
              ops::to_float_vector(ops::cast(ops::cast(*q_proj, q.dtype()), DType::F32)));
  }
}

TEST(GgufExport, RefusesWhatLlamaCppWouldComputeDifferently) {
  const auto out = scratch_dir("gguf_export") / "refused.gguf";
  expect_one_line_error(run_transformers("export-gguf " + shared_path("golden/mistral").string() + " " + out.string()),
                        "sliding_window 6");
  expect_one_line_error(run_transformers("export-gguf " + shared_path("golden/phi3").string() + " " + out.string()),
                        "model_type phi3");
  expect_one_line_error(
      run_transformers("export-gguf " + shared_path("golden/llama").string() + " " + out.string() + " --outtype q3"),
      "--outtype q3");
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace transformers::testing
