// The flags with which every command that takes a model names it by Hub name
// (`org/name[@revision]`, resolved in the local Hub cache: transformers/hub/hub_cache.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "transformers/hub/hub_cache.h"

namespace transformers::cli {

struct HubArgs {
  std::string revision, cache_dir;
  bool local_files_only = false;
};

// --revision, --cache-dir and --local-files-only.
void add_hub_flags(CLI::App* sub, HubArgs& args);

// The options these flags and the environment (HF_HUB_OFFLINE) give.
hub::HubOptions hub_options(const HubArgs& args);

// A model argument as a local path: an existing file or folder as given, else the snapshot folder
// of `org/name[@revision]` in the Hub cache (never the network).
std::string resolve_model_arg(const std::string& model, const HubArgs& args);

}  // namespace transformers::cli
