#include "transformers/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transformers/core/error.h"
#include "transformers/io/files.h"

namespace transformers {

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, &size);
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    ::close(fd);
    TCPP_CHECK(p != MAP_FAILED, IoError, path.string(), ": mmap failed: ", std::strerror(err));
    ::madvise(p, f->size_, MADV_WILLNEED);
    f->data_ = static_cast<const unsigned char*>(p);
  } else {
    ::close(fd);
  }
  return f;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
}

}  // namespace transformers
