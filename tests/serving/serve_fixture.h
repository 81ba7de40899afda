// The real `transformers serve` binary on a loopback port (--port 0: it prints the port it got),
// a tiny random Qwen2-shaped model with the real Qwen3 tokenizer and chat template from
// ../shared, and an HTTP client (cpp-httplib) to talk to it.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/json.h"

namespace transformers::testing {

// Built once per test process: make_tiny_model (vocab of the Qwen3 tokenizer) + tokenizer files;
// <|im_end|> is the eos token, as in Qwen's generation_config.json.
inline std::filesystem::path tiny_chat_model() {
  static const std::filesystem::path dir = [] {
    auto d = scratch_dir("serve-tiny-qwen");
    auto r = run_command(std::string(TCPP_BINARY_DIR) + "/tools/make_tiny_model --arch qwen2 --out " + d.string() +
                         " --vocab 151936 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --intermediate 128"
                         " --tie --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      std::filesystem::copy_file(shared_path(std::string("tokenizers/models/qwen3/") + f), d / f);
    std::filesystem::permissions(d / "tokenizer.json", std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
    // Qwen's special ids (make_tiny_model writes pad 0, bos 1, eos 2, which are ordinary tokens of
    // this vocabulary): <|endoftext|> pads, <|im_end|> ends a turn.
    Json config = read_json_file(d / "config.json");
    config["pad_token_id"] = 151643;
    config["bos_token_id"] = nullptr;
    config["eos_token_id"] = 151645;
    std::ofstream(d / "config.json") << config.dump(2);
    std::ofstream(d / "generation_config.json") << R"({"eos_token_id": 151645, "pad_token_id": 151643})";
    return d;
  }();
  return dir;
}

class ServeProcess {
 public:
  // Starts `transformers serve ARGS --port 0` and waits for its "listening on" line.
  explicit ServeProcess(const std::vector<std::string>& args) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      const std::string bin = std::string(TCPP_BINARY_DIR) + "/cli/transformers";
      std::vector<std::string> all{bin, "serve"};
      all.insert(all.end(), args.begin(), args.end());
      all.insert(all.end(), {"--port", "0"});
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    const auto at = line.rfind(':');
    if (line.find("listening on http://") == std::string::npos || at == std::string::npos) {
      ADD_FAILURE() << "transformers serve did not start: '" << line << "'";
      return;
    }
    port_ = std::stoi(line.substr(at + 1));
  }
  ~ServeProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    // A clean stop: exit status 0, no crash (and no leak report under ASan, which exits non-zero).
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "serve ended with status " << status;
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(300, 0);
    return c;
  }
  // Whether the process is still running (it has not crashed).
  bool alive() const {
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
};

struct HttpReply {
  int status = 0;
  Json body;
  httplib::Headers headers;
};

inline HttpReply post_json(const ServeProcess& s, const std::string& path, const std::string& body,
                           const httplib::Headers& headers = {}) {
  auto c = s.client();
  auto r = c.Post(path, headers, body, "application/json");
  HttpReply out;
  if (!r) {
    ADD_FAILURE() << "POST " << path << ": no response (" << httplib::to_string(r.error()) << ")";
    return out;
  }
  out.status = r->status;
  out.headers = r->headers;
  try {
    out.body = Json::parse(r->body);
  } catch (const std::exception&) {
    ADD_FAILURE() << "POST " << path << ": not JSON: " << r->body.substr(0, 200);
  }
  return out;
}

inline HttpReply post_json(const ServeProcess& s, const std::string& path, const Json& body) {
  return post_json(s, path, body.dump());
}

// The `data:` payloads of an SSE response, in order, and the `event:` names beside them.
struct SseStream {
  int status = 0;
  std::vector<std::string> data, events;
};

inline SseStream parse_sse(const std::string& text) {
  SseStream s;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) end = text.size();
    const std::string frame = text.substr(pos, end - pos);
    pos = end + 2;
    std::string event;
    size_t line_start = 0;
    while (line_start < frame.size()) {
      size_t line_end = frame.find('\n', line_start);
      if (line_end == std::string::npos) line_end = frame.size();
      const std::string line = frame.substr(line_start, line_end - line_start);
      if (line.rfind("event: ", 0) == 0) event = line.substr(7);
      if (line.rfind("data: ", 0) == 0) {
        s.data.push_back(line.substr(6));
        s.events.push_back(event);
      }
      line_start = line_end + 1;
    }
  }
  return s;
}

inline SseStream post_sse(const ServeProcess& s, const std::string& path, const Json& body) {
  auto c = s.client();
  auto r = c.Post(path, body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << "POST " << path << ": no response";
    return {};
  }
  SseStream out = parse_sse(r->body);
  out.status = r->status;
  return out;
}

}  // namespace transformers::testing
