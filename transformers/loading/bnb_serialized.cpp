#include "transformers/loading/bnb_serialized.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "transformers/core/error.h"
#include "transformers/io/json.h"
#include "transformers/loading/prequantized.h"
#include "transformers/ops/cpu/bnb_blocks.h"
#include "transformers/ops/cpu/llm_int8.h"

namespace transformers::loading {

namespace {

constexpr const char* kQuantStateMarker = ".weight.quant_state.bitsandbytes__";

const Tensor& single(const std::vector<Tensor>& group, const std::string& key) {
  TCPP_CHECK(group.size() == 1, ValueError, "bitsandbytes tensor '", key, "': expected one tensor");
  return group[0];
}

void expect(bool ok, const std::string& key, const Tensor& t, const std::string& want) {
  TCPP_CHECK(ok, ShapeError, "bitsandbytes tensor '", key, "' is ", t.describe(), ", expected ", want);
}

int64_t json_int(const Json& j, const char* field, const std::string& key) {
  TCPP_CHECK(j.contains(field) && j[field].is_number_integer(), FormatError, "bitsandbytes tensor '", key,
             "': quant_state field '", field, "' must be an integer");
  return j[field].get<int64_t>();
}

// The quant_state tensor: uint8 bytes of a JSON object (bitsandbytes' pack_dict_to_tensor).
Json quant_state_json(const Tensor& t, const std::string& key) {
  expect(t.dtype() == DType::U8 && t.dim() == 1, key, t, "uint8 [bytes] holding JSON");
  const std::string text(static_cast<const char*>(t.raw_data()), static_cast<size_t>(t.numel()));
  Json j;
  try {
    j = parse_json(text, "bitsandbytes tensor '" + key + "'");
  } catch (const Error& e) {
    throw FormatError(detail::concat("bitsandbytes tensor '", key, "' does not hold a JSON quant_state: ", e.what()));
  }
  TCPP_CHECK(j.is_object(), FormatError, "bitsandbytes tensor '", key, "': quant_state must be a JSON object");
  return j;
}

// Params4bit of one module: sources weight, absmax, quant_map, quant_state[, nested_absmax,
// nested_quant_map] -> an NF4 / FP4 [N, K] tensor.
class Bnb4bitRepackOp : public ConversionOp {
 public:
  Bnb4bitRepackOp(std::string module, std::string quant_type, bool nested)
      : module_(std::move(module)), type_(std::move(quant_type)), nested_(nested) {}
  OpPtr reverse() const override { throw NotImplementedError("bitsandbytes tensors are written by save_pretrained"); }
  std::string describe() const override { return "BitsAndBytes4bitToBlocks"; }

  TensorGroups convert(TensorGroups in, const ConversionContext&) const override {
    const std::string wkey = module_ + ".weight", state_key = wkey + ".quant_state.bitsandbytes__" + type_;
    const Json qs = quant_state_json(single(in[3], state_key).contiguous(), state_key);
    TCPP_CHECK(qs.contains("quant_type") && qs["quant_type"] == type_, FormatError, "bitsandbytes tensor '", state_key,
               "': quant_type must be '", type_, "' (the tensor's name)");
    const int64_t blocksize = json_int(qs, "blocksize", state_key);
    TCPP_CHECK(blocksize == cpu::kBnbBlock, NotImplementedError, "bitsandbytes tensor '", state_key, "': blocksize ",
               blocksize, " is not supported (", cpu::kBnbBlock, ")");
    TCPP_CHECK(qs.contains("shape") && qs["shape"].is_array() && qs["shape"].size() == 2 &&
                   qs["shape"][0].is_number_integer() && qs["shape"][1].is_number_integer(),
               FormatError, "bitsandbytes tensor '", state_key, "': quant_state shape must be [out, in]");
    const int64_t N = qs["shape"][0].get<int64_t>(), K = qs["shape"][1].get<int64_t>();
    TCPP_CHECK(N > 0 && K > 0 && K % cpu::kBnbBlock == 0 && N <= (int64_t{1} << 40) / K, NotImplementedError,
               "bitsandbytes tensor '", state_key, "': shape [", N, ", ", K, "]: in_features must be a positive ",
               "multiple of ", cpu::kBnbBlock, " (a block inside one row)");
    const int64_t blocks = N * K / cpu::kBnbBlock;
    const Tensor w = single(in[0], wkey).contiguous();
    expect(w.dtype() == DType::U8 && w.numel() == N * K / 2, wkey, w,
           detail::concat("uint8 [", N * K / 2, ", 1] (shape [", N, ", ", K, "] packed two per byte)"));
    const Tensor map = single(in[2], wkey + ".quant_map").contiguous();
    expect(map.dtype() == DType::F32 && map.numel() == 16, wkey + ".quant_map", map, "float32 [16]");
    const float* book = type_ == "nf4" ? cpu::nf4_code_book() : cpu::fp4_code_book();
    for (int i = 0; i < 16; ++i)
      TCPP_CHECK(std::fabs(map.data<float>()[i] - book[i]) <= 1e-6f, FormatError, "bitsandbytes tensor '", wkey,
                 ".quant_map' is not bitsandbytes' ", type_, " code book (entry ", i, ")");
    const Tensor a = single(in[1], wkey + ".absmax").contiguous();
    std::vector<float> absmax(static_cast<size_t>(blocks));
    if (!nested_) {
      expect(a.dtype() == DType::F32 && a.numel() == blocks, wkey + ".absmax", a,
             detail::concat("float32 [", blocks, "]"));
      std::memcpy(absmax.data(), a.raw_data(), static_cast<size_t>(blocks) * 4);
    } else {
      nested_absmax(qs, a, single(in[4], wkey + ".nested_absmax").contiguous(),
                    single(in[5], wkey + ".nested_quant_map").contiguous(), blocks, absmax.data());
    }
    Tensor out = Tensor::empty({N, K}, type_ == "nf4" ? DType::NF4 : DType::FP4);
    auto* b = static_cast<unsigned char*>(out.raw_data());
    const auto* nibbles = static_cast<const unsigned char*>(w.raw_data());
    for (int64_t i = 0; i < blocks; ++i, b += cpu::kBnbBlockBytes) {
      std::memcpy(b, &absmax[i], 4);
      std::memcpy(b + 4, nibbles + i * cpu::kBnbBlock / 2, cpu::kBnbBlock / 2);
    }
    return {{out}};
  }

 private:
  // The absmax bitsandbytes dequantizes: nested_quant_map[q] * nested_absmax[i / 256] + offset.
  void nested_absmax(const Json& qs, const Tensor& q, const Tensor& nested, const Tensor& code, int64_t blocks,
                     float* out) const {
    const std::string wkey = module_ + ".weight", state_key = wkey + ".quant_state.bitsandbytes__" + type_;
    const int64_t nb = json_int(qs, "nested_blocksize", state_key);
    TCPP_CHECK(nb == cpu::kBnbNestedBlock, NotImplementedError, "bitsandbytes tensor '", state_key,
               "': nested_blocksize ", nb, " is not supported (", cpu::kBnbNestedBlock, ")");
    TCPP_CHECK(qs.contains("nested_offset") && qs["nested_offset"].is_number(), FormatError, "bitsandbytes tensor '",
               state_key, "': quant_state field 'nested_offset' must be a number");
    const double offset_value = qs["nested_offset"].get<double>();
    TCPP_CHECK(std::isfinite(offset_value) && std::fabs(offset_value) <= std::numeric_limits<float>::max(),
               FormatError, "bitsandbytes tensor '", state_key, "': quant_state field 'nested_offset' ", offset_value,
               " is not a finite float");
    const float offset = static_cast<float>(offset_value);
    expect(q.dtype() == DType::U8 && q.numel() == blocks, wkey + ".absmax", q,
           detail::concat("uint8 [", blocks, "] (double-quantized)"));
    const int64_t groups = (blocks + nb - 1) / nb;
    expect(nested.dtype() == DType::F32 && nested.numel() == groups, wkey + ".nested_absmax", nested,
           detail::concat("float32 [", groups, "]"));
    expect(code.dtype() == DType::F32 && code.numel() == 256, wkey + ".nested_quant_map", code, "float32 [256]");
    cpu::bnb_dequantize_nested(static_cast<const uint8_t*>(q.raw_data()), blocks, nested.data<float>(),
                               code.data<float>(), offset, out);
  }

  std::string module_, type_;
  bool nested_;
};

// Int8Params of one module: weight (CB) int8 [N, K], SCB f32 [N][, weight_format 0] -> LLM_INT8.
class Bnb8bitRepackOp : public ConversionOp {
 public:
  Bnb8bitRepackOp(std::string module, float threshold, bool has_format)
      : module_(std::move(module)), threshold_(threshold), has_format_(has_format) {}
  OpPtr reverse() const override { throw NotImplementedError("bitsandbytes tensors are written by save_pretrained"); }
  std::string describe() const override { return "BitsAndBytes8bitToBlocks"; }

  TensorGroups convert(TensorGroups in, const ConversionContext&) const override {
    const std::string wkey = module_ + ".weight", skey = module_ + ".SCB";
    const Tensor cb = single(in[0], wkey).contiguous(), scb = single(in[1], skey).contiguous();
    expect(cb.dtype() == DType::I8 && cb.dim() == 2, wkey, cb, "int8 [out_features, in_features]");
    const int64_t N = cb.size(0), K = cb.size(1);
    TCPP_CHECK(K % cpu::kInt8RowBlock == 0, NotImplementedError, "bitsandbytes tensor '", wkey, "': ", K,
               " input features are not a multiple of ", cpu::kInt8RowBlock);
    expect(scb.dtype() == DType::F32 && scb.numel() == N, skey, scb, detail::concat("float32 [", N, "]"));
    if (has_format_) {
      const std::string fkey = module_ + ".weight_format";
      const Tensor f = single(in[2], fkey).contiguous();
      expect((f.dtype() == DType::U8 || f.dtype() == DType::I64 || f.dtype() == DType::I32) && f.numel() == 1, fkey, f,
             "an integer scalar");
      const int64_t v = f.dtype() == DType::U8    ? *static_cast<const uint8_t*>(f.raw_data())
                        : f.dtype() == DType::I32 ? *f.data<int32_t>()
                                                  : *f.data<int64_t>();
      TCPP_CHECK(v == 0, NotImplementedError, "bitsandbytes tensor '", fkey, "' = ", v,
                 ": only the row-major layout (0) is supported, not the tiled GPU layouts");
    }
    Tensor out = Tensor::empty({N, K}, DType::LLM_INT8);
    auto* b = static_cast<unsigned char*>(out.raw_data());
    const auto* q = static_cast<const unsigned char*>(cb.raw_data());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; k += cpu::kInt8RowBlock, b += cpu::kInt8RowBlockBytes) {
        std::memcpy(b, scb.data<float>() + n, 4);
        std::memcpy(b + 4, &threshold_, 4);
        std::memcpy(b + 8, q + n * K + k, cpu::kInt8RowBlock);
      }
    return {{out}};
  }

 private:
  std::string module_;
  float threshold_;
  bool has_format_;
};

Tensor u8_tensor(const void* bytes, int64_t n, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::U8);
  std::memcpy(t.raw_data(), bytes, static_cast<size_t>(n));
  return t;
}

}  // namespace

std::string bnb_marker(bool eight_bit) { return eight_bit ? ".SCB" : kQuantStateMarker; }

std::vector<WeightTransform> bnb_rules(bool eight_bit, float int8_threshold, const std::vector<std::string>& keys) {
  std::set<std::string> present(keys.begin(), keys.end());
  std::vector<WeightTransform> rules;
  for (const auto& key : keys) {
    if (eight_bit) {
      if (!key.ends_with(".SCB")) continue;
      const std::string module = key.substr(0, key.size() - 4);
      const bool format = present.count(module + ".weight_format") > 0;
      std::vector<std::string> suffixes{".weight", ".SCB"};
      if (format) suffixes.push_back(".weight_format");
      rules.push_back(WeightTransform::converter(exact_key_patterns(module, suffixes), {module + ".weight"},
                                                 {std::make_shared<Bnb8bitRepackOp>(module, int8_threshold, format)}));
      continue;
    }
    const auto at = key.find(kQuantStateMarker);
    if (at == std::string::npos) continue;
    const std::string module = key.substr(0, at), type = key.substr(at + std::strlen(kQuantStateMarker));
    TCPP_CHECK(type == "nf4" || type == "fp4", NotImplementedError, "bitsandbytes tensor '", key,
               "': quant type '", type, "' is not supported (nf4, fp4)");
    const bool nested = present.count(module + ".weight.nested_absmax") > 0;
    std::vector<std::string> suffixes{".weight", ".weight.absmax", ".weight.quant_map",
                                      ".weight.quant_state.bitsandbytes__" + type};
    if (nested) suffixes.insert(suffixes.end(), {".weight.nested_absmax", ".weight.nested_quant_map"});
    rules.push_back(WeightTransform::converter(exact_key_patterns(module, suffixes), {module + ".weight"},
                                               {std::make_shared<Bnb4bitRepackOp>(module, type, nested)}));
  }
  return rules;
}

std::vector<std::pair<std::string, Tensor>> bnb_serialized_tensors(const std::string& name, const Tensor& weight,
                                                                   const std::string& dtype_name) {
  TCPP_CHECK(weight.dim() == 2 && weight.is_contiguous(), ShapeError, "save_pretrained: '", name,
             "' must be a contiguous matrix to be written in bitsandbytes' layout, got ", weight.describe());
  const int64_t N = weight.size(0), K = weight.size(1);
  const auto* b = static_cast<const unsigned char*>(weight.raw_data());
  std::vector<std::pair<std::string, Tensor>> out;
  if (weight.dtype() == DType::LLM_INT8) {
    Tensor cb = Tensor::empty({N, K}, DType::I8), scb = Tensor::empty({N}, DType::F32);
    auto* q = static_cast<unsigned char*>(cb.raw_data());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; k += cpu::kInt8RowBlock, b += cpu::kInt8RowBlockBytes) {
        if (k == 0) std::memcpy(scb.data<float>() + n, b, 4);
        std::memcpy(q + n * K + k, b + 8, cpu::kInt8RowBlock);
      }
    TCPP_CHECK(name.ends_with(".weight"), ValueError, "bitsandbytes layout: LLM.int8 tensor '", name,
               "' is not a module's .weight");
    const std::string module = name.substr(0, name.size() - 7);  // without ".weight"
    const uint8_t row_major = 0;
    out.emplace_back(name, cb);
    out.emplace_back(module + ".SCB", scb);
    out.emplace_back(module + ".weight_format", u8_tensor(&row_major, 1, {}));
    return out;
  }
  TCPP_CHECK(weight.dtype() == DType::NF4 || weight.dtype() == DType::FP4, ValueError, "save_pretrained: '", name,
             "' is ", dtype_safetensors_name(weight.dtype()), ", which bitsandbytes' layout cannot hold");
  const std::string type = weight.dtype() == DType::NF4 ? "nf4" : "fp4";
  const int64_t blocks = N * K / cpu::kBnbBlock;
  Tensor packed = Tensor::empty({N * K / 2, 1}, DType::U8), absmax = Tensor::empty({blocks}, DType::F32);
  auto* p = static_cast<unsigned char*>(packed.raw_data());
  for (int64_t i = 0; i < blocks; ++i, b += cpu::kBnbBlockBytes) {
    std::memcpy(absmax.data<float>() + i, b, 4);
    std::memcpy(p + i * cpu::kBnbBlock / 2, b + 4, cpu::kBnbBlock / 2);
  }
  const float* book = type == "nf4" ? cpu::nf4_code_book() : cpu::fp4_code_book();
  // As Python's json.dumps writes QuantState's non-tensor items.
  const std::string state = detail::concat("{\"quant_type\": \"", type, "\", \"blocksize\": ", cpu::kBnbBlock,
                                           ", \"dtype\": \"", dtype_name, "\", \"shape\": [", N, ", ", K, "]}");
  out.emplace_back(name, packed);
  out.emplace_back(name + ".absmax", absmax);
  out.emplace_back(name + ".quant_map", Tensor::from_values(std::vector<float>(book, book + 16), {16}));
  out.emplace_back(name + ".quant_state.bitsandbytes__" + type,
                   u8_tensor(state.data(), static_cast<int64_t>(state.size()), {static_cast<int64_t>(state.size())}));
  return out;
}

}  // namespace transformers::loading
