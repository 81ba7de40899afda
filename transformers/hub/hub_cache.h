// Models by Hub name, offline: `org/name[@revision]` resolved in the cache huggingface_hub writes
// ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), in its exact layout
//   models--org--name/blobs/<etag>                   file contents, named by their etag
//   models--org--name/refs/<revision>                a text file holding a 40-hex commit sha
//   models--org--name/snapshots/<sha>/<file>         relative symlinks ../../blobs/<etag>
// so a cache filled by Python is used as is. Resolution only reads the local file system: it
// never touches the network (HF_HUB_OFFLINE / --local-files-only change nothing here; they
// matter to `transformers download`, which lives in the separate transformers_hub library).
//
// Names are validated strictly (the Hub's rules for repo ids, and revisions made of safe path
// components), and a ref file must hold a commit sha, so no name or ref content can lead outside
// the cache folder.
#pragma once

#include <filesystem>
#include <string>

namespace transformers::hub {

struct HubOptions {
  // Empty: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
  std::filesystem::path cache_dir{};
  // Empty: the "@revision" of the name, else "main". A branch or tag name (looked up in
  // refs/<revision>) or a 40-hex commit sha (used directly).
  std::string revision{};
  // Never touch the network (also set by HF_HUB_OFFLINE=1). Resolution never does anyway.
  bool local_files_only = false;
};

// A repository and revision, both validated.
struct RepoRef {
  std::string repo_id;   // "org/name"
  std::string revision;  // "main", a tag, "refs/pr/1" or a commit sha
};

inline constexpr size_t kMaxRepoIdLength = 96;
inline constexpr size_t kMaxRevisionLength = 255;

// Throws ValueError saying why `repo_id` is not a Hub repo id: exactly one '/', both parts of
// [A-Za-z0-9._-], neither starting nor ending with '-' or '.', no ".." or "--", no ".git" ending,
// at most kMaxRepoIdLength characters.
void validate_repo_id(const std::string& repo_id);
// Throws ValueError unless `revision` is 1..kMaxRevisionLength characters of [A-Za-z0-9._-/]
// whose '/'-separated parts are non-empty and neither "." nor "..".
void validate_revision(const std::string& revision);
bool is_lower_hex(const std::string& text, size_t length);  // exactly `length` digits of [0-9a-f]
bool is_commit_sha(const std::string& text);                // 40 lowercase hex digits

// "org/name" or "org/name@rev" -> RepoRef; `revision` (when not empty) must agree with "@rev".
// Throws ValueError naming `name` and the rule it breaks.
RepoRef parse_repo_ref(const std::string& name, const std::string& revision = "");
// Whether parse_repo_ref would accept `name` (no exception).
bool looks_like_repo_ref(const std::string& name);

// The cache root for these options (environment read now; "~" expanded).
std::filesystem::path hub_cache_dir(const HubOptions& options = {});
// The token file huggingface_hub writes: $HF_TOKEN_PATH, else $HF_HOME/token, else
// ~/.cache/huggingface/token.
std::filesystem::path hub_token_path();
// HF_HUB_OFFLINE set to 1/true/yes/on.
bool hub_offline_from_env();

// <cache>/models--org--name
std::filesystem::path repo_folder(const std::filesystem::path& cache_dir,
                                  const std::string& repo_id);
// The commit sha refs/<revision> holds (a sha revision is itself). Throws IoError when the ref is
// missing, FormatError when its content is not a 40-hex sha.
std::string read_ref(const std::filesystem::path& repo_dir, const RepoRef& ref);

// <cache>/models--org--name/snapshots/<sha>, which must exist. Errors (IoError) say
// "org/name: not in the Hub cache at <dir> (run `transformers download org/name`)".
std::filesystem::path resolve_snapshot(const RepoRef& ref, const HubOptions& options = {});

// What every command and from_pretrained does with a model argument: an existing local file or
// folder is returned unchanged; otherwise `name` must be `org/name[@revision]` and is resolved in
// the Hub cache. Throws IoError (not in the cache, or neither a local path nor a repo id, with
// the reason).
std::filesystem::path resolve_model(const std::string& name, const HubOptions& options = {});

// from_pretrained's lenient form: a name that is neither an existing path nor a repo id is
// returned unchanged, so the loader's own error ("not a model folder") names it.
std::filesystem::path resolve_pretrained_path(const std::filesystem::path& path);

}  // namespace transformers::hub
