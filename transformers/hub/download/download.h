// snapshot_download: a Hub repository's files at one revision, into the cache layout that
// huggingface_hub writes and reads (transformers/hub/hub_cache.h), so Python and this library
// share one cache.
//   1. GET {endpoint}/api/models/{repo}/revision/{rev} -> the commit sha and the file list
//   2. per file, HEAD {endpoint}/{repo}/resolve/{sha}/{file} (redirects not followed) -> its etag
//      (X-Linked-Etag, else ETag) and size; then unless blobs/<etag> exists, GET the same URL
//      following redirects into blobs/<etag>.incomplete, resumed with a Range header when a
//      partial file is there (and retried a few times when a transfer is cut), checked against
//      the size and, for a sha256 etag, the content's sha256, and renamed to blobs/<etag>
//   3. snapshots/<sha>/<file> -> ../../blobs/<etag> (relative symlinks), refs/<rev> -> sha, each
//      written to a temporary name and renamed over the target.
// Names from the server are checked before anything is written: a file name must be a relative
// path without '.', '..' or empty parts, an etag a plain file name, the sha 40 hex digits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "transformers/hub/hub_cache.h"

namespace transformers::hub {

// What the progress callback is told.
struct DownloadProgress {
  enum class Stage { Listed, FileStarted, FileBytes, FileDone, FileCached } stage;
  std::string file{};
  size_t file_index = 0, file_count = 0;
  uint64_t file_bytes = 0, file_size = 0;    // this file's bytes on disk so far, and its size
  uint64_t total_bytes = 0, total_size = 0;  // all files'
};

struct DownloadOptions {
  HubOptions hub;     // cache folder, revision (default "main"); local_files_only: cache only
  std::string token;  // empty: resolve_token()'s choice
  std::vector<std::string> include;  // fnmatch globs ('*' matches '/' too, as huggingface_hub's)
  std::string endpoint;              // empty: $HF_ENDPOINT, else https://huggingface.co
  int max_attempts = 5;              // per file, each resuming the partial file
  std::function<void(const DownloadProgress&)> on_progress;
};

// The token to send: `explicit_token`, else $HF_TOKEN, else the token file huggingface_hub
// writes (hub_token_path()), else none. The result is never printed.
std::string resolve_token(const std::string& explicit_token);

// $HF_ENDPOINT, else https://huggingface.co, without a trailing '/'; must be http(s).
std::string hub_endpoint(const std::string& explicit_endpoint = "");

// Whether a server's file name is safe to place under a snapshot folder (see above); throws
// FormatError naming it and the rule when it is not.
void validate_repo_file_name(const std::string& name);

// Downloads `repo_id` (revision from options.hub) and returns the snapshot folder. With
// options.hub.local_files_only (or HF_HUB_OFFLINE=1) the network is never touched: the cached
// snapshot is returned or its absence reported. Errors: IoError for HTTP failures (401/403 say
// a token is needed or was refused, 404 names the repository and revision), FormatError for
// what the server sent (bad JSON, names, a sha256 that does not match).
std::filesystem::path snapshot_download(const std::string& repo_id, const DownloadOptions& options);

}  // namespace transformers::hub
