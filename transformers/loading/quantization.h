// Quantize-on-load (v5's `quantization_config` argument of from_pretrained) for the CPU block
// formats Q8_0, Q4_0, Q4_K, Q5_K, Q6_K (core/dtype.h) and llama.cpp's Q4_K_M mix: each weight matrix is quantized as its plan item is
// materialised, one tensor at a time, so the float model never exists in memory whole.
//
// Which parameters are quantized (as v5's quantizers, which convert Linear layers only):
//   - weight matrices (nn::ParamRole::Matrix) whose last dimension is whole blocks (32; 256 for
//     the K formats);
//   - not embedding tables (nn::Embedding), unless quantize_embeddings;
//   - not the modules in modules_to_not_convert (default {"lm_head"}, v5's default of keeping the
//     output embedding), matched as v5 does: a name matches a module path equal to it or
//     containing it as a dotted component sequence ("lm_head", "mlp.gate", "layers.0").
// A tied lm_head shares its embedding's tensor, quantized or not.
//
// bitsandbytes (quant_method "bitsandbytes", v5's BitsAndBytesConfig): load_in_4bit quantizes to
// the NF4 / FP4 block dtypes (bnb_4bit_quant_type; bit-identical nibbles and absmax to
// bitsandbytes' quantize_4bit, blocksize 64). bnb_4bit_use_double_quant: the tensor's absmax
// values are quantized again as bitsandbytes does (8-bit dynamic code, blocks of 256, mean offset)
// and each block keeps, as f32, the absmax bitsandbytes dequantizes from that state: the same
// numbers as bitsandbytes, not its smaller size (the nested blocks span rows, which one block
// dtype cannot hold).
// bnb_4bit_compute_dtype is validated and recorded; our kernels multiply in f32. Modules skipped:
// llm_int8_skip_modules when set (v5 uses it for both 4 and 8 bits), else modules_to_not_convert.
// load_in_8bit: LLM.int8 (the LLM_INT8 block dtype, ops/cpu/llm_int8.h): row-wise absmax int8 as
// bitsandbytes' Int8Params, with llm_int8_threshold's outlier columns multiplied in f32 at run time;
// llm_int8_has_fp16_weight (a training-time mode) is refused.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/core/dtype.h"
#include "transformers/core/tensor.h"
#include "transformers/io/json.h"

namespace transformers {

namespace nn {
struct ParameterSlot;
class Module;
}  // namespace nn

struct QuantizationConfig;
struct ImportanceMatrix;

// v5's BitsAndBytesConfig: its field names and defaults (bnb_4bit_quant_type "fp4", threshold 6).
// Exactly one of load_in_4bit / load_in_8bit must be true. Converts to a QuantizationConfig, so
// from_pretrained(path, {.quantization_config = BitsAndBytesConfig{.load_in_4bit = true}}) works.
struct BitsAndBytesConfig {
  bool load_in_8bit = false;
  bool load_in_4bit = false;
  float llm_int8_threshold = 6.0f;
  bool llm_int8_has_fp16_weight = false;  // true (training-time weights) is refused
  std::optional<std::vector<std::string>> llm_int8_skip_modules{};
  std::string bnb_4bit_compute_dtype = "float32";
  std::string bnb_4bit_quant_type = "fp4";
  bool bnb_4bit_use_double_quant = false;

  operator QuantizationConfig() const;  // NOLINT(google-explicit-constructor): v5's spelling
  // ValueError naming `where` and the key: both or neither of load_in_4bit / load_in_8bit, a
  // quant type other than nf4 / fp4, a compute dtype that is not a float dtype, a negative
  // threshold.
  void validate(const std::string& where) const;
};

struct QuantizationConfig {
  // A format's name (q8_0, q4_0, q4_k, q5_k, q6_k; as llama.cpp's --outtype and our
  // --quantization), q4_k_m, llama.cpp's mix of Q4_K and Q6_K (dtype_for), or "bitsandbytes" with
  // `bitsandbytes` set.
  std::string quant_method = "q8_0";
  std::optional<std::vector<std::string>> modules_to_not_convert{};  // unset: {"lm_head"}
  bool quantize_embeddings = false;
  std::optional<BitsAndBytesConfig> bitsandbytes{};
  // llama.cpp's importance matrix (loading/importance_matrix.h; `--imatrix FILE`): the matrices it
  // has an entry for are quantized by GGML's importance-weighted quantizers (Q4_0 and the
  // K-quants; Q8_0 has none), the others as without. Not part of the saved config.
  std::shared_ptr<const ImportanceMatrix> importance{};

  // The block dtype of quant_method (Q4_K for q4_k_m); ValueError naming the method and the
  // supported ones (or the bitsandbytes key at fault).
  DType weight_dtype() const;
  // What the load report calls it: the method, or "bitsandbytes nf4" / "fp4" / "int8".
  std::string label() const;
  // The dtype of one quantized matrix, `name` in a model of `num_layers` decoder layers;
  // `output_table`: an embedding table the output layer shares (tied). One format for all but
  // q4_k_m, which follows llama.cpp's llama_tensor_get_type for Q4_K_M (non-MoE, non-Falcon
  // models): Q6_K for self_attn.v_proj and mlp.down_proj of the layers more_bits_layer picks, for
  // lm_head and for a tied embedding table (llama.cpp's output); Q4_K for the rest, an untied
  // embedding table included (llama.cpp's token_embd). export-gguf and quantize-on-load both ask
  // this, so a q4_k_m file holds the blocks of the --quantization q4_k_m-all load.
  // Rows of `columns` that are not whole blocks of that dtype take llama.cpp's fallback
  // (fallback_for_row).
  DType dtype_for(std::string_view name, bool output_table, int64_t num_layers, int64_t columns) const;
  std::vector<std::string> skipped_modules() const;
  // Parameter `name`, t, quantized to `dtype` (one of dtype_for's): ops::cast, or
  // ops::quantize_weighted when the importance matrix has an entry for `name`, or for LLM_INT8
  // with this config's llm_int8_threshold stored in the blocks.
  Tensor quantize(const Tensor& t, DType dtype, const std::string& name) const;
  // "q4_0" -> a config for that format; "bnb-4bit" (nf4), "bnb-fp4", "bnb-8bit" -> bitsandbytes
  // (ValueError naming `where` for an unknown name).
  static QuantizationConfig from_name(std::string_view name, const std::string& where);
  // config.json's "quantization_config" object, as save_pretrained writes it for our formats.
  Json to_json() const;
};

// `dt` for rows of `columns`, or llama.cpp's fallback where those are not whole blocks of it
// (llama_tensor_get_type): Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (Qwen2.5-0.5B's 896 columns
// are 3.5 super-blocks); F32 (left unquantized) where the fallback's 32 do not divide them either,
// or another format's blocks do not.
DType fallback_for_row(DType dt, int64_t columns);

// llama.cpp's use_more_bits: layer i of n is in the first or last eighth, or every third between.
bool more_bits_layer(int64_t i, int64_t n);
// N of a name with ".layers.N." in it; -1 when there is none.
int64_t layer_index(std::string_view name);

// Why a parameter is (not) quantized, for the load report.
enum class QuantizeDecision { Quantize, NotMatrix, EmbeddingTable, SkippedModule, NotWholeBlocks };
QuantizeDecision quantize_decision(const QuantizationConfig& config, const nn::ParameterSlot& slot);
const char* quantize_decision_name(QuantizeDecision d);

// Quantizes the parameters of a model already in memory (a random model of `transformers bench
// --random`) with the decisions of quantize-on-load; returns how many matrices were quantized.
// Tied targets keep sharing their source's tensor only if the source is not replaced here.
size_t quantize_parameters(nn::Module& module, const QuantizationConfig& config);

// config.json's quantization_config (a checkpoint saved quantized): ours (quant_method q8_0 /
// q4_0) is returned, so its tensors load as stored; the pre-quantized methods that
// loading/prequantized.h repacks (gptq, awq, fp8, mxfp4, compressed-tensors, bitsandbytes) give
// nullopt (prequantized_checkpoint reads them); any other method is a NotImplementedError naming
// it and the file, instead of loading its packed tensors as if they were weights. nullopt when
// config.json has none.
// A bitsandbytes quantization_config object (v5's BitsAndBytesConfig.to_dict; absent keys take
// v5's defaults); ConfigError / ValueError naming `where` and the key.
QuantizationConfig bitsandbytes_from_json(const Json& q, const std::string& where);

std::optional<QuantizationConfig> checkpoint_quantization(const Json& config_json, const std::string& where);

}  // namespace transformers
