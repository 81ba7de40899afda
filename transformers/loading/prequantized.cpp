#include "transformers/loading/prequantized.h"

#include <cstring>

#include "transformers/core/error.h"
#include "transformers/core/half.h"
#include "transformers/loading/bnb_serialized.h"
#include "transformers/loading/quantization.h"
#include "transformers/ops/cpu/prequant_blocks.h"

namespace transformers::loading {

namespace {

// ---- config.json

const Json* member(const Json& q, const char* key) {
  return q.contains(key) && !q[key].is_null() ? &q[key] : nullptr;
}

int64_t int_member(const Json& q, const char* key, int64_t fallback, const std::string& where) {
  const Json* v = member(q, key);
  if (!v) return fallback;
  TCPP_CHECK(v->is_number_integer(), ConfigError, where, ": quantization_config.", key, " must be an integer");
  return v->get<int64_t>();
}

std::string string_member(const Json& q, const char* key, const std::string& fallback, const std::string& where) {
  const Json* v = member(q, key);
  if (!v) return fallback;
  TCPP_CHECK(v->is_string(), ConfigError, where, ": quantization_config.", key, " must be a string");
  return v->get<std::string>();
}

void require_4_bits(const Json& q, const char* key, const std::string& where, const std::string& method) {
  const int64_t bits = int_member(q, key, 4, where);
  TCPP_CHECK(bits == 4, NotImplementedError, where, ": quantization_config.", key, " = ", bits, " is not supported for ",
             method, " (4 bits only)");
}

PrequantizedConfig gptq_config(const Json& q, const std::string& where) {
  require_4_bits(q, "bits", where, "gptq");
  PrequantizedConfig c{.method = "gptq"};
  c.group_size = int_member(q, "group_size", 128, where);
  TCPP_CHECK(c.group_size == -1 || c.group_size > 0, ConfigError, where, ": quantization_config.group_size = ",
             c.group_size, " (a positive size or -1)");
  const std::string format = string_member(q, "checkpoint_format", "gptq", where);
  TCPP_CHECK(format == "gptq" || format == "gptq_v2", NotImplementedError, where,
             ": quantization_config.checkpoint_format '", format, "' is not supported (gptq, gptq_v2)");
  c.zero_minus_one = format == "gptq";
  return c;
}

PrequantizedConfig awq_config(const Json& q, const std::string& where) {
  require_4_bits(q, q.contains("w_bit") ? "w_bit" : "bits", where, "awq");
  PrequantizedConfig c{.method = "awq"};
  c.group_size = int_member(q, q.contains("q_group_size") ? "q_group_size" : "group_size", 128, where);
  TCPP_CHECK(c.group_size > 0, ConfigError, where, ": quantization_config.group_size = ", c.group_size,
             " (must be positive for awq)");
  std::string version = string_member(q, "version", "gemm", where);
  for (auto& ch : version) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  TCPP_CHECK(version == "gemm", NotImplementedError, where, ": quantization_config.version '", version,
             "' is not supported for awq (gemm only)");
  if (const Json* z = member(q, "zero_point"))
    TCPP_CHECK(z->is_boolean() && z->get<bool>(), NotImplementedError, where,
               ": quantization_config.zero_point false is not supported for awq");
  return c;
}

PrequantizedConfig fp8_config(const Json& q, const std::string& where) {
  PrequantizedConfig c{.method = "fp8"};
  const std::string fmt = string_member(q, "fmt", "e4m3", where);
  TCPP_CHECK(fmt == "e4m3", NotImplementedError, where, ": quantization_config.fmt '", fmt,
             "' is not supported for fp8 (e4m3)");
  const std::string scheme = string_member(q, "activation_scheme", "dynamic", where);
  TCPP_CHECK(scheme == "dynamic", NotImplementedError, where, ": quantization_config.activation_scheme '", scheme,
             "' is not supported for fp8 (dynamic)");
  const Json* block = member(q, "weight_block_size");
  TCPP_CHECK(block && block->is_array() && block->size() == 2 && (*block)[0].is_number_integer() &&
                 (*block)[1].is_number_integer(),
             NotImplementedError, where,
             ": quantization_config.weight_block_size must be [rows, cols] (per-tensor fp8 is not supported)");
  c.block_rows = (*block)[0].get<int64_t>();
  c.block_cols = (*block)[1].get<int64_t>();
  TCPP_CHECK(c.block_rows > 0 && c.block_cols > 0 && c.block_cols % cpu::kF8Block == 0, NotImplementedError, where,
             ": quantization_config.weight_block_size [", c.block_rows, ", ", c.block_cols,
             "]: block columns must be a positive multiple of ", cpu::kF8Block);
  return c;
}

// compressed-tensors: every config group's weights one scheme that maps onto the ops below
// (pack-quantized symmetric int4 by group or channel; float-quantized fp8 e4m3 by channel or
// block), no quantized activations.
PrequantizedConfig compressed_tensors_config(const Json& q, const std::string& where) {
  PrequantizedConfig c{.method = "compressed-tensors"};
  const std::string format = string_member(q, "format", "", where);
  TCPP_CHECK(format == "pack-quantized" || format == "float-quantized", NotImplementedError, where,
             ": quantization_config.format '", format,
             "' is not supported for compressed-tensors (pack-quantized, float-quantized)");
  c.scheme = format == "pack-quantized" ? "int4" : "fp8";
  const Json* groups = member(q, "config_groups");
  TCPP_CHECK(groups && groups->is_object() && !groups->empty(), ConfigError, where,
             ": quantization_config.config_groups must be a non-empty object");
  for (const auto& [name, g] : groups->items()) {
    const std::string key = "quantization_config.config_groups." + name;
    TCPP_CHECK(g.is_object() && g.contains("weights") && g["weights"].is_object(), ConfigError, where, ": ", key,
               ".weights must be an object");
    TCPP_CHECK(!member(g, "input_activations"), NotImplementedError, where, ": ", key,
               ".input_activations: quantized activations are not supported");
    const Json& w = g["weights"];
    const int64_t bits = int_member(w, "num_bits", 0, where);
    const std::string type = string_member(w, "type", "", where), strategy = string_member(w, "strategy", "", where);
    const bool symmetric = !member(w, "symmetric") || (w["symmetric"].is_boolean() && w["symmetric"].get<bool>());
    const bool int4 = c.scheme == "int4" && bits == 4 && type == "int" && symmetric &&
                      (strategy == "group" || strategy == "channel");
    const bool fp8 = c.scheme == "fp8" && bits == 8 && type == "float" && (strategy == "channel" || strategy == "block");
    TCPP_CHECK(int4 || fp8, NotImplementedError, where, ": ", key, ".weights (", bits, "-bit ", type, ", ", strategy,
               symmetric ? "" : ", asymmetric", ") is not supported for format ", format,
               " (symmetric 4-bit int by group or channel; 8-bit float by channel or block)");
    if (strategy == "group") {
      c.group_size = int_member(w, "group_size", 0, where);
      TCPP_CHECK(c.group_size > 0, ConfigError, where, ": ", key, ".weights.group_size must be positive");
    } else if (strategy == "channel") {
      c.group_size = -1;
      c.block_rows = 1, c.block_cols = -1;
    } else {
      const Json* b = member(w, "block_structure");
      TCPP_CHECK(b && b->is_array() && b->size() == 2 && (*b)[0].is_number_integer() && (*b)[1].is_number_integer() &&
                     (*b)[0].get<int64_t>() > 0 && (*b)[1].get<int64_t>() % cpu::kF8Block == 0 &&
                     (*b)[1].get<int64_t>() > 0,
                 NotImplementedError, where, ": ", key, ".weights.block_structure must be [rows, cols] with cols a ",
                 "positive multiple of ", cpu::kF8Block);
      c.block_rows = (*b)[0].get<int64_t>(), c.block_cols = (*b)[1].get<int64_t>();
    }
  }
  return c;
}

// ---- tensors

std::string module_of(const ConversionContext& ctx, const std::string& suffix) {
  const std::string& k = ctx.target_key;
  const std::string base = k.ends_with(".weight") ? k.substr(0, k.size() - 7) : k;
  return base + suffix;
}

void expect_tensor(const Tensor& t, DType dtype, const Shape& shape, const std::string& key) {
  TCPP_CHECK(t.dtype() == dtype && t.shape() == shape, ShapeError, "tensor '", key, "' is ", t.describe(),
             ", expected ", dtype_safetensors_name(dtype), shape_to_string(shape));
}

const Tensor& only(const std::vector<Tensor>& group, const ConversionContext& ctx) {
  TCPP_CHECK(group.size() == 1, ValueError, "pre-quantized weight '", ctx.target_key, "': expected one tensor");
  return group[0];
}

// 4-bit integers with a zero point per (group, output row): q[n * K + k], zero[g * N + n],
// scale[g * N + n], group[k].
struct Int4Matrix {
  int64_t N = 0, K = 0, G = 0;
  std::vector<uint8_t> q, zero;
  std::vector<float> scale;
  std::vector<int32_t> group;
};

// The scales of a tensor as f32 (f16, bf16 and f32 convert exactly), transposed from [N, G] to
// [G, N] when `transposed`.
std::vector<float> scale_values(const Tensor& s, int64_t G, int64_t N, bool transposed) {
  std::vector<float> out(static_cast<size_t>(G * N));
  for (int64_t i = 0; i < G * N; ++i) {
    float v;
    if (s.dtype() == DType::F32) v = s.data<float>()[i];
    else {
      uint16_t h;
      std::memcpy(&h, static_cast<const char*>(s.raw_data()) + 2 * i, 2);
      v = s.dtype() == DType::F16 ? f16_to_f32_portable(h) : bf16_to_f32(h);
    }
    out[transposed ? i % G * N + i / G : i] = v;
  }
  return out;
}

bool all_f16(const std::vector<float>& xs) {
  for (float x : xs)
    if (f16_to_f32_portable(f32_to_f16_portable(x)) != x) return false;
  return true;
}

// Q4_Z when each aligned run of 32 columns has one group and every scale is an f16 value (GPTQ's
// and AWQ's are), else the exact values in F32.
Tensor pack_int4(const Int4Matrix& m, const std::string& key) {
  TCPP_CHECK(m.K % 32 == 0, ShapeError, "pre-quantized weight '", key, "': ", m.K,
             " input features are not whole blocks of 32");
  bool aligned = true;
  for (int64_t k = 0; k < m.K; ++k) {
    TCPP_CHECK(m.group[k] >= 0 && m.group[k] < m.G, ShapeError, "pre-quantized weight '", key, "': group index ",
               m.group[k], " of input feature ", k, " is outside the ", m.G, " groups of its scales");
    aligned = aligned && m.group[k] == m.group[k / 32 * 32];
  }
  if (!aligned || !all_f16(m.scale)) {
    Tensor out = Tensor::empty({m.N, m.K}, DType::F32);
    float* o = out.data<float>();
    for (int64_t n = 0; n < m.N; ++n)
      for (int64_t k = 0; k < m.K; ++k) {
        const int64_t g = m.group[k];
        o[n * m.K + k] = m.scale[g * m.N + n] *
                         static_cast<float>(m.q[n * m.K + k] - m.zero[g * m.N + n]);
      }
    return out;
  }
  Tensor out = Tensor::empty({m.N, m.K}, DType::Q4_Z);
  auto* b = static_cast<unsigned char*>(out.raw_data());
  for (int64_t n = 0; n < m.N; ++n)
    for (int64_t k = 0; k < m.K; k += 32, b += cpu::kQ4ZBytes) {
      const int64_t g = m.group[k];
      cpu::pack_q4_z_block(&m.q[n * m.K + k], f32_to_f16_portable(m.scale[g * m.N + n]), m.zero[g * m.N + n], b);
    }
  return out;
}

uint8_t nibble(int32_t word, int64_t position) { return static_cast<uint8_t>((word >> (4 * position)) & 0x0f); }

// The repacking ops load only: saving a model in a pre-quantized layout is not supported.
class RepackOp : public ConversionOp {
 public:
  RepackOp(PrequantizedConfig c, const char* name) : c_(std::move(c)), name_(name) {}
  OpPtr reverse() const override {
    throw NotImplementedError("saving a " + c_.method + " checkpoint is not supported");
  }
  std::string describe() const override { return name_; }

 protected:
  PrequantizedConfig c_;
  const char* name_;
};

// GPTQ: qweight int32 [K/8, N], input feature k in bits 4 (k % 8) of row k / 8; qzeros int32
// [G, N/8], output feature n in bits 4 (n % 8) of column n / 8; scales f16 [G, N]; g_idx [K].
class GptqRepackOp : public RepackOp {
 public:
  explicit GptqRepackOp(PrequantizedConfig c) : RepackOp(std::move(c), "GptqToQ4Z") {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    const Tensor qweight = only(in[0], ctx).contiguous(), qzeros = only(in[1], ctx).contiguous();
    const Tensor scales = only(in[2], ctx).contiguous(), g_idx = only(in[3], ctx).contiguous();
    TCPP_CHECK(qweight.dim() == 2 && qweight.dtype() == DType::I32, ShapeError, "tensor '", module_of(ctx, ".qweight"),
               "' is ", qweight.describe(), ", expected int32 [in_features / 8, out_features]");
    Int4Matrix m;
    m.K = qweight.size(0) * 8;
    m.N = qweight.size(1);
    TCPP_CHECK(m.N % 8 == 0, ShapeError, "tensor '", module_of(ctx, ".qweight"), "': ", m.N,
               " output features are not a multiple of 8");
    TCPP_CHECK(c_.group_size == -1 || m.K % c_.group_size == 0, ConfigError, "quantization_config.group_size ",
               c_.group_size, " does not divide the ", m.K, " input features of '", module_of(ctx, ".qweight"), "'");
    m.G = c_.group_size == -1 ? 1 : m.K / c_.group_size;
    expect_tensor(scales, DType::F16, {m.G, m.N}, module_of(ctx, ".scales"));
    expect_tensor(qzeros, DType::I32, {m.G, m.N / 8}, module_of(ctx, ".qzeros"));
    expect_tensor(g_idx, DType::I32, {m.K}, module_of(ctx, ".g_idx"));
    m.scale = scale_values(scales, m.G, m.N, false);
    m.group.assign(g_idx.data<int32_t>(), g_idx.data<int32_t>() + m.K);
    const int32_t* qw = qweight.data<int32_t>();
    m.q.resize(static_cast<size_t>(m.N * m.K));
    for (int64_t k = 0; k < m.K; ++k)
      for (int64_t n = 0; n < m.N; ++n) m.q[n * m.K + k] = nibble(qw[k / 8 * m.N + n], k % 8);
    const int32_t* qz = qzeros.data<int32_t>();
    m.zero.resize(static_cast<size_t>(m.G * m.N));
    for (int64_t i = 0; i < m.G * m.N; ++i)
      m.zero[i] = static_cast<uint8_t>(nibble(qz[i / 8], i % 8) + (c_.zero_minus_one ? 1 : 0));
    return {{pack_int4(m, ctx.target_key)}};
  }
};

// AWQ (gemm): qweight int32 [K, N/8] and qzeros int32 [G, N/8] packed along the output features in
// AWQ's order: output feature 8 j + i sits in nibble kNibbleOf[i] of word j; scales f16 [G, N];
// the group of input feature k is k / group_size.
class AwqRepackOp : public RepackOp {
 public:
  explicit AwqRepackOp(PrequantizedConfig c) : RepackOp(std::move(c), "AwqToQ4Z") {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    static constexpr int kNibbleOf[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    const Tensor qweight = only(in[0], ctx).contiguous(), qzeros = only(in[1], ctx).contiguous();
    const Tensor scales = only(in[2], ctx).contiguous();
    TCPP_CHECK(qweight.dim() == 2 && qweight.dtype() == DType::I32, ShapeError, "tensor '", module_of(ctx, ".qweight"),
               "' is ", qweight.describe(), ", expected int32 [in_features, out_features / 8]");
    Int4Matrix m;
    m.K = qweight.size(0);
    m.N = qweight.size(1) * 8;
    TCPP_CHECK(m.K % c_.group_size == 0, ConfigError, "quantization_config.group_size ", c_.group_size,
               " does not divide the ", m.K, " input features of '", module_of(ctx, ".qweight"), "'");
    m.G = m.K / c_.group_size;
    expect_tensor(scales, DType::F16, {m.G, m.N}, module_of(ctx, ".scales"));
    expect_tensor(qzeros, DType::I32, {m.G, m.N / 8}, module_of(ctx, ".qzeros"));
    m.scale = scale_values(scales, m.G, m.N, false);
    m.group.resize(static_cast<size_t>(m.K));
    for (int64_t k = 0; k < m.K; ++k) m.group[k] = static_cast<int32_t>(k / c_.group_size);
    auto unpack = [&](const int32_t* words, int64_t rows, std::vector<uint8_t>& out, bool transpose) {
      out.resize(static_cast<size_t>(rows * m.N));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t n = 0; n < m.N; ++n)
          out[transpose ? n * rows + r : r * m.N + n] = nibble(words[r * (m.N / 8) + n / 8], kNibbleOf[n % 8]);
    };
    unpack(qweight.data<int32_t>(), m.K, m.q, true);
    unpack(qzeros.data<int32_t>(), m.G, m.zero, false);
    return {{pack_int4(m, ctx.target_key)}};
  }
};

// FineGrained FP8: weight e4m3 [N, K], weight_scale_inv f32 [ceil(N / rows), ceil(K / cols)]:
// each 128 codes of a row take the scale of their block. compressed-tensors' float-quantized
// weights are the same with weight_scale (f32, f16 or bf16: converted exactly) per channel
// ([N, 1]: block_cols -1, the whole row) or per block.
class Fp8RepackOp : public RepackOp {
 public:
  explicit Fp8RepackOp(PrequantizedConfig c) : RepackOp(std::move(c), "Fp8ToF8B128") {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    const Tensor w = only(in[0], ctx).contiguous(), s = only(in[1], ctx).contiguous();
    TCPP_CHECK(w.dim() == 2 && w.dtype() == DType::F8_E4M3, ShapeError, "tensor '", module_of(ctx, ".weight"), "' is ",
               w.describe(), ", expected F8_E4M3 [out_features, in_features]");
    const int64_t N = w.size(0), K = w.size(1);
    TCPP_CHECK(K > 0 && K % cpu::kF8Block == 0, ShapeError, "tensor '", module_of(ctx, ".weight"), "': ", K,
               " input features are not whole blocks of ", cpu::kF8Block);
    const int64_t rows = c_.block_rows, cols = c_.block_cols < 0 ? K : c_.block_cols;
    // Rounded-up quotients written without N + rows - 1, which overflows for a block size near
    // INT64_MAX in a stranger's config.
    const int64_t SN = N / rows + (N % rows != 0), SK = K / cols + (K % cols != 0);
    const std::string skey = module_of(ctx, c_.method == "fp8" ? ".weight_scale_inv" : ".weight_scale");
    TCPP_CHECK(is_floating(s.dtype()) && s.shape() == Shape({SN, SK}), ShapeError, "tensor '", skey, "' is ",
               s.describe(), ", expected a float tensor ", shape_to_string({SN, SK}));
    const std::vector<float> scale = scale_values(s, SN, SK, false);
    Tensor out = Tensor::empty({N, K}, DType::F8_B128);
    auto* b = static_cast<unsigned char*>(out.raw_data());
    const auto* codes = static_cast<const unsigned char*>(w.raw_data());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; k += cpu::kF8Block, b += cpu::kF8B128Bytes) {
        std::memcpy(b, &scale[n / rows * SK + k / cols], 4);
        std::memcpy(b + 4, codes + n * K + k, cpu::kF8Block);
      }
    return {{out}};
  }
};

// compressed-tensors pack-quantized, symmetric int4: weight_packed int32 [N, K/8], input feature
// k in bits 4 (k % 8) of word k / 8 as q + 8 (offset code); weight_scale [N, G]; weight_shape
// [N, K]. x = scale * (code - 8).
class PackedInt4RepackOp : public RepackOp {
 public:
  explicit PackedInt4RepackOp(PrequantizedConfig c) : RepackOp(std::move(c), "PackQuantizedToQ4Z") {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    const Tensor packed = only(in[0], ctx).contiguous(), scales = only(in[1], ctx).contiguous();
    const Tensor shape = only(in[2], ctx).contiguous();
    TCPP_CHECK(packed.dim() == 2 && packed.dtype() == DType::I32, ShapeError, "tensor '",
               module_of(ctx, ".weight_packed"), "' is ", packed.describe(), ", expected int32 [out, in / 8]");
    Int4Matrix m;
    m.N = packed.size(0);
    m.K = packed.size(1) * 8;
    TCPP_CHECK(shape.numel() == 2 && (shape.dtype() == DType::I64 || shape.dtype() == DType::I32) &&
                   (shape.dtype() == DType::I64 ? shape.data<int64_t>()[0] : shape.data<int32_t>()[0]) == m.N &&
                   (shape.dtype() == DType::I64 ? shape.data<int64_t>()[1] : shape.data<int32_t>()[1]) == m.K,
               ShapeError, "tensor '", module_of(ctx, ".weight_shape"), "' does not hold [", m.N, ", ", m.K,
               "], the shape of '", module_of(ctx, ".weight_packed"), "'");
    TCPP_CHECK(c_.group_size == -1 || m.K % c_.group_size == 0, ConfigError, "quantization_config group_size ",
               c_.group_size, " does not divide the ", m.K, " input features of '", module_of(ctx, ".weight_packed"),
               "'");
    m.G = c_.group_size == -1 ? 1 : m.K / c_.group_size;
    TCPP_CHECK(is_floating(scales.dtype()) && scales.shape() == Shape({m.N, m.G}), ShapeError, "tensor '",
               module_of(ctx, ".weight_scale"), "' is ", scales.describe(), ", expected a float tensor ",
               shape_to_string({m.N, m.G}));
    m.scale = scale_values(scales, m.G, m.N, true);
    m.zero.assign(static_cast<size_t>(m.G * m.N), 8);
    m.group.resize(static_cast<size_t>(m.K));
    for (int64_t k = 0; k < m.K; ++k) m.group[k] = static_cast<int32_t>(c_.group_size == -1 ? 0 : k / c_.group_size);
    const int32_t* words = packed.data<int32_t>();
    m.q.resize(static_cast<size_t>(m.N * m.K));
    for (int64_t i = 0; i < m.N * m.K; ++i) m.q[i] = nibble(words[i / 8], i % 8);
    return {{pack_int4(m, ctx.target_key)}};
  }
};

// MXFP4: NAME_blocks u8 [..., N, K/32, 16], NAME_scales u8 [..., N, K/32] -> MXFP4 [..., N, K].
class Mxfp4RepackOp : public RepackOp {
 public:
  explicit Mxfp4RepackOp(PrequantizedConfig c) : RepackOp(std::move(c), "Mxfp4ToBlocks") {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    const Tensor blocks = only(in[0], ctx).contiguous(), scales = only(in[1], ctx).contiguous();
    const std::string bkey = ctx.target_key + "_blocks", skey = ctx.target_key + "_scales";
    TCPP_CHECK(blocks.dtype() == DType::U8 && blocks.dim() >= 3 && blocks.size(-1) == 16, ShapeError, "tensor '", bkey,
               "' is ", blocks.describe(), ", expected U8 [..., rows, blocks, 16]");
    Shape scale_shape = blocks.shape();
    scale_shape.pop_back();
    expect_tensor(scales, DType::U8, scale_shape, skey);
    Shape shape = scale_shape;
    shape.back() *= 32;
    Tensor out = Tensor::empty(shape, DType::MXFP4);
    auto* b = static_cast<unsigned char*>(out.raw_data());
    const auto* q = static_cast<const unsigned char*>(blocks.raw_data());
    const auto* e = static_cast<const unsigned char*>(scales.raw_data());
    for (int64_t i = 0; i < scales.numel(); ++i, b += cpu::kMxfp4Bytes) {
      b[0] = e[i];
      std::memcpy(b + 1, q + i * 16, 16);
    }
    return {{out}};
  }
};

// A rule per key ending in `marker`: its module's keys module + suffixes -> module + target.
void add_module_rules(std::vector<WeightTransform>& rules, const std::vector<std::string>& keys,
                      const std::string& marker, const std::vector<std::string>& suffixes, const std::string& target,
                      const OpPtr& op) {
  for (const auto& key : keys) {
    if (!key.ends_with(marker)) continue;
    const std::string module = key.substr(0, key.size() - marker.size());
    rules.push_back(WeightTransform::converter(exact_key_patterns(module, suffixes), {module + target}, {op}));
  }
}

}  // namespace

std::vector<std::string> exact_key_patterns(const std::string& module, const std::vector<std::string>& suffixes) {
  std::vector<std::string> out;
  for (const auto& suffix : suffixes) {
    std::string pattern = "^";
    for (char c : module + suffix) {
      if (std::strchr(".^$|()[]{}*+?\\", c)) pattern += '\\';
      pattern += c;
    }
    out.push_back(pattern + "$");
  }
  return out;
}

bool is_repacked_dtype(DType dt) { return dt == DType::Q4_Z || dt == DType::F8_B128 || dt == DType::MXFP4; }

bool is_prequantized_method(std::string_view method) {
  return method == "gptq" || method == "awq" || method == "fp8" || method == "mxfp4" || method == "compressed-tensors" ||
         method == "bitsandbytes";
}

std::optional<PrequantizedConfig> prequantized_checkpoint(const Json& config_json, const std::string& where) {
  if (!config_json.is_object() || !config_json.contains("quantization_config")) return std::nullopt;
  const Json& q = config_json["quantization_config"];
  if (!q.is_object() || !q.contains("quant_method") || !q["quant_method"].is_string()) return std::nullopt;
  const std::string method = q["quant_method"].get<std::string>();
  if (method == "gptq") return gptq_config(q, where);
  if (method == "awq") return awq_config(q, where);
  if (method == "fp8") return fp8_config(q, where);
  if (method == "mxfp4") return PrequantizedConfig{.method = "mxfp4"};
  if (method == "compressed-tensors") return compressed_tensors_config(q, where);
  if (method == "bitsandbytes") {
    const QuantizationConfig b = bitsandbytes_from_json(q, where);
    b.weight_dtype();  // validates
    return PrequantizedConfig{.method = "bitsandbytes",
                              .eight_bit = b.bitsandbytes->load_in_8bit,
                              .int8_threshold = b.bitsandbytes->llm_int8_threshold};
  }
  return std::nullopt;
}

std::string prequantized_marker(const PrequantizedConfig& c) {
  if (c.method == "fp8") return ".weight_scale_inv";
  if (c.method == "mxfp4") return "_blocks";
  if (c.method == "compressed-tensors") return c.scheme == "int4" ? ".weight_packed" : ".weight_scale";
  if (c.method == "bitsandbytes") return bnb_marker(c.eight_bit);
  return ".qweight";
}

std::vector<WeightTransform> prequantized_rules(const PrequantizedConfig& c, const std::vector<std::string>& keys) {
  std::vector<WeightTransform> rules;
  const std::string marker = prequantized_marker(c);
  if (c.method == "gptq")
    add_module_rules(rules, keys, marker, {".qweight", ".qzeros", ".scales", ".g_idx"}, ".weight",
                     std::make_shared<GptqRepackOp>(c));
  else if (c.method == "awq")
    add_module_rules(rules, keys, marker, {".qweight", ".qzeros", ".scales"}, ".weight",
                     std::make_shared<AwqRepackOp>(c));
  else if (c.method == "fp8")
    add_module_rules(rules, keys, marker, {".weight", ".weight_scale_inv"}, ".weight",
                     std::make_shared<Fp8RepackOp>(c));
  else if (c.method == "compressed-tensors" && c.scheme == "int4")
    add_module_rules(rules, keys, marker, {".weight_packed", ".weight_scale", ".weight_shape"}, ".weight",
                     std::make_shared<PackedInt4RepackOp>(c));
  else if (c.method == "compressed-tensors")
    add_module_rules(rules, keys, marker, {".weight", ".weight_scale"}, ".weight", std::make_shared<Fp8RepackOp>(c));
  else if (c.method == "mxfp4")
    add_module_rules(rules, keys, marker, {"_blocks", "_scales"}, "", std::make_shared<Mxfp4RepackOp>(c));
  else if (c.method == "bitsandbytes")
    rules = bnb_rules(c.eight_bit, c.int8_threshold, keys);
  return rules;
}

}  // namespace transformers::loading
