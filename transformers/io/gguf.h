// GGUF, llama.cpp's single-file model format: a header ("GGUF", version, tensor and metadata
// counts), typed key/value metadata (architecture, sizes, tokenizer), tensor descriptions
// (name, dimensions innermost first, GGML type, offset) and the aligned tensor data.
//
// Reading maps the file and validates every field before anything is allocated from it: counts
// and lengths are checked against the bytes that remain, dimensions against overflow and their
// type's block size, offsets against the data section and each other, so a truncated or lying
// file is a FormatError naming the file and the key or tensor, never a crash or a huge
// allocation. Writing streams one tensor at a time into a temporary file that is renamed when
// complete (io/files.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"
#include "transformers/io/mapped_file.h"

namespace transformers {

// GGUF metadata value types, numbered as the format numbers them.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

// One metadata value: a scalar, a string, or an array of one scalar or string type (arrays of
// arrays are refused, as llama.cpp refuses them).
struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType element_type = GgufType::U8;  // arrays
  int64_t integer = 0;                   // integer and bool scalars (U64 beyond 2^63 refused)
  double number = 0;                     // F32/F64 scalars
  std::string string;
  std::vector<int64_t> integers;  // integer/bool arrays
  std::vector<double> numbers;    // F32/F64 arrays
  std::vector<std::string> strings;

  bool is_integer() const;
  bool is_number() const { return type == GgufType::F32 || type == GgufType::F64 || is_integer(); }
  size_t array_size() const;
};

// GGML tensor types (ggml.h's numbering) and their block geometry.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10, Q3_K = 11,
  Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};
struct GgmlTypeInfo {
  const char* name;          // "Q4_K", as llama.cpp prints it
  uint32_t block_elements;   // elements per block (1 for plain types)
  uint32_t block_bytes;      // bytes per block
};
// The geometry of a known type; nullopt for ids this reader does not know (IQ*, TQ*, MXFP4, ...).
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type);
// The GGML type a tensor of this dtype is stored as (F32, F16, BF16 and GGML's block dtypes;
// FormatError otherwise).
GgmlType ggml_type_of(DType dtype);

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // innermost first, as GGUF stores them (ne[0] = row length)
  uint32_t type = 0;           // GgmlType id
  uint64_t offset = 0;         // from the start of the data section
  uint64_t nbytes = 0;
  // Torch order (outermost first): dims reversed.
  Shape shape() const;
};

// Limits of the reader: far above real files (Llama-3's 128k-token vocabulary is ~3 MB of
// metadata, the largest MoE checkpoints have tens of thousands of tensors).
struct GgufLimits {
  uint64_t max_tensors = uint64_t{1} << 20;
  uint64_t max_metadata_entries = uint64_t{1} << 16;
  uint64_t max_metadata_bytes = uint64_t{512} << 20;  // the header's bytes, before the tensor data
  uint64_t max_string_bytes = uint64_t{64} << 20;
};

struct GgufHeader {
  uint32_t version = 0;
  uint64_t alignment = 32;  // general.alignment
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<GgufTensorInfo> tensors;                      // in file order
  uint64_t data_start = 0;                                  // byte offset of the data section
};

// Parses and validates a GGUF image of `size` bytes; `what` names it in errors.
GgufHeader parse_gguf_header(const unsigned char* data, size_t size, const std::string& what,
                             const GgufLimits& limits = {});

class GgufFile {
 public:
  static std::shared_ptr<GgufFile> open(const std::filesystem::path& path, const GgufLimits& limits = {});
  // Whether the file starts with GGUF's magic (a quick check before choosing a loader).
  static bool has_magic(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_->path(); }
  const GgufHeader& header() const { return header_; }

  // Metadata. find: nullptr when absent. The typed getters throw FormatError naming the file
  // and key when the key is missing or of another type.
  const GgufValue* find(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_number(const std::string& key) const;  // any integer or float scalar
  std::optional<int64_t> find_int(const std::string& key) const;
  std::optional<double> find_number(const std::string& key) const;
  std::optional<std::string> find_string(const std::string& key) const;

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const GgufTensorInfo& info(const std::string& name) const;
  // The tensor as stored, a view into the mapping (torch-order shape): F32, F16, BF16, I8, I32,
  // I64 as those dtypes, Q8_0, Q4_0, Q5_0, Q5_1 and the K-quants as the block dtypes of the same layout; FormatError naming
  // the tensor and type for the others (K-quants, ...). The bytes of any type: raw_bytes.
  Tensor tensor(const std::string& name) const;
  const unsigned char* raw_bytes(const std::string& name) const;

 private:
  std::shared_ptr<MappedFile> file_;
  GgufHeader header_;
  std::map<std::string, size_t> index_, metadata_index_;
};

// Builds a GGUF file: metadata in insertion order, then tensors whose bytes are produced one at
// a time while writing (so a converter never holds two tensors' worth of output).
class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = 32);

  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, std::string v);
  void set_strings(const std::string& key, std::vector<std::string> v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);

  // A tensor of torch-order `shape` stored as `type`; `bytes` returns a contiguous tensor whose
  // nbytes() is exactly the stored size (any dtype: only its bytes are written).
  void add_tensor(std::string name, const Shape& shape, GgmlType type, std::function<Tensor()> bytes);

  // Writes the file atomically (temporary name, then rename).
  void write(const std::filesystem::path& path) const;

 private:
  struct Entry {
    std::string key;
    GgufValue value;
  };
  struct PendingTensor {
    GgufTensorInfo info;
    std::function<Tensor()> bytes;
  };
  void set(const std::string& key, GgufValue value);
  uint64_t alignment_;
  std::vector<Entry> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace transformers
