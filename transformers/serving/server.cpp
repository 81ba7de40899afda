#include "transformers/serving/server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "transformers/serving/api_error.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

bool constant_time_equal(const std::string& a, const std::string& b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace {

constexpr char kJson[] = "application/json";

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& type = "invalid_request_error",
                const std::string& param = {}, const std::string& code = {}) {
  res.status = status;
  res.set_content(error_body(message, type, param, code).dump(-1, ' ', false, Json::error_handler_t::replace), kJson);
}

// A client's X-Request-ID when it is a sane token (echoed), else a new random one.
std::string request_id_of(const httplib::Request& req) {
  const std::string given = req.get_header_value("X-Request-ID");
  const bool sane = !given.empty() && given.size() <= 128 &&
                    std::all_of(given.begin(), given.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; });
  if (sane) return given;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "req_%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng() & 0xffffffffULL));
  return buf;
}

bool is_public(const std::string& path) { return path == "/health"; }

}  // namespace

struct Server::Impl {
  ServeOptions options;
  ModelStore models;
  ServerState state;
  httplib::Server http;
  bool bound = false;
  int listen_fd = -1;

  explicit Impl(ServeOptions o)
      : options(std::move(o)), models(options.models),
        state{.models = models, .limits = options.limits, .chat_template_kwargs = options.chat_template_kwargs} {
    configure();
  }

  bool origin_allowed(const std::string& origin) const {
    return std::find(options.cors_origins.begin(), options.cors_origins.end(), origin) != options.cors_origins.end();
  }

  // Request id, CORS and the API key, before any body is read or route runs.
  httplib::Server::HandlerResponse before_routing(const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Request-ID", request_id_of(req));
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty()) {
      if (!origin_allowed(origin)) {
        send_error(res, 403, "cross-origin requests from this Origin are not allowed (see --cors-origin)", "permission_error");
        return httplib::Server::HandlerResponse::Handled;
      }
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID");
        res.set_header("Access-Control-Max-Age", "600");
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (!options.api_key.empty() && !is_public(req.path)) {
      const std::string auth = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      const std::string given = auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : std::string();
      if (!constant_time_equal(given, options.api_key)) {
        send_error(res, 401, auth.empty() ? "missing API key (Authorization: Bearer KEY)" : "invalid API key",
                   "authentication_error", {}, "invalid_api_key");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  // Runs an endpoint: parses the body, maps errors to statuses, writes JSON or SSE.
  template <typename F>
  void handle(const httplib::Request& req, httplib::Response& res, F endpoint) {
    try {
      Request request{.id = res.get_header_value("X-Request-ID"), .text = req.body, .body = parse_request_body(req.body)};
      Reply reply = endpoint(request);
      if (!reply.stream) {
        res.set_content(reply.body.dump(-1, ' ', false, Json::error_handler_t::replace), kJson);
        return;
      }
      std::shared_ptr<EventStream> stream(std::move(reply.stream));
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider("text/event-stream", [stream](size_t, httplib::DataSink& sink) {
        try {
          // false from write: the client is gone; returning false drops the stream, whose run
          // cancels its request.
          bool alive = true;
          const bool more = stream->next([&](std::string_view frame) { return alive = alive && sink.write(frame.data(), frame.size()); });
          if (!alive) return false;
          if (!more) sink.done();
          return true;
        } catch (const std::exception& e) {
          const std::string frame = detail::sse_frame(Json{{"error", {{"message", e.what()}, {"type", "server_error"}}}});
          sink.write(frame.data(), frame.size());
          sink.done();
          return true;
        }
      });
    } catch (const ApiError& e) {
      send_error(res, e.status(), e.what(), e.type(), e.param(), e.code());
    } catch (const CapacityError& e) {
      send_error(res, 429, e.what(), "rate_limit_error", {}, "capacity");
    } catch (const Error& e) {
      send_error(res, 400, e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what(), "server_error");
    }
  }

  using JsonEndpoint = Json (*)(const Request&, ServerState&);
  using ReplyEndpoint = Reply (*)(const Request&, ServerState&);

  void post(const std::string& path, ReplyEndpoint endpoint) {
    http.Post(path, [this, endpoint](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [&](const Request& r) { return endpoint(r, state); });
    });
  }
  void post(const std::string& path, JsonEndpoint endpoint) {
    http.Post(path, [this, endpoint](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [&](const Request& r) { return Reply::json(endpoint(r, state)); });
    });
  }

  void configure() {
    const int threads = std::max(options.connection_threads, 4);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_payload_max_length(options.max_body_bytes);
    // httplib listens with a backlog of 5, so a burst of connects overflows it and clients wait
    // for a SYN retransmit (a second). Keep the socket to listen again with a real backlog.
    http.set_socket_options([this](int fd) {
      int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      // Accepted sockets inherit it: small SSE frames and responses go out at once instead of
      // waiting for the client's delayed ACK (40 ms per keep-alive request otherwise).
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      listen_fd = fd;
    });
    http.set_read_timeout(30, 0);
    http.set_write_timeout(30, 0);
    http.set_keep_alive_max_count(100);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) { return before_routing(req, res); });
    // Statuses httplib sets itself (unknown route 404, body too large 413, bad request 400) get
    // OpenAI's error body too.
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      if (res.status == 404) send_error(res, 404, "no route " + req.method + " " + req.path, "invalid_request_error", {}, "not_found");
      else if (res.status == 413) send_error(res, 413, "request body too large", "invalid_request_error", {}, "payload_too_large");
      else send_error(res, res.status, "HTTP error " + std::to_string(res.status));
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, 500, "internal error", "server_error");
    });
    if (options.log_level == "info" || options.log_level == "debug")
      http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
        std::fprintf(stderr, "%s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
      });

    // v5's {"status": "ok"}, plus the engine's counters (running / queued / generated tokens).
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      Json health = {{"status", "ok"}};
      for (const auto& m : models.loaded()) {
        if (!m->manager) continue;
        const auto s = m->manager->stats();
        health["engine"] = {{"running", s.running}, {"queued", s.queued}, {"generated_tokens", s.generated_tokens},
                            {"prompt_tokens", s.prompt_tokens}, {"cached_prompt_tokens", s.cached_prompt_tokens}};
      }
      res.set_content(health.dump(), kJson);
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(list_models(state).dump(), kJson);
    });
    post("/v1/chat/completions", chat_completions);
    post("/v1/completions", completions);
    post("/v1/responses", responses);
    post("/v1/embeddings", embeddings);
    post("/load_model", load_model);
    post("/tokenize", tokenize);
    post("/detokenize", detokenize);
  }
};

Server::Server(ServeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;

int Server::bind() {
  int port = impl_->options.port;
  if (port == 0) port = impl_->http.bind_to_any_port(impl_->options.host);
  else if (!impl_->http.bind_to_port(impl_->options.host, port)) port = -1;
  TCPP_CHECK(port > 0, IoError, "cannot listen on ", impl_->options.host, ":", impl_->options.port,
             " (address in use or not available)");
  // Linux takes a second listen() on a listening socket as a new backlog.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  impl_->bound = true;
  return port;
}

void Server::run() {
  TCPP_CHECK(impl_->bound, ValueError, "Server::run: bind() first");
  impl_->http.listen_after_bind();
}

void Server::stop() { impl_->http.stop(); }

}  // namespace transformers::serving
