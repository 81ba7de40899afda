// A Hugging Face Hub on loopback for the download tests: cpp-httplib serving repositories in the
// Hub's URL layout, as huggingface_hub and `transformers download` see it.
//   GET  /api/models/{org}/{name}/revision/{rev}  -> {"id", "sha", "siblings": [{"rfilename"}]}
//   HEAD/GET /{org}/{name}/resolve/{rev}/{file}
//        LFS files (*.safetensors, tokenizer.json): 302 to /blobs/{sha256} with X-Linked-Etag
//        (the sha256) and X-Linked-Size; other files: 200 with ETag = the git blob sha1
//   GET  /blobs/{sha256}                           -> the bytes, honouring Range (206)
// A private repository answers 401 without "Authorization: Bearer <its token>". Every request is
// logged (method, path, Range, whether a bearer token came) for the tests to check.
#pragma once

#include <httplib.h>
#include <openssl/evp.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transformers/io/json.h"

namespace transformers::testing {

inline std::string digest_hex(const EVP_MD* md, const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += {kHex[out[i] >> 4], kHex[out[i] & 15]};
  return hex;
}
inline std::string sha256_hex(const std::string& bytes) { return digest_hex(EVP_sha256(), bytes); }
// Git's object id of a file: sha1("blob <size>\0" + content), the Hub's ETag of a non-LFS file.
inline std::string git_blob_sha1(const std::string& bytes) {
  return digest_hex(EVP_sha1(),
                    "blob " + std::to_string(bytes.size()) + std::string(1, '\0') + bytes);
}

struct FakeRepo {
  std::map<std::string, std::string> refs{};  // branch or tag -> sha
  std::map<std::string, std::map<std::string, std::string>>
      commits{};        // sha -> {file name -> bytes}
  std::string token{};  // non-empty: private
};

struct LoggedRequest {
  std::string method, path, range;
  bool had_token = false;
};

class FakeHub {
 public:
  FakeHub() {
    server_.Get(R"(/api/models/([^/]+)/([^/]+)/revision/(.+))",
                [this](const auto& req, auto& res) { api(req, res); });
    server_.Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))",
                [this](const auto& req, auto& res) { resolve(req, res); });
    server_.Get(R"(/blobs/([0-9a-f]+))", [this](const auto& req, auto& res) { blob(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~FakeHub() {
    server_.stop();
    thread_.join();
  }
  FakeHub(const FakeHub&) = delete;
  FakeHub& operator=(const FakeHub&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void add_repo(const std::string& id, FakeRepo repo) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [sha, files] : repo.commits)
      for (const auto& [name, bytes] : files) blobs_[sha256_hex(bytes)] = bytes;
    repos_[id] = std::move(repo);
  }
  // The next blob GET sends its headers (the full Content-Length) and only `bytes` bytes, then
  // closes the connection.
  void cut_next_blob_after(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_after_ = bytes;
  }
  // Blobs are served with their first byte changed (a corrupted store or transfer).
  void corrupt_blobs(bool on) {
    std::lock_guard<std::mutex> lock(mutex_);
    corrupt_ = on;
  }
  std::vector<LoggedRequest> log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }

 private:
  static bool is_lfs(const std::string& name) {
    return name.ends_with(".safetensors") || name.ends_with("tokenizer.json");
  }

  // The repository, when it exists and the request may see it (else the answer is set).
  const FakeRepo* find_repo(const httplib::Request& req, httplib::Response& res,
                            const std::string& id) {
    std::string auth = req.get_header_value("Authorization");
    log_.push_back({req.method, req.path, req.get_header_value("Range"), !auth.empty()});
    auto it = repos_.find(id);
    if (it == repos_.end() || (!it->second.token.empty() && auth != "Bearer " + it->second.token)) {
      // The Hub answers 401 for private and missing repositories alike (no existence leak).
      res.status = 401;
      res.set_header("X-Error-Code", "RepoNotFound");
      res.set_content(R"({"error":"Repository Not Found"})", "application/json");
      return nullptr;
    }
    return &it->second;
  }

  // The files of `rev` (a branch, tag or sha), or nullptr with a 404 set.
  const std::map<std::string, std::string>* find_commit(const FakeRepo& repo,
                                                        const std::string& rev,
                                                        httplib::Response& res, std::string* sha) {
    auto ref = repo.refs.find(rev);
    *sha = ref != repo.refs.end() ? ref->second : rev;
    auto it = repo.commits.find(*sha);
    if (it == repo.commits.end()) {
      res.status = 404;
      res.set_header("X-Error-Code", "RevisionNotFound");
      res.set_content(R"({"error":"Revision Not Found"})", "application/json");
      return nullptr;
    }
    return &it->second;
  }

  void api(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string id = req.matches[1].str() + "/" + req.matches[2].str();
    const FakeRepo* repo = find_repo(req, res, id);
    std::string sha;
    const auto* files = repo ? find_commit(*repo, req.matches[3].str(), res, &sha) : nullptr;
    if (!files) return;
    Json j = {{"id", id}, {"sha", sha}, {"siblings", Json::array()}};
    for (const auto& [name, bytes] : *files) j["siblings"].push_back({{"rfilename", name}});
    res.set_content(j.dump(), "application/json");
  }

  void resolve(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex_);
    const FakeRepo* repo = find_repo(req, res, req.matches[1].str() + "/" + req.matches[2].str());
    std::string sha;
    const auto* files = repo ? find_commit(*repo, req.matches[3].str(), res, &sha) : nullptr;
    if (!files) return;
    auto file = files->find(req.matches[4].str());
    if (file == files->end()) {
      res.status = 404;
      res.set_header("X-Error-Code", "EntryNotFound");
      return;
    }
    res.set_header("X-Repo-Commit", sha);
    const std::string& bytes = file->second;
    if (is_lfs(file->first)) {
      const std::string digest = sha256_hex(bytes);
      res.set_header("X-Linked-Etag", "\"" + digest + "\"");
      res.set_header("X-Linked-Size", std::to_string(bytes.size()));
      res.set_redirect(endpoint() + "/blobs/" + digest, 302);
      return;
    }
    res.set_header("ETag", "\"" + git_blob_sha1(bytes) + "\"");
    res.set_content(bytes, "application/octet-stream");
  }

  void blob(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_.push_back(
        {req.method, req.path, req.get_header_value("Range"), req.has_header("Authorization")});
    auto it = blobs_.find(req.matches[1].str());
    if (it == blobs_.end()) {
      res.status = 404;
      return;
    }
    auto bytes = std::make_shared<std::string>(it->second);
    if (corrupt_ && !bytes->empty()) (*bytes)[0] = static_cast<char>((*bytes)[0] ^ 0x5a);
    const size_t cut = cut_after_;
    cut_after_ = SIZE_MAX;
    // httplib applies the Range to what the provider gives (offset = the range's start).
    res.set_content_provider(bytes->size(), "application/octet-stream",
                             [bytes, cut](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (cut != SIZE_MAX) {
                                 sink.write(bytes->data() + offset, std::min(length, cut));
                                 return false;  // drop the connection mid-body
                               }
                               sink.write(bytes->data() + offset, length);
                               return true;
                             });
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::map<std::string, FakeRepo> repos_;
  std::map<std::string, std::string> blobs_;  // sha256 -> bytes
  std::vector<LoggedRequest> log_;
  size_t cut_after_ = SIZE_MAX;
  bool corrupt_ = false;
};

}  // namespace transformers::testing
