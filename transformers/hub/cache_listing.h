// What the Hub cache holds: the model repositories, their refs and snapshots, as
// huggingface_hub's scan_cache_dir sees them (for `transformers serve`'s GET /v1/models, which
// lists the cached models as v5 does). Only reads the file system.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "transformers/hub/hub_cache.h"

namespace transformers::hub {

struct CachedRepo {
  std::string repo_id;  // "org/name"
  std::map<std::string, std::string>
      refs{};                            // revision ("main", "v1.0", "refs/pr/1") -> commit sha
  std::vector<std::string> snapshots{};  // commit shas with a snapshot folder, sorted
};

// Refs read per repository at most (a cache is local data, but not trusted to be small).
inline constexpr size_t kMaxRefsPerRepo = 1000;

// The model repositories (models--org--name folders; datasets and spaces are left out) of the
// cache, sorted by repo id. Folders whose name is not a valid repo id, refs that do not hold a
// sha or whose snapshot is missing are skipped, not errors. A missing cache folder lists nothing.
std::vector<CachedRepo> list_cached_models(const HubOptions& options = {});

}  // namespace transformers::hub
