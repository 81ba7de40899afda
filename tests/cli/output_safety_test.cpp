// Outputs never destroy inputs: `convert` writes through temporary files renamed into place (a
// destination of links made by `cp -rs`, or laid out like a Hub cache snapshot, leaves the
// source's bytes unchanged), refuses to copy a tokenizer file that links outside the source
// folder, and `forward` refuses outputs that are the model's files or each other. Argument
// errors are one `error:` line with exit status 1.
#include <fstream>
#include <map>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/files.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;
using testing::expect_one_line_error;
using testing::run_transformers;

std::string golden(const std::string& arch) { return testing::shared_path("golden/" + arch).string(); }

// Every regular file under `dir` (links followed) and its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (fs::is_regular_file(e.path())) out[fs::relative(e.path(), dir).string()] = read_text_file(e.path());
  return out;
}

// A model folder: the golden llama plus a real tokenizer, so convert has files to copy.
fs::path model_with_tokenizer(const std::string& name) {
  const fs::path dir = testing::scratch_dir(name);
  for (const auto& f : fs::directory_iterator(golden("llama"))) fs::copy_file(f.path(), dir / f.path().filename());
  fs::copy_file(testing::shared_path("tokenizers/models/llama2/tokenizer.json"), dir / "tokenizer.json");
  return dir;
}

TEST(OutputSafety, ConvertIntoLinksToTheSourceLeavesTheSourceUnchanged) {
  const fs::path src = model_with_tokenizer("safety-src-links");
  const auto before = snapshot(src);
  // `cp -rs SRC DST`: every file of the destination is a symlink into the source.
  const fs::path dst = testing::scratch_dir("safety-dst-links");
  for (const auto& f : fs::directory_iterator(src)) fs::create_symlink(f.path(), dst / f.path().filename());
  auto r = run_transformers("convert " + src.string() + " " + dst.string() + " --dtype bf16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(src), before) << "convert wrote through a link into the source folder";
  for (const char* name : {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"})
    EXPECT_FALSE(fs::is_symlink(fs::symlink_status(dst / name))) << name << " is still a link";
  EXPECT_LT(fs::file_size(dst / "model.safetensors"), fs::file_size(src / "model.safetensors"));  // bf16 now
}

TEST(OutputSafety, ConvertIntoAHubSnapshotLeavesTheSharedBlobsUnchanged) {
  const fs::path src = model_with_tokenizer("safety-src-hub");
  // models--org--name/snapshots/<sha>/file -> ../../blobs/<hash>, as huggingface_hub lays it out;
  // the same blobs are shared by every snapshot that has the same file.
  const fs::path repo = testing::scratch_dir("safety-hub") / "models--org--name";
  const fs::path snap = repo / "snapshots" / "abc123";
  fs::create_directories(repo / "blobs");
  fs::create_directories(snap);
  int i = 0;
  for (const auto& f : fs::directory_iterator(src)) {
    const std::string blob = "blob" + std::to_string(i++);
    fs::copy_file(f.path(), repo / "blobs" / blob);
    fs::create_symlink("../../blobs/" + blob, snap / f.path().filename());
  }
  const auto blobs_before = snapshot(repo / "blobs");
  // Converting out of the snapshot works: its links lead to blobs of the same repository.
  const fs::path out = testing::scratch_dir("safety-hub-out");
  auto r = run_transformers("convert " + snap.string() + " " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_text_file(out / "tokenizer.json"), read_text_file(src / "tokenizer.json"));
  // Converting into the snapshot replaces its links; the blobs keep their bytes.
  r = run_transformers("convert " + src.string() + " " + snap.string() + " --dtype f16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(repo / "blobs"), blobs_before);
}

TEST(OutputSafety, ConvertRefusesATokenizerLinkLeavingTheSource) {
  const fs::path src = model_with_tokenizer("safety-src-secret");
  const fs::path secret = testing::scratch_dir("safety-secret") / "id_rsa";
  std::ofstream(secret) << "PRIVATE KEY";
  fs::create_symlink(secret, src / "tokenizer_config.json");
  const fs::path dst = testing::scratch_dir("safety-dst-secret");
  auto r = run_transformers("convert " + src.string() + " " + dst.string());
  expect_one_line_error(r, "tokenizer_config.json");
  EXPECT_NE(r.err.find("outside the model folder"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dst)) << "a refused convert wrote files";
}

TEST(OutputSafety, ForwardRefusesOutputsThatAreInputs) {
  const fs::path model = model_with_tokenizer("safety-forward");
  const auto before = snapshot(model);
  const std::string ids = " --input-ids \"1,2,3\"";
  expect_one_line_error(run_transformers("forward " + model.string() + ids + " --out " + (model / "model.safetensors").string()),
                        "--out");
  expect_one_line_error(run_transformers("forward " + model.string() + ids + " --out " + (model / "new.npy").string()),
                        "inside the model folder");
  // A link elsewhere that leads to the weights is the weights.
  const fs::path elsewhere = testing::scratch_dir("safety-forward-out");
  fs::create_symlink(model / "model.safetensors", elsewhere / "logits.npy");
  expect_one_line_error(run_transformers("forward " + model.string() + ids + " --out " + (elsewhere / "logits.npy").string()),
                        "model's file");
  const std::string same = (elsewhere / "x.npy").string();
  expect_one_line_error(run_transformers("forward " + model.string() + ids + " --out " + same + " --hidden-states " + same),
                        "name the same file");
  EXPECT_EQ(snapshot(model), before);
  EXPECT_FALSE(fs::exists(same));
  // A device is written in place, never replaced.
  auto r = run_transformers("forward " + model.string() + ids + " --out /dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

TEST(CliErrors, ArgumentErrorsAreOneLineWithStatusOne) {
  expect_one_line_error(run_transformers("generate"), "model");
  expect_one_line_error(run_transformers("generate " + golden("llama") + " --max-new-tokens abc"), "--max-new-tokens");
  expect_one_line_error(run_transformers("forward " + golden("llama") + " --out x.npy --input-ids 1 --no-such-flag"),
                        "--no-such-flag");
  expect_one_line_error(run_transformers("convert a b --dtype f64"), "--dtype");
  auto r = run_transformers("frobnicate");
  expect_one_line_error(r, "unknown command 'frobnicate'");
  EXPECT_NE(r.err.find("generate"), std::string::npos) << "the commands are listed: " << r.err;
  expect_one_line_error(run_transformers(""), "subcommand");
  r = run_transformers("generate --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--max-new-tokens"), std::string::npos);
}

TEST(CliErrors, SpecialFilesInTheModelFolderFailFast) {
  // A FIFO named config.json would block a reader forever; `timeout` turns a hang into a failure.
  const fs::path dir = model_with_tokenizer("safety-fifo");
  fs::remove(dir / "config.json");
  ASSERT_EQ(::mkfifo((dir / "config.json").c_str(), 0644), 0);
  auto r = testing::run_command("timeout 60 " + std::string(TCPP_BINARY_DIR) + "/cli/transformers generate " +
                                dir.string() + " --input-ids 1,2 --max-new-tokens 1");
  expect_one_line_error(r, "FIFO");
  fs::remove(dir / "config.json");
  fs::copy_file(golden("llama") + "/config.json", dir / "config.json");
  fs::remove(dir / "tokenizer.json");
  fs::create_symlink("/dev/zero", dir / "tokenizer.json");
  r = testing::run_command("timeout 60 " + std::string(TCPP_BINARY_DIR) + "/cli/transformers generate " + dir.string() +
                           " --prompt hi --max-new-tokens 1");
  expect_one_line_error(r, "device");
  // The sentencepiece fallback (tokenizer.model alone) reads through the same checks.
  fs::remove(dir / "tokenizer.json");
  ASSERT_EQ(::mkfifo((dir / "tokenizer.model").c_str(), 0644), 0);
  r = testing::run_command("timeout 60 " + std::string(TCPP_BINARY_DIR) + "/cli/transformers generate " + dir.string() +
                           " --prompt hi --max-new-tokens 1");
  expect_one_line_error(r, "tokenizer.model");
  EXPECT_NE(r.err.find("FIFO"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace transformers
