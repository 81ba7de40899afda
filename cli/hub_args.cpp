#include "cli/hub_args.h"

namespace transformers::cli {

void add_hub_flags(CLI::App* sub, HubArgs& args) {
  sub->add_option(
      "--revision", args.revision,
      "With a Hub name: branch, tag or commit sha (default: the name's @revision, else main)");
  sub->add_option("--cache-dir", args.cache_dir,
                  "Hub cache folder (default: $HF_HUB_CACHE, else $HF_HOME/hub, else "
                  "~/.cache/huggingface/hub)");
  sub->add_flag("--local-files-only", args.local_files_only,
                "Never touch the network (as HF_HUB_OFFLINE=1; a Hub name is only ever looked up "
                "in the local cache)");
}

hub::HubOptions hub_options(const HubArgs& args) {
  return {.cache_dir = args.cache_dir,
          .revision = args.revision,
          .local_files_only = args.local_files_only || hub::hub_offline_from_env()};
}

std::string resolve_model_arg(const std::string& model, const HubArgs& args) {
  return hub::resolve_model(model, hub_options(args)).string();
}

}  // namespace transformers::cli
