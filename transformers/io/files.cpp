#include "transformers/io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "transformers/core/error.h"

namespace transformers {

namespace {
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string errno_text(int err) { return std::strerror(err); }
}  // namespace

int open_regular_file(const std::filesystem::path& path, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  TCPP_CHECK(fd >= 0, IoError, path.string(), ": cannot open: ", errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const mode_t mode = st.st_mode;
    ::close(fd);
    throw IoError(detail::concat(path.string(), ": expected a regular file, found ", kind_of(mode)));
  }
  // Reads of a regular file never block; clear O_NONBLOCK so nothing downstream is surprised.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, &size);
  if (size > max_bytes) {
    ::close(fd);
    throw FormatError(detail::concat(path.string(), ": file of ", size, " bytes exceeds the limit of ", max_bytes,
                                     " bytes for this kind of file"));
  }
  std::string text(size, '\0');
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, text.data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw IoError(detail::concat(path.string(), ": read failed", n < 0 ? ": " + errno_text(err) : " (file shrank)"));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return text;
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path target) : target_(std::move(target)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  TCPP_CHECK(!fs::is_directory(fs::symlink_status(target_, ec)), IoError, target_.string(),
             ": is a directory, cannot write a file there");
  // A device or a pipe (--out /dev/null, /dev/stdout) is a stream, not a file to replace: it is
  // written in place. Renaming over it would replace the device node itself.
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    fd_ = ::open(target_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    TCPP_CHECK(fd_ >= 0, IoError, target_.string(), ": cannot open for writing: ", errno_text(errno));
    return;
  }
  std::random_device rd;
  const fs::path dir = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".tmp%08x", static_cast<unsigned>(rd()));
    temp_ = dir / ("." + target_.filename().string() + suffix);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST)
      throw IoError(detail::concat(target_.string(), ": cannot create a temporary file beside it: ", errno_text(errno)));
  }
  TCPP_CHECK(fd_ >= 0, IoError, target_.string(), ": cannot create a temporary file beside it");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t n) {
  TCPP_CHECK(fd_ >= 0, IoError, target_.string(), ": write after commit");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    TCPP_CHECK(w > 0, IoError, target_.string(), ": write failed: ", errno_text(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFileWriter::commit() {
  TCPP_CHECK(fd_ >= 0, IoError, target_.string(), ": committed twice");
  if (temp_.empty()) {  // a stream written in place
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    TCPP_CHECK(closed, IoError, target_.string(), ": write failed: ", errno_text(errno));
    return;
  }
  // Data reaches the disk before the rename makes it visible: a crash leaves the old file or the
  // new one, never a truncated one.
  const bool synced = ::fdatasync(fd_) == 0;
  const int err = errno;
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  if (!synced || !closed) {
    ::unlink(temp_.c_str());
    throw IoError(detail::concat(target_.string(), ": write failed: ", errno_text(err)));
  }
  // rename() replaces a symlink at the target with the file itself; it never follows it.
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    const int rerr = errno;
    ::unlink(temp_.c_str());
    throw IoError(detail::concat(target_.string(), ": cannot rename the written file into place: ", errno_text(rerr)));
  }
}

void write_file_atomically(const std::filesystem::path& target, std::string_view bytes) {
  AtomicFileWriter out(target);
  out.write(bytes);
  out.commit();
}

bool same_file(const std::filesystem::path& path, const std::filesystem::path& other) {
  struct stat a {}, b {};
  if (::stat(path.c_str(), &a) == 0 && ::stat(other.c_str(), &b) == 0) return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  std::error_code ec1, ec2;
  const auto ca = std::filesystem::weakly_canonical(path, ec1), cb = std::filesystem::weakly_canonical(other, ec2);
  return !ec1 && !ec2 && ca == cb;
}

}  // namespace transformers
