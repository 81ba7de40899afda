// What the op layer refuses, by name: key padding masks of a float dtype (at the op API, and in
// the CPU backend's exhaustive dtype switches, called directly to show that they refuse too rather
// than read float bytes as flags), float tensors read as integers, and devices without a backend
// (the device switch every op goes through).
#include <random>

#include "common/test_util.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::expect_error_naming;
using testing::random_tensor;

struct AttentionInputs {
  Tensor q, k, v, mask;
  ops::AttentionParams params;
};

// q, k, v [1, 2, 3, 8] and a [1, 3] mask of `mask_dtype` filled with ones.
AttentionInputs attention_inputs(DType mask_dtype) {
  std::mt19937 rng(5);
  AttentionInputs in{random_tensor({1, 2, 3, 8}, rng),
                     random_tensor({1, 2, 3, 8}, rng),
                     random_tensor({1, 2, 3, 8}, rng),
                     Tensor::zeros({1, 3}, mask_dtype),
                     {}};
  in.params.scale = 0.35f;
  return in;
}

TEST(Refusals, FloatKeyPaddingMasksAreRefusedByDtypeAtTheOpApi) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    AttentionInputs in = attention_inputs(dt);
    in.params.key_padding_mask = &in.mask;
    const std::string name(dtype_torch_name(dt));
    expect_error_naming<ShapeError>([&] { ops::attention(in.q, in.k, in.v, in.params); },
                                    "attention: key padding mask of dtype " + name);
    expect_error_naming<ShapeError>([&] { ops::attention_weights(in.q, in.k, in.params); },
                                    "attention_weights: key padding mask of dtype " + name);
  }
}

TEST(Refusals, TheCpuMaskReaderRefusesFloatMasksByDtype) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    AttentionInputs in = attention_inputs(dt);
    in.params.key_padding_mask = &in.mask;
    const std::string want = "key padding mask of dtype " + std::string(dtype_torch_name(dt));
    Tensor out = Tensor::empty({1, 3, 16}, DType::F32);
    expect_error_naming<ShapeError>(
        [&] { ops::cpu_impl::attention(in.q, in.k, in.v, in.params, out); }, want);
    Tensor weights = Tensor::zeros({1, 2, 3, 3}, DType::F32);
    expect_error_naming<ShapeError>(
        [&] { ops::cpu_impl::attention_weights(in.q, in.k, in.params, weights); }, want);
  }
}

// Sets mask[0, j] = flag in the mask's own integer type.
void set_flag(Tensor& mask, int64_t j, int flag) {
  switch (mask.dtype()) {
    case DType::I64:
      mask.data<int64_t>()[j] = flag;
      return;
    case DType::I32:
      mask.data<int32_t>()[j] = flag;
      return;
    case DType::U8:
    case DType::Bool:
      static_cast<uint8_t*>(mask.raw_data())[j] = static_cast<uint8_t>(flag);
      return;
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::I8:
    case DType::F8_E4M3:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_Z:
    case DType::F8_B128:
    case DType::MXFP4:
    case DType::NF4:
    case DType::FP4:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::LLM_INT8:
      break;
  }
  FAIL() << "no integer mask of dtype " << dtype_torch_name(mask.dtype());
}

TEST(Refusals, IntegerAndBoolMasksAreReadAsFlags) {
  // Not causal, last key padded: every accepted dtype gives attention over the first two keys.
  for (DType dt : {DType::I64, DType::I32, DType::U8, DType::Bool}) {
    AttentionInputs in = attention_inputs(dt);
    in.params.causal = false;
    for (int64_t j = 0; j < 3; ++j) set_flag(in.mask, j, j < 2 ? 1 : 0);
    const Tensor want = ops::attention(in.q, in.k.slice(2, 0, 2), in.v.slice(2, 0, 2), in.params);
    in.params.key_padding_mask = &in.mask;
    EXPECT_LE(testing::max_abs_diff(ops::attention(in.q, in.k, in.v, in.params), want), 1e-6f)
        << dtype_torch_name(dt);
    const Tensor probs = ops::attention_weights(in.q, in.k, in.params);
    for (int64_t row = 0; row < probs.numel() / 3; ++row)
      EXPECT_EQ(probs.data<float>()[row * 3 + 2], 0.0f) << dtype_torch_name(dt) << " row " << row;
  }
}

TEST(Refusals, TheCpuIntegerReaderRefusesFloatTensorsByDtype) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    const Tensor x = Tensor::zeros({2}, dt);
    const std::string want = "expected an integer tensor, got " + std::string(dtype_torch_name(dt));
    expect_error_naming<ShapeError>([&] { ops::cpu_impl::to_int64_vector(x); }, want);
    expect_error_naming<ShapeError>([&] { ops::cpu_impl::min_max(x); }, want);
    expect_error_naming<ShapeError>([&] { ops::to_int64_vector(x); }, "to_int64_vector: " + want);
  }
}

TEST(Refusals, TheDeviceSwitchNamesTheOpAndTheDevice) {
  int cpu_calls = 0;
  EXPECT_EQ(ops::on_device("some_op", Device::CPU, [&] { return ++cpu_calls; }), 1);
  expect_error_naming<NotImplementedError>(
      [&] { ops::on_device("some_op", Device::CUDA, [&] { return ++cpu_calls; }); },
      "some_op: no cuda implementation");
  EXPECT_EQ(cpu_calls, 1) << "the CPU implementation ran for a CUDA dispatch";
}

}  // namespace
}  // namespace transformers
