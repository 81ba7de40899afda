// Element types of tensors, with the names used by safetensors and by Transformers' `dtype`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace transformers {

// I8 and F8_E4M3 are plain one-byte elements (int8 data of quantized checkpoints; e4m3 floats of
// FP8 checkpoints). Q8_0 and Q4_0 are block dtypes with exactly GGML's layouts, so a GGUF tensor
// maps onto them byte for byte; their last dimension is a multiple of the block (32 elements):
//   Q8_0: 34 bytes per block: f16 scale d, then 32 int8 q;                 x = d * q
//   Q4_0: 18 bytes per block: f16 scale d, then 16 bytes of nibbles; element j < 16 is the low
//         nibble of byte j, element j + 16 its high nibble;                 x = d * (q - 8)
// Pre-quantized checkpoint formats, repacked at load (loading/prequantized.h; codecs in
// ops/cpu/prequant_blocks.h):
//   Q4_Z:    20 bytes per 32: f16 scale d, u8 zero z, u8 0, 16 bytes of nibbles in Q4_0's order;
//            x = d * (q - z)  (GPTQ, AWQ)
//   F8_B128: 132 bytes per 128: f32 scale s, then 128 e4m3 codes;  x = e4m3(c) * s  (FP8)
//   MXFP4:   17 bytes per 32: e8m0 scale e, then 16 bytes; element 2i is the low nibble of byte
//            i, 2i + 1 its high nibble (gpt-oss's order); x = e2m1(q) * 2^(e - 127)
// Q5_0: 22 bytes per 32: f16 d, 4 bytes qh (bit j: the fifth bit of element j), 16 bytes of
//   nibbles in Q4_0's order;                                              x = d * (q - 16)
// Q5_1: 24 bytes per 32: f16 d, f16 m, then Q5_0's qh and nibbles;       x = d * q + m
// Q4_K, Q5_K and Q6_K are GGML's "K-quant" super-blocks of 256 elements (layouts in
// ops/cpu/quant_kblocks.h): Q4_K 144 bytes, Q5_K 176 bytes, Q6_K 210 bytes.
// NF4 and FP4 are bitsandbytes' 4-bit blocks (blocksize 64, ops/cpu/bnb_blocks.h has the code
// books): 36 bytes per block: f32 absmax, then 32 bytes of nibbles; element 2j is the HIGH nibble
// of byte j and element 2j + 1 its low nibble (bitsandbytes' order);   x = absmax * code[q]
enum class DType : uint8_t {
  F32, F16, BF16, I32, I64, U8, Bool, I8, F8_E4M3, Q8_0, Q4_0,
  Q4_Z, F8_B128, MXFP4,  // pre-quantized checkpoints
  NF4, FP4,              // bitsandbytes 4-bit
  Q4_K, Q5_K, Q6_K,      // GGML's K-quants
  LLM_INT8,              // bitsandbytes 8-bit
  Q5_0, Q5_1,            // GGML's 5-bit blocks (llama.cpp's fallback for K-quant rows not whole 256s)
};

// Bytes per element of a plain dtype; a block dtype has no per-element size and throws ValueError
// (use dtype_nbytes).
size_t dtype_size(DType dt);
bool is_floating(DType dt);
// Block dtypes store `dtype_block_elements` elements in `dtype_block_bytes` bytes; plain dtypes
// are blocks of one element.
bool is_block_dtype(DType dt);
int64_t dtype_block_elements(DType dt);
int64_t dtype_block_bytes(DType dt);
// Bytes of `numel` elements; for a block dtype numel must be a multiple of the block (ShapeError).
size_t dtype_nbytes(DType dt, int64_t numel);

// "F32", "BF16", ... as in safetensors headers. The block dtypes are our own names, "Q8_0",
// "Q4_0", "Q4_K", "Q5_K", "Q6_K" (safetensors has none for them; a tensor of one holds its blocks
// with the shape of its elements, so its byte count is numel / block elements * block bytes).
std::string_view dtype_safetensors_name(DType dt);
// Throws FormatError for names we do not support (F64, F8_E5M2, ...), naming `where` and the name.
DType dtype_from_safetensors_name(std::string_view name, const std::string& where);

// "float32", "bfloat16", ... as in config.json's torch_dtype / dtype.
std::string_view dtype_torch_name(DType dt);
// Accepts "float32"/"f32"/"fp32", "bfloat16"/"bf16", "float16"/"f16"/"fp16"/"half", "torch.float32".
// Throws ValueError naming `where`.
DType dtype_from_name(std::string_view name, const std::string& where);

}  // namespace transformers
