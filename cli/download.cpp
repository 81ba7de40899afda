// transformers download org/name [--revision R] [--token T] [--cache-dir D] [--include GLOB]...
// Downloads a Hub repository into the Hub cache huggingface_hub shares (see
// transformers/hub/download/download.h) and prints the snapshot folder, as
// `huggingface-cli download` does. Progress goes to stderr: a live line per file and overall on
// a terminal, one plain line per file otherwise. The token is never printed.
#include "transformers/hub/download/download.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/command.h"

namespace transformers::cli {
namespace {

struct DownloadArgs {
  std::string repo, revision, token, cache_dir;
  std::vector<std::string> include;
};

std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// Prints DownloadProgress to stderr: redrawn in place on a terminal (at most ~10 times a second),
// a line per finished file otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter() : terminal_(::isatty(STDERR_FILENO) == 1) {}

  void operator()(const hub::DownloadProgress& p) {
    using Stage = hub::DownloadProgress::Stage;
    if (p.stage == Stage::Listed) {
      std::fprintf(stderr, "%zu file(s), %s\n", p.file_count, megabytes(p.total_size).c_str());
      return;
    }
    const bool finished = p.stage == Stage::FileDone || p.stage == Stage::FileCached;
    if (!terminal_) {
      if (finished)
        std::fprintf(stderr, "[%zu/%zu] %s: %s %s\n", p.file_index + 1, p.file_count,
                     p.file.c_str(), megabytes(p.file_size).c_str(),
                     p.stage == Stage::FileCached ? "(cached)" : "downloaded");
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!finished && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r\033[K[%zu/%zu] %s %s/%s%s | total %s/%s", p.file_index + 1,
                 p.file_count, p.file.c_str(), megabytes(p.file_bytes).c_str(),
                 megabytes(p.file_size).c_str(), p.stage == Stage::FileCached ? " (cached)" : "",
                 megabytes(p.total_bytes).c_str(), megabytes(p.total_size).c_str());
    if (finished) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool terminal_;
  std::chrono::steady_clock::time_point last_draw_{};
};

void run_download(const DownloadArgs& a) {
  hub::DownloadOptions o;
  o.hub.revision = a.revision;
  o.hub.cache_dir = a.cache_dir;
  o.token = a.token;
  o.include = a.include;
  o.on_progress = ProgressPrinter();
  const auto snapshot = hub::snapshot_download(a.repo, o);
  std::cout << snapshot.string() << '\n';
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<DownloadArgs>();
  CLI::App* sub = app.add_subcommand("download",
                                     "Download a Hub repository into the Hub cache (shared with "
                                     "huggingface_hub) and print its folder");
  sub->add_option("repo", args->repo, "Repository: org/name[@revision]")->required();
  sub->add_option("--revision", args->revision, "Branch, tag or commit sha (default: main)");
  sub->add_option(
      "--token", args->token,
      "Access token for private or gated repositories (default: $HF_TOKEN, else the token file "
      "huggingface_hub writes, $HF_HOME/token)");
  sub->add_option("--cache-dir", args->cache_dir,
                  "Hub cache folder (default: $HF_HUB_CACHE, else $HF_HOME/hub, else "
                  "~/.cache/huggingface/hub)");
  sub->add_option("--include", args->include,
                  "Only files matching this glob (repeatable), e.g. '*.json'");
  sub->callback([args] { run_download(*args); });
}};

}  // namespace
}  // namespace transformers::cli
