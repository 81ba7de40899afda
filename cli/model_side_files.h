// The files of a model folder that save_pretrained does not write (tokenizer and chat-template
// files), carried over by the commands that write a new model folder (convert, merge-adapter).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace transformers::cli {

using ModelSideFiles = std::vector<std::pair<std::string, std::string>>;  // name, bytes

// Reads those present in `src_dir`, refusing (IoError) one that is a link leading outside the
// folder (a Hub cache snapshot's links into its blobs/ are allowed). Everything is read before
// anything is written, so a refusal leaves the destination untouched.
ModelSideFiles read_model_side_files(const std::filesystem::path& src_dir);
// Writes each atomically into `dst_dir`: a link already there is replaced, never written through.
void write_model_side_files(const std::filesystem::path& dst_dir, const ModelSideFiles& files);

}  // namespace transformers::cli
