// Reading files of a stranger's model folder and writing outputs: only regular files are read, with
// a size limit checked before reading; JSON nesting is bounded before parsing; outputs replace a
// link at their path instead of writing through it, and an unfinished write leaves the old file.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/test_util.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"
#include "transformers/io/mapped_file.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

TEST(Files, FifoDeviceAndDirectoryAreRefusedWithoutBlocking) {
  const fs::path dir = testing::scratch_dir("files_special");
  const fs::path fifo = dir / "config.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  // Opening a FIFO for reading with no writer would block forever; these must return at once.
  std::string e = error_of<IoError>([&] { read_text_file(fifo); });
  EXPECT_TRUE(contains(e, "config.json") && contains(e, "FIFO")) << e;
  e = error_of<IoError>([&] { MappedFile::open(fifo); });
  EXPECT_TRUE(contains(e, "FIFO")) << e;
  e = error_of<IoError>([&] { read_json_file(fifo); });
  EXPECT_TRUE(contains(e, "FIFO")) << e;

  // A link to /dev/zero (endless) and /dev/urandom: refused as devices, nothing is read.
  fs::create_symlink("/dev/zero", dir / "tokenizer.json");
  e = error_of<IoError>([&] { read_text_file(dir / "tokenizer.json"); });
  EXPECT_TRUE(contains(e, "tokenizer.json") && contains(e, "device")) << e;
  fs::create_symlink("/dev/urandom", dir / "model.safetensors");
  e = error_of<IoError>([&] { MappedFile::open(dir / "model.safetensors"); });
  EXPECT_TRUE(contains(e, "device")) << e;

  // A directory where a JSON file is expected says so (not "invalid JSON at byte 1").
  fs::create_directory(dir / "generation_config.json");
  e = error_of<IoError>([&] { read_json_file(dir / "generation_config.json"); });
  EXPECT_TRUE(contains(e, "generation_config.json") && contains(e, "directory")) << e;

  e = error_of<IoError>([&] { read_text_file(dir / "missing.json"); });
  EXPECT_TRUE(contains(e, "missing.json") && contains(e, "No such file")) << e;
}

// Files of 2 MiB and more are mapped on a 2 MiB boundary, so that the page cache's 2 MiB folios map
// whole (mapped_file.cpp); every byte reads as the file holds it, up to the last of an odd size,
// and a file smaller than a huge page maps as before.
TEST(Files, MappingsOfLargeFilesStartOnA2MiBBoundary) {
  const fs::path dir = testing::scratch_dir("files_mapping");
  for (const size_t size : {(size_t{2} << 20) + 5, (size_t{5} << 20) + 4096, size_t{3000}}) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
    write_file(dir / "model.safetensors", bytes);
    const auto f = MappedFile::open(dir / "model.safetensors");
    ASSERT_EQ(f->size(), size);
    if (size >= (size_t{2} << 20)) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(f->data()) % (uintptr_t{2} << 20), 0u);
    }
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), bytes) << size;
  }
}

TEST(Files, SizeLimitIsCheckedBeforeReading) {
  const fs::path dir = testing::scratch_dir("files_size");
  write_file(dir / "big.json", std::string(1000, ' ') + "{}");
  std::string e = error_of<FormatError>([&] { read_text_file(dir / "big.json", 100); });
  EXPECT_TRUE(contains(e, "big.json") && contains(e, "1002 bytes") && contains(e, "limit of 100")) << e;
  EXPECT_EQ(read_text_file(dir / "big.json", 1002).size(), 1002u);
  // A sparse file of 200 MB where a config is expected: refused by its size, never read.
  {
    std::ofstream f(dir / "config.json", std::ios::binary);
    f.seekp((std::streamoff{200} << 20) - 1);
    f.put('}');
  }
  e = error_of<FormatError>([&] { read_json_file(dir / "config.json"); });
  EXPECT_TRUE(contains(e, "config.json") && contains(e, "exceeds the limit")) << e;
}

TEST(Files, JsonDepthIsBoundedBeforeParsing) {
  // One million levels, as in a hostile config.json: refused, the stack is never at risk.
  const std::string deep = "{\"unused\": " + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  std::string e = error_of<FormatError>([&] { parse_json(deep, "config.json"); });
  EXPECT_TRUE(contains(e, "config.json") && contains(e, "deeper than 128")) << e;
  e = error_of<FormatError>([&] { parse_ordered_json(std::string(100'000, '{'), "conversation.json"); });
  EXPECT_TRUE(contains(e, "conversation.json") && contains(e, "deeper")) << e;

  // Exactly the limit parses (value checked), one more level does not.
  const std::string at_limit = std::string(128, '[') + "7" + std::string(128, ']');
  Json j = parse_json(at_limit, "x");
  for (int i = 0; i < 127; ++i) j = j[0];
  EXPECT_EQ(j[0].get<int>(), 7);
  EXPECT_THROW(parse_json("[" + at_limit + "]", "x"), FormatError);

  // Brackets inside strings (and escaped quotes) are text, not nesting.
  const std::string in_string = "{\"a\": \"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}";
  EXPECT_EQ(parse_json(in_string, "x")["a"].get<std::string>().size(), 2001u);
}

TEST(Files, NumbersBeyondDoubleAreFormatErrorsNamingTheFile) {
  // nlohmann reports 1e406 as out_of_range, not as a parse error; it must still be a FormatError
  // naming the file (Python's json reads it as inf; no config value can use that).
  std::string e = error_of<FormatError>([&] { parse_json("{\"rope_theta\": 1e406}", "config.json"); });
  EXPECT_TRUE(contains(e, "config.json") && contains(e, "1e406")) << e;
  e = error_of<FormatError>([&] { parse_ordered_json("[-1e999]", "conversation.json"); });
  EXPECT_TRUE(contains(e, "conversation.json") && contains(e, "1e999")) << e;
  EXPECT_EQ(parse_json("[1e308]", "x")[0].get<double>(), 1e308);
}

TEST(Files, AtomicWriteReplacesALinkInsteadOfWritingThroughIt) {
  const fs::path dir = testing::scratch_dir("files_atomic");
  write_file(dir / "source.json", "original");
  fs::create_symlink(dir / "source.json", dir / "out.json");
  write_file_atomically(dir / "out.json", "new");
  EXPECT_EQ(read_text_file(dir / "source.json"), "original");
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(dir / "out.json")));
  EXPECT_EQ(read_text_file(dir / "out.json"), "new");

  // A hard link shares the inode: the rename gives the target a new inode, the other name keeps
  // the old bytes.
  fs::create_hard_link(dir / "source.json", dir / "hard.json");
  write_file_atomically(dir / "hard.json", "replaced");
  EXPECT_EQ(read_text_file(dir / "source.json"), "original");
  EXPECT_EQ(read_text_file(dir / "hard.json"), "replaced");

  // An unfinished write (an error before commit) leaves the old file and no temporary file.
  try {
    AtomicFileWriter w(dir / "source.json");
    w.write("partial");
    throw ValueError("interrupted");
  } catch (const ValueError&) {
  }
  EXPECT_EQ(read_text_file(dir / "source.json"), "original");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += !contains(e.path().filename().string(), ".tmp") ? 1 : 100;
  EXPECT_EQ(files, 3u) << "a temporary file was left behind";

  fs::create_directory(dir / "sub");
  std::string e = error_of<IoError>([&] { write_file_atomically(dir / "sub", "x"); });
  EXPECT_TRUE(contains(e, "directory")) << e;
}

TEST(Files, SameFileSeesThroughLinks) {
  const fs::path dir = testing::scratch_dir("files_same");
  write_file(dir / "a", "x");
  write_file(dir / "b", "x");
  fs::create_symlink(dir / "a", dir / "link");
  fs::create_hard_link(dir / "a", dir / "hard");
  EXPECT_TRUE(same_file(dir / "link", dir / "a"));
  EXPECT_TRUE(same_file(dir / "hard", dir / "a"));
  EXPECT_TRUE(same_file(dir / "sub/../a", dir / "a") || !fs::exists(dir / "sub"));
  EXPECT_FALSE(same_file(dir / "b", dir / "a"));
  EXPECT_TRUE(same_file(dir / "new.npy", dir / "." / "new.npy"));  // neither exists yet
  EXPECT_FALSE(same_file(dir / "new.npy", dir / "other.npy"));
}

}  // namespace
}  // namespace transformers
