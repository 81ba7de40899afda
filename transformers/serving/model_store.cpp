#include "transformers/serving/model_store.h"

#include <ctime>

#include "transformers/hub/hub_cache.h"
#include "transformers/io/json.h"
#include "transformers/models/auto.h"
#include "transformers/serving/api_error.h"

namespace transformers::serving {

std::shared_ptr<const std::vector<std::string>> ServedModel::token_texts() {
  std::call_once(token_texts_once_, [&] {
    auto texts = std::make_shared<std::vector<std::string>>(tokenizer ? tokenizer->size() : 0);
    for (size_t id = 0; id < texts->size(); ++id) {
      const int64_t one = static_cast<int64_t>(id);
      if (!tokenizer->is_special_token(one)) (*texts)[id] = tokenizer->decode(std::span<const int64_t>(&one, 1));
    }
    token_texts_ = std::move(texts);
  });
  return token_texts_;
}

std::filesystem::path resolve_model_folder(const std::string& name) {
  std::filesystem::path folder;
  try {
    // A local folder, else org/name[@revision] in the Hub cache (never the network).
    folder = name.empty() ? std::filesystem::path() : hub::resolve_model(name);
  } catch (const Error& e) {
    throw ApiError(404, "model '" + name + "' not found: " + e.what(), "invalid_request_error", "model",
                   "model_not_found");
  }
  std::error_code ec;
  if (name.empty() || !std::filesystem::is_regular_file(folder / "config.json", ec))
    throw ApiError(404, "model '" + name + "' not found (not a model folder with config.json)", "invalid_request_error",
                   "model", "model_not_found");
  return folder;
}

ModelStore::ModelStore(ModelStoreOptions options) : options_(std::move(options)) {
  if (!options_.adapter.empty()) training::check_adapter_folder(options_.adapter);
  if (!options_.pinned.empty()) {
    current_ = load(options_.pinned, {});
  } else if (options_.model_timeout_s > 0) {
    reaper_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      while (!stopping_) {
        stop_cv_.wait_for(lock, std::chrono::milliseconds(500));
        if (!current_ || current_.use_count() > 1) continue;
        const auto idle = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_used_).count();
        if (idle > options_.model_timeout_s) current_.reset();
      }
    });
  }
}

ModelStore::~ModelStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
}

std::shared_ptr<ServedModel> ModelStore::load(const std::string& id, const LoadProgress& progress) const {
  auto stage = [&](const char* name, size_t done = 0, size_t total = 0) {
    if (progress) progress(name, done, total);
  };
  auto m = std::make_shared<ServedModel>();
  m->id = id;
  m->folder = resolve_model_folder(id);
  // v5's order: the processor (tokenizer) first, so a folder without one fails before its weights load.
  stage("processor");
  TCPP_CHECK(std::filesystem::exists(m->folder / "tokenizer.json") || std::filesystem::exists(m->folder / "tokenizer.model"),
             ValueError, m->folder.string(), ": serving needs a tokenizer.json or tokenizer.model in the model folder");
  m->tokenizer = Tokenizer::from_pretrained(m->folder);
  m->pooling = folder_pooling(m->folder);
  stage("config");
  const bool encoder = find_encoder(PretrainedConfig::from_pretrained(m->folder).model_type) != nullptr;
  LoadOptions load;
  load.dtype = options_.dtype;
  load.quantization_config = options_.quantization_config;
  if (progress) load.on_progress = [&](size_t done, size_t total) { stage("weights", done, total); };
  if (encoder) m->encoder = AutoModel::from_pretrained(m->folder, load);
  else m->model = AutoModelForCausalLM::from_pretrained(m->folder, load);
  if (!options_.adapter.empty()) {
    TCPP_CHECK(m->model, ValueError, "--adapter ", options_.adapter.string(), ": ", m->folder.string(),
               " is an encoder model (adapters apply to causal LMs)");
    m->adapter = training::attach_adapter(*m->model, options_.adapter);
  }
  if (m->model) m->manager = std::make_unique<ContinuousBatchingManager>(*m->model, options_.batching);
  m->created = static_cast<int64_t>(std::time(nullptr));
  return m;
}

std::shared_ptr<ServedModel> ModelStore::get(const std::string& requested, const LoadProgress& progress) {
  if (!options_.pinned.empty()) {
    // v5 answers 400 for another model than the one the server was started with.
    if (!requested.empty() && requested != current_->id && requested != current_->folder.filename().string())
      throw ApiError(400, "this server serves only '" + current_->id + "', not '" + requested + "'",
                     "invalid_request_error", "model", "model_not_served");
    return current_;
  }
  if (requested.empty()) throw bad_field("model", "is required (the server was started without a model)");
  {
    std::lock_guard lock(mutex_);
    if (current_ && current_->id == requested) {
      last_used_ = std::chrono::steady_clock::now();
      return current_;
    }
  }
  std::lock_guard load_lock(load_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (current_ && current_->id == requested) return current_;
    current_.reset();  // one model at a time: the old one goes once its last request ends
  }
  auto m = load(requested, progress);
  std::lock_guard lock(mutex_);
  current_ = m;
  last_used_ = std::chrono::steady_clock::now();
  return m;
}

std::vector<std::shared_ptr<ServedModel>> ModelStore::loaded() const {
  std::lock_guard lock(mutex_);
  if (!current_) return {};
  return {current_};
}

}  // namespace transformers::serving
