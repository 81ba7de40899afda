#include "common/test_util.h"
#include "transformers/core/half.h"
#include "transformers/core/tensor.h"

namespace transformers {
namespace {

Tensor iota(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

TEST(Tensor, ViewsShareStorageAndIndexCorrectly) {
  Tensor t = iota({2, 3, 4});
  Tensor tr = t.transpose(0, 2);  // [4, 3, 2]
  EXPECT_EQ(tr.shape(), (Shape{4, 3, 2}));
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_EQ(tr.storage(), t.storage());
  Tensor c = tr.contiguous();
  // c[i][j][k] == t[k][j][i]
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k) EXPECT_EQ(c.data<float>()[(i * 3 + j) * 2 + k], static_cast<float>((k * 3 + j) * 4 + i));
  Tensor s = t.slice(2, 1, 3);  // [2, 3, 2]
  EXPECT_EQ(s.contiguous().data<float>()[0], 1.0f);
  EXPECT_EQ(s.contiguous().data<float>()[1], 2.0f);
  EXPECT_EQ(s.contiguous().data<float>()[2], 5.0f);
  Tensor sel = t.select(1, 2);  // [2, 4]
  EXPECT_EQ(sel.contiguous().data<float>()[4], 20.0f);
  EXPECT_EQ(t.view({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_THROW(tr.view({24}), ShapeError);
  EXPECT_EQ(tr.reshape({24}).numel(), 24);
  Tensor p = t.permute({1, 2, 0});
  EXPECT_EQ(p.shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(p.contiguous().data<float>()[1], 12.0f);
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3, 4}));
}

TEST(Tensor, CopyFromIntoStridedDestination) {
  Tensor dst = Tensor::zeros({3, 4}, DType::F32);
  Tensor src = iota({4, 3});
  dst.transpose(0, 1).copy_from(src);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(dst.data<float>()[j * 4 + i], src.data<float>()[i * 3 + j]);
  EXPECT_THROW(dst.copy_from(src), ShapeError);
}

TEST(Tensor, TypedAccessChecksDtype) {
  Tensor t = Tensor::empty({2}, DType::BF16);
  EXPECT_THROW(t.data<float>(), ShapeError);
  EXPECT_NO_THROW(t.data_u16());
}

// Block dtypes: GGML's byte counts, views along rows at the right byte offsets, and every view
// that would split a block or address an element refused.
TEST(Tensor, BlockDtypesViewAlongRowsOnly) {
  EXPECT_EQ(dtype_nbytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(dtype_nbytes(DType::Q4_0, 96), 54u);
  EXPECT_THROW(dtype_nbytes(DType::Q4_0, 16), ShapeError);
  EXPECT_THROW(dtype_size(DType::Q8_0), ValueError);
  Tensor w = Tensor::zeros({4, 64}, DType::Q4_0);  // 2 blocks of 18 bytes a row
  EXPECT_EQ(w.nbytes(), 4u * 36u);
  const char* base = static_cast<const char*>(w.raw_data());
  EXPECT_EQ(static_cast<const char*>(w.slice(0, 1, 3).raw_data()) - base, 36);
  EXPECT_EQ(w.slice(0, 1, 3).nbytes(), 72u);
  EXPECT_EQ(static_cast<const char*>(w.select(0, 3).raw_data()) - base, 108);
  EXPECT_EQ(static_cast<const char*>(w.slice(1, 32, 64).raw_data()) - base, 18);  // the second block of row 0
  EXPECT_EQ(w.view({2, 2, 64}).select(0, 1).shape(), (Shape{2, 64}));
  EXPECT_EQ(static_cast<const char*>(w.view({2, 2, 64}).select(0, 1).raw_data()) - base, 72);
  EXPECT_THROW(w.slice(1, 16, 48), ShapeError);
  EXPECT_THROW(w.select(1, 3), ShapeError);
  EXPECT_THROW(w.transpose(0, 1), ShapeError);
  EXPECT_THROW(w.view({64, 4}), ShapeError);
  EXPECT_THROW(w.element_size(), ValueError);
  EXPECT_THROW(Tensor::empty({3, 48}, DType::Q8_0), ShapeError);
  // A strided row view copies block by block.
  Tensor q = Tensor::zeros({3, 32}, DType::Q8_0);
  for (size_t i = 0; i < q.nbytes(); ++i) static_cast<unsigned char*>(q.raw_data())[i] = static_cast<unsigned char>(i);
  Tensor rows = q.view({3, 1, 32}).permute({1, 0, 2}).slice(1, 1, 3);  // rows 1 and 2
  Tensor c = rows.contiguous();
  EXPECT_EQ(static_cast<const unsigned char*>(c.raw_data())[0], 34);
  EXPECT_EQ(static_cast<const unsigned char*>(c.raw_data())[67], 101);
  Tensor dst = Tensor::zeros({2, 32}, DType::Q8_0);
  dst.copy_from(q.slice(0, 1, 3));
  EXPECT_EQ(static_cast<const unsigned char*>(dst.raw_data())[35], 69);
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between two bf16 values: ties to even (down); a bit more rounds up.
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256 + 1.0f / 4096), 0x3f81);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(Half, PortableF16AgreesWithHardwareOnEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float a = f16_to_f32_portable(static_cast<uint16_t>(h));
    float b = _cvtsh_ss(static_cast<uint16_t>(h));
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(a));
    } else {
      ASSERT_EQ(a, b) << "half " << h;
      ASSERT_EQ(f32_to_f16_portable(a), static_cast<uint16_t>(h)) << "round trip of half " << h;
    }
  }
  std::mt19937 rng(1);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    float f = std::bit_cast<float>(bits(rng));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16_portable(f), _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)) << f;
  }
}

}  // namespace
}  // namespace transformers
