// list_cached_models over a cache laid out by hand: model repositories with their refs and
// snapshots; datasets, odd folders and refs that hold no sha (or lead to no snapshot) left out.
#include "transformers/hub/cache_listing.h"

#include <gtest/gtest.h>

#include "hub_test_util.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSha = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kSha2 = "89abcdef0123456789abcdef0123456789abcdef";

TEST(CacheListing, ListsModelRepositoriesRefsAndSnapshots) {
  const fs::path cache = testing::scratch_dir("hub-cache-listing");
  const std::map<std::string, std::string> files{{"config.json", "{}"}};
  testing::handmade_cache_repo(cache, "org/tiny", kSha, files);
  testing::handmade_cache_repo(cache, "org/tiny", kSha2, files, "v1.0");
  testing::handmade_cache_repo(cache, "Qwen/Qwen2.5-0.5B", kSha2, files);
  const fs::path tiny = cache / "models--org--tiny";
  fs::create_directories(tiny / "refs" / "refs" / "pr");
  write_file_atomically(tiny / "refs" / "refs" / "pr" / "1", kSha);  // huggingface_hub's refs/pr/1
  write_file_atomically(tiny / "refs" / "evil", "../../etc");        // not a sha: skipped
  write_file_atomically(tiny / "refs" / "gone", std::string(40, 'e'));  // no snapshot: skipped
  fs::create_directories(cache / "datasets--org--data" / "snapshots" / kSha);
  fs::create_directories(cache / "models--noseparator");
  fs::create_directories(cache / "models--bad--..");
  fs::create_directories(cache / ".locks");

  const auto repos = hub::list_cached_models({.cache_dir = cache});
  ASSERT_EQ(repos.size(), 2u);
  EXPECT_EQ(repos[0].repo_id, "Qwen/Qwen2.5-0.5B");
  EXPECT_EQ(repos[0].refs, (std::map<std::string, std::string>{{"main", kSha2}}));
  EXPECT_EQ(repos[1].repo_id, "org/tiny");
  EXPECT_EQ(repos[1].refs, (std::map<std::string, std::string>{
                               {"main", kSha}, {"refs/pr/1", kSha}, {"v1.0", kSha2}}));
  EXPECT_EQ(repos[1].snapshots, (std::vector<std::string>{kSha, kSha2}));
  EXPECT_TRUE(hub::list_cached_models({.cache_dir = cache / "absent"}).empty());
}

}  // namespace
}  // namespace transformers
