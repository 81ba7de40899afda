// `transformers chat [BASE_URL] MODEL_ID [key=value]...`: v5's terminal chat client for any
// OpenAI-compatible server. Line editing and history come from libedit; answers stream as they
// are generated; Ctrl-C stops the current answer and keeps the conversation; `!` commands change
// settings or save the conversation. Both argument orders work: the migration guide writes the
// URL first, v5's code takes the model first; an argument that is a URL is the base URL.
#include <editline/readline.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "cli/command.h"
#include "cli/generate_flags.h"
#include "cli/openai_client.h"
#include "cli/progress.h"
#include "transformers/io/files.h"

namespace transformers::cli {
namespace {

constexpr const char* kDefaultBaseUrl = "http://localhost:8000";

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// v5's built-in examples for !example NAME.
const std::map<std::string, std::string>& examples() {
  static const std::map<std::string, std::string> table = {
      {"llama", "There is a Llama in my lawn, how can I get rid of it?"},
      {"code",
       "Write a Python function that integrates any Python function f(x) numerically over an arbitrary interval "
       "[x_start, x_end]."},
      {"helicopter", "How many helicopters can a human eat in one sitting?"},
      {"numbers", "Count to 10 but skip every number ending with an 'e'"},
      {"birds", "Why aren't birds real?"},
      {"socks", "Why is it important to eat socks after meditating?"},
      {"numbers2", "Which number is larger, 9.9 or 9.11?"},
  };
  return table;
}

const char* kHelp =
    "Commands:\n"
    "  !help              this help\n"
    "  !status            the model, the server and the generation settings\n"
    "  !clear             start a new conversation (the system prompt stays)\n"
    "  !example NAME      send a built-in example (llama, code, helicopter, numbers, birds, socks, numbers2)\n"
    "  !set k=v [k=v...]  change generation settings (e.g. !set temperature=0 max_new_tokens=64)\n"
    "  !save [FILE]       save settings and conversation as JSON (default: under --save-folder)\n"
    "  !exit              quit\n"
    "Ctrl-C stops an answer while it streams; the conversation goes on.\n";

bool is_url(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

struct ChatArgs {
  std::vector<std::string> positional;
  std::string system_prompt, save_folder = "./chat_history", generation_config, api_key;
};

class ChatSession {
 public:
  ChatSession(const ChatArgs& args) : client_(base_url(args), api_key(args)), save_folder_(args.save_folder) {
    std::vector<std::string> flags;
    for (const std::string& p : args.positional)
      if (!is_url(p) && p.find('=') == std::string::npos) {
        TCPP_CHECK(model_.empty(), UsageError, "chat: two model ids given ('", model_, "' and '", p,
                   "'); usage: transformers chat [BASE_URL] MODEL_ID [key=value]...");
        model_ = p;
      } else if (!is_url(p)) {
        flags.push_back(p);
      }
    TCPP_CHECK(!model_.empty(), UsageError, "chat: no MODEL_ID given ([BASE_URL] MODEL_ID [key=value]...)");
    // v5's chat defaults, then the file, then the flags.
    settings_ = {{"do_sample", true}, {"max_new_tokens", 256}};
    if (!args.generation_config.empty()) settings_.update(read_json_file(args.generation_config));
    settings_ = parse_generate_flags(flags, settings_);
    system_prompt_ = args.system_prompt;
    clear();
  }

  int run() {
    if (client_.base_url() == kDefaultBaseUrl) {
      std::string why;
      TCPP_CHECK(client_.healthy(why), IoError, "no server at ", kDefaultBaseUrl, " (", why,
                 "); start one with `transformers serve` or give the server's URL");
      load_model();
    }
    std::printf("Chatting with %s at %s. !help lists the commands, !exit quits.\n", model_.c_str(),
                client_.base_url().c_str());
    std::fflush(stdout);
    while (true) {
      g_interrupted = false;
      char* raw = readline(prompt().c_str());
      if (!raw) {
        if (g_interrupted) continue;  // Ctrl-C at the prompt: a fresh line
        std::printf("\n");
        return 0;  // end of input (Ctrl-D)
      }
      std::string line(raw);
      std::free(raw);
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      add_history(line.c_str());
      if (line[0] == '!') {
        if (!command(line)) return 0;
      } else {
        ask(line);
      }
    }
  }

 private:
  static std::string base_url(const ChatArgs& a) {
    std::string url = kDefaultBaseUrl;
    for (const std::string& p : a.positional)
      if (is_url(p)) url = p;
    return url;
  }
  static std::string api_key(const ChatArgs& a) {
    if (!a.api_key.empty()) return a.api_key;
    const char* env = std::getenv("OPENAI_API_KEY");
    return env ? env : "";
  }
  // v5's /load_model events, the weights stage drawn as the shared progress line (a tty only).
  void load_model() const {
    std::optional<ProgressLine> line;
    auto count = [](const Json& progress, const char* key) -> uint64_t {
      const auto it = progress.find(key);
      return it != progress.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
    };
    client_.load_model(model_, [&](const Json& e) {
      const auto progress = e.find("progress");
      if (progress == e.end() || !progress->is_object()) return;
      if (!line) line.emplace("loading " + model_ + " (" + e.value("stage", std::string("weights")) + ")");
      line->update(count(*progress, "current"), count(*progress, "total"));
    });
  }

  std::string prompt() const { return isatty(STDOUT_FILENO) ? "\001\033[1m\002you>\001\033[0m\002 " : "you> "; }

  void clear() {
    history_ = Json::array();
    if (!system_prompt_.empty()) history_.push_back({{"role", "system"}, {"content", system_prompt_}});
  }

  // The request: the whole settings as v5's `generation_config` (what `transformers serve`
  // reads), and the OpenAI fields any other server reads.
  Json request() const {
    Json g = settings_;
    Json r = {{"model", model_}, {"messages", history_}};
    if (g.contains("max_new_tokens")) r["max_tokens"] = g["max_new_tokens"];
    for (const char* key : {"temperature", "top_p", "seed"})
      if (g.contains(key)) r[key] = g[key];
    const bool greedy = (g.contains("do_sample") && g["do_sample"] == false) ||
                        (g.contains("temperature") && g["temperature"].is_number() && g["temperature"] == 0);
    if (greedy) {
      r["temperature"] = 0;
      g["do_sample"] = false;
      g.erase("temperature");
    }
    r["generation_config"] = g.dump();
    return r;
  }

  void ask(const std::string& text) {
    history_.push_back({{"role", "user"}, {"content", text}});
    const bool tty = isatty(STDOUT_FILENO);
    bool in_reasoning = false;
    ChatReply reply;
    try {
      reply = client_.stream_chat(
          request(),
          [&](const std::string& content, const std::string& reasoning) {
            if (!reasoning.empty()) {
              if (!in_reasoning && tty) std::fputs("\033[2m", stdout);
              in_reasoning = true;
              std::fputs(reasoning.c_str(), stdout);
            }
            if (!content.empty()) {
              if (in_reasoning) std::fputs(tty ? "\033[0m\n" : "\n", stdout);
              in_reasoning = false;
              std::fputs(content.c_str(), stdout);
            }
            std::fflush(stdout);
          },
          g_interrupted);
    } catch (const Error& e) {
      history_.erase(history_.size() - 1);  // the question goes unanswered: not part of the chat
      std::fprintf(stderr, "%serror: %s\n", in_reasoning && tty ? "\033[0m\n" : "\n", e.what());
      return;
    }
    if (in_reasoning && tty) std::fputs("\033[0m", stdout);
    std::fputs("\n", stdout);
    if (reply.interrupted) std::fputs("[stopped]\n", stdout);
    if (reply.finish_reason == "length")
      std::fputs("[the answer reached max_new_tokens; ask to continue, or !set max_new_tokens=N]\n", stdout);
    std::fflush(stdout);
    history_.push_back({{"role", "assistant"}, {"content", reply.content}});
  }

  // Returns false on !exit.
  bool command(const std::string& line) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    std::vector<std::string> rest;
    for (std::string w; words >> w;) rest.push_back(w);
    try {
      if (name == "!exit") return false;
      if (name == "!clear") {
        clear();
        std::printf("(new conversation)\n");
      } else if (name == "!status") {
        std::printf("model: %s\nserver: %s\nsettings: %s\nmessages: %zu\n", model_.c_str(), client_.base_url().c_str(),
                    settings_.dump().c_str(), history_.size());
      } else if (name == "!set") {
        TCPP_CHECK(!rest.empty(), ValueError, "!set needs key=value (e.g. !set temperature=0)");
        settings_ = parse_generate_flags(rest, settings_);
        std::printf("settings: %s\n", settings_.dump().c_str());
      } else if (name == "!example") {
        TCPP_CHECK(rest.size() == 1 && examples().contains(rest[0]), ValueError,
                   "!example NAME: NAME is one of llama, code, helicopter, numbers, birds, socks, numbers2");
        const std::string& text = examples().at(rest[0]);
        std::printf("you> %s\n", text.c_str());
        ask(text);
      } else if (name == "!save") {
        TCPP_CHECK(rest.size() <= 1, ValueError, "!save [FILE]");
        std::printf("saved %s\n", save(rest.empty() ? std::string() : rest[0]).c_str());
      } else {
        if (name != "!help") std::printf("unknown command %s\n", name.c_str());
        std::fputs(kHelp, stdout);
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
    std::fflush(stdout);
    return true;
  }

  std::string save(std::string file) const {
    namespace fs = std::filesystem;
    if (file.empty()) {
      char stamp[32];
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      std::strftime(stamp, sizeof stamp, "%Y-%m-%d_%H-%M-%S", &local);
      file = (fs::path(save_folder_) / model_ / (std::string("chat_") + stamp + ".json")).string();
    }
    const fs::path path(file);
    if (path.has_parent_path()) fs::create_directories(path.parent_path());
    const Json doc = {{"settings", {{"model", model_}, {"base_url", client_.base_url()},
                                    {"system_prompt", system_prompt_}, {"generation_config", settings_}}},
                      {"chat_history", history_}};
    write_file_atomically(path, doc.dump(2) + "\n");
    return path.string();
  }

  OpenAIClient client_;
  std::string model_, save_folder_, system_prompt_;
  Json settings_, history_;
};

// Ctrl-C interrupts (no SA_RESTART): a streaming answer stops, a prompt starts over.
void install_sigint() {
  struct sigaction sa{};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "chat in the terminal with a model behind an OpenAI-compatible server (`transformers serve`)");
  cmd->add_option("args", args->positional,
                  "[BASE_URL] MODEL_ID [key=value]...: the server (default http://localhost:8000, either order), the "
                  "model, generation settings such as max_new_tokens=64 temperature=0.7")
      ->required();
  cmd->add_option("--system-prompt", args->system_prompt, "a system message that starts every conversation");
  cmd->add_option("--save-folder", args->save_folder, "where !save writes (default ./chat_history)");
  cmd->add_option("--generation-config", args->generation_config, "a generation_config.json whose keys start the settings");
  cmd->add_option("--api-key", args->api_key, "bearer token for the server (default: $OPENAI_API_KEY)");
  cmd->callback([args] {
    ChatSession session(*args);
    install_sigint();
    session.run();
  });
}};

}  // namespace
}  // namespace transformers::cli
