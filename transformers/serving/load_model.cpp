// POST /load_model {"model": ID}: loads a model into the server (replacing the one loaded, as this
// server keeps one model at a time) and streams v5's progress events as SSE `data:` frames:
//   {"status": "loading", "model": ID, "stage": "processor" | "config"}
//   {"status": "loading", "model": ID, "stage": "weights", "progress": {"current": N, "total": T}}
//   {"status": "ready", "model": ID, "cached": false}   (true when it was loaded already)
//   {"status": "error", "model": ID, "message": ...}    (a load that fails once streaming began)
// What can be judged before the load starts is answered with a status instead: 400 without a
// model or for another model than a pinned one, 404 for a name that is no model folder, 400 for a
// config.json that does not parse.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "transformers/config/pretrained_config.h"
#include "transformers/serving/api_error.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

namespace {
using detail::sse_frame;

// The load runs on its own thread; the HTTP thread writes its events as they come. A client that
// hangs up does not stop the load (as in v5): the model is in place for the next request.
class LoadStream : public EventStream {
 public:
  LoadStream(ServerState& state, std::string model) : model_(std::move(model)) {
    thread_ = std::thread([this, &state] { run(state); });
  }
  ~LoadStream() override { thread_.join(); }

  bool next(const std::function<bool(std::string_view)>& write) override {
    std::deque<std::string> frames;
    bool finished;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return !frames_.empty() || finished_; });
      frames.swap(frames_);
      finished = finished_;
    }
    for (const std::string& f : frames)
      if (!write(f)) return false;
    return !finished;
  }

 private:
  void push(const Json& event, bool last = false) {
    {
      std::lock_guard lock(mutex_);
      frames_.push_back(sse_frame(event));
      finished_ = finished_ || last;
    }
    ready_.notify_one();
  }

  void run(ServerState& state) {
    std::atomic<bool> loaded{false};  // set from the loader's threads
    size_t last_done = SIZE_MAX;
    try {
      state.models.get(model_, [&](const std::string& stage, size_t done, size_t total) {
        loaded = true;
        Json e = {{"status", "loading"}, {"model", model_}, {"stage", stage}};
        if (stage == "weights") {
          std::lock_guard lock(progress_mutex_);  // the loader reports from several threads
          // Threads may report out of order: only a count beyond the last one sent goes out.
          if (last_done != SIZE_MAX && done <= last_done) return;
          last_done = done;
          e["progress"] = {{"current", done}, {"total", total}};
        }
        push(e);
      });
      push({{"status", "ready"}, {"model", model_}, {"cached", !loaded.load()}}, true);
    } catch (const std::exception& e) {
      push({{"status", "error"}, {"model", model_}, {"message", e.what()}}, true);
    }
  }

  const std::string model_;
  std::mutex mutex_, progress_mutex_;
  std::condition_variable ready_;
  std::deque<std::string> frames_;
  bool finished_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

// The checks that give a status before any event: the name must be a model folder whose
// config.json parses (a pinned server: the pinned model).
void check_loadable(const std::string& model, ServerState& state) {
  if (!state.models.loads_on_demand()) {
    state.models.get(model);  // 400 for another model; nothing loads
    return;
  }
  for (const auto& m : state.models.loaded())
    if (m->id == model) return;
  const auto folder = resolve_model_folder(model);  // 404
  PretrainedConfig::from_pretrained(folder);         // ConfigError: 400
}
}  // namespace

Reply load_model(const Request& request, ServerState& state) {
  const std::optional<std::string> model = get_string(request.body, "model");
  if (!model || model->empty()) throw bad_field("model", "is required (a model folder or Hub name)");
  check_loadable(*model, state);
  return Reply::sse(std::make_unique<LoadStream>(state, *model));
}

}  // namespace transformers::serving
