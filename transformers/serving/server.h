// `transformers serve`: an OpenAI-compatible HTTP server (cpp-httplib) over the library.
//
//   serving::Server server(options);   // loads the pinned model, if any
//   int port = server.bind();          // port 0 picks a free one
//   server.run();                      // until stop() (from another thread)
//
// Hardening: an API key (Authorization: Bearer) compared in constant time, /health public; CORS
// only for listed origins (a request from another Origin gets 403, nothing is reflected); a body
// size limit (413); a bounded pool of connection threads; errors in OpenAI's shape.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "transformers/serving/model_store.h"
#include "transformers/serving/sampling.h"

namespace transformers::serving {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string api_key;  // empty: no key asked
  std::vector<std::string> cors_origins;
  size_t max_body_bytes = size_t{4} << 20;
  int connection_threads = 40;  // requests served at once (a streaming client holds one)
  ModelStoreOptions models;
  SamplingLimits limits;
  Json chat_template_kwargs = Json::object();
  std::string log_level = "warning";  // "info" / "debug": one line per request on stderr
};

class Server {
 public:
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int bind();   // the port now listening (IoError when the address cannot be bound)
  void run();   // serves until stop()
  void stop();  // safe from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Equal strings, in a time that depends only on their lengths (an API key check that leaks
// nothing of the key through timing).
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace transformers::serving
