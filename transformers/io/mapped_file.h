// A read-only memory mapping of a whole file. Tensors borrow its pages (Storage::mapped), so
// weights are never copied when no conversion is needed.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

namespace transformers {

class MappedFile {
 public:
  // Throws IoError naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
};

}  // namespace transformers
