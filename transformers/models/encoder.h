// Encoder-only models (BERT, ModernBERT): bidirectional attention over a padded batch, with a
// head chosen by the Auto class, as in Transformers: AutoModel (the bare encoder: last hidden
// state and pooler output), AutoModelForMaskedLM (vocabulary logits per token),
// AutoModelForSequenceClassification (one row of label logits per sequence).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transformers/config/pretrained_config.h"
#include "transformers/models/auto.h"
#include "transformers/nn/module.h"

namespace transformers {

enum class EncoderHead { None, MaskedLM, SequenceClassification };

struct EncoderForwardOptions {
  const Tensor* attention_mask = nullptr;  // [B, L], nonzero = real token; default: all real
  const Tensor* token_type_ids = nullptr;  // [B, L] I64; default: zeros
  const Tensor* position_ids = nullptr;    // [B, L] I64; default: 0, 1, ...
  bool output_hidden_states = false;
};

struct EncoderOutput {
  Tensor last_hidden_state;           // [B, L, H]
  Tensor pooler_output;               // [B, H]; undefined when the model has no pooler
  Tensor logits;                      // the head's: [B, L, V] (masked LM), [B, num_labels]; undefined for None
  std::vector<Tensor> hidden_states;  // when asked: embeddings output, then each layer's output
};

class EncoderModel : public nn::Module {
 public:
  EncoderModel(PretrainedConfig config, EncoderHead head) : config_(std::move(config)), head_(head) {}
  virtual EncoderOutput forward(const Tensor& input_ids, const EncoderForwardOptions& options = {}) const = 0;
  // (target, source) parameters sharing storage, e.g. the MLM decoder and the word embeddings.
  virtual std::vector<std::pair<std::string, std::string>> tied_weights() const { return {}; }
  // The prefix of the bare encoder's parameters inside a model with a head ("bert").
  virtual std::string base_model_prefix() const = 0;

  const PretrainedConfig& config() const { return config_; }
  EncoderHead head() const { return head_; }
  DType dtype = DType::F32;

 private:
  PretrainedConfig config_;
  EncoderHead head_;
};

using EncoderFactory = std::unique_ptr<EncoderModel> (*)(const PretrainedConfig&, EncoderHead);

struct EncoderEntry {
  std::string model_type;
  EncoderFactory make;
};
const std::vector<EncoderEntry>& encoder_registry();
// nullptr when model_type is not an encoder.
const EncoderEntry* find_encoder(const std::string& model_type);
// The head config.json's architectures[] names (BertForMaskedLM -> MaskedLM, ...); None if none.
EncoderHead encoder_head_from_architectures(const PretrainedConfig& config);

// Builds the encoder with `head` and loads its weights (a checkpoint with or without the head,
// with or without the base-model prefix, as Transformers accepts).
std::unique_ptr<EncoderModel> load_encoder(const std::filesystem::path& path, EncoderHead head, const LoadOptions& options);

// The encoder a config describes with random parameters (matrices ~ N(0, std), norm weights
// 1 + N(0, std/10), other vectors N(0, std/10)), reproducibly from `seed`: for tests and tools.
std::unique_ptr<EncoderModel> make_random_encoder(const PretrainedConfig& config, EncoderHead head, uint64_t seed,
                                                  double std = 0.02);

// Writes config.json (as loaded, with the model's architectures[]) and model.safetensors (every
// parameter but tied targets), the layout Transformers' save_pretrained gives an encoder.
void save_encoder(const EncoderModel& model, const std::filesystem::path& dir);

struct AutoModel {
  static std::unique_ptr<EncoderModel> from_pretrained(const std::filesystem::path& path, const LoadOptions& options = {}) {
    return load_encoder(path, EncoderHead::None, options);
  }
};
struct AutoModelForMaskedLM {
  static std::unique_ptr<EncoderModel> from_pretrained(const std::filesystem::path& path, const LoadOptions& options = {}) {
    return load_encoder(path, EncoderHead::MaskedLM, options);
  }
};
struct AutoModelForSequenceClassification {
  static std::unique_ptr<EncoderModel> from_pretrained(const std::filesystem::path& path, const LoadOptions& options = {}) {
    return load_encoder(path, EncoderHead::SequenceClassification, options);
  }
};

// Factories (one model one file).
std::unique_ptr<EncoderModel> make_bert(const PretrainedConfig& config, EncoderHead head);
std::unique_ptr<EncoderModel> make_modernbert(const PretrainedConfig& config, EncoderHead head);

}  // namespace transformers
