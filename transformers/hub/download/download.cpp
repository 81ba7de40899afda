#include "transformers/hub/download/download.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "transformers/hub/download/http.h"
#include "transformers/hub/download/sha256.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"

namespace transformers::hub {
namespace fs = std::filesystem;

namespace {

// Repositories with more files than this are refused (the largest on the Hub have a few thousand).
constexpr size_t kMaxRepoFiles = 100000;
constexpr size_t kMaxFileNameLength = 1024;

struct RemoteFile {
  std::string name{}, etag{};
  uint64_t size = 0;
  bool size_known = false;
};

struct Listing {
  std::string sha;
  std::vector<std::string> files;
};

// What the server's answer means for the user; the token itself is never part of a message.
[[noreturn]] void throw_http_error(const HttpResponse& r, const RepoRef& ref, bool has_token,
                                   const std::string& what) {
  const std::string who = ref.repo_id + (what.empty() ? "" : " (" + what + ")");
  if (r.status == 401 || r.status == 403) {
    if (has_token)
      throw IoError(detail::concat(
          who, ": token refused (HTTP ", r.status,
          "): it has no access to this repository (gated or private), or is invalid"));
    throw IoError(detail::concat(who, ": HTTP ", r.status,
                                 ": the repository needs a token (--token, HF_TOKEN or ",
                                 hub_token_path().string(), "), or does not exist"));
  }
  if (r.status == 404)
    throw IoError(
        detail::concat(who, ": no such repository/revision '", ref.revision, "' (HTTP 404)"));
  throw IoError(detail::concat(who, ": the server answered HTTP ", r.status));
}

std::string strip_etag(std::string v) {
  if (v.rfind("W/", 0) == 0) v.erase(0, 2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

// An etag becomes a file name in blobs/: only plain names are accepted.
void validate_etag(const std::string& etag, const std::string& file) {
  bool ok = !etag.empty() && etag.size() <= 128 && etag.front() != '.' && etag.front() != '-';
  for (char c : etag)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.');
  TCPP_CHECK(ok, FormatError, file, ": the server's ETag '", etag.substr(0, 80),
             "' is not a usable blob name");
}

uint64_t parse_size(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  TCPP_CHECK(!text.empty() && end && *end == '\0' && text[0] != '-', FormatError, what,
             ": bad size '", text.substr(0, 40), "'");
  return v;
}

Listing fetch_listing(const std::string& endpoint, const RepoRef& ref, const std::string& token) {
  const std::string url = endpoint + "/api/models/" + ref.repo_id + "/revision/" +
                          url_encode(ref.revision, /*keep_slash=*/false);
  HttpResponse r = http_request({.url = url, .bearer_token = token, .follow_redirects = true});
  if (r.status != 200) throw_http_error(r, ref, !token.empty(), "");
  const Json j = parse_json(r.body, url);
  TCPP_CHECK(j.is_object(), FormatError, url, ": expected a JSON object");
  Listing listing;
  listing.sha = json_get<std::string>(j, "sha", url);
  TCPP_CHECK(is_commit_sha(listing.sha), FormatError, url, ": 'sha' is not a 40-hex commit sha");
  auto siblings = j.find("siblings");
  TCPP_CHECK(siblings != j.end() && siblings->is_array(), FormatError, url,
             ": missing 'siblings' array");
  TCPP_CHECK(siblings->size() <= kMaxRepoFiles, FormatError, url, ": more than ", kMaxRepoFiles,
             " files");
  for (const Json& s : *siblings) {
    TCPP_CHECK(s.is_object(), FormatError, url, ": a 'siblings' entry is not an object");
    listing.files.push_back(json_get<std::string>(s, "rfilename", url + ": siblings"));
  }
  return listing;
}

RemoteFile head_file(const std::string& endpoint, const RepoRef& ref, const std::string& sha,
                     const std::string& name, const std::string& token) {
  std::string url = endpoint + "/" + ref.repo_id + "/resolve/" + sha + "/" +
                    url_encode(name, /*keep_slash=*/true);
  HttpResponse r;
  // A relative redirect (a renamed repository) is followed on the same server, with the token;
  // the redirect to the blob store carries the etag already and is not followed.
  for (int hop = 0; hop < 5; ++hop) {
    r = http_request({.url = url, .bearer_token = token, .head = true});
    const bool redirect = r.status >= 300 && r.status < 400;
    if (!redirect || !r.header("x-linked-etag").empty() ||
        r.redirect_url.rfind(endpoint + "/", 0) != 0)
      break;
    url = r.redirect_url;
  }
  if (r.status >= 400) throw_http_error(r, ref, !token.empty(), name);
  RemoteFile f{.name = name};
  f.etag =
      strip_etag(!r.header("x-linked-etag").empty() ? r.header("x-linked-etag") : r.header("etag"));
  TCPP_CHECK(!f.etag.empty(), FormatError, url, ": the server sent no ETag");
  validate_etag(f.etag, name);
  const std::string size =
      !r.header("x-linked-size").empty() ? r.header("x-linked-size") : r.header("content-length");
  if (!size.empty()) {
    f.size = parse_size(size, url);
    f.size_known = true;
  }
  return f;
}

// An exclusive lock on .locks/models--org--name/<etag>.lock, the lock huggingface_hub takes
// (filelock uses flock on Unix), so a Python download of the same blob waits for this one.
class BlobLock {
 public:
  explicit BlobLock(const fs::path& file) {
    fs::create_directories(file.parent_path());
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    TCPP_CHECK(fd_ >= 0, IoError, file.string(), ": cannot open the lock file");
    ::flock(fd_, LOCK_EX);
  }
  ~BlobLock() { ::close(fd_); }
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;

 private:
  int fd_ = -1;
};

void write_all(int fd, const char* data, size_t n, const fs::path& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    TCPP_CHECK(w > 0, IoError, path.string(), ": write failed (disk full?)");
    data += w;
    n -= static_cast<size_t>(w);
  }
}

uint64_t file_size_of(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  return static_cast<uint64_t>(st.st_size);
}

// One GET into `part`, appending from its current size (Range) or starting over when the server
// sends the whole file. Returns the HTTP status.
long fetch_into(const std::string& url, const std::string& token, const fs::path& part,
                const RemoteFile& f, const std::function<void(uint64_t)>& on_bytes) {
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  TCPP_CHECK(fd >= 0, IoError, part.string(), ": cannot open for writing");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  uint64_t have = file_size_of(fd);
  if (f.size_known && have > f.size) {
    TCPP_CHECK(::ftruncate(fd, 0) == 0, IoError, part.string(), ": cannot truncate");
    have = 0;
  }
  if (f.size_known && have == f.size && have > 0)
    return 206;  // complete already; checked by the caller
  bool started = false, keep = false;
  HttpRequest request{
      .url = url, .bearer_token = token, .follow_redirects = true, .range_start = have};
  request.on_body = [&](const HttpResponse& r, const char* data, size_t n) {
    if (!started) {
      started = true;
      keep = r.status == 200 || r.status == 206;
      if (r.status == 200 && have > 0) {  // the server ignored the Range: start over
        TCPP_CHECK(::ftruncate(fd, 0) == 0, IoError, part.string(), ": cannot truncate");
        have = 0;
      }
      if (r.status == 206) {
        const std::string range = r.header("content-range");
        TCPP_CHECK(range.rfind("bytes " + std::to_string(have) + "-", 0) == 0, FormatError, f.name,
                   ": the server resumed at the wrong offset (Content-Range '", range.substr(0, 80),
                   "', asked ", have, ")");
      }
    }
    if (!keep) return true;  // an error page: not the file
    TCPP_CHECK(!f.size_known || have + n <= f.size, FormatError, f.name,
               ": the server sent more than the ", f.size, " bytes it announced");
    write_all(fd, data, n, part);
    have += n;
    on_bytes(have);
    return true;
  };
  return http_request(request).status;
}

// Downloads one blob into blobs/<etag> (through blobs/<etag>.incomplete), checked.
void fetch_blob(const std::string& url, const std::string& token, const fs::path& blob,
                const RemoteFile& f, const RepoRef& ref, int max_attempts,
                const std::function<void(uint64_t)>& on_bytes) {
  fs::path part = blob;
  part += ".incomplete";
  for (int attempt = 1;; ++attempt) {
    long status = 0;
    try {
      status = fetch_into(url, token, part, f, on_bytes);
    } catch (const HttpTransferError&) {
      if (attempt >= max_attempts) throw;
      continue;  // resumes from what arrived
    }
    if (status == 416 && attempt < max_attempts) {  // the partial file is not a prefix any more
      fs::remove(part);
      continue;
    }
    if (status != 200 && status != 206)
      throw_http_error(HttpResponse{.status = status}, ref, !token.empty(), f.name);
    break;
  }
  const uint64_t got = fs::file_size(part);
  if (f.size_known && got != f.size) {
    fs::remove(part);
    throw FormatError(
        detail::concat(f.name, ": received ", got, " bytes, the server announced ", f.size));
  }
  if (is_sha256_hex(f.etag)) {
    const std::string actual = sha256_file(part);
    if (actual != f.etag) {
      fs::remove(part);
      throw FormatError(detail::concat(f.name, ": sha256 mismatch (expected ", f.etag, ", got ",
                                       actual, "); the download was discarded"));
    }
  }
  fs::rename(part, blob);
}

// snapshots/<sha>/<file> -> ../../blobs/<etag> (one more ../ per subfolder), created under a
// temporary name and renamed over the target. Every folder on the way must be a real folder
// created here or before, never a link that could lead outside the snapshot.
void link_into_snapshot(const fs::path& snapshot, const std::string& file,
                        const std::string& etag) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t slash = file.find('/', start);
    parts.push_back(file.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  fs::path dir = snapshot;
  std::string target;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    dir /= parts[i];
    const fs::file_status st = fs::symlink_status(dir);
    if (!fs::exists(st))
      fs::create_directory(dir);
    else
      TCPP_CHECK(fs::is_directory(st), FormatError, file, ": ", dir.string(), " is not a folder");
  }
  for (size_t i = 0; i <= parts.size(); ++i) target += "../";
  target += "blobs/" + etag;
  const fs::path link = dir / parts.back();
  fs::path temp = link;
  temp += ".tmp-" + std::to_string(::getpid());
  fs::remove(temp);
  fs::create_symlink(target, temp);
  std::error_code ec;
  fs::rename(temp, link, ec);
  if (ec) {
    fs::remove(temp);
    throw IoError(
        detail::concat(link.string(), ": cannot place the snapshot link: ", ec.message()));
  }
}

bool included(const std::string& name, const std::vector<std::string>& globs) {
  if (globs.empty()) return true;
  for (const auto& g : globs)
    if (::fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

std::string trimmed(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

}  // namespace

std::string resolve_token(const std::string& explicit_token) {
  if (!explicit_token.empty()) return explicit_token;
  if (const char* env = std::getenv("HF_TOKEN"); env && *env) return trimmed(env);
  const fs::path file = hub_token_path();
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) return trimmed(read_text_file(file, 4096));
  return "";
}

std::string hub_endpoint(const std::string& explicit_endpoint) {
  std::string e = explicit_endpoint;
  if (e.empty())
    if (const char* env = std::getenv("HF_ENDPOINT"); env && *env) e = env;
  if (e.empty()) e = "https://huggingface.co";
  while (!e.empty() && e.back() == '/') e.pop_back();
  TCPP_CHECK(e.rfind("http://", 0) == 0 || e.rfind("https://", 0) == 0, ValueError, "HF_ENDPOINT '",
             e, "' must start with http:// or https://");
  return e;
}

void validate_repo_file_name(const std::string& name) {
  TCPP_CHECK(!name.empty() && name.size() <= kMaxFileNameLength, FormatError, "file name '",
             name.substr(0, 80), "' from the server: empty or longer than ", kMaxFileNameLength,
             " characters");
  TCPP_CHECK(name.front() != '/', FormatError, "file name '", name,
             "' from the server is an absolute path");
  for (char c : name)
    TCPP_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != '\\', FormatError, "file name '",
               name.substr(0, 80), "' from the server has a control character or a backslash");
  size_t start = 0;
  for (;;) {
    const size_t slash = name.find('/', start);
    const std::string part =
        name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    TCPP_CHECK(!part.empty() && part != "." && part != "..", FormatError, "file name '", name,
               "' from the server has an empty, '.' or '..' part");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

fs::path snapshot_download(const std::string& repo_id, const DownloadOptions& options) {
  const RepoRef ref = parse_repo_ref(repo_id, options.hub.revision);
  if (options.hub.local_files_only || hub_offline_from_env())
    return resolve_snapshot(ref, options.hub);
  const std::string endpoint = hub_endpoint(options.endpoint);
  const std::string token = resolve_token(options.token);
  const Listing listing = fetch_listing(endpoint, ref, token);
  std::vector<std::string> wanted;
  for (const auto& name : listing.files) {
    validate_repo_file_name(name);  // all of them before anything is written
    if (included(name, options.include)) wanted.push_back(name);
  }
  const fs::path cache = hub_cache_dir(options.hub);
  const fs::path repo_dir = repo_folder(cache, ref.repo_id);
  const fs::path snapshot = repo_dir / "snapshots" / listing.sha;
  fs::create_directories(repo_dir / "blobs");
  fs::create_directories(snapshot);

  std::vector<RemoteFile> files;
  DownloadProgress p{.stage = DownloadProgress::Stage::Listed, .file_count = wanted.size()};
  for (const auto& name : wanted) {
    files.push_back(head_file(endpoint, ref, listing.sha, name, token));
    p.total_size += files.back().size;
  }
  auto report = [&](DownloadProgress::Stage stage) {
    p.stage = stage;
    if (options.on_progress) options.on_progress(p);
  };
  report(DownloadProgress::Stage::Listed);
  for (size_t i = 0; i < files.size(); ++i) {
    const RemoteFile& f = files[i];
    p.file = f.name;
    p.file_index = i;
    p.file_size = f.size;
    p.file_bytes = 0;
    const fs::path blob = repo_dir / "blobs" / f.etag;
    const uint64_t total_before = p.total_bytes;
    if (fs::exists(blob)) {
      p.file_bytes = f.size;
      p.total_bytes += f.size;
      report(DownloadProgress::Stage::FileCached);
    } else {
      report(DownloadProgress::Stage::FileStarted);
      BlobLock lock(cache / ".locks" / repo_dir.filename() / (f.etag + ".lock"));
      const std::string url = endpoint + "/" + ref.repo_id + "/resolve/" + listing.sha + "/" +
                              url_encode(f.name, /*keep_slash=*/true);
      if (!fs::exists(blob))  // another process may have finished it while we waited
        fetch_blob(url, token, blob, f, ref, options.max_attempts, [&](uint64_t bytes) {
          p.file_bytes = bytes;
          p.total_bytes = total_before + bytes;
          report(DownloadProgress::Stage::FileBytes);
        });
      p.file_bytes = f.size;
      p.total_bytes = total_before + f.size;
      report(DownloadProgress::Stage::FileDone);
    }
    link_into_snapshot(snapshot, f.name, f.etag);
  }
  if (ref.revision != listing.sha) {
    const fs::path ref_file = repo_dir / "refs" / ref.revision;
    fs::create_directories(ref_file.parent_path());
    write_file_atomically(ref_file, listing.sha);
  }
  return snapshot;
}

}  // namespace transformers::hub
