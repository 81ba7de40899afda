#include "cli/model_side_files.h"

#include <optional>

#include "cli/common.h"
#include "transformers/core/error.h"
#include "transformers/io/files.h"

namespace transformers::cli {
namespace {

// Files of a model folder that are not weights or configs written by save_pretrained.
const char* const kCopied[] = {"tokenizer.json",         "tokenizer_config.json", "special_tokens_map.json",
                               "tokenizer.model",        "chat_template.jinja",   "chat_template.json",
                               "added_tokens.json",      "vocab.json",            "merges.txt"};

// Reads a tokenizer or template file of the source folder to copy it, refusing one that is a link
// leading outside it: a secret linked into a model folder must not be published with the model. A Hub
// cache snapshot is the exception the layout needs: its files are links to ../../blobs/<hash>
// of the same repository folder. The copy is read with the size limit of text files (a FIFO or a
// device is refused). Every such file is read before anything is written, so a refusal leaves the
// destination untouched.
std::optional<std::string> read_model_file(const std::filesystem::path& src_dir, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path src = src_dir / name;
  std::error_code ec;
  const fs::file_status link_status = fs::symlink_status(src, ec);
  if (ec || !fs::exists(link_status)) return std::nullopt;
  if (fs::is_symlink(link_status)) {
    const fs::path folder = fs::canonical(src_dir);
    const fs::path target = fs::weakly_canonical(src);
    const bool hub_snapshot = folder.parent_path().filename() == "snapshots" &&
                              folder.parent_path().parent_path().filename().string().rfind("models--", 0) == 0;
    const bool allowed = is_within(target, folder) ||
                         (hub_snapshot && is_within(target, folder.parent_path().parent_path() / "blobs"));
    TCPP_CHECK(allowed, IoError, src.string(), ": is a link to '", target.string(),
               "' outside the model folder; refusing to copy it");
  }
  return read_text_file(src);
}

}  // namespace

ModelSideFiles read_model_side_files(const std::filesystem::path& src_dir) {
  ModelSideFiles files;
  for (const char* name : kCopied)
    if (auto bytes = read_model_file(src_dir, name)) files.emplace_back(name, std::move(*bytes));
  return files;
}

void write_model_side_files(const std::filesystem::path& dst_dir, const ModelSideFiles& files) {
  for (const auto& [name, bytes] : files) write_file_atomically(dst_dir / name, bytes);
}

}  // namespace transformers::cli
