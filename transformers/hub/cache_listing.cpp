#include "transformers/hub/cache_listing.h"

#include <algorithm>

#include "transformers/core/error.h"

namespace transformers::hub {
namespace fs = std::filesystem;

namespace {

// "models--org--name" -> "org/name" ("" when it is not a model folder with a valid id). Repo ids
// never contain "--", so the first "--" after the prefix separates org and name.
std::string repo_id_of(const std::string& folder) {
  const std::string prefix = "models--";
  if (folder.rfind(prefix, 0) != 0) return "";
  const size_t sep = folder.find("--", prefix.size());
  if (sep == std::string::npos) return "";
  const std::string id =
      folder.substr(prefix.size(), sep - prefix.size()) + "/" + folder.substr(sep + 2);
  return looks_like_repo_ref(id) && id.find('@') == std::string::npos ? id : "";
}

CachedRepo read_repo(const fs::path& dir, const std::string& repo_id) {
  CachedRepo repo{.repo_id = repo_id};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "snapshots", ec))
    if (is_commit_sha(e.path().filename().string()) && e.is_directory(ec))
      repo.snapshots.push_back(e.path().filename());
  std::sort(repo.snapshots.begin(), repo.snapshots.end());
  const fs::path refs = dir / "refs";
  size_t seen = 0;
  for (auto it = fs::recursive_directory_iterator(refs, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (++seen > kMaxRefsPerRepo) break;
    if (!it->is_regular_file(ec)) continue;
    const std::string revision = it->path().lexically_relative(refs).generic_string();
    try {
      const std::string sha = read_ref(dir, {repo_id, revision});
      if (std::binary_search(repo.snapshots.begin(), repo.snapshots.end(), sha))
        repo.refs[revision] = sha;
    } catch (const Error&) {
      // an unreadable or hostile ref is not a revision
    }
  }
  return repo;
}

}  // namespace

std::vector<CachedRepo> list_cached_models(const HubOptions& options) {
  std::vector<CachedRepo> repos;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(hub_cache_dir(options), ec)) {
    const std::string id = repo_id_of(e.path().filename().string());
    if (!id.empty() && e.is_directory(ec)) repos.push_back(read_repo(e.path(), id));
  }
  std::sort(repos.begin(), repos.end(),
            [](const auto& a, const auto& b) { return a.repo_id < b.repo_id; });
  return repos;
}

}  // namespace transformers::hub
