// `transformers download` (the real command) against a Hub on loopback (fake_hub.h): a fresh
// download lands in huggingface_hub's exact cache layout and then loads offline by name; a cut
// transfer and a partial file are resumed with Range and verified; a corrupted blob, a missing or
// wrong token, an unknown revision and a hostile file name are refused with status 1, the token
// never appearing in the output.
#include <gtest/gtest.h>

#include <algorithm>

#include "hub_test_util.h"

namespace transformers {
namespace {

using testing::FakeHub;
using testing::FakeRepo;
using testing::ProcessResult;
namespace fs = std::filesystem;

constexpr const char* kSha = "1111111111111111111111111111111111111111";
constexpr const char* kTagSha = "2222222222222222222222222222222222222222";
constexpr const char* kToken = "hf_secretToken123";

// Status 1 and a last stderr line "error: ..." containing `needle` (progress lines may precede it).
void expect_final_error(const ProcessResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const size_t start = r.err.rfind('\n', r.err.size() >= 2 ? r.err.size() - 2 : 0);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  EXPECT_EQ(last.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(last.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

class Download : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = testing::tiny_model("hub-dl-tiny");
    tagged_model_ = testing::tiny_model("hub-dl-tiny-seed1", 1);
    root_ = testing::scratch_dir("hub-dl");
    cache_ = root_ / "cache";
    home_ = root_ / "home";
    fs::create_directories(home_);
    files_ = testing::folder_files(model_);
    hub_.add_repo("org/tiny",
                  {.refs = {{"main", kSha}, {"v1.0", kTagSha}},
                   .commits = {{kSha, files_}, {kTagSha, testing::folder_files(tagged_model_)}}});
    hub_.add_repo("org/private",
                  {.refs = {{"main", kSha}}, .commits = {{kSha, files_}}, .token = kToken});
  }

  // The command with this test's Hub, cache and an empty HF_HOME (no token file of the machine's).
  ProcessResult run(const std::string& args, const std::string& env = "") {
    return testing::run_command("env -u HF_TOKEN -u HF_HUB_OFFLINE HF_ENDPOINT=" + hub_.endpoint() +
                                " HF_HUB_CACHE=" + cache_.string() + " HF_HOME=" + home_.string() +
                                " " + env + " " + std::string(TCPP_BINARY_DIR) +
                                "/cli/transformers " + args);
  }

  fs::path repo_dir(const std::string& name = "tiny") const {
    return cache_ / ("models--org--" + name);
  }

  std::string generated(const std::string& model, const std::string& env = "") {
    ProcessResult r = run("generate " + model + " --input-ids 1,5,9 --max-new-tokens 6", env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  size_t blob_gets() const {
    auto log = hub_.log();
    return std::count_if(log.begin(), log.end(),
                         [](const auto& e) { return e.path.rfind("/blobs/", 0) == 0; });
  }

  FakeHub hub_;
  fs::path model_, tagged_model_, root_, cache_, home_;
  std::map<std::string, std::string> files_;
};

TEST_F(Download, FreshDownloadHasHuggingfaceHubLayoutAndLoadsOfflineByName) {
  ProcessResult r = run("download org/tiny");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path snapshot = repo_dir() / "snapshots" / kSha;
  EXPECT_EQ(r.out, snapshot.string() + "\n");
  EXPECT_EQ(read_text_file(repo_dir() / "refs" / "main"), kSha);
  for (const auto& [name, bytes] : files_) {
    const fs::path link = snapshot / name;
    ASSERT_TRUE(fs::is_symlink(link)) << name;
    // LFS files are named by their sha256 (X-Linked-Etag), the others by their git blob sha1.
    const std::string etag =
        name.ends_with(".safetensors") ? testing::sha256_hex(bytes) : testing::git_blob_sha1(bytes);
    EXPECT_EQ(fs::read_symlink(link), fs::path("../../blobs") / etag) << name;
    EXPECT_EQ(read_text_file(link), bytes) << name;
    EXPECT_NE(r.err.find(name), std::string::npos) << "a progress line per file: " << r.err;
  }
  for (const auto& e : fs::directory_iterator(repo_dir() / "blobs"))
    EXPECT_EQ(e.path().extension(), "") << "left behind: " << e.path();
  // Offline, by name, on an unreachable endpoint: the same tokens as from the original folder.
  EXPECT_EQ(generated("org/tiny", "HF_HUB_OFFLINE=1 HF_ENDPOINT=http://127.0.0.1:9"),
            generated(model_.string()));
  EXPECT_EQ(generated("org/tiny --local-files-only"), generated(model_.string()));
  // A second download finds every blob by its etag and fetches none.
  const size_t before = blob_gets();
  r = run("download org/tiny");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(blob_gets(), before);
  EXPECT_NE(r.err.find("cached"), std::string::npos) << r.err;
}

TEST_F(Download, CutTransferIsResumedWithRangeAndVerified) {
  hub_.cut_next_blob_after(1000);
  ProcessResult r = run("download org/tiny");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = hub_.log();
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const auto& e) {
    return e.range == "bytes=1000-";
  })) << "no request resumed at byte 1000";
  const std::string weights = files_.at("model.safetensors");
  EXPECT_EQ(read_text_file(repo_dir() / "blobs" / testing::sha256_hex(weights)), weights);
  EXPECT_EQ(generated("org/tiny", "HF_HUB_OFFLINE=1"), generated(model_.string()));
}

TEST_F(Download, PartialFileOfAnEarlierRunIsResumed) {
  const std::string weights = files_.at("model.safetensors");
  const fs::path part = repo_dir() / "blobs" / (testing::sha256_hex(weights) + ".incomplete");
  fs::create_directories(part.parent_path());
  write_file_atomically(part, weights.substr(0, 5000));
  ProcessResult r = run("download org/tiny");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = hub_.log();
  EXPECT_TRUE(
      std::any_of(log.begin(), log.end(), [](const auto& e) { return e.range == "bytes=5000-"; }));
  EXPECT_FALSE(fs::exists(part));
  EXPECT_EQ(read_text_file(repo_dir() / "snapshots" / kSha / "model.safetensors"), weights);
}

TEST_F(Download, CorruptedBlobIsRefused) {
  hub_.corrupt_blobs(true);
  ProcessResult r = run("download org/tiny");
  expect_final_error(r, "sha256 mismatch");
  const std::string etag = testing::sha256_hex(files_.at("model.safetensors"));
  EXPECT_NE(r.err.find(etag), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / etag));
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / (etag + ".incomplete")));
  EXPECT_FALSE(
      fs::exists(fs::symlink_status(repo_dir() / "snapshots" / kSha / "model.safetensors")));
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main"));
}

TEST_F(Download, PrivateRepositoryNeedsTheRightToken) {
  ProcessResult r = run("download org/private");
  testing::expect_one_line_error(r, "needs a token");
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  r = run("download org/private --token hf_wrongToken456");
  testing::expect_one_line_error(r, "token refused");
  EXPECT_EQ((r.out + r.err).find("hf_wrongToken456"), std::string::npos) << "the token was printed";
  r = run("download org/private", std::string("HF_TOKEN=") + kToken);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ((r.out + r.err).find(kToken), std::string::npos) << "the token was printed";
  // The token file huggingface_hub writes ($HF_HOME/token).
  fs::remove_all(cache_);
  write_file_atomically(home_ / "token", std::string(kToken) + "\n");
  r = run("download org/private");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(repo_dir("private") / "snapshots" / kSha / "model.safetensors"));
}

TEST_F(Download, TagAndCommitRevisions) {
  ProcessResult r = run("download org/tiny --revision v1.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, (repo_dir() / "snapshots" / kTagSha).string() + "\n");
  EXPECT_EQ(read_text_file(repo_dir() / "refs" / "v1.0"), kTagSha);
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main"));
  EXPECT_EQ(generated("org/tiny@v1.0", "HF_HUB_OFFLINE=1"), generated(tagged_model_.string()));
  EXPECT_NE(generated(tagged_model_.string()), generated(model_.string()));  // the revisions differ
  // A commit sha is used as is: no ref is written for it.
  r = run(std::string("download org/tiny@") + kSha);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / kSha));
  EXPECT_EQ(generated(std::string("org/tiny --revision ") + kSha, "HF_HUB_OFFLINE=1"),
            generated(model_.string()));
  testing::expect_one_line_error(run("download org/tiny --revision nope"),
                                 "no such repository/revision 'nope'");
}

TEST_F(Download, IncludeGlobsSelectFiles) {
  ProcessResult r = run("download org/tiny --include '*.json'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path snapshot = repo_dir() / "snapshots" / kSha;
  EXPECT_TRUE(fs::exists(snapshot / "config.json"));
  EXPECT_TRUE(fs::exists(snapshot / "generation_config.json"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(snapshot / "model.safetensors")));
  EXPECT_EQ(blob_gets(), 0u);
}

TEST_F(Download, HostileFileNamesFromTheServerWriteNothing) {
  for (const std::string evil :
       {"../../evil", "/tmp/evil-abs", "sub/../../../evil", "./config.json"}) {
    hub_.add_repo("org/evil", {.refs = {{"main", kSha}},
                               .commits = {{kSha, {{"config.json", "{}"}, {evil, "x"}}}}});
    ProcessResult r = run("download org/evil");
    testing::expect_one_line_error(r, "from the server");
    EXPECT_FALSE(fs::exists(repo_dir("evil"))) << evil;
  }
  for (const fs::path& p : {root_ / "evil", cache_ / "evil", root_.parent_path() / "evil"})
    EXPECT_FALSE(fs::exists(p)) << p;
  auto log = hub_.log();
  EXPECT_TRUE(std::none_of(log.begin(), log.end(), [](const auto& e) {
    return e.path.find("/resolve/") != std::string::npos;
  }));
}

TEST_F(Download, OfflineAndHostileNamesNeverReachTheServer) {
  testing::expect_one_line_error(run("download org/tiny", "HF_HUB_OFFLINE=1"),
                                 "not in the Hub cache");
  for (const std::string name : {"../x", "/etc/passwd", "a/b/c", "org/..", "org/tiny@../../etc"})
    testing::expect_one_line_error(run("download '" + name + "'"), "");
  EXPECT_TRUE(hub_.log().empty());
  EXPECT_FALSE(fs::exists(cache_));
}

TEST_F(Download, UnreachableOrUnusableEndpointIsOneLineError) {
  // The port of a server just stopped: nothing listens there.
  std::string closed;
  {
    FakeHub gone;
    closed = gone.endpoint();
  }
  testing::expect_one_line_error(run("download org/tiny", "HF_ENDPOINT=" + closed),
                                 closed + "/api/models/org/tiny");
  testing::expect_one_line_error(run("download org/tiny", "HF_ENDPOINT=ftp://127.0.0.1"),
                                 "must start with http:// or https://");
  EXPECT_FALSE(fs::exists(repo_dir()));
}

}  // namespace
}  // namespace transformers
