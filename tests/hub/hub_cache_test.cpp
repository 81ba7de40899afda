// Hub cache resolution (transformers/hub/hub_cache.h) against the layout huggingface_hub writes,
// built here by hand: names resolve to the right snapshot, hostile names and ref files are refused
// before any path is formed, and from_pretrained("org/name") loads the same model as the folder.
#include "transformers/hub/hub_cache.h"

#include <gtest/gtest.h>

#include "common/process.h"
#include "hub_test_util.h"
#include "transformers/models/auto.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {
namespace {

using testing::expect_error_naming;
using testing::ScopedEnv;
namespace fs = std::filesystem;

constexpr const char* kSha = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kSha2 = "89abcdef0123456789abcdef0123456789abcdef";

TEST(HubNames, ValidRepoIdsAndRevisionsParse) {
  for (const char* id : {"org/name", "Qwen/Qwen2.5-0.5B-Instruct", "a_b/c.d-e", "x/y"}) {
    EXPECT_NO_THROW(hub::validate_repo_id(id)) << id;
    EXPECT_EQ(hub::parse_repo_ref(id).revision, "main");
  }
  const hub::RepoRef ref = hub::parse_repo_ref("org/name@v1.0");
  EXPECT_EQ(ref.repo_id, "org/name");
  EXPECT_EQ(ref.revision, "v1.0");
  EXPECT_EQ(hub::parse_repo_ref("org/name@refs/pr/1").revision, "refs/pr/1");
  EXPECT_EQ(hub::parse_repo_ref("org/name", kSha).revision, kSha);
  EXPECT_TRUE(hub::is_commit_sha(kSha));
  EXPECT_FALSE(hub::is_commit_sha(std::string(kSha).substr(1)));
  EXPECT_FALSE(hub::is_commit_sha("0123456789ABCDEF0123456789abcdef01234567"));
}

TEST(HubNames, HostileRepoIdsAreRefused) {
  for (const std::string& id :
       std::vector<std::string>{"../x",         "/etc/passwd",
                                "/abs/path",    "a/b/c",
                                "name",         "org/..",
                                "../..",        "org/.hidden",
                                "org/name-",    "-org/name",
                                "org/na..me",   "org/a--b",
                                "org/name.git", "org/na me",
                                "org/na\\me",   "org/",
                                "/name",        "",
                                "org/name\n",   std::string(50, 'a') + "/" + std::string(50, 'b')})
    expect_error_naming<ValueError>([&] { hub::validate_repo_id(id); }, "is not a Hub repo id");
}

TEST(HubNames, HostileRevisionsAreRefused) {
  for (const std::string& rev : std::vector<std::string>{
           "../x", "..", "a/../b", "/abs", "a//b", "a/", "a b", "", std::string(256, 'a'), "a\\b"})
    EXPECT_THROW(hub::validate_revision(rev), ValueError) << rev;
  expect_error_naming<ValueError>([] { hub::parse_repo_ref("org/name@v1", "v2"); },
                                  "differs from --revision");
  expect_error_naming<ValueError>([] { hub::parse_repo_ref("org/name@"); }, "empty revision");
  expect_error_naming<ValueError>([] { hub::parse_repo_ref("org/name@../../etc"); }, "'..' part");
}

TEST(HubCacheDir, FollowsHuggingfaceHubEnvironment) {
  ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt), token_path("HF_TOKEN_PATH", std::nullopt);
  {
    ScopedEnv cache("HF_HUB_CACHE", "/c/hub-cache"), home("HF_HOME", "/h");
    EXPECT_EQ(hub::hub_cache_dir(), "/c/hub-cache");
    EXPECT_EQ(hub::hub_cache_dir({.cache_dir = "/explicit"}), "/explicit");
    EXPECT_EQ(hub::hub_token_path(), "/h/token");
  }
  {
    ScopedEnv cache("HF_HUB_CACHE", std::nullopt), home("HF_HOME", "/h");
    EXPECT_EQ(hub::hub_cache_dir(), "/h/hub");
  }
  {
    ScopedEnv cache("HF_HUB_CACHE", std::nullopt), home("HF_HOME", std::nullopt),
        user("HOME", "/home/u");
    EXPECT_EQ(hub::hub_cache_dir(), "/home/u/.cache/huggingface/hub");
    EXPECT_EQ(hub::hub_token_path(), "/home/u/.cache/huggingface/token");
    ScopedEnv tilde("HF_HUB_CACHE", "~/elsewhere");
    EXPECT_EQ(hub::hub_cache_dir(), "/home/u/elsewhere");
  }
  {
    ScopedEnv offline("HF_HUB_OFFLINE", "1");
    EXPECT_TRUE(hub::hub_offline_from_env());
  }
  ScopedEnv offline("HF_HUB_OFFLINE", "0");
  EXPECT_FALSE(hub::hub_offline_from_env());
}

class HandmadeCache : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = testing::tiny_model("hub-cache-tiny");
    other_ = testing::tiny_model("hub-cache-tiny-seed1", 1);
    cache_ = testing::scratch_dir("hub-cache-handmade");
    auto files = testing::folder_files(model_);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      files[f] = read_text_file(testing::shared_path("tokenizers/models/bert") / f);
    snapshot_ = testing::handmade_cache_repo(cache_, "org/tiny", kSha, files);
    snapshot2_ = testing::handmade_cache_repo(cache_, "org/tiny", kSha2,
                                              testing::folder_files(other_), "v1.0");
  }
  fs::path model_, other_, cache_, snapshot_, snapshot2_;
};

TEST_F(HandmadeCache, NamesResolveToTheirSnapshot) {
  const hub::HubOptions o{.cache_dir = cache_};
  EXPECT_EQ(hub::resolve_model("org/tiny", o), snapshot_);
  EXPECT_EQ(hub::resolve_model("org/tiny@main", o), snapshot_);
  EXPECT_EQ(hub::resolve_model("org/tiny@v1.0", o), snapshot2_);
  EXPECT_EQ(hub::resolve_model("org/tiny", {.cache_dir = cache_, .revision = "v1.0"}), snapshot2_);
  EXPECT_EQ(hub::resolve_model(std::string("org/tiny@") + kSha2, o),
            snapshot2_);                                      // a sha needs no ref
  EXPECT_EQ(hub::resolve_model(model_.string(), o), model_);  // a local folder wins
}

TEST_F(HandmadeCache, MissingNamesSayHowToDownload) {
  const hub::HubOptions o{.cache_dir = cache_};
  expect_error_naming<IoError>([&] { hub::resolve_model("org/other", o); },
                               "org/other: not in the Hub cache at " + cache_.string() +
                                   " (run `transformers download org/other`)");
  expect_error_naming<IoError>([&] { hub::resolve_model("org/tiny@v9", o); }, "no refs/v9");
  expect_error_naming<IoError>([&] { hub::resolve_model("org/tiny@" + std::string(40, 'e'), o); },
                               "is not in the Hub cache");
  expect_error_naming<IoError>([&] { hub::resolve_model("../x", o); }, "not a Hub model name");
  expect_error_naming<IoError>([&] { hub::resolve_model("a/b/c", o); }, "exactly one '/'");
}

TEST_F(HandmadeCache, RefFileLeadingElsewhereIsRefused) {
  const fs::path refs = cache_ / "models--org--tiny" / "refs";
  write_file_atomically(refs / "evil", "../../etc");
  expect_error_naming<FormatError>(
      [&] { hub::resolve_model("org/tiny@evil", {.cache_dir = cache_}); },
      "must hold a 40-hex commit sha");
  write_file_atomically(refs / "main", std::string(kSha) + "/../../../..");
  EXPECT_THROW(hub::resolve_model("org/tiny", {.cache_dir = cache_}), FormatError);
}

TEST_F(HandmadeCache, FromPretrainedByNameLoadsTheSameModel) {
  ScopedEnv cache("HF_HUB_CACHE", cache_.string());
  Tensor ids = Tensor::empty({1, 4}, DType::I64);
  for (int64_t i = 0; i < 4; ++i) ids.data<int64_t>()[i] = 3 * i + 1;
  auto by_name = AutoModelForCausalLM::from_pretrained("org/tiny");
  auto by_folder = AutoModelForCausalLM::from_pretrained(model_);
  EXPECT_EQ(testing::max_abs_diff(by_name->forward(ids).logits, by_folder->forward(ids).logits),
            0.0f);
  auto tagged = AutoModelForCausalLM::from_pretrained("org/tiny@v1.0");
  auto other = AutoModelForCausalLM::from_pretrained(other_);
  EXPECT_EQ(testing::max_abs_diff(tagged->forward(ids).logits, other->forward(ids).logits), 0.0f);
  EXPECT_GT(testing::max_abs_diff(tagged->forward(ids).logits, by_name->forward(ids).logits), 0.0f);
  // The tokenizer by name encodes as the same tokenizer read from its folder.
  const auto text = "Hello, Hub cache!";
  EXPECT_EQ(
      Tokenizer::from_pretrained("org/tiny").encode(text),
      Tokenizer::from_pretrained(testing::shared_path("tokenizers/models/bert")).encode(text));
  // Names that are not repo ids keep the loaders' own errors.
  expect_error_naming<IoError>([] { AutoModelForCausalLM::from_pretrained("/no/such/folder"); },
                               "not a model folder");
  expect_error_naming<IoError>([] { AutoModelForCausalLM::from_pretrained("org/absent"); },
                               "not in the Hub cache");
}

TEST_F(HandmadeCache, CommandsTakeHubNames) {
  // Each command given the name prints or writes what it does given the folder.
  const std::string env = "HF_HUB_OFFLINE=1 HF_HUB_CACHE=" + cache_.string() + " ";
  auto run = [&](const std::string& args) {
    auto r = testing::run_command(env + TCPP_BINARY_DIR + "/cli/transformers " + args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
    return r.out;
  };
  const fs::path bert = testing::shared_path("tokenizers/models/bert");
  EXPECT_EQ(run("tokenize org/tiny --text 'Hello, Hub!'"),
            run("tokenize " + bert.string() + " --text 'Hello, Hub!'"));
  const fs::path out = testing::scratch_dir("hub-cache-commands");
  run("forward org/tiny@v1.0 --input-ids 1,2,3 --out " + (out / "by_name.npy").string());
  run("forward " + other_.string() + " --input-ids 1,2,3 --out " +
      (out / "by_folder.npy").string());
  EXPECT_EQ(read_text_file(out / "by_name.npy"), read_text_file(out / "by_folder.npy"));
  run("convert org/tiny --revision v1.0 " + (out / "converted").string());
  EXPECT_TRUE(fs::is_regular_file(out / "converted" / "model.safetensors"));
  EXPECT_FALSE(fs::is_symlink(out / "converted" / "config.json"));
  // The output may not land in the cache's snapshot (the model's own folder).
  auto r = testing::run_command(env + TCPP_BINARY_DIR +
                                "/cli/transformers forward org/tiny --input-ids 1 --out " +
                                (snapshot_ / "x.npy").string());
  testing::expect_one_line_error(r, "inside the model folder");
}

}  // namespace
}  // namespace transformers
