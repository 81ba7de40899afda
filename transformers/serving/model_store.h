// The models a server answers with. With a pinned model (`transformers serve MODEL`) it is loaded
// at start and a request naming another one gets 400, as in v5; without one, a request's model is
// loaded on first use, one at a time (a new name replaces the loaded model; requests already
// running on the old one finish on it), and an idle model is unloaded after model_timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "transformers/generation/continuous_batching.h"
#include "transformers/models/causal_lm.h"
#include "transformers/models/encoder.h"
#include "transformers/serving/sentence_embedding.h"
#include "transformers/tokenization/tokenizer.h"
#include "transformers/training/peft_adapter.h"

namespace transformers::serving {

// The folder a model argument or a request's "model" names. The one place where names become
// folders: Hub names (org/name) resolve here once the Hub cache lookup exists.
std::filesystem::path resolve_model_folder(const std::string& name);

// A decoder (generation and embeddings) or an encoder (BERT, ModernBERT: embeddings only).
struct ServedModel {
  std::string id;  // as clients name it
  std::filesystem::path folder;
  std::unique_ptr<CausalLM> model;      // decoders
  std::unique_ptr<EncoderModel> encoder;  // encoders
  // The LoRA adapter of ModelStoreOptions::adapter on `model`; declared after it, so it detaches first.
  std::unique_ptr<training::AttachedAdapters> adapter;
  // What the sentence-transformers pooling config (1_Pooling/config.json) asks for, else mean.
  Pooling pooling = Pooling::kMean;
  std::optional<Tokenizer> tokenizer;
  std::unique_ptr<ContinuousBatchingManager> manager;  // declared last: stops before the model goes
  std::mutex embedding_mutex;                          // one embeddings forward at a time per model
  int64_t created = 0;                                 // unix time of the load

  const PretrainedConfig& config() const { return model ? model->config() : encoder->config(); }
  // Each token's text alone (special tokens empty), for constrained decoding; built on first use.
  std::shared_ptr<const std::vector<std::string>> token_texts();

 private:
  std::once_flag token_texts_once_;
  std::shared_ptr<const std::vector<std::string>> token_texts_;
};

// Progress of a model load, in the stages v5's POST /load_model reports: "processor" (the
// tokenizer), "config", then "weights" with (groups of tensors done, in all); done and total are 0
// for the stages without counts. Called from the loading threads.
using LoadProgress = std::function<void(const std::string& stage, size_t done, size_t total)>;

struct ModelStoreOptions {
  std::string pinned;  // empty: load on first use
  std::string dtype = "auto";
  std::optional<QuantizationConfig> quantization_config{};  // LoadOptions::quantization_config
  ContinuousBatchingOptions batching = {};
  // A LoRA adapter folder in PEFT's layout (`serve --adapter`), applied at run time to every
  // decoder loaded: the pinned one at start (a bad adapter stops the server from starting), or
  // each one a request or POST /load_model names (an adapter that does not fit fails that load).
  std::filesystem::path adapter;
  // Seconds an unpinned model may stay idle before it is unloaded; <= 0: never.
  double model_timeout_s = 300;
};

class ModelStore {
 public:
  explicit ModelStore(ModelStoreOptions options);  // loads the pinned model (errors propagate)
  ~ModelStore();

  // The model for a request's "model" field (empty: the pinned one). ApiError 400 when it
  // differs from the pinned model or is missing without one, 404 when no such folder exists.
  // `progress` hears about a load, when one happens (not for a model already loaded).
  std::shared_ptr<ServedModel> get(const std::string& requested, const LoadProgress& progress = {});
  // The models loaded now.
  std::vector<std::shared_ptr<ServedModel>> loaded() const;
  // Whether requests may name any model (no model was pinned at start).
  bool loads_on_demand() const { return options_.pinned.empty(); }

 private:
  std::shared_ptr<ServedModel> load(const std::string& id, const LoadProgress& progress) const;

  ModelStoreOptions options_;
  mutable std::mutex mutex_;
  std::mutex load_mutex_;  // one load at a time
  std::shared_ptr<ServedModel> current_;
  std::chrono::steady_clock::time_point last_used_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace transformers::serving
