// Pre-quantized Hub checkpoints (config.json's quantization_config of another tool), repacked at
// load by conversion ops into block dtypes our kernels run packed (core/dtype.h):
//   gptq  (bits 4; group_size, desc_act with g_idx; checkpoint_format gptq: stored zero = zero - 1,
//          gptq_v2: stored zero = zero)  qweight/qzeros/scales/g_idx -> Q4_Z
//   awq   (bits 4, version gemm, zero_point)  qweight/qzeros/scales -> Q4_Z
//   fp8   (FineGrained FP8: weight F8_E4M3 + weight_scale_inv f32 per weight_block_size block,
//          block columns a multiple of 128)  -> F8_B128
//   mxfp4 (gpt-oss: NAME_blocks u8 [..., N, K/32, 16] + NAME_scales e8m0 [..., N, K/32])  -> MXFP4
//   compressed-tensors pack-quantized (symmetric int4 by group / channel: weight_packed,
//          weight_scale, weight_shape) -> Q4_Z (F32 where a scale is not an f16 value);
//          float-quantized (fp8 e4m3 weight + weight_scale by channel / block) -> F8_B128
//   bitsandbytes (Transformers' save_pretrained of a bnb model; loading/bnb_serialized.h):
//          4-bit weight/absmax/quant_map/quant_state[/nested_*] -> NF4 / FP4; 8-bit weight/SCB
//          -> LLM_INT8
// Each dequantised value is the single f32 product the format defines (scale * (q - zero),
// e4m3 * scale, e2m1 * 2^e), so the packed model computes with exactly the checkpoint's weights.
//
// GPTQ's desc_act: g_idx gives each input column its group. Where every aligned run of 32 columns
// shares one group (desc_act false, or act-order groups that happen to align) the matrix packs
// into Q4_Z; otherwise (true act-order) it is dequantised exactly to F32 (scale * (q - zero) is
// exact in f32), so its values are still exactly the checkpoint's, at f32 size. The load report
// counts such matrices.
//
// The rules are made per quantized module from the checkpoint's key names (one rule per module,
// its source keys spelled out), and run before the model's own rules: a module whose weight the
// model's rules would also convert (fused qkv, merged experts) is not supported pre-quantized.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/loading/weight_transform.h"

namespace transformers::loading {

struct PrequantizedConfig {
  std::string method;            // gptq, awq, fp8, mxfp4, compressed-tensors, bitsandbytes
  std::string scheme = {};       // compressed-tensors: int4 (pack-quantized) or fp8 (float-quantized)
  int64_t group_size = 128;      // gptq / awq; -1: one group per row (gptq)
  bool zero_minus_one = true;    // gptq checkpoint_format "gptq" (v1): the stored zero is zero - 1
  int64_t block_rows = 128, block_cols = 128;  // fp8 weight_block_size; cols -1: the whole row
  bool eight_bit = false;        // bitsandbytes: load_in_8bit (LLM.int8) rather than 4-bit
  float int8_threshold = 6.0f;   // bitsandbytes: llm_int8_threshold, stored in LLM_INT8 blocks
};

bool is_prequantized_method(std::string_view method);
// The block dtypes the rules repack into (Q4_Z, F8_B128, MXFP4): save_pretrained refuses them.
bool is_repacked_dtype(DType dt);
// config.json's quantization_config when its quant_method is one of the above (nullopt for none
// or another method); bad or unsupported values (bits 8, awq version gemv, a missing
// weight_block_size, ...) are ConfigError / NotImplementedError naming `where` and the key.
std::optional<PrequantizedConfig> prequantized_checkpoint(const Json& config_json, const std::string& where);

// The key ending that marks a quantized module of `method` (".qweight", "_blocks", ...).
std::string prequantized_marker(const PrequantizedConfig& config);
// The source patterns of one module's converter: each of module + suffix, matched exactly.
std::vector<std::string> exact_key_patterns(const std::string& module, const std::vector<std::string>& suffixes);
// One converter per quantized module found among the checkpoint's keys.
std::vector<WeightTransform> prequantized_rules(const PrequantizedConfig& config, const std::vector<std::string>& keys);

}  // namespace transformers::loading
