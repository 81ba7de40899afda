#include "transformers/hub/hub_cache.h"

#include <cstdlib>

#include "transformers/core/error.h"
#include "transformers/io/files.h"

namespace transformers::hub {
namespace fs = std::filesystem;

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// One part of a repo id (the org or the name); returns why it is invalid, or "" when valid.
std::string repo_part_problem(const std::string& part) {
  if (part.empty()) return "an empty part";
  for (char c : part)
    if (!is_name_char(c))
      return std::string("the character '") + c + "' (allowed: letters, digits, '.', '_', '-')";
  if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.')
    return "a part starting or ending with '-' or '.'";
  if (part.find("..") != std::string::npos) return "'..'";
  if (part.find("--") != std::string::npos) return "'--' (the cache folder separator)";
  return "";
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// huggingface_hub expands "~" in its path variables.
fs::path expand_home(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0)
    return fs::path(env_or_empty("HOME")) / path.substr(path.size() > 1 ? 2 : 1);
  return path;
}

// $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (huggingface_hub's
// constants.py).
fs::path hf_home() {
  if (auto home = env_or_empty("HF_HOME"); !home.empty()) return expand_home(home);
  if (auto xdg = env_or_empty("XDG_CACHE_HOME"); !xdg.empty())
    return expand_home(xdg) / "huggingface";
  return expand_home("~/.cache/huggingface");
}

std::string download_hint(const RepoRef& ref) {
  return "(run `transformers download " + ref.repo_id +
         (ref.revision == "main" ? "" : " --revision " + ref.revision) + "`)";
}

}  // namespace

void validate_repo_id(const std::string& repo_id) {
  TCPP_CHECK(repo_id.size() <= kMaxRepoIdLength, ValueError, "'",
             repo_id.substr(0, kMaxRepoIdLength), "...' is not a Hub repo id: longer than ",
             kMaxRepoIdLength, " characters");
  const size_t slash = repo_id.find('/');
  TCPP_CHECK(slash != std::string::npos && repo_id.find('/', slash + 1) == std::string::npos,
             ValueError, "'", repo_id,
             "' is not a Hub repo id: expected exactly one '/' (org/name)");
  for (const std::string& part : {repo_id.substr(0, slash), repo_id.substr(slash + 1)}) {
    const std::string problem = repo_part_problem(part);
    TCPP_CHECK(problem.empty(), ValueError, "'", repo_id, "' is not a Hub repo id: it has ",
               problem);
  }
  TCPP_CHECK(repo_id.size() < 4 || repo_id.compare(repo_id.size() - 4, 4, ".git") != 0, ValueError,
             "'", repo_id, "' is not a Hub repo id: it ends with '.git'");
}

void validate_revision(const std::string& revision) {
  TCPP_CHECK(!revision.empty() && revision.size() <= kMaxRevisionLength, ValueError, "revision '",
             revision.substr(0, 64), "' must have 1 to ", kMaxRevisionLength, " characters");
  size_t start = 0;
  while (start <= revision.size()) {
    size_t end = revision.find('/', start);
    if (end == std::string::npos) end = revision.size();
    const std::string part = revision.substr(start, end - start);
    TCPP_CHECK(!part.empty() && part != "." && part != "..", ValueError, "revision '", revision,
               "' has an empty, '.' or '..' part");
    for (char c : part)
      TCPP_CHECK(is_name_char(c), ValueError, "revision '", revision, "' has the character '", c,
                 "' (allowed: letters, digits, '.', '_', '-', '/')");
    start = end + 1;
  }
}

bool is_lower_hex(const std::string& text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_commit_sha(const std::string& text) { return is_lower_hex(text, 40); }

RepoRef parse_repo_ref(const std::string& name, const std::string& revision) {
  RepoRef ref;
  const size_t at = name.find('@');
  ref.repo_id = name.substr(0, at);
  validate_repo_id(ref.repo_id);
  const std::string in_name = at == std::string::npos ? "" : name.substr(at + 1);
  TCPP_CHECK(in_name.empty() || revision.empty() || in_name == revision, ValueError, name,
             ": the revision after '@' (", in_name, ") differs from --revision ", revision);
  TCPP_CHECK(at == std::string::npos || !in_name.empty(), ValueError, name,
             ": empty revision after '@'");
  ref.revision = !revision.empty() ? revision : !in_name.empty() ? in_name : "main";
  validate_revision(ref.revision);
  return ref;
}

bool looks_like_repo_ref(const std::string& name) {
  try {
    parse_repo_ref(name);
    return true;
  } catch (const ValueError&) {
    return false;
  }
}

fs::path hub_cache_dir(const HubOptions& options) {
  if (!options.cache_dir.empty()) return expand_home(options.cache_dir.string());
  if (auto cache = env_or_empty("HF_HUB_CACHE"); !cache.empty()) return expand_home(cache);
  return hf_home() / "hub";
}

fs::path hub_token_path() {
  if (auto path = env_or_empty("HF_TOKEN_PATH"); !path.empty()) return expand_home(path);
  return hf_home() / "token";
}

bool hub_offline_from_env() {
  const std::string v = env_or_empty("HF_HUB_OFFLINE");
  return v == "1" || v == "true" || v == "TRUE" || v == "True" || v == "yes" || v == "YES" ||
         v == "on" || v == "ON";
}

fs::path repo_folder(const fs::path& cache_dir, const std::string& repo_id) {
  validate_repo_id(repo_id);
  const size_t slash = repo_id.find('/');
  return cache_dir / ("models--" + repo_id.substr(0, slash) + "--" + repo_id.substr(slash + 1));
}

std::string read_ref(const fs::path& repo_dir, const RepoRef& ref) {
  if (is_commit_sha(ref.revision)) return ref.revision;
  validate_revision(ref.revision);
  const fs::path file = repo_dir / "refs" / ref.revision;
  std::error_code ec;
  TCPP_CHECK(fs::exists(file, ec), IoError, ref.repo_id, ": revision '", ref.revision,
             "' is not in the Hub cache at ", repo_dir.string(), " (no refs/", ref.revision, ") ",
             download_hint(ref));
  std::string sha = read_text_file(file, 1024);
  while (!sha.empty() && (sha.back() == '\n' || sha.back() == '\r' || sha.back() == ' '))
    sha.pop_back();
  TCPP_CHECK(is_commit_sha(sha), FormatError, file.string(),
             ": a ref file must hold a 40-hex commit sha, not '", sha.substr(0, 64), "'");
  return sha;
}

fs::path resolve_snapshot(const RepoRef& ref, const HubOptions& options) {
  const fs::path cache = hub_cache_dir(options);
  const fs::path repo_dir = repo_folder(cache, ref.repo_id);
  std::error_code ec;
  TCPP_CHECK(fs::is_directory(repo_dir, ec), IoError, ref.repo_id, ": not in the Hub cache at ",
             cache.string(), " ", download_hint(ref));
  const std::string sha = read_ref(repo_dir, ref);
  const fs::path snapshot = repo_dir / "snapshots" / sha;
  TCPP_CHECK(fs::is_directory(snapshot, ec), IoError, ref.repo_id, "@", ref.revision, ": commit ",
             sha, " is not in the Hub cache at ", cache.string(), " (no snapshots/", sha, ") ",
             download_hint(ref));
  return snapshot;
}

fs::path resolve_model(const std::string& name, const HubOptions& options) {
  std::error_code ec;
  if (!name.empty() && fs::exists(name, ec)) return name;
  RepoRef ref;
  try {
    ref = parse_repo_ref(name, options.revision);
  } catch (const ValueError& e) {
    throw IoError(detail::concat(
        name, ": no such local file or folder, and not a Hub model name: ", e.what()));
  }
  return resolve_snapshot(ref, options);
}

fs::path resolve_pretrained_path(const fs::path& path) {
  std::error_code ec;
  if (path.empty() || fs::exists(path, ec) || !looks_like_repo_ref(path.string())) return path;
  return resolve_snapshot(parse_repo_ref(path.string()));
}

}  // namespace transformers::hub
