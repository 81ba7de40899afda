#include "transformers/gguf/gguf_model.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "transformers/core/error.h"
#include "transformers/gguf/gguf_gemma.h"
#include "transformers/gguf/gguf_names.h"
#include "transformers/loading/quantization.h"
#include "transformers/models/registry.h"
#include "transformers/ops/ops.h"

namespace transformers::gguf {
namespace {

struct ArchitectureEntry {
  const char* gguf;
  const char* model_type;
  const char* class_name;
};
constexpr ArchitectureEntry kArchitectures[] = {
    {"llama", "llama", "LlamaForCausalLM"},
    {"qwen2", "qwen2", "Qwen2ForCausalLM"},
    {"qwen3", "qwen3", "Qwen3ForCausalLM"},
    {"gemma", "gemma", "GemmaForCausalLM"},
    {"gemma2", "gemma2", "Gemma2ForCausalLM"},
    {"gemma3", "gemma3_text", "Gemma3ForCausalLM"},
};

const ArchitectureEntry& architecture_entry(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  for (const auto& e : kArchitectures)
    if (arch == e.gguf) return e;
  throw ValueError(f.path().string() + ": GGUF architecture " + arch +
                   " is not supported yet (llama, qwen2, qwen3, gemma, gemma2, gemma3)");
}

const char* torch_dtype_of(uint32_t ggml_type) {
  switch (static_cast<GgmlType>(ggml_type)) {
    case GgmlType::F16: return "float16";
    case GgmlType::BF16: return "bfloat16";
    default: return "float32";
  }
}


// The llama3 rope parameters behind a rope_freqs tensor. GGUF keeps only the per-frequency
// factors; every Llama 3.x release uses low_freq_factor 1, high_freq_factor 4 and an original
// context of 8192 with its factor (the largest divisor), so those are tried and must reproduce
// every stored factor, else the file is refused rather than run with another rotation.
Json llama3_parameters(const GgufFile& f, double theta, int64_t head_dim) {
  const std::vector<float> stored = ops::to_float_vector(f.tensor("rope_freqs.weight"));
  TCPP_CHECK(!stored.empty() && static_cast<int64_t>(stored.size()) * 2 == head_dim, FormatError, f.path().string(),
             ": rope_freqs.weight has ", stored.size(), " factors for head_dim ", head_dim);
  RopeParameters rope;
  rope.rope_type = "llama3";
  rope.rope_theta = theta;
  rope.raw = {{"rope_type", "llama3"}, {"factor", *std::max_element(stored.begin(), stored.end())},
              {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  const std::vector<float> expected = ops::to_float_vector(llama3_rope_factors(rope, head_dim));
  for (size_t i = 0; i < stored.size(); ++i)
    TCPP_CHECK(std::fabs(stored[i] - expected[i]) <= 1e-5f * std::fabs(expected[i]), ValueError, f.path().string(),
               ": rope_freqs.weight is not the llama3 scaling of any Llama 3 release (factor ", i, ": ", stored[i],
               ", expected ", expected[i], "); such files are not supported yet");
  return rope.raw;
}

}  // namespace

bool is_gguf_file(const std::filesystem::path& path) { return GgufFile::has_magic(path); }

PretrainedConfig gguf_config(const GgufFile& f) {
  const ArchitectureEntry& entry = architecture_entry(f);
  const std::string a = std::string(entry.gguf) + ".";
  const std::string where = f.path().string();
  TCPP_CHECK(f.contains("token_embd.weight"), FormatError, where, ": no token_embd.weight tensor");
  const Shape embedding = f.info("token_embd.weight").shape();
  TCPP_CHECK(embedding.size() == 2, FormatError, where, ": token_embd.weight is not a matrix");

  Json c = Json::object();
  c["model_type"] = entry.model_type;
  c["architectures"] = Json::array({entry.class_name});
  const int64_t hidden = f.get_int(a + "embedding_length");
  const int64_t heads = f.get_int(a + "attention.head_count");
  c["hidden_size"] = hidden;
  c["intermediate_size"] = f.get_int(a + "feed_forward_length");
  c["num_hidden_layers"] = f.get_int(a + "block_count");
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = f.find_int(a + "attention.head_count_kv").value_or(heads);
  TCPP_CHECK(heads > 0, FormatError, where, ": ", a, "attention.head_count must be positive");
  const int64_t head_dim = f.find_int(a + "attention.key_length").value_or(hidden / heads);
  c["head_dim"] = head_dim;
  c["max_position_embeddings"] = f.find_int(a + "context_length").value_or(4096);
  c["rms_norm_eps"] = f.get_number(a + "attention.layer_norm_rms_epsilon");
  c["rope_theta"] = f.find_number(a + "rope.freq_base").value_or(10000.0);
  const int64_t rotary = f.find_int(a + "rope.dimension_count").value_or(head_dim);
  if (rotary != head_dim && head_dim > 0) c["partial_rotary_factor"] = static_cast<double>(rotary) / head_dim;
  if (const auto scaling = f.find_string(a + "rope.scaling.type"); scaling && *scaling != "none") {
    TCPP_CHECK(*scaling == "linear", ValueError, where, ": ", a, "rope.scaling.type ", *scaling,
               " is not supported when loading GGUF yet (linear is)");
    c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", f.get_number(a + "rope.scaling.factor")}};
  }
  if (f.contains("rope_freqs.weight")) c["rope_scaling"] = llama3_parameters(f, c["rope_theta"], head_dim);
  c["vocab_size"] = f.find_int(a + "vocab_size").value_or(embedding[0]);
  c["tie_word_embeddings"] = !f.contains("output.weight");
  c["attention_bias"] = f.contains("blk.0.attn_q.bias");
  c["hidden_act"] = "silu";
  if (is_gemma_architecture(entry.gguf)) read_gemma_config(f, entry.gguf, c);
  c["torch_dtype"] = torch_dtype_of(f.info("token_embd.weight").type);
  if (auto id = f.find_int("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = *id;
  if (auto id = f.find_int("tokenizer.ggml.eos_token_id")) c["eos_token_id"] = *id;
  if (auto id = f.find_int("tokenizer.ggml.padding_token_id")) c["pad_token_id"] = *id;
  return PretrainedConfig::from_json(c, f.path());
}

std::unique_ptr<CausalLM> load_gguf_causal_lm(const std::filesystem::path& path, const LoadOptions& options) {
  const auto file = GgufFile::open(path);
  const std::string where = path.string();
  PretrainedConfig config = gguf_config(*file);
  // Every layer's tensors are there before the model (sized by the metadata) is built.
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer)
    TCPP_CHECK(file->contains("blk." + std::to_string(layer) + ".attn_norm.weight"), FormatError, where,
               ": block_count is ", config.num_hidden_layers, " but blk.", layer, ".attn_norm.weight is missing");
  std::unique_ptr<CausalLM> model = find_model(config).causal_lm(config);

  std::set<std::string> tied_targets, used;
  for (const auto& [target, source] : model->tied_weights()) tied_targets.insert(target);
  const std::string arch = file->get_string("general.architecture");
  const bool permuted = arch == "llama";
  const bool keep_stored = options.dtype.empty() || options.dtype == "auto";
  const DType requested = keep_stored ? DType::F32 : dtype_from_name(options.dtype, where + ": dtype");
  size_t done = 0;
  const auto parameters = model->named_parameters();
  for (const auto& p : parameters) {
    if (tied_targets.count(p.name)) continue;
    const auto name = gguf_tensor_name(p.name, arch);
    TCPP_CHECK(name.has_value(), NotImplementedError, where, ": no GGUF name for parameter ", p.name);
    if (!file->contains(*name)) {
      TCPP_CHECK(p.optional, FormatError, where, ": tensor ", *name, " (", p.name, ") is missing");
      continue;
    }
    used.insert(*name);
    TCPP_CHECK(file->info(*name).shape() == p.shape, FormatError, where, ": tensor ", *name, " has shape ",
               shape_to_string(file->info(*name).shape()), ", the config gives ", shape_to_string(p.shape));
    Tensor t = file->tensor(*name);
    if (permuted && is_rope_permuted(p.name)) {
      const int64_t heads = p.name.find("k_proj") != std::string::npos ? config.num_key_value_heads
                                                                       : config.num_attention_heads;
      t = permute_rows_for_ggml_rope(t, heads, /*inverse=*/true);
    }
    if (stores_norms_plus_one(arch, p.name)) t = plus(t, -1.0f);
    // Vectors in f32 for the kernels; matrices as stored (quantized blocks always: they run
    // packed), or in the dtype asked for.
    const DType wanted = p.role == nn::ParamRole::Vector               ? DType::F32
                         : is_block_dtype(t.dtype()) || keep_stored ? t.dtype()
                                                                     : requested;
    *p.tensor = t.dtype() == wanted ? t : ops::cast(t, wanted);
    if (options.on_progress) options.on_progress(++done, parameters.size());
  }
  for (const auto& [target, source] : model->tied_weights()) {
    const nn::ParameterSlot* src = nullptr;
    const nn::ParameterSlot* dst = nullptr;
    for (const auto& p : parameters) {
      if (p.name == source) src = &p;
      if (p.name == target) dst = &p;
    }
    if (src && dst) *dst->tensor = *src->tensor;
  }
  for (const auto& t : file->header().tensors)
    if (!used.count(t.name) && options.strict)
      throw FormatError(where + ": tensor " + t.name + " is not used by the model");
  const DType embedding_dtype = file->tensor("token_embd.weight").dtype();
  model->dtype = keep_stored ? (is_block_dtype(embedding_dtype) ? DType::F32 : embedding_dtype) : requested;
  if (options.quantization_config) quantize_parameters(*model, *options.quantization_config);
  model->generation_config = GenerationConfig::from_pretrained(path, &model->config());
  return model;
}

}  // namespace transformers::gguf
