// Reading and writing files as a stranger's model folder demands: only regular files are read
// (a FIFO would block forever, /dev/zero would never end), every whole-file read has a size
// limit checked before anything is allocated, and every output is written to a temporary file
// in its destination folder and renamed over the target, so an interrupted write leaves the old
// file intact and a symlink already at the target is replaced, never written through.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace transformers {

// Default limit of read_text_file: far above any real tokenizer.json (the largest on the Hub are
// ~35 MB), far below what would exhaust memory once parsed.
inline constexpr uint64_t kMaxTextFileBytes = uint64_t{256} << 20;

// Opens `path` for reading and checks it is a regular file (following symlinks, as the Hub cache
// needs: its snapshot files are links to blobs). Returns the file descriptor and stores the
// size. Throws IoError naming the file when it is missing, a directory, a FIFO, a device or a
// socket. The open never blocks (O_NONBLOCK), so a FIFO is refused rather than waited on.
int open_regular_file(const std::filesystem::path& path, uint64_t* size);

// Reads a whole regular file, refusing one larger than `max_bytes` (FormatError naming the file
// and the limit) before reading it.
std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes = kMaxTextFileBytes);

// Writes one output file atomically: bytes go to a new temporary file beside the target
// (created with O_EXCL, so it is never an existing file or link), which commit() flushes to disk
// and renames over the target. Without commit() the temporary file is removed and the target is
// untouched. A target that is a device or a pipe (/dev/null, /dev/stdout) is written in place.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path target);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();
  const std::filesystem::path& target() const { return target_; }

 private:
  std::filesystem::path target_, temp_;
  int fd_ = -1;
};

// The whole of `bytes` as the new content of `target`, through AtomicFileWriter.
void write_file_atomically(const std::filesystem::path& target, std::string_view bytes);

// Whether `path` (a file or folder that may not exist yet) resolves to the same file as
// `other`, through links and hard links (same device and inode when both exist).
bool same_file(const std::filesystem::path& path, const std::filesystem::path& other);

}  // namespace transformers
