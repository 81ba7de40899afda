// Device and allocator in Storage: CPU tensors know their device and are 64-byte aligned; asking
// for a device this build lacks fails with an error naming it; expand() broadcasts with stride 0.
#include <cstdint>

#include "common/test_util.h"
#include "transformers/core/tensor.h"

namespace transformers {
namespace {

using testing::expect_error_naming;

TEST(Device, TensorsAndStorageAreOnTheCpuAndAligned) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{63}, size_t{65}, size_t{1000}}) {
    Tensor t = Tensor::empty({static_cast<int64_t>(n)}, DType::U8, Device::CPU);
    EXPECT_EQ(t.device(), Device::CPU);
    EXPECT_EQ(t.storage()->device(), Device::CPU);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u) << n;
  }
  Tensor z = Tensor::zeros({3, 5}, DType::F32);
  for (int64_t i = 0; i < z.numel(); ++i) EXPECT_EQ(z.data<float>()[i], 0.0f);
  EXPECT_EQ(z.clone().device(), Device::CPU);
  EXPECT_EQ(allocator_for(Device::CPU).device(), Device::CPU);
  float host[4] = {};
  EXPECT_EQ(Storage::borrow(host, sizeof host)->device(), Device::CPU);
}

TEST(Device, OtherDevicesAreRefusedByName) {
  expect_error_naming<NotImplementedError>([] { Tensor::empty({2}, DType::F32, Device::CUDA); },
                                           "device 'cuda' is not supported by this build");
  expect_error_naming<NotImplementedError>([] { Tensor::zeros({2}, DType::F32, Device::CUDA); }, "'cuda'");
  expect_error_naming<NotImplementedError>([] { allocator_for(Device::CUDA); }, "'cuda'");
  EXPECT_EQ(device_from_name("cpu"), Device::CPU);
  EXPECT_EQ(device_from_name("cuda"), Device::CUDA);
  expect_error_naming<ValueError>([] { device_from_name("tpu"); }, "unknown device 'tpu'");
}

TEST(Tensor, ExpandRepeatsSizeOneDimensionsWithoutCopying) {
  Tensor row = Tensor::from_values(std::vector<float>{1, 2, 3}, {1, 3});
  Tensor e = row.expand({2, 4, 3});
  EXPECT_EQ(e.shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(e.strides(), (Shape{0, 0, 1}));
  EXPECT_EQ(e.raw_data(), row.raw_data());
  Tensor c = e.contiguous();
  for (int64_t i = 0; i < c.numel(); ++i) EXPECT_EQ(c.data<float>()[i], static_cast<float>(i % 3 + 1)) << i;
  expect_error_naming<ShapeError>([&] { row.expand({2, 4}); }, "expand(): cannot expand float32[1, 3] to [2, 4]");
  expect_error_naming<ShapeError>([&] { row.expand({3}); }, "expand()");
}

}  // namespace
}  // namespace transformers
