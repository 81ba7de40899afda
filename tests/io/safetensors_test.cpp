// safetensors: round trip through our writer and reader, zero-copy mapping, sharded checkpoints,
// and every kind of malformed header giving a FormatError that names the fault.
#include <cmath>
#include <cstring>
#include <fstream>

#include "common/test_util.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/io/safetensors.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

std::string bytes_of(const std::string& header_json, const std::string& data, int64_t declared_len = -1) {
  std::string out(8, '\0');
  uint64_t n = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header_json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header_json + data;
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// Expects opening `bytes` to throw FormatError whose message contains `needle`.
void expect_rejected(const std::string& bytes, const std::string& needle) {
  auto dir = testing::scratch_dir("st_bad");
  write_file(dir / "bad.safetensors", bytes);
  try {
    SafetensorsFile::open(dir / "bad.safetensors");
    FAIL() << "accepted a malformed file; expected an error containing '" << needle << "'";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << "error must name the file: " << e.what();
  }
}

TEST(Safetensors, ReadsGoldenCheckpointZeroCopy) {
  auto f = SafetensorsFile::open(testing::shared_path("golden/llama/model.safetensors"));
  ASSERT_TRUE(f->contains("model.embed_tokens.weight"));
  Tensor t = f->tensor("model.embed_tokens.weight");
  EXPECT_EQ(t.shape(), (Shape{256, 64}));
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_EQ(t.storage()->kind(), Storage::Kind::Mapped);
}

TEST(Safetensors, WriteThenReadRoundTrip) {
  auto dir = testing::scratch_dir("st_roundtrip");
  std::mt19937 rng(1);
  Tensor a = testing::random_tensor({3, 5}, rng);
  Tensor b = Tensor::from_values<int64_t>({1, -2, 3, 4}, {2, 2});
  Tensor c = Tensor::empty({4}, DType::BF16);
  for (int i = 0; i < 4; ++i) c.data_u16()[i] = f32_to_bf16(0.5f * i);
  Tensor strided = a.transpose(0, 1);  // written contiguous
  save_safetensors(dir / "x.safetensors", {{"a", a}, {"b", b}, {"c", c}, {"at", strided}}, {{"format", "pt"}});
  auto f = SafetensorsFile::open(dir / "x.safetensors");
  EXPECT_EQ(f->header().metadata.at("format"), "pt");
  EXPECT_EQ(testing::max_abs_diff(f->tensor("a"), a), 0.0f);
  EXPECT_EQ(testing::max_abs_diff(f->tensor("at"), strided.contiguous()), 0.0f);
  EXPECT_EQ(f->tensor("b").data<int64_t>()[1], -2);
  EXPECT_EQ(f->tensor("c").dtype(), DType::BF16);
  EXPECT_EQ(f->tensor("c").data_u16()[3], f32_to_bf16(1.5f));
}

TEST(Safetensors, ShardedCheckpointWithIndex) {
  auto dir = testing::scratch_dir("st_sharded");
  std::mt19937 rng(2);
  Tensor a = testing::random_tensor({4}, rng), b = testing::random_tensor({2, 2}, rng);
  save_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", a}});
  save_safetensors(dir / "model-00002-of-00002.safetensors", {{"b", b}});
  Json index = {{"metadata", {{"total_size", 32}}},
                {"weight_map", {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}}}};
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  auto ck = SafetensorsCheckpoint::open(dir);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(testing::max_abs_diff(ck.tensor("b"), b), 0.0f);

  // An index naming a missing shard.
  index["weight_map"]["c"] = "model-00003-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  try {
    SafetensorsCheckpoint::open(dir);
    FAIL() << "missing shard accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("model-00003-of-00002.safetensors"), std::string::npos) << e.what();
  }
  // A tensor stored in two shards.
  save_safetensors(dir / "model-00002-of-00002.safetensors", {{"b", b}, {"a", a}});
  index["weight_map"].erase("c");
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  try {
    SafetensorsCheckpoint::open(dir);
    FAIL() << "duplicate tensor accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("two shards"), std::string::npos) << e.what();
  }
}

// I8 and F8_E4M3 (int8 and FP8 checkpoints) are read as data; Q8_0 / Q4_0 (our names for the
// GGML block dtypes) count bytes per block of 32 elements: 2 blocks of Q8_0 = 68 bytes.
// The K-quant super-block dtypes (our names Q4_K, Q5_K, Q6_K) save and load back byte for byte:
// 2 rows of 512 are 4 super-blocks (144, 176, 210 bytes each).
TEST(Safetensors, KQuantDtypesSaveAndLoadBack) {
  auto dir = testing::scratch_dir("st_k");
  std::vector<float> v(2 * 512);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i));
  const Tensor x = Tensor::from_values(v, {2, 512});
  std::vector<std::pair<std::string, Tensor>> saved;
  for (DType dt : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) saved.emplace_back(std::string(dtype_safetensors_name(dt)), ops::cast(x, dt));
  save_safetensors(dir / "k.safetensors", saved);
  auto f = SafetensorsFile::open(dir / "k.safetensors");
  for (const auto& [name, t] : saved) {
    const Tensor back = f->tensor(name);
    EXPECT_EQ(back.dtype(), t.dtype()) << name;
    EXPECT_EQ(back.shape(), t.shape()) << name;
    ASSERT_EQ(back.nbytes(), dtype_block_bytes(t.dtype()) * 4) << name;
    EXPECT_EQ(0, std::memcmp(back.raw_data(), t.raw_data(), back.nbytes())) << name;
  }
  expect_rejected(bytes_of(R"({"w":{"dtype":"Q6_K","shape":[256],"data_offsets":[0,209]}})", std::string(209, '\0')),
                  "needs 210");
}

TEST(Safetensors, ReadsInt8Fp8AndBlockDtypes) {
  auto dir = testing::scratch_dir("st_q");
  std::string data(68 + 18 + 2 + 3, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i);
  write_file(dir / "q.safetensors",
             bytes_of(R"({"q8":{"dtype":"Q8_0","shape":[1,64],"data_offsets":[0,68]},)"
                      R"("q4":{"dtype":"Q4_0","shape":[32],"data_offsets":[68,86]},)"
                      R"("i8":{"dtype":"I8","shape":[2],"data_offsets":[86,88]},)"
                      R"("f8":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[88,91]}})",
                      data));
  auto f = SafetensorsFile::open(dir / "q.safetensors");
  Tensor q8 = f->tensor("q8"), q4 = f->tensor("q4"), i8 = f->tensor("i8"), f8 = f->tensor("f8");
  EXPECT_EQ(q8.dtype(), DType::Q8_0);
  EXPECT_EQ(q8.nbytes(), 68u);
  EXPECT_EQ(q4.dtype(), DType::Q4_0);
  EXPECT_EQ(static_cast<const unsigned char*>(q4.raw_data())[0], 68);
  EXPECT_EQ(i8.data<int8_t>()[1], 87);
  EXPECT_EQ(f8.dtype(), DType::F8_E4M3);
  EXPECT_EQ(static_cast<const unsigned char*>(f8.raw_data())[2], 90);
  // Half a block, and a byte count that is not the blocks' size.
  expect_rejected(bytes_of(R"({"w":{"dtype":"Q8_0","shape":[16],"data_offsets":[0,17]}})", std::string(17, '\0')),
                  "whole blocks of 32");
  expect_rejected(bytes_of(R"({"w":{"dtype":"Q4_0","shape":[32],"data_offsets":[0,16]}})", std::string(16, '\0')),
                  "needs 18");
}

TEST(Safetensors, MalformedHeadersAreRejectedWithClearErrors) {
  const std::string ok_entry = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\0');
  expect_rejected("abc", "too short");
  expect_rejected(bytes_of(ok_entry, data, 1000000), "past the end");
  expect_rejected(bytes_of(ok_entry, data, int64_t{1} << 40), "exceeds the limit");
  expect_rejected(bytes_of("{not json", data), "not valid JSON");
  expect_rejected(bytes_of("[1,2]", data), "not a JSON object");
  expect_rejected(bytes_of(R"({"w":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}})", data), "unsupported dtype 'F99'");
  expect_rejected(bytes_of(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", data), "'dtype'");
  expect_rejected(bytes_of(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), "shape");
  expect_rejected(bytes_of(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", data), "run past the end");
  expect_rejected(bytes_of(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "needs 12");
  expect_rejected(bytes_of(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data), "reversed");
  expect_rejected(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
                  "overlap");
  expect_rejected(bytes_of(R"({"__metadata__":{"k":1}})", ""), "__metadata__");
  // A tensor named twice: nlohmann would keep the last silently; Hugging Face's reader refuses.
  expect_rejected(bytes_of(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
                  "'w' is named twice");
  // An empty tensor between two aliasing weights used to hide the overlap from a neighbours-only check.
  expect_rejected(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data),
                  "overlap");
  expect_rejected(bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
                  "overlap");
  // A header nested a million levels deep (within the 100 MB header limit): refused before parsing.
  const std::string nested = R"({"deep":)" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  expect_rejected(bytes_of(nested, ""), "deeper than 128");
  // Truncated: a real checkpoint cut in half.
  std::string golden = read_text_file(testing::shared_path("golden/llama/model.safetensors"));
  expect_rejected(golden.substr(0, golden.size() / 2), "past the end");
}

TEST(Npy, GoldenInputsAndRoundTrip) {
  Tensor ids = load_npy(testing::shared_path("golden/llama/input_ids.npy"));
  EXPECT_EQ(ids.shape(), (Shape{2, 10}));
  EXPECT_EQ(ids.data<int64_t>()[0], 1);
  EXPECT_EQ(ids.data<int64_t>()[1], 17);
  auto dir = testing::scratch_dir("npy");
  std::mt19937 rng(3);
  Tensor x = testing::random_tensor({2, 3, 4}, rng);
  save_npy(dir / "x.npy", x);
  EXPECT_EQ(testing::max_abs_diff(load_npy(dir / "x.npy"), x), 0.0f);
}

}  // namespace
}  // namespace transformers
