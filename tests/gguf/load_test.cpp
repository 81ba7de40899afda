// GGUF files as models: what export-gguf writes loads back through from_pretrained with the
// golden logits (the rope permutation undone), 16-bit files stay mapped, and lying metadata is
// an error naming the file and key.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "transformers/gguf/gguf_export.h"
#include "transformers/gguf/gguf_model.h"
#include "transformers/io/npy.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"
#include "transformers/ops/ops.h"
#include "transformers/tokenization/gguf_vocab.h"

namespace transformers::testing {
namespace {

std::filesystem::path export_golden(const std::string& arch, const std::string& outtype) {
  const auto folder = shared_path("golden/" + arch);
  const auto model = AutoModelForCausalLM::from_pretrained(folder);
  const auto out = scratch_dir("gguf_load") / (arch + "_" + outtype + ".gguf");
  gguf::export_gguf(*model, out, {.outtype = outtype, .write_tokenizer = [&](GgufWriter& w) {
    return tokenization::write_gguf_vocabulary(w, model->config(), folder);
  }});
  return out;
}

}  // namespace

TEST(GgufLoad, ExportedGoldenModelsGiveTheGoldenLogits) {
  for (const char* name : {"llama", "llama3", "qwen2", "qwen3"}) {
    const std::string arch(name);
    SCOPED_TRACE(arch);
    const auto model = AutoModelForCausalLM::from_pretrained(export_golden(arch, "f32"));
    EXPECT_EQ(model->config().model_type, arch == "llama3" ? "llama" : arch);
    const Tensor ids = load_npy(shared_path("golden/" + arch + "/input_ids.npy"));
    const Tensor expected = load_npy(shared_path("golden/" + arch + "/logits.npy"));
    const Tensor logits = model->forward(ids).logits;
    EXPECT_LT(max_abs_diff(logits, expected), 1e-4f);
  }
}

// The Gemma family: norms stored as 1 + w (llama.cpp's converter), query_pre_attn_scalar (24 in
// both golden models, head_dim 32 / 16) folded into the queries as sqrt(head_dim / 24) because
// llama.cpp scales by head_dim^-0.5, softcaps and sliding windows as metadata. Read back, the
// logits equal the safetensors run within 1e-5 and the golden logits (HF) within 1e-4.
TEST(GgufLoad, ExportedGemmaModelsGiveTheSafetensorsLogits) {
  for (const char* name : {"gemma2", "gemma3"}) {
    const std::string arch(name);
    SCOPED_TRACE(arch);
    const auto path = export_golden(arch, "f32");
    const auto f = GgufFile::open(path);
    const auto checkpoint = SafetensorsCheckpoint::open(shared_path("golden/" + arch));
    const std::vector<float> norm = ops::to_float_vector(checkpoint.tensor("model.layers.1.input_layernorm.weight"));
    const std::vector<float> stored = ops::to_float_vector(f->tensor("blk.1.attn_norm.weight"));
    ASSERT_EQ(stored.size(), norm.size());
    for (size_t i = 0; i < norm.size(); ++i) EXPECT_EQ(stored[i], norm[i] + 1.0f) << i;
    EXPECT_TRUE(f->contains(arch == "gemma2" ? "blk.0.post_attention_norm.weight" : "blk.0.attn_q_norm.weight"));
    EXPECT_TRUE(f->contains("blk.0.post_ffw_norm.weight"));
    EXPECT_FALSE(f->contains("output.weight"));  // tied
    // The folded query scale, against the checkpoint's values.
    const float fold = arch == "gemma2" ? std::sqrt(32.0f / 24.0f) : std::sqrt(16.0f / 24.0f);
    const std::string q_hf = arch == "gemma2" ? "model.layers.0.self_attn.q_proj.weight" : "model.layers.0.self_attn.q_norm.weight";
    const std::vector<float> q = ops::to_float_vector(checkpoint.tensor(q_hf));
    const std::vector<float> q_stored = ops::to_float_vector(f->tensor(arch == "gemma2" ? "blk.0.attn_q.weight" : "blk.0.attn_q_norm.weight"));
    ASSERT_EQ(q.size(), q_stored.size());
    for (size_t i = 0; i < q.size(); ++i)
      EXPECT_FLOAT_EQ(q_stored[i], (arch == "gemma2" ? q[i] : q[i] + 1.0f) * fold) << i;
    if (arch == "gemma2") {
      EXPECT_FLOAT_EQ(static_cast<float>(f->get_number("gemma2.attn_logit_softcapping")), 5.0f);
      EXPECT_FLOAT_EQ(static_cast<float>(f->get_number("gemma2.final_logit_softcapping")), 3.0f);
    }
    EXPECT_EQ(f->get_int(arch + ".attention.sliding_window"), arch == "gemma2" ? 6 : 4);

    const auto from_gguf = AutoModelForCausalLM::from_pretrained(path);
    const auto from_folder = AutoModelForCausalLM::from_pretrained(shared_path("golden/" + arch));
    EXPECT_EQ(from_gguf->config().model_type, arch == "gemma3" ? "gemma3_text" : arch);
    const Tensor ids = load_npy(shared_path("golden/" + arch + "/input_ids.npy"));
    const Tensor logits = from_gguf->forward(ids).logits;
    EXPECT_LT(max_abs_diff(logits, from_folder->forward(ids).logits), 1e-5f);
    EXPECT_LT(max_abs_diff(logits, load_npy(shared_path("golden/" + arch + "/logits.npy"))), 1e-4f);
  }
}

// Gemma (v1): llama.cpp's "gemma" names, (1 + w) norms, no query scale to fold; a random model
// (no golden one) read back equals its folder's logits.
TEST(GgufLoad, ExportedGemmaV1GivesTheFolderLogits) {
  const auto folder = scratch_dir("gguf_load_gemma");
  const Json config = {{"model_type", "gemma"}, {"architectures", {"GemmaForCausalLM"}}, {"vocab_size", 300},
                       {"hidden_size", 64}, {"intermediate_size", 128}, {"num_hidden_layers", 2},
                       {"num_attention_heads", 4}, {"num_key_value_heads", 1}, {"head_dim", 16},
                       {"max_position_embeddings", 64}, {"rms_norm_eps", 1e-6}};
  const auto model = make_random_model(PretrainedConfig::from_json(config), 5, 0.1);
  save_pretrained(*model, folder);
  const auto out = folder / "gemma.gguf";
  gguf::export_gguf(*model, out, {.outtype = "f32", .write_tokenizer = [&](GgufWriter& w) {
    return tokenization::write_gguf_vocabulary(w, model->config(), {});
  }});
  const auto f = GgufFile::open(out);
  EXPECT_EQ(f->get_string("general.architecture"), "gemma");
  EXPECT_TRUE(f->contains("blk.1.ffn_norm.weight"));  // post_attention_layernorm: before the MLP
  const auto loaded = AutoModelForCausalLM::from_pretrained(out);
  EXPECT_EQ(loaded->config().model_type, "gemma");
  const Tensor ids = Tensor::from_values(std::vector<int64_t>{2, 17, 250, 9, 299, 3}, {1, 6});
  EXPECT_LT(max_abs_diff(loaded->forward(ids).logits, AutoModelForCausalLM::from_pretrained(folder)->forward(ids).logits),
            1e-5f);
}

TEST(GgufLoad, SixteenBitWeightsStayInTheMapping) {
  const auto model = AutoModelForCausalLM::from_pretrained(export_golden("qwen3", "bf16"));
  EXPECT_EQ(model->dtype, DType::BF16);
  const auto checkpoint = SafetensorsCheckpoint::open(shared_path("golden/qwen3"));
  for (const auto& p : model->named_parameters()) {
    if (p.name == "model.layers.0.mlp.up_proj.weight") {
      EXPECT_EQ(p.tensor->storage()->kind(), Storage::Kind::Mapped);  // no copy
      EXPECT_EQ(p.tensor->dtype(), DType::BF16);
      EXPECT_EQ(ops::to_float_vector(ops::cast(*p.tensor, DType::F32)),
                ops::to_float_vector(ops::cast(ops::cast(checkpoint.tensor(p.name), DType::BF16), DType::F32)));
    }
    if (p.name == "model.layers.0.self_attn.q_norm.weight")  // vectors stay f32, unrounded
      EXPECT_EQ(ops::to_float_vector(*p.tensor), ops::to_float_vector(checkpoint.tensor(p.name)));
  }
}

TEST(GgufLoad, LyingMetadataIsAnErrorNamingTheKey) {
  const auto good = GgufFile::open(export_golden("qwen2", "f32"));
  auto rewrite = [&](const std::string& name, const std::function<void(GgufWriter&)>& change) {
    GgufWriter w;
    for (const auto& [key, value] : good->header().metadata) {
      if (value.type == GgufType::String) w.set_string(key, value.string);
      else if (value.type == GgufType::F32) w.set_f32(key, static_cast<float>(value.number));
      else if (value.type == GgufType::Array && value.element_type == GgufType::String) w.set_strings(key, value.strings);
      else if (value.type == GgufType::Array) w.set_i32s(key, std::vector<int32_t>(value.integers.begin(), value.integers.end()));
      else if (value.type == GgufType::Bool) w.set_bool(key, value.integer != 0);
      else w.set_u32(key, static_cast<uint32_t>(value.integer));
    }
    change(w);
    for (const auto& t : good->header().tensors)
      w.add_tensor(t.name, t.shape(), static_cast<GgmlType>(t.type), [&, n = t.name] { return good->tensor(n); });
    const auto path = scratch_dir("gguf_load") / name;
    w.write(path);
    return path;
  };
  auto expect_error = [](const std::filesystem::path& path, const std::string& fragment) {
    try {
      AutoModelForCausalLM::from_pretrained(path);
      ADD_FAILURE() << "loaded; expected an error with: " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(rewrite("layers.gguf", [](GgufWriter& w) { w.set_u32("qwen2.block_count", 3); }),
               "blk.2.attn_norm.weight is missing");
  expect_error(rewrite("width.gguf", [](GgufWriter& w) { w.set_u32("qwen2.feed_forward_length", 100); }), "has shape");
  expect_error(rewrite("arch.gguf", [](GgufWriter& w) { w.set_string("general.architecture", "mamba"); }),
               "GGUF architecture mamba");
  expect_error(rewrite("heads.gguf", [](GgufWriter& w) { w.set_string("qwen2.attention.head_count", "four"); }),
               "qwen2.attention.head_count is string");
}

}  // namespace transformers::testing
