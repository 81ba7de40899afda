// GGUF reading against byte images built here by hand from the format's specification (so the
// reader is not checked against our own writer alone), the writer through the reader, and
// every kind of lying or truncated file as a FormatError.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/test_util.h"
#include "transformers/core/error.h"
#include "transformers/io/gguf.h"

using namespace transformers;
using transformers::testing::scratch_dir;

namespace {

// Little-endian GGUF bytes, field by field.
struct Bytes {
  std::string b;
  Bytes& u8(uint8_t v) { b.push_back(static_cast<char>(v)); return *this; }
  Bytes& u32(uint32_t v) { for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(v >> (8 * i))); return *this; }
  Bytes& u64(uint64_t v) { for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i))); return *this; }
  Bytes& f32(float v) { uint32_t u; std::memcpy(&u, &v, 4); return u32(u); }
  Bytes& str(const std::string& s) { u64(s.size()); b += s; return *this; }
  Bytes& pad_to(size_t alignment) { while (b.size() % alignment) u8(0); return *this; }
};

// A file with two metadata entries and two tensors: "a" F32 [2, 3] and "q" Q8_0 [1, 32].
Bytes sample_image() {
  Bytes x;
  x.u32(0x46554747).u32(3).u64(2).u64(3);
  x.str("general.architecture").u32(8).str("llama");
  x.str("llama.block_count").u32(4).u32(7);
  x.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("<s>").str("hi");
  x.str("a").u32(2).u64(3).u64(2).u32(0).u64(0);   // ne = [3, 2] -> torch shape [2, 3]
  x.str("q").u32(2).u64(32).u64(1).u32(8).u64(32);  // 24 bytes of "a", padded to 32
  x.pad_to(32);
  for (int i = 0; i < 6; ++i) x.f32(static_cast<float>(i) + 0.5f);
  x.pad_to(32);
  x.u8(0x00).u8(0x3c);  // f16 scale 1.0
  for (int i = 0; i < 32; ++i) x.u8(static_cast<uint8_t>(i - 16));
  return x;
}

GgufHeader parse(const std::string& bytes) {
  return parse_gguf_header(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "test.gguf");
}

std::filesystem::path write_bytes(const std::string& name, const std::string& bytes) {
  const auto path = scratch_dir("gguf") / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace

TEST(Gguf, ReadsAHandBuiltFile) {
  const auto path = write_bytes("sample.gguf", sample_image().b);
  ASSERT_TRUE(GgufFile::has_magic(path));
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->header().version, 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 7);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->strings, (std::vector<std::string>{"<s>", "hi"}));
  EXPECT_THROW(f->get_int("general.architecture"), FormatError);
  EXPECT_THROW(f->get_int("llama.context_length"), FormatError);

  const Tensor a = f->tensor("a");
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.data<float>()[i], static_cast<float>(i) + 0.5f);
  const GgufTensorInfo& q = f->info("q");
  EXPECT_EQ(q.shape(), (Shape{1, 32}));
  EXPECT_EQ(q.nbytes, 34u);
  EXPECT_EQ(f->raw_bytes("q")[1], 0x3c);
  EXPECT_EQ(static_cast<int8_t>(f->raw_bytes("q")[2]), -16);
}

TEST(Gguf, WriterOutputReadsBack) {
  GgufWriter w;
  w.set_string("general.architecture", "qwen2");
  w.set_u32("qwen2.block_count", 3);
  w.set_f32("qwen2.rope.freq_base", 1e6f);
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_strings("tokenizer.ggml.tokens", {"a", "b", "c"});
  w.set_i32s("tokenizer.ggml.token_type", {1, 3, 6});
  w.set_f32s("tokenizer.ggml.scores", {0.f, -1.5f, -2.f});
  const std::vector<float> values = {1, 2, 3, 4, 5};
  w.add_tensor("x", {5}, GgmlType::F32, [&] { return Tensor::from_values(values, {5}); });
  w.add_tensor("y", {2, 32}, GgmlType::Q4_0, [] { return Tensor::zeros({36}, DType::U8); });
  w.add_tensor("k", {1, 256}, GgmlType::Q4_K, [] { return Tensor::zeros({144}, DType::U8); });
  const auto path = scratch_dir("gguf") / "written.gguf";
  w.write(path);

  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->get_string("general.architecture"), "qwen2");
  EXPECT_EQ(f->get_int("qwen2.block_count"), 3);
  EXPECT_EQ(f->get_number("qwen2.rope.freq_base"), 1e6);
  EXPECT_EQ(f->get_int("tokenizer.ggml.add_bos_token"), 0);
  EXPECT_EQ(f->find("tokenizer.ggml.token_type")->integers, (std::vector<int64_t>{1, 3, 6}));
  EXPECT_EQ(f->find("tokenizer.ggml.scores")->numbers, (std::vector<double>{0, -1.5, -2}));
  EXPECT_EQ(f->tensor("x").shape(), (Shape{5}));
  const Tensor x = f->tensor("x");
  EXPECT_EQ(x.data<float>()[4], 5.f);
  EXPECT_EQ(f->info("y").offset % 32, 0u);
  EXPECT_EQ(f->info("y").nbytes, 36u);
  EXPECT_EQ(f->tensor("y").dtype(), DType::Q4_0);  // GGML's layout is the block dtype's
  EXPECT_EQ(f->tensor("y").shape(), (Shape{2, 32}));
  EXPECT_EQ(f->info("k").nbytes, 144u);
  EXPECT_EQ(f->tensor("k").dtype(), DType::Q4_K);  // K-quants read packed, as stored
  EXPECT_EQ(f->tensor("k").shape(), (Shape{1, 256}));

  GgufWriter bad;
  bad.add_tensor("z", {4}, GgmlType::F32, [] { return Tensor::zeros({3}, DType::F32); });
  EXPECT_THROW(bad.write(scratch_dir("gguf") / "bad.gguf"), ValueError);
  EXPECT_FALSE(std::filesystem::exists(scratch_dir("gguf") / "bad.gguf"));
  EXPECT_THROW(bad.add_tensor("r", {2, 31}, GgmlType::Q8_0, [] { return Tensor(); }), ValueError);
}

TEST(Gguf, EveryTruncationIsAFormatError) {
  const std::string full = sample_image().b;
  for (size_t n = 0; n < full.size(); ++n) EXPECT_THROW(parse(full.substr(0, n)), FormatError) << n << " bytes";
  EXPECT_NO_THROW(parse(full));
}

TEST(Gguf, LyingFilesAreFormatErrors) {
  auto expect_error = [](Bytes x, const std::string& fragment) {
    try {
      parse(x.b);
      ADD_FAILURE() << "no error, expected: " << fragment;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  auto head = [](uint64_t tensors, uint64_t kv) { Bytes x; x.u32(0x46554747).u32(3).u64(tensors).u64(kv); return x; };
  expect_error(Bytes().u32(0x12345678).u32(3).u64(0).u64(0), "not a GGUF file");
  expect_error(Bytes().u32(0x46554747).u32(0x03000000).u64(0).u64(0), "big-endian");
  expect_error(Bytes().u32(0x46554747).u32(1).u64(0).u64(0), "version 1");
  expect_error(head(0, uint64_t{1} << 40), "metadata entries");
  expect_error(head(uint64_t{1} << 40, 0), "tensors");
  // An array claiming 2^60 strings in a few bytes.
  expect_error(head(0, 1).str("k").u32(9).u32(8).u64(uint64_t{1} << 60), "does not fit");
  expect_error(head(0, 1).str("k").u32(9).u32(9).u64(1), "arrays of arrays");
  expect_error(head(0, 1).str("k").u32(42), "unknown value type 42");
  expect_error(head(0, 1).str("k").u32(7).u8(2), "bool value 2");
  expect_error(head(0, 1).str("k").u32(8).u64(uint64_t{1} << 62), "string of");
  expect_error(head(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(1), "appears twice");
  expect_error(head(0, 1).str("general.alignment").u32(4).u32(24), "power of two");
  // Tensors: dims, type, block multiple, offsets, overlap, data beyond the end.
  expect_error(head(1, 0).str("t").u32(5).u64(1).u64(1).u64(1).u64(1).u64(1).u32(0).u64(0), "dimensions (1 to 4)");
  expect_error(head(1, 0).str("t").u32(2).u64(uint64_t{1} << 40).u64(uint64_t{1} << 40).u32(0).u64(0), "overflow");
  expect_error(head(1, 0).str("t").u32(1).u64(4).u32(99).u64(0), "unknown GGML type 99");
  expect_error(head(1, 0).str("t").u32(1).u64(33).u32(8).u64(0), "not a multiple");
  expect_error(head(1, 0).str("t").u32(1).u64(4).u32(0).u64(8), "alignment");
  expect_error(head(1, 0).str("t").u32(1).u64(1000).u32(0).u64(0).pad_to(32), "beyond");
  // t: 8 floats at 0, u: 8 floats at 32; then t grown to 9 floats runs into u.
  auto two_tensors = [&](uint64_t t_elements) {
    Bytes x = head(2, 0);
    x.str("t").u32(1).u64(t_elements).u32(0).u64(0).str("u").u32(1).u64(8).u32(0).u64(32).pad_to(32);
    x.b.append(64, '\0');
    return x;
  };
  EXPECT_NO_THROW(parse(two_tensors(8).b));
  expect_error(two_tensors(9), "overlap");
}

TEST(Gguf, RefusesNonRegularFiles) {
  EXPECT_THROW(GgufFile::open("/dev/zero"), IoError);
  EXPECT_FALSE(GgufFile::has_magic(scratch_dir("gguf")));
  EXPECT_FALSE(GgufFile::has_magic("/nonexistent.gguf"));
}
