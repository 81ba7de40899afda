#include "transformers/loading/prequantized.h"

#include <cstring>

#include "transformers/core/error.h"
#include "transformers/core/half.h"
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
// scale[g * N + n] (f16 bits), group[k].
struct Int4Matrix {
  int64_t N = 0, K = 0, G = 0;
  std::vector<uint8_t> q, zero;
  const uint16_t* scale = nullptr;
  std::vector<int32_t> group;
};

// Q4_Z when each aligned run of 32 columns has one group, else the exact values in F32.
Tensor pack_int4(const Int4Matrix& m, const std::string& key) {
  TCPP_CHECK(m.K % 32 == 0, ShapeError, "pre-quantized weight '", key, "': ", m.K,
             " input features are not whole blocks of 32");
  bool aligned = true;
  for (int64_t k = 0; k < m.K; ++k) {
    TCPP_CHECK(m.group[k] >= 0 && m.group[k] < m.G, ShapeError, "pre-quantized weight '", key, "': group index ",
               m.group[k], " of input feature ", k, " is outside the ", m.G, " groups of its scales");
    aligned = aligned && m.group[k] == m.group[k / 32 * 32];
  }
  if (!aligned) {
    Tensor out = Tensor::empty({m.N, m.K}, DType::F32);
    float* o = out.data<float>();
    for (int64_t n = 0; n < m.N; ++n)
      for (int64_t k = 0; k < m.K; ++k) {
        const int64_t g = m.group[k];
        o[n * m.K + k] = f16_to_f32_portable(m.scale[g * m.N + n]) *
                         static_cast<float>(m.q[n * m.K + k] - m.zero[g * m.N + n]);
      }
    return out;
  }
  Tensor out = Tensor::empty({m.N, m.K}, DType::Q4_Z);
  auto* b = static_cast<unsigned char*>(out.raw_data());
  for (int64_t n = 0; n < m.N; ++n)
    for (int64_t k = 0; k < m.K; k += 32, b += cpu::kQ4ZBytes) {
      const int64_t g = m.group[k];
      cpu::pack_q4_z_block(&m.q[n * m.K + k], m.scale[g * m.N + n], m.zero[g * m.N + n], b);
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
    m.scale = static_cast<const uint16_t*>(scales.raw_data());
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
    m.scale = static_cast<const uint16_t*>(scales.raw_data());
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
// each 128 codes of a row take the scale of their block.
class Fp8RepackOp : public RepackOp {
 public:
  explicit Fp8RepackOp(PrequantizedConfig c) : RepackOp(std::move(c), "Fp8ToF8B128") {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    const Tensor w = only(in[0], ctx).contiguous(), s = only(in[1], ctx).contiguous();
    TCPP_CHECK(w.dim() == 2 && w.dtype() == DType::F8_E4M3, ShapeError, "tensor '", module_of(ctx, ".weight"), "' is ",
               w.describe(), ", expected F8_E4M3 [out_features, in_features]");
    const int64_t N = w.size(0), K = w.size(1);
    TCPP_CHECK(K % cpu::kF8Block == 0, ShapeError, "tensor '", module_of(ctx, ".weight"), "': ", K,
               " input features are not whole blocks of ", cpu::kF8Block);
    const int64_t SN = (N + c_.block_rows - 1) / c_.block_rows, SK = (K + c_.block_cols - 1) / c_.block_cols;
    expect_tensor(s, DType::F32, {SN, SK}, module_of(ctx, ".weight_scale_inv"));
    Tensor out = Tensor::empty({N, K}, DType::F8_B128);
    auto* b = static_cast<unsigned char*>(out.raw_data());
    const auto* codes = static_cast<const unsigned char*>(w.raw_data());
    const float* scale = s.data<float>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; k += cpu::kF8Block, b += cpu::kF8B128Bytes) {
        std::memcpy(b, &scale[n / c_.block_rows * SK + k / c_.block_cols], 4);
        std::memcpy(b + 4, codes + n * K + k, cpu::kF8Block);
      }
    return {{out}};
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

std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::strchr(".^$|()[]{}*+?\\", c)) out += '\\';
    out += c;
  }
  return out;
}

// A rule per key ending in `marker`: its module's keys module + suffixes -> module + target.
void add_module_rules(std::vector<WeightTransform>& rules, const std::vector<std::string>& keys,
                      const std::string& marker, const std::vector<std::string>& suffixes, const std::string& target,
                      const OpPtr& op) {
  for (const auto& key : keys) {
    if (!key.ends_with(marker)) continue;
    const std::string module = key.substr(0, key.size() - marker.size());
    std::vector<std::string> sources;
    for (const auto& s : suffixes) sources.push_back("^" + regex_escape(module + s) + "$");
    rules.push_back(WeightTransform::converter(sources, {module + target}, {op}));
  }
}

}  // namespace

bool is_prequantized_method(std::string_view method) {
  return method == "gptq" || method == "awq" || method == "fp8" || method == "mxfp4";
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
  return std::nullopt;
}

std::string prequantized_marker(std::string_view method) {
  if (method == "fp8") return ".weight_scale_inv";
  if (method == "mxfp4") return "_blocks";
  return ".qweight";
}

std::vector<WeightTransform> prequantized_rules(const PrequantizedConfig& c, const std::vector<std::string>& keys) {
  std::vector<WeightTransform> rules;
  const std::string marker = prequantized_marker(c.method);
  if (c.method == "gptq")
    add_module_rules(rules, keys, marker, {".qweight", ".qzeros", ".scales", ".g_idx"}, ".weight",
                     std::make_shared<GptqRepackOp>(c));
  else if (c.method == "awq")
    add_module_rules(rules, keys, marker, {".qweight", ".qzeros", ".scales"}, ".weight",
                     std::make_shared<AwqRepackOp>(c));
  else if (c.method == "fp8")
    add_module_rules(rules, keys, marker, {".weight", ".weight_scale_inv"}, ".weight",
                     std::make_shared<Fp8RepackOp>(c));
  else if (c.method == "mxfp4")
    add_module_rules(rules, keys, marker, {"_blocks", "_scales"}, "", std::make_shared<Mxfp4RepackOp>(c));
  return rules;
}

}  // namespace transformers::loading
