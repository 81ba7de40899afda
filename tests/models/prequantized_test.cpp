// Pre-quantized checkpoints (loading/prequantized.h): a random llama-shaped model written in each
// format by packing code written here from the formats' public descriptions (GPTQ's qweight /
// qzeros / scales / g_idx, AWQ's gemm order, FineGrained FP8's 128x128 scale blocks, gpt-oss's
// MXFP4 _blocks / _scales), loaded with from_pretrained, against the f32 model whose weights are
// the dequantised values computed here (scale * (q - zero), e4m3 * scale, e2m1 * 2^(e-127)).
// Bad configs and tensors are errors naming the key or tensor.
#include <cmath>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <map>
#include <numeric>
#include <random>

#include "common/test_util.h"
#include "transformers/core/half.h"
#include "transformers/io/json.h"
#include "transformers/io/safetensors.h"
#include "transformers/loading/conversion_ops.h"
#include "transformers/loading/prequantized.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"

namespace transformers {
namespace {

using testing::expect_error_naming;
using Tensors = std::vector<std::pair<std::string, Tensor>>;

constexpr int64_t kHidden = 128, kInter = 256, kHeads = 4, kKvHeads = 2, kHeadDim = 32, kVocab = 256, kLayers = 2;

Json model_config() {
  return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", kHidden},
          {"intermediate_size", kInter}, {"num_attention_heads", kHeads}, {"num_key_value_heads", kKvHeads},
          {"head_dim", kHeadDim}, {"num_hidden_layers", kLayers}, {"vocab_size", kVocab}, {"rms_norm_eps", 1e-5},
          {"max_position_embeddings", 64}, {"rope_theta", 10000.0}, {"hidden_act", "silu"},
          {"tie_word_embeddings", false}, {"torch_dtype", "float16"}, {"bos_token_id", 1}, {"eos_token_id", 2}};
}

struct LinearShape {
  std::string name;  // without ".weight"
  int64_t N, K;
};
std::vector<LinearShape> linears() {
  std::vector<LinearShape> out;
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "self_attn.q_proj", kHeads * kHeadDim, kHidden});
    out.push_back({p + "self_attn.k_proj", kKvHeads * kHeadDim, kHidden});
    out.push_back({p + "self_attn.v_proj", kKvHeads * kHeadDim, kHidden});
    out.push_back({p + "self_attn.o_proj", kHidden, kHeads * kHeadDim});
    out.push_back({p + "mlp.gate_proj", kInter, kHidden});
    out.push_back({p + "mlp.up_proj", kInter, kHidden});
    out.push_back({p + "mlp.down_proj", kHidden, kInter});
  }
  return out;
}

Tensor random_f32(const Shape& shape, std::mt19937& rng, float mean, float std) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::normal_distribution<float> d(mean, std);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// The parameters that stay in float: embeddings, norms, lm_head.
Tensors float_parameters(std::mt19937& rng) {
  Tensors t{{"model.embed_tokens.weight", random_f32({kVocab, kHidden}, rng, 0, 1)},
            {"model.norm.weight", random_f32({kHidden}, rng, 1, 0.1f)},
            {"lm_head.weight", random_f32({kVocab, kHidden}, rng, 0, 0.1f)}};
  for (int l = 0; l < kLayers; ++l)
    for (const char* n : {"input_layernorm", "post_attention_layernorm"})
      t.emplace_back("model.layers." + std::to_string(l) + "." + n + ".weight", random_f32({kHidden}, rng, 1, 0.1f));
  return t;
}

Tensor i32(const std::vector<int32_t>& v, const Shape& s) { return Tensor::from_values(v, s); }
Tensor u8(const std::vector<uint8_t>& v, const Shape& s) {
  Tensor t = Tensor::empty(s, DType::U8);
  std::memcpy(t.raw_data(), v.data(), v.size());
  return t;
}
Tensor f16(const std::vector<uint16_t>& bits, const Shape& s) {
  Tensor t = Tensor::empty(s, DType::F16);
  std::memcpy(t.raw_data(), bits.data(), bits.size() * 2);
  return t;
}

// A module's checkpoint tensors and its dequantised weight [N, K].
struct Packed {
  Tensors tensors;
  Tensor dequantized;
};

// 4-bit integer quantization state: q[k][n], zero[g][n] (the true zero point), f16 scale[g][n],
// group[k]; W[n][k] = scale[group[k]][n] * (q[k][n] - zero[group[k]][n]).
struct Int4 {
  int64_t N, K, G;
  std::vector<uint8_t> q, zero;
  std::vector<uint16_t> scale;
  std::vector<int32_t> group;
  Tensor dequantize() const {
    Tensor w = Tensor::empty({N, K}, DType::F32);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t g = group[k];
        w.data<float>()[n * K + k] =
            f16_to_f32_portable(scale[g * N + n]) * static_cast<float>(q[k * N + n] - zero[g * N + n]);
      }
    return w;
  }
};

Int4 random_int4(int64_t N, int64_t K, int64_t group_size, int zero_lo, int zero_hi, std::mt19937& rng) {
  Int4 m{N, K, K / group_size, {}, {}, {}, {}};
  std::uniform_int_distribution<int> nib(0, 15), z(zero_lo, zero_hi);
  std::uniform_real_distribution<float> sc(0.002f, 0.02f);
  for (int64_t i = 0; i < K * N; ++i) m.q.push_back(static_cast<uint8_t>(nib(rng)));
  for (int64_t i = 0; i < m.G * N; ++i) {
    m.zero.push_back(static_cast<uint8_t>(z(rng)));
    m.scale.push_back(f32_to_f16_portable(sc(rng)));
  }
  for (int64_t k = 0; k < K; ++k) m.group.push_back(static_cast<int32_t>(k / group_size));
  return m;
}

struct GptqOptions {
  int64_t group_size = 32;
  bool v1 = true;         // checkpoint_format gptq: qzeros hold zero - 1
  bool act_order = false;  // g_idx from a random column order (desc_act)
};

// GPTQ: qweight int32 [K/8, N]: rows k = 8i..8i+7 of column n in bits 4j of qweight[i][n];
// qzeros int32 [G, N/8]: zero of output n in bits 4 (n % 8) of qzeros[g][n / 8]; scales f16
// [G, N]; g_idx int32 [K].
Packed gptq_module(const LinearShape& s, const GptqOptions& o, std::mt19937& rng) {
  Int4 m = random_int4(s.N, s.K, o.group_size, o.v1 ? 1 : 0, o.v1 ? 16 : 15, rng);
  if (o.act_order) {  // GPTQ quantizes columns in a Hessian order; group = position in it / size
    std::vector<int32_t> order(static_cast<size_t>(s.K));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t i = 0; i < s.K; ++i) m.group[order[i]] = static_cast<int32_t>(i / o.group_size);
  }
  std::vector<int32_t> qweight(s.K / 8 * s.N, 0), qzeros(m.G * s.N / 8, 0);
  for (int64_t k = 0; k < s.K; ++k)
    for (int64_t n = 0; n < s.N; ++n)
      qweight[k / 8 * s.N + n] |= static_cast<int32_t>(static_cast<uint32_t>(m.q[k * s.N + n]) << (4 * (k % 8)));
  for (int64_t g = 0; g < m.G; ++g)
    for (int64_t n = 0; n < s.N; ++n) {
      const uint32_t stored = m.zero[g * s.N + n] - (o.v1 ? 1 : 0);
      qzeros[g * s.N / 8 + n / 8] |= static_cast<int32_t>(stored << (4 * (n % 8)));
    }
  return {{{s.name + ".qweight", i32(qweight, {s.K / 8, s.N})},
           {s.name + ".qzeros", i32(qzeros, {m.G, s.N / 8})},
           {s.name + ".scales", f16(m.scale, {m.G, s.N})},
           {s.name + ".g_idx", i32(m.group, {s.K})}},
          m.dequantize()};
}

// AWQ gemm: qweight int32 [K, N/8] and qzeros [G, N/8] packed along the outputs: nibble i of word
// j holds output 8 j + kOrder[i], kOrder = 0 2 4 6 1 3 5 7; scales f16 [G, N].
Packed awq_module(const LinearShape& s, int64_t group_size, std::mt19937& rng) {
  static constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  Int4 m = random_int4(s.N, s.K, group_size, 0, 15, rng);
  auto pack = [&](const std::vector<uint8_t>& v, int64_t rows) {
    std::vector<int32_t> out(rows * s.N / 8, 0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < s.N / 8; ++j)
        for (int i = 0; i < 8; ++i)
          out[r * s.N / 8 + j] |= static_cast<int32_t>(static_cast<uint32_t>(v[r * s.N + 8 * j + kOrder[i]]) << (4 * i));
    return out;
  };
  return {{{s.name + ".qweight", i32(pack(m.q, s.K), {s.K, s.N / 8})},
           {s.name + ".qzeros", i32(pack(m.zero, m.G), {m.G, s.N / 8})},
           {s.name + ".scales", f16(m.scale, {m.G, s.N})}},
          m.dequantize()};
}

// OCP E4M3 from its bit fields (bias 7, subnormals 2^-6 * m / 8).
float e4m3_value(uint8_t c) {
  const int e = (c >> 3) & 15, m = c & 7;
  const float mag = e == 0 ? std::ldexp(m / 8.0f, -6) : std::ldexp(1.0f + m / 8.0f, e - 7);
  return c & 0x80 ? -mag : mag;
}

// FineGrained FP8: weight e4m3 [N, K]; weight_scale_inv f32 [ceil(N/128), ceil(K/128)].
// compressed-tensors float-quantized by channel: weight_scale bf16 [N, 1] (rows 1, cols K).
struct Fp8Layout {
  int64_t rows = 128, cols = 128;  // cols -1: the whole row
  bool bf16_scale = false;
  const char* scale_key = ".weight_scale_inv";
};
Packed fp8_module(const LinearShape& s, std::mt19937& rng, const Fp8Layout& l = {}) {
  const int64_t rows = l.rows, cols = l.cols < 0 ? s.K : l.cols;
  const int64_t SN = (s.N + rows - 1) / rows, SK = (s.K + cols - 1) / cols;
  std::uniform_int_distribution<int> code(0, 255);
  std::uniform_real_distribution<float> sc(0.0005f, 0.002f);
  Tensor w = Tensor::empty({s.N, s.K}, DType::F8_E4M3), scale = Tensor::empty({SN, SK}, DType::F32);
  auto* codes = static_cast<uint8_t*>(w.raw_data());
  for (int64_t i = 0; i < s.N * s.K; ++i) {
    int c = code(rng);
    codes[i] = static_cast<uint8_t>((c & 0x7f) == 0x7f ? c - 1 : c);  // no NaN
  }
  for (int64_t i = 0; i < SN * SK; ++i)
    scale.data<float>()[i] = l.bf16_scale ? bf16_to_f32(f32_to_bf16(sc(rng))) : sc(rng);
  Tensor deq = Tensor::empty({s.N, s.K}, DType::F32);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k)
      deq.data<float>()[n * s.K + k] = e4m3_value(codes[n * s.K + k]) * scale.data<float>()[n / rows * SK + k / cols];
  if (l.bf16_scale) {
    Tensor b = Tensor::empty({SN, SK}, DType::BF16);
    for (int64_t i = 0; i < SN * SK; ++i) static_cast<uint16_t*>(b.raw_data())[i] = f32_to_bf16(scale.data<float>()[i]);
    scale = b;
  }
  return {{{s.name + ".weight", w}, {s.name + l.scale_key, scale}}, deq};
}

// MXFP4 (gpt-oss): NAME_blocks u8 [N, K/32, 16], element 2i the low nibble of byte i; NAME_scales
// e8m0 [N, K/32]; x = e2m1 * 2^(e - 127).
Packed mxfp4_module(const LinearShape& s, std::mt19937& rng) {
  static constexpr float kE2M1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  std::uniform_int_distribution<int> byte(0, 255), exp(118, 124);
  std::vector<uint8_t> blocks(s.N * s.K / 2), scales(s.N * s.K / 32);
  for (auto& b : blocks) b = static_cast<uint8_t>(byte(rng));
  for (auto& e : scales) e = static_cast<uint8_t>(exp(rng));
  Tensor deq = Tensor::empty({s.N, s.K}, DType::F32);
  for (int64_t i = 0; i < s.N * s.K; ++i) {
    const uint8_t nib = i % 2 ? blocks[i / 2] >> 4 : blocks[i / 2] & 15;
    deq.data<float>()[i] = (nib & 8 ? -1 : 1) * kE2M1[nib & 7] * std::ldexp(1.0f, scales[i / 32] - 127);
  }
  return {{{s.name + ".weight_blocks", u8(blocks, {s.N, s.K / 32, 16})},
           {s.name + ".weight_scales", u8(scales, {s.N, s.K / 32})}},
          deq};
}

// compressed-tensors pack-quantized, symmetric int4: weight_packed int32 [N, K/8] with input k in
// bits 4 (k % 8) of word k / 8, as q + 8; weight_scale f16 [N, G]; weight_shape int64 [N, K].
Packed pack_quantized_module(const LinearShape& s, int64_t group_size, std::mt19937& rng) {
  Int4 m = random_int4(s.N, s.K, group_size, 8, 8, rng);  // the offset code: zero 8
  std::vector<int32_t> packed(s.N * s.K / 8, 0);
  std::vector<uint16_t> scale(s.N * m.G);
  for (int64_t n = 0; n < s.N; ++n) {
    for (int64_t k = 0; k < s.K; ++k)
      packed[n * s.K / 8 + k / 8] |= static_cast<int32_t>(static_cast<uint32_t>(m.q[k * s.N + n]) << (4 * (k % 8)));
    for (int64_t g = 0; g < m.G; ++g) scale[n * m.G + g] = m.scale[g * s.N + n];
  }
  return {{{s.name + ".weight_packed", i32(packed, {s.N, s.K / 8})},
           {s.name + ".weight_scale", f16(scale, {s.N, m.G})},
           {s.name + ".weight_shape", Tensor::from_values(std::vector<int64_t>{s.N, s.K}, {2})}},
          m.dequantize()};
}

std::filesystem::path write_model(const std::string& name, const Json& config, const Tensors& tensors) {
  const auto dir = testing::scratch_dir(name);
  std::ofstream(dir / "config.json") << config.dump();
  save_safetensors(dir / "model.safetensors", tensors);
  return dir;
}

// The checkpoint in a format and the f32 checkpoint of its dequantised weights.
struct Pair {
  std::filesystem::path quantized, reference;
};
Pair write_pair(const std::string& name, const Json& quantization_config,
                const std::function<Packed(const LinearShape&, std::mt19937&)>& pack) {
  std::mt19937 rng(42);
  Tensors q = float_parameters(rng), ref = q;
  for (const auto& s : linears()) {
    Packed p = pack(s, rng);
    q.insert(q.end(), p.tensors.begin(), p.tensors.end());
    ref.emplace_back(s.name + ".weight", p.dequantized);
  }
  Json config = model_config();
  Json ref_config = config;
  config["quantization_config"] = quantization_config;
  return {write_model(name, config, q), write_model(name + "_ref", ref_config, ref)};
}

// Logits of both over two batches (one row: the GEMV side; 12 rows: the GEMM side), within 1e-5.
void expect_same_logits(const Pair& p, const std::string& method, DType weight_dtype) {
  LoadReport report;
  auto q = AutoModelForCausalLM::from_pretrained(p.quantized, {.dtype = "float32"}, &report);
  auto ref = AutoModelForCausalLM::from_pretrained(p.reference, {.dtype = "float32"});
  EXPECT_EQ(report.quantization, method);
  EXPECT_EQ(report.quantized, linears().size()) << report.to_string();
  for (const auto& param : q->named_parameters())
    if (param.name.ends_with("q_proj.weight")) {
      EXPECT_EQ(param.tensor->dtype(), weight_dtype) << param.name;
    }
  std::vector<int64_t> ids(12);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(3 + 19 * i % 250);
  for (int64_t len : {1, 12}) {
    const Tensor x = Tensor::from_values(std::vector<int64_t>(ids.begin(), ids.begin() + len), {1, len});
    const Tensor want = ref->forward(x).logits;
    const float err = testing::max_abs_diff(q->forward(x).logits, want);
    std::printf("%-22s %-8s len %2lld: logits max |err| %.2e (max |logit| %.2f)\n", p.quantized.filename().c_str(),
                std::string(dtype_safetensors_name(weight_dtype)).c_str(), static_cast<long long>(len), err,
                testing::max_abs(want));
    EXPECT_LE(err, 1e-5f) << method << " len " << len;
  }
}

Json gptq_config(const GptqOptions& o) {
  return {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", o.group_size}, {"sym", false},
          {"desc_act", o.act_order}, {"checkpoint_format", o.v1 ? "gptq" : "gptq_v2"}};
}

TEST(Prequantized, GptqV1AndV2MatchTheDequantisedModel) {
  for (bool v1 : {true, false}) {
    const GptqOptions o{.group_size = 32, .v1 = v1};
    expect_same_logits(write_pair(v1 ? "gptq_v1" : "gptq_v2", gptq_config(o),
                                  [&](const LinearShape& s, std::mt19937& rng) { return gptq_module(s, o, rng); }),
                       "gptq", DType::Q4_Z);
  }
}

// A repacked model has no checkpoint layout to return to: save_pretrained refuses it by name.
TEST(Prequantized, SavingARepackedModelIsRefused) {
  const GptqOptions o;
  const Pair p = write_pair("gptq_save", gptq_config(o),
                            [&](const LinearShape& s, std::mt19937& rng) { return gptq_module(s, o, rng); });
  auto m = AutoModelForCausalLM::from_pretrained(p.quantized, {.dtype = "float32"});
  expect_error_naming<NotImplementedError>([&] { save_pretrained(*m, testing::scratch_dir("gptq_saved")); },
                                           "q_proj.weight' is Q4_Z, repacked from a pre-quantized checkpoint");
}

TEST(Prequantized, GptqGroupSize128AndPerRow) {
  for (int64_t gs : {128, -1}) {
    const GptqOptions o{.group_size = gs};
    expect_same_logits(write_pair("gptq_g" + std::to_string(gs), gptq_config(o),
                                  [&](const LinearShape& s, std::mt19937& rng) {
                                    GptqOptions per = o;
                                    per.group_size = gs == -1 ? s.K : gs;  // one group: g_idx all 0
                                    return gptq_module(s, per, rng);
                                  }),
                       "gptq", DType::Q4_Z);
  }
}

// desc_act: act-order groups are scattered over the columns, so no 32-column block has one scale:
// the loader keeps the exact values in F32 (prequantized.h).
TEST(Prequantized, GptqActOrderIsExact) {
  const GptqOptions o{.group_size = 32, .act_order = true};
  expect_same_logits(write_pair("gptq_act", gptq_config(o),
                                [&](const LinearShape& s, std::mt19937& rng) { return gptq_module(s, o, rng); }),
                     "gptq", DType::F32);
}

TEST(Prequantized, AwqGemmMatchesTheDequantisedModel) {
  const Json qc = {{"quant_method", "awq"}, {"bits", 4}, {"group_size", 64}, {"version", "gemm"}, {"zero_point", true}};
  expect_same_logits(write_pair("awq", qc, [](const LinearShape& s, std::mt19937& rng) { return awq_module(s, 64, rng); }),
                     "awq", DType::Q4_Z);
}

TEST(Prequantized, FineGrainedFp8MatchesTheDequantisedModel) {
  const Json qc = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"},
                   {"weight_block_size", {128, 128}}};
  expect_same_logits(write_pair("fp8", qc, [](const LinearShape& s, std::mt19937& rng) { return fp8_module(s, rng); }),
                     "fp8", DType::F8_B128);
}

TEST(Prequantized, Mxfp4LinearWeightsMatchTheDequantisedModel) {
  expect_same_logits(write_pair("mxfp4", {{"quant_method", "mxfp4"}}, mxfp4_module), "mxfp4", DType::MXFP4);
}

Json compressed_tensors_config(const char* format, const Json& weights) {
  return {{"quant_method", "compressed-tensors"}, {"format", format},
          {"config_groups", {{"group_0", {{"targets", {"Linear"}}, {"weights", weights}}}}},
          {"ignore", {"lm_head"}}};
}

TEST(Prequantized, CompressedTensorsInt4AndFp8MatchTheDequantisedModel) {
  const Json int4 = {{"num_bits", 4}, {"type", "int"}, {"symmetric", true}, {"strategy", "group"}, {"group_size", 32}};
  expect_same_logits(write_pair("ct_int4", compressed_tensors_config("pack-quantized", int4),
                                [](const LinearShape& s, std::mt19937& rng) {
                                  return pack_quantized_module(s, 32, rng);
                                }),
                     "compressed-tensors", DType::Q4_Z);
  const Json fp8 = {{"num_bits", 8}, {"type", "float"}, {"strategy", "channel"}};
  expect_same_logits(write_pair("ct_fp8", compressed_tensors_config("float-quantized", fp8),
                                [](const LinearShape& s, std::mt19937& rng) {
                                  return fp8_module(s, rng, {.rows = 1, .cols = -1, .bf16_scale = true,
                                                             .scale_key = ".weight_scale"});
                                }),
                     "compressed-tensors", DType::F8_B128);
  Json asym = int4;
  asym["symmetric"] = false;
  expect_error_naming<NotImplementedError>(
      [&] {
        AutoModelForCausalLM::from_pretrained(
            write_pair("ct_asym", compressed_tensors_config("pack-quantized", asym),
                       [](const LinearShape& s, std::mt19937& rng) { return pack_quantized_module(s, 32, rng); })
                .quantized);
      },
      "quantization_config.config_groups.group_0.weights (4-bit int, group, asymmetric) is not supported");
}

TEST(Prequantized, BadConfigsAndTensorsNameTheKey) {
  const auto gptq = [](const LinearShape& s, std::mt19937& rng) { return gptq_module(s, {}, rng); };
  auto load = [](const Pair& p) { AutoModelForCausalLM::from_pretrained(p.quantized, {.dtype = "float32"}); };
  Json qc = gptq_config({});
  qc["bits"] = 8;
  expect_error_naming<NotImplementedError>([&] { load(write_pair("bad_bits", qc, gptq)); },
                                           "quantization_config.bits = 8 is not supported for gptq");
  qc = gptq_config({});
  qc["group_size"] = 48;
  // Op errors come back as ValueError naming the target key; the module that fails first varies.
  expect_error_naming<ValueError>([&] { load(write_pair("bad_group", qc, gptq)); },
                                  "quantization_config.group_size 48 does not divide the ");
  expect_error_naming<ValueError>([&] { load(write_pair("bad_group", qc, gptq)); }, "_proj.qweight'");
  // scales of the wrong shape: [G, N] transposed.
  auto transposed = [](const LinearShape& s, std::mt19937& rng) {
    Packed p = gptq_module(s, {}, rng);
    for (auto& [k, t] : p.tensors)
      if (k.ends_with(".scales")) t = t.transpose(0, 1).contiguous();
    return p;
  };
  expect_error_naming<ValueError>([&] { load(write_pair("bad_scales", gptq_config({}), transposed)); },
                                  ".scales' is float16[");
  expect_error_naming<NotImplementedError>(
      [&] {
        load(write_pair("bad_awq", {{"quant_method", "awq"}, {"bits", 4}, {"version", "gemv"}},
                        [](const LinearShape& s, std::mt19937& rng) { return awq_module(s, 128, rng); }));
      },
      "quantization_config.version 'gemv' is not supported for awq");
  expect_error_naming<NotImplementedError>(
      [&] { load(write_pair("bad_fp8", {{"quant_method", "fp8"}}, mxfp4_module)); },
      "quantization_config.weight_block_size must be [rows, cols]");
  expect_error_naming<NotImplementedError>(
      [&] { load(write_pair("bad_method", {{"quant_method", "hqq"}}, mxfp4_module)); },
      "quant_method 'hqq' is not supported");
  // A gptq config over float weights: nothing to repack is an error, not a silent float load.
  expect_error_naming<FormatError>(
      [&] { load(write_pair("gptq_float", gptq_config({}), mxfp4_module)); },
      "quant_method is 'gptq' but the checkpoint has no tensor in that format (.qweight)");
}

// Found by fuzz/prequant_repack.cpp: a per-channel fp8 weight with no input features divided by
// its zero-width block; a block size near INT64_MAX overflowed the rounded-up block count.
TEST(Prequantized, Fp8WeightsWithoutColumnsOrWithHugeBlocksAreShapeErrors) {
  const std::string m = "model.layers.0.self_attn.q_proj";
  auto repack = [&](const loading::PrequantizedConfig& c, const Tensor& w, const Tensor& s) {
    const auto rules = loading::prequantized_rules(c, {m + ".weight", m + ".weight_scale"});
    ASSERT_EQ(rules.size(), 1u);
    loading::TensorGroups groups{{w}, {s}};
    loading::ConversionContext ctx;
    ctx.target_key = m + ".weight";
    for (const auto& op : rules[0].operations()) groups = op->convert(std::move(groups), ctx);
  };
  const loading::PrequantizedConfig per_channel{.method = "compressed-tensors", .scheme = "fp8", .block_rows = 1,
                                                .block_cols = -1};
  expect_error_naming<ShapeError>(
      [&] { repack(per_channel, Tensor::zeros({4, 0}, DType::F8_E4M3), Tensor::zeros({4, 1}, DType::F32)); },
      "0 input features are not whole blocks of 128");
  // A block of INT64_MAX rows and columns: one scale for the whole matrix.
  const loading::PrequantizedConfig huge{.method = "compressed-tensors", .scheme = "fp8",
                                         .block_rows = INT64_MAX, .block_cols = INT64_MAX / 128 * 128};
  repack(huge, Tensor::zeros({4, 128}, DType::F8_E4M3), Tensor::zeros({1, 1}, DType::F32));
  expect_error_naming<ShapeError>(
      [&] { repack(huge, Tensor::zeros({4, 128}, DType::F8_E4M3), Tensor::zeros({2, 1}, DType::F32)); },
      "expected a float tensor [1, 1]");
}

// ---- bitsandbytes' serialized layout (loading/bnb_serialized.h), packed here from the layout of
// Transformers' save_pretrained (QuantState.as_dict(packed=True), Int8Params' CB / SCB).

// NF4 as published (QLoRA, appendix E; bitsandbytes' get_4bit_type table).
constexpr float kNf4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

Tensor text_tensor(const std::string& s) {
  return u8(std::vector<uint8_t>(s.begin(), s.end()), {static_cast<int64_t>(s.size())});
}

// Random nibbles and absmax packed as bitsandbytes stores them; nested: the absmax as 8-bit
// indices into a made-up nested code (the file's nested_quant_map is what counts) with an
// nested_absmax per 256 and an offset. W = code[q] * absmax, absmax = ncode[a] * nested + offset.
Packed bnb4_module(const LinearShape& s, bool nested, std::mt19937& rng) {
  const int64_t n = s.N * s.K, blocks = n / 64;
  std::uniform_int_distribution<int> nib(0, 15), byte(0, 255);
  std::uniform_real_distribution<float> u(0.05f, 0.5f);
  std::vector<uint8_t> q(n), packed(n / 2), qa(blocks);
  for (auto& v : q) v = static_cast<uint8_t>(nib(rng));
  for (int64_t j = 0; j < n / 2; ++j) packed[j] = static_cast<uint8_t>(q[2 * j] << 4 | q[2 * j + 1]);
  std::vector<float> absmax(blocks), ncode(256), nabs((blocks + 255) / 256);
  const float offset = 0.25f;
  for (int i = 0; i < 256; ++i) ncode[i] = -1.0f + 2.0f * static_cast<float>(i) / 255.0f;
  for (auto& v : nabs) v = u(rng) / 4;
  for (int64_t i = 0; i < blocks; ++i) {
    qa[i] = static_cast<uint8_t>(byte(rng));
    absmax[i] = nested ? ncode[qa[i]] * nabs[i / 256] + offset : u(rng);
  }
  Tensor w = Tensor::empty({s.N, s.K}, DType::F32);
  for (int64_t i = 0; i < n; ++i) w.data<float>()[i] = kNf4[q[i]] * absmax[i / 64];
  const std::string k = s.name + ".weight";
  std::string state = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [" +
                      std::to_string(s.N) + ", " + std::to_string(s.K) + "]";
  Tensors t{{k, u8(packed, {n / 2, 1})}, {k + ".quant_map", Tensor::from_values(std::vector<float>(kNf4, kNf4 + 16), {16})}};
  if (nested) {
    state += ", \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.25";
    t.emplace_back(k + ".absmax", u8(qa, {blocks}));
    t.emplace_back(k + ".nested_absmax", Tensor::from_values(nabs, {static_cast<int64_t>(nabs.size())}));
    t.emplace_back(k + ".nested_quant_map", Tensor::from_values(ncode, {256}));
  } else {
    t.emplace_back(k + ".absmax", Tensor::from_values(absmax, {blocks}));
  }
  t.emplace_back(k + ".quant_state.bitsandbytes__nf4", text_tensor(state + "}"));
  return {t, w};
}

// Random CB in [-127, 127] and SCB: W = CB * SCB / 127 (int8_vectorwise_dequant).
Packed bnb8_module(const LinearShape& s, std::mt19937& rng) {
  std::uniform_int_distribution<int> c(-127, 127);
  std::uniform_real_distribution<float> u(0.1f, 2.0f);
  Tensor cb = Tensor::empty({s.N, s.K}, DType::I8), scb = Tensor::empty({s.N}, DType::F32);
  Tensor w = Tensor::empty({s.N, s.K}, DType::F32);
  auto* q = static_cast<int8_t*>(cb.raw_data());
  for (int64_t n = 0; n < s.N; ++n) {
    scb.data<float>()[n] = u(rng);
    for (int64_t k = 0; k < s.K; ++k) {
      q[n * s.K + k] = static_cast<int8_t>(c(rng));
      w.data<float>()[n * s.K + k] = q[n * s.K + k] * scb.data<float>()[n] / 127.0f;
    }
  }
  return {{{s.name + ".weight", cb}, {s.name + ".SCB", scb}, {s.name + ".weight_format", u8({0}, {})}}, w};
}

const Json kBnb4 = {{"quant_method", "bitsandbytes"}, {"load_in_4bit", true}, {"bnb_4bit_quant_type", "nf4"}};

TEST(BitsAndBytesLayout, FourBitFilesMatchTheDequantisedModel) {
  for (bool nested : {false, true}) {
    Json qc = kBnb4;
    qc["bnb_4bit_use_double_quant"] = nested;
    expect_same_logits(write_pair(nested ? "bnb4_nested" : "bnb4", qc,
                                  [&](const LinearShape& s, std::mt19937& rng) { return bnb4_module(s, nested, rng); }),
                       "bitsandbytes", DType::NF4);
  }
}

// 8-bit: the loaded matrices are the checkpoint's CB * SCB / 127; the logits are LLM.int8's
// (int8 activations), close to the dequantised model's.
TEST(BitsAndBytesLayout, EightBitFilesHoldTheCheckpointsWeights) {
  const Pair p = write_pair("bnb8", {{"quant_method", "bitsandbytes"}, {"load_in_8bit", true}, {"llm_int8_threshold", 3.0}},
                            bnb8_module);
  LoadReport report;
  auto q = AutoModelForCausalLM::from_pretrained(p.quantized, {.dtype = "float32"}, &report);
  auto ref = AutoModelForCausalLM::from_pretrained(p.reference, {.dtype = "float32"});
  EXPECT_EQ(report.quantized, linears().size()) << report.to_string();
  std::map<std::string, Tensor> want;
  for (const auto& r : ref->named_parameters()) want[r.name] = *r.tensor;
  size_t checked = 0;
  for (const auto& param : q->named_parameters()) {
    if (param.tensor->dtype() != DType::LLM_INT8) continue;
    float threshold;
    std::memcpy(&threshold, static_cast<const char*>(param.tensor->raw_data()) + 4, 4);
    EXPECT_EQ(threshold, 3.0f) << param.name;
    EXPECT_LE(testing::max_abs_diff(ops::cast(*param.tensor, DType::F32), want.at(param.name)), 1e-5f) << param.name;
    ++checked;
  }
  EXPECT_EQ(checked, linears().size());
  const Tensor x = Tensor::from_values(std::vector<int64_t>{5, 17, 99, 3}, {1, 4});
  const Tensor wl = ref->forward(x).logits;
  const float err = testing::max_abs_diff(q->forward(x).logits, wl);
  std::printf("bnb8: logits vs the dequantised model max |err| %.4f (max |logit| %.2f)\n", err, testing::max_abs(wl));
  EXPECT_LE(err, 0.05f * testing::max_abs(wl));
}

// save_pretrained under a BitsAndBytesConfig writes bitsandbytes' tensors; loading them gives the
// same bytes and logits (nf4, nf4 with double quant, fp4, 8-bit).
TEST(BitsAndBytesLayout, SaveLoadRoundTrip) {
  const auto golden = testing::shared_path("golden/llama");
  const BitsAndBytesConfig configs[] = {
      {.load_in_4bit = true, .bnb_4bit_quant_type = "nf4"},
      {.load_in_4bit = true, .bnb_4bit_quant_type = "nf4", .bnb_4bit_use_double_quant = true},
      {.load_in_4bit = true, .bnb_4bit_quant_type = "fp4"},
      {.load_in_8bit = true, .llm_int8_threshold = 2.0f}};
  int i = 0;
  for (const auto& b : configs) {
    const std::string what = QuantizationConfig(b).label() + (b.bnb_4bit_use_double_quant ? " double quant" : "");
    auto m = AutoModelForCausalLM::from_pretrained(golden, {.quantization_config = b});
    const auto dir = testing::scratch_dir("bnb_round_trip_" + std::to_string(i++));
    SaveOptions so;
    so.quantization_config = b;
    save_pretrained(*m, dir, so);
    const auto file = SafetensorsFile::open(dir / "model.safetensors");
    const std::string q = "model.layers.0.self_attn.q_proj";
    auto has = [&](const std::string& k) { return file->contains(k); };
    const Tensor w = file->tensor(q + ".weight");  // q_proj: [64, 64]
    if (b.load_in_8bit) {
      EXPECT_TRUE(has(q + ".SCB") && has(q + ".weight_format")) << what;
      EXPECT_EQ(w.dtype(), DType::I8);
      EXPECT_EQ(w.shape(), Shape({64, 64}));
    } else {
      EXPECT_EQ(w.dtype(), DType::U8);
      EXPECT_EQ(w.shape(), Shape({64 * 64 / 2, 1}));
      EXPECT_TRUE(has(q + ".weight.absmax") && has(q + ".weight.quant_map") &&
                  has(q + ".weight.quant_state.bitsandbytes__" + b.bnb_4bit_quant_type))
          << what;
    }
    LoadReport report;
    auto back = AutoModelForCausalLM::from_pretrained(dir, {}, &report);
    EXPECT_EQ(report.quantized, 14u) << what;
    std::map<std::string, Tensor> saved;
    for (const auto& p : m->named_parameters()) saved[p.name] = *p.tensor;
    for (const auto& p : back->named_parameters()) {
      const Tensor& t = saved.at(p.name);
      ASSERT_EQ(p.tensor->dtype(), t.dtype()) << what << " " << p.name;
      ASSERT_EQ(p.tensor->nbytes(), t.nbytes());
      EXPECT_EQ(0, std::memcmp(p.tensor->raw_data(), t.raw_data(), t.nbytes())) << what << " " << p.name;
    }
    const Tensor x = Tensor::from_values(std::vector<int64_t>{5, 17, 99, 3, 42, 7}, {1, 6});
    EXPECT_EQ(testing::max_abs_diff(back->forward(x).logits, m->forward(x).logits), 0.0f) << what;
  }
}

TEST(BitsAndBytesLayout, BadTensorsNameTheTensor) {
  auto load = [](const Pair& p) { AutoModelForCausalLM::from_pretrained(p.quantized, {.dtype = "float32"}); };
  auto with = [](const std::function<void(Tensors&)>& edit) {
    return [edit](const LinearShape& s, std::mt19937& rng) {
      Packed p = bnb4_module(s, false, rng);
      edit(p.tensors);
      return p;
    };
  };
  auto state_is = [&](const std::string& text) {
    return with([text](Tensors& t) {
      for (auto& [k, v] : t)
        if (k.ends_with("__nf4")) v = text_tensor(text);
    });
  };
  expect_error_naming<ValueError>(
      [&] {
        load(write_pair("bnb_bad_json", kBnb4, state_is("{\"quant_type\": \"nf4\", \"blocksize")));
      },
      ".weight.quant_state.bitsandbytes__nf4' does not hold a JSON quant_state");
  expect_error_naming<ValueError>(
      [&] {
        load(write_pair("bnb_bad_absmax", kBnb4, with([](Tensors& t) {
                          for (auto& [k, v] : t)
                            if (k.ends_with(".absmax")) v = v.slice(0, 0, v.size(0) - 1).contiguous();
                        })));
      },
      ".weight.absmax' is float32[");
  expect_error_naming<ValueError>(
      [&] {
        load(write_pair("bnb_bad_shape", kBnb4,
                        state_is("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float16\", \"shape\": [1, 64]}")));
      },
      "_proj.weight' is uint8[");
  expect_error_naming<ValueError>(
      [&] {
        load(write_pair("bnb_bad_block", kBnb4,
                        state_is("{\"quant_type\": \"nf4\", \"blocksize\": 128, \"shape\": [1, 128]}")));
      },
      "blocksize 128 is not supported");
  expect_error_naming<ValueError>(
      [&] {
        load(write_pair("bnb8_bad_scb", {{"quant_method", "bitsandbytes"}, {"load_in_8bit", true}},
                        [](const LinearShape& s, std::mt19937& rng) {
                          Packed p = bnb8_module(s, rng);
                          for (auto& [k, v] : p.tensors)
                            if (k.ends_with(".SCB")) v = Tensor::zeros({s.N + 1}, DType::F32);
                          return p;
                        }));
      },
      ".SCB' is float32[");
}

}  // namespace
}  // namespace transformers
