#include <string>

#include "transformers/core/error.h"
#include "transformers/ops/cpu/bnb_blocks.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/llm_int8.h"
#include "transformers/ops/cpu/prequant_blocks.h"
#include "transformers/ops/cpu/quant_blocks.h"
#include "transformers/ops/cpu/quant_kblocks.h"

namespace transformers::cpu {
namespace {
using Act = WeightFormat::ActivationFormat;
// In weight_format_index order.
const WeightFormat kFormats[kWeightFormatCount] = {
    {DType::F32, "f32", 1, 4, Act::F32, nullptr, nullptr},
    {DType::BF16, "bf16", 1, 2, Act::F32, nullptr, nullptr},
    {DType::F16, "f16", 1, 2, Act::F32, nullptr, nullptr},
    {DType::Q8_0, "q8_0", kQBlock, kQ8_0Bytes, Act::Int8Blocks, quantize_q8_0, dequantize_q8_0},
    {DType::Q4_0, "q4_0", kQBlock, kQ4_0Bytes, Act::Int8Blocks, quantize_q4_0, dequantize_q4_0, false,
     quantize_q4_0_weighted},
    // Pre-quantized checkpoint formats (prequant_blocks.h): dequant_rows only, f32 products.
    {DType::Q4_Z, "q4_z", kQBlock, kQ4ZBytes, Act::F32, quantize_q4_z, dequantize_q4_z},
    {DType::F8_B128, "f8_b128", kF8Block, kF8B128Bytes, Act::F32, quantize_f8_b128, dequantize_f8_b128},
    {DType::MXFP4, "mxfp4", kQBlock, kMxfp4Bytes, Act::F32, quantize_mxfp4, dequantize_mxfp4},
    // bitsandbytes 4-bit: no integer kernels yet; the driver multiplies dequantized panels (f32 x).
    {DType::NF4, "nf4", kBnbBlock, kBnbBlockBytes, Act::F32, quantize_nf4, dequantize_nf4},
    {DType::FP4, "fp4", kBnbBlock, kBnbBlockBytes, Act::F32, quantize_fp4, dequantize_fp4},
    {DType::Q4_K, "q4_k", kKBlock, kQ4_KBytes, Act::Int8KBlocks, quantize_q4_k, dequantize_q4_k, false,
     quantize_q4_k_weighted},
    {DType::Q5_K, "q5_k", kKBlock, kQ5_KBytes, Act::Int8KBlocks, quantize_q5_k, dequantize_q5_k, false,
     quantize_q5_k_weighted},
    {DType::Q6_K, "q6_k", kKBlock, kQ6_KBytes, Act::Int8KBlocks, quantize_q6_k, dequantize_q6_k, false,
     quantize_q6_k_weighted},
    // bitsandbytes LLM.int8: one scale per row, so quantize takes whole rows (row_scaled).
    {DType::LLM_INT8, "llm_int8", kInt8RowBlock, kInt8RowBlockBytes, Act::F32, quantize_llm_int8,
     dequantize_llm_int8, true},
    // GGML's 5-bit blocks (llama.cpp's fallback for K-quant rows not whole 256s): no integer
    // kernels yet; the driver multiplies dequantized rows and panels.
    {DType::Q5_0, "q5_0", kQBlock, kQ5_0Bytes, Act::F32, quantize_q5_0, dequantize_q5_0, false, quantize_q5_0_weighted},
    {DType::Q5_1, "q5_1", kQBlock, kQ5_1Bytes, Act::F32, quantize_q5_1, dequantize_q5_1, false, quantize_q5_1_weighted},
};

}  // namespace

int weight_format_index(DType dt) {
  switch (dt) {
    case DType::F32: return 0;
    case DType::BF16: return 1;
    case DType::F16: return 2;
    case DType::Q8_0: return 3;
    case DType::Q4_0: return 4;
    case DType::Q4_Z: return 5;
    case DType::F8_B128: return 6;
    case DType::MXFP4: return 7;
    case DType::NF4: return 8;
    case DType::FP4: return 9;
    case DType::Q4_K: return 10;
    case DType::Q5_K: return 11;
    case DType::Q6_K: return 12;
    case DType::LLM_INT8: return 13;
    case DType::Q5_0: return 14;
    case DType::Q5_1: return 15;
    case DType::I32:
    case DType::I64:
    case DType::U8:
    case DType::Bool:
    case DType::I8:
    case DType::F8_E4M3: break;
  }
  throw ValueError("no weight kernels for dtype " + std::string(dtype_safetensors_name(dt)) +
                   " (weights are F32, BF16, F16, Q8_0, Q4_0, Q4_Z, F8_B128, MXFP4, NF4, FP4, Q4_K, Q5_K, Q6_K, LLM_INT8, Q5_0 or Q5_1)");
}

const WeightFormat& weight_format(DType dt) { return kFormats[weight_format_index(dt)]; }

void throw_not_float(DType dt, const char* what) {
  throw ValueError(std::string(what) + ": dtype " + std::string(dtype_safetensors_name(dt)) +
                   " is not a float dtype (F32, BF16, F16)");
}

int64_t activation_row_bytes(WeightFormat::ActivationFormat format, int64_t K) {
  switch (format) {
    case Act::F32:
    case Act::F32Strips: return 4 * K;
    case Act::BF16: return 2 * K;
    case Act::Int8Blocks: return activation_row_bytes(K);
    case Act::Int8Pairs: return vnni_activation_row_bytes(K);
    case Act::Int8KBlocks: return kquant_activation_row_bytes(K);
  }
  return 0;
}

}  // namespace transformers::cpu
