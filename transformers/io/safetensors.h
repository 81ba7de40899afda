// safetensors: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the data.
// Reading maps the file and hands out tensors that point into the mapping (zero-copy); every
// header field is validated first, so a malformed file gives a FormatError naming the file and
// the tensor, never a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transformers/core/tensor.h"
#include "transformers/io/files.h"
#include "transformers/io/mapped_file.h"

namespace transformers {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in header order
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + header length
};

// The largest header accepted (the Rust library's limit).
constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

// Parses and validates the header of a safetensors image of `size` bytes; `what` names it in
// errors. Checks: length prefix within the file and the limit, valid JSON object, known dtypes,
// non-negative shapes, offsets in range, sizes equal to shape x dtype, no overlapping tensors.
SafetensorsHeader parse_safetensors_header(const unsigned char* data, size_t size, const std::string& what);

class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_->path(); }
  const SafetensorsHeader& header() const { return header_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;
  // The tensor as stored: a view into the mapping when its offset is aligned for its dtype,
  // otherwise a copy (x86 tolerates misalignment; C++ does not).
  Tensor tensor(const std::string& name) const;

 private:
  std::shared_ptr<MappedFile> file_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

// A checkpoint folder: model.safetensors, or shards listed in model.safetensors.index.json.
class SafetensorsCheckpoint {
 public:
  // `path` is a folder or a single .safetensors file.
  static SafetensorsCheckpoint open(const std::filesystem::path& path);

  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  Tensor tensor(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
};

// Writes tensors (any strides; written contiguous) in the given order with optional metadata.
void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace transformers
