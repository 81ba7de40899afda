// transformers serve [MODEL] [--host 127.0.0.1] [--port 8000] [--api-key KEY | --api-key-file F]
//   [--max-concurrency N] [--dtype auto] [--cors-origin O]... [--model-timeout S] [--default-seed N]
//   [--chat-template-kwargs JSON] [--reasoning on|off|auto] [--max-tokens-limit N] [--log-level L]
//   [--adapter DIR]
// v5's OpenAI-compatible server (transformers/serving). Prints the address it listens on
// ("listening on http://HOST:PORT"); --port 0 picks a free port. SIGINT / SIGTERM stop it.
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "cli/adapter_flag.h"
#include "cli/command.h"
#include "cli/common.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"
#include "transformers/models/save.h"
#include "transformers/serving/server.h"

namespace transformers::cli {
namespace {

struct ServeArgs {
  std::string model, host = "127.0.0.1", api_key, api_key_file, dtype = "auto", chat_template_kwargs, reasoning = "auto",
                     log_level = "warning";
  QuantizationFlags quantization;
  int port = 8000;
  int64_t max_concurrency = 16, max_queue = 256, max_tokens_limit = 4096;
  double model_timeout = 300;
  std::vector<std::string> cors_origins;
  std::optional<int64_t> default_seed;
  std::string adapter;          // a PEFT LoRA adapter folder applied to the served decoder
  std::string kv_cache_memory;  // "2GB", or a fraction of the machine's memory ("0.25")
  bool no_prefix_caching = false;
};

// --kv-cache-memory: a size with a unit, or a fraction (0, 1) of the machine's memory.
int64_t kv_cache_bytes(const std::string& text) {
  if (text.empty()) return 0;  // the engine's default
  size_t used = 0;
  double fraction = -1;
  try {
    fraction = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  if (used == text.size() && fraction > 0 && fraction < 1) {
    const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    return static_cast<int64_t>(fraction * memory);
  }
  return static_cast<int64_t>(parse_byte_size(text, "--kv-cache-memory"));
}

std::string read_key_file(const std::string& path) {
  std::string key = read_text_file(path);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  TCPP_CHECK(!key.empty(), ValueError, "--api-key-file ", path, " is empty");
  return key;
}

serving::ServeOptions serve_options(const ServeArgs& a) {
  serving::ServeOptions o;
  o.host = a.host;
  o.port = a.port;
  TCPP_CHECK(a.api_key.empty() || a.api_key_file.empty(), UsageError, "give --api-key or --api-key-file, not both");
  o.api_key = a.api_key_file.empty() ? a.api_key : read_key_file(a.api_key_file);
  o.cors_origins = a.cors_origins;
  for (const auto& origin : o.cors_origins)
    TCPP_CHECK(origin != "*" && !origin.empty(), UsageError, "--cors-origin: list each origin (e.g. http://localhost:3000); '",
               origin, "' is not one");
  TCPP_CHECK(a.max_concurrency >= 1 && a.max_concurrency <= 1024, UsageError, "--max-concurrency must be from 1 to 1024, got ",
             a.max_concurrency);
  TCPP_CHECK(a.max_queue >= 0, UsageError, "--max-queue must be >= 0, got ", a.max_queue);
  TCPP_CHECK(a.max_tokens_limit >= 1 && a.max_tokens_limit <= kMaxGenerationLength, UsageError,
             "--max-tokens-limit must be from 1 to ", kMaxGenerationLength);
  // Streaming clients each hold a connection thread while the engine decodes max_concurrency of
  // them; the rest of the pool answers /health and queued requests.
  o.connection_threads = static_cast<int>(a.max_concurrency) + 16;
  o.models.pinned = a.model;
  o.models.dtype = a.dtype;
  o.models.quantization_config = quantization_from_flag(a.quantization);
  o.models.adapter = a.adapter;
  o.models.batching.max_running = a.max_concurrency;
  o.models.batching.max_queued = a.max_queue;
  o.models.batching.kv_cache_bytes = kv_cache_bytes(a.kv_cache_memory);
  o.models.batching.prefix_caching = !a.no_prefix_caching;
  o.models.model_timeout_s = a.model_timeout;
  o.limits.max_tokens = a.max_tokens_limit;
  o.limits.default_tokens = std::min<int64_t>(1024, a.max_tokens_limit);
  if (a.default_seed) o.limits.default_seed = static_cast<uint64_t>(*a.default_seed);
  if (!a.chat_template_kwargs.empty()) {
    o.chat_template_kwargs = parse_json(a.chat_template_kwargs, "--chat-template-kwargs");
    TCPP_CHECK(o.chat_template_kwargs.is_object(), ValueError, "--chat-template-kwargs must be a JSON object");
  }
  // v5: --reasoning sets the template's enable_thinking.
  if (a.reasoning != "auto") o.chat_template_kwargs["enable_thinking"] = a.reasoning == "on";
  o.log_level = a.log_level;
  return o;
}

// SIGINT / SIGTERM write a byte to this pipe (all a signal handler may safely do); a thread
// reading it stops the server. Threads started before (the kernel pool) need no signal mask.
int g_stop_pipe[2] = {-1, -1};
void on_stop_signal(int) { (void)!::write(g_stop_pipe[1], "x", 1); }

void run_serve(const ServeArgs& a) {
  serving::ServeOptions options = serve_options(a);
  std::signal(SIGPIPE, SIG_IGN);  // a write to a vanished client must not end the process
  if (!a.model.empty() && (a.log_level == "info" || a.log_level == "debug")) std::fprintf(stderr, "loading %s\n", a.model.c_str());
  serving::Server server(std::move(options));
  const int port = server.bind();
  TCPP_CHECK(::pipe(g_stop_pipe) == 0, IoError, "serve: cannot create a pipe");
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::thread stopper([&server] {
    char byte;
    while (::read(g_stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    server.stop();
  });
  std::printf("transformers serve: listening on http://%s:%d\n", a.host.c_str(), port);
  std::fflush(stdout);
  server.run();
  on_stop_signal(0);  // run() also returns when listening fails: wake the stopper to join it
  stopper.join();
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* sub = app.add_subcommand("serve", "OpenAI-compatible HTTP server (chat/completions, completions, responses, embeddings)");
  sub->add_option("model", args->model, "Model folder to preload and pin (requests naming another model get 400); "
                                        "without it, a request's model is loaded on first use");
  sub->add_option("--host", args->host, "Address to listen on (default 127.0.0.1)");
  sub->add_option("--port", args->port, "Port (default 8000; 0: a free port, printed)")->check(CLI::Range(0, 65535));
  sub->add_option("--api-key", args->api_key, "Require Authorization: Bearer KEY (all routes but /health)");
  sub->add_option("--api-key-file", args->api_key_file, "Read the API key from this file");
  sub->add_option("--max-concurrency", args->max_concurrency, "Sequences decoded together (default 16)");
  sub->add_option("--max-queue", args->max_queue, "Requests waiting beyond those; one more gets 429 (default 256)");
  sub->add_option("--kv-cache-memory", args->kv_cache_memory,
                  "Memory for the paged KV cache: a size (2GB, 512MiB) or a fraction of RAM (0.25); default a quarter "
                  "of RAM, at most 4 GiB. When full, new requests wait");
  sub->add_flag("--no-prefix-caching", args->no_prefix_caching, "Do not share the KV blocks of repeated prompt prefixes");
  sub->add_option("--max-tokens-limit", args->max_tokens_limit, "Largest max_tokens a request may ask (default 4096)");
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  add_quantization_flag(sub, &args->quantization);
  add_adapter_flag(sub, &args->adapter);
  sub->add_option("--cors-origin", args->cors_origins, "Allow browser requests from this origin (repeatable; default: none)");
  sub->add_option("--model-timeout", args->model_timeout, "Seconds before an idle model loaded on demand is unloaded (<= 0: never)");
  sub->add_option("--default-seed", args->default_seed, "Seed for requests that give none");
  sub->add_option("--chat-template-kwargs", args->chat_template_kwargs, "JSON object of chat template variables for every request");
  sub->add_option("--reasoning", args->reasoning, "on|off: set the template's enable_thinking; auto: leave it")
      ->check(CLI::IsMember({"on", "off", "auto"}));
  sub->add_option("--log-level", args->log_level, "warning (default), info or debug: one line per request on stderr")
      ->check(CLI::IsMember({"error", "warning", "info", "debug"}));
  sub->callback([args] { run_serve(*args); });
}};

}  // namespace
}  // namespace transformers::cli
