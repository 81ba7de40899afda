// GenerationConfig: generation_config.json with Transformers v5's defaults (the values
// `_get_default_generation_params` fills in at generate time), and the validation v5 performs
// before generating (contradictory settings raise ValueError naming the field).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/io/json.h"

namespace transformers {

struct PretrainedConfig;

// early_stopping: true, false or "never" (v5 keeps all three; see beam_search.h for what each does).
enum class EarlyStopping { False, True, Never };

// Limits generate() enforces before allocating anything (v5 has none; past them a request only
// exhausts memory): tokens in a sequence (max_length, max_new_tokens, max_cache_len) and rows
// per prompt (num_beams, whose candidates are num_beams x vocab per step; num_return_sequences,
// which sampling tests of a distribution set to thousands).
inline constexpr int64_t kMaxGenerationLength = int64_t{1} << 24;
inline constexpr int64_t kMaxBeams = 1024;
inline constexpr int64_t kMaxReturnSequences = int64_t{1} << 16;

struct GenerationConfig {
  // Length.
  std::optional<int64_t> max_new_tokens;  // wins over max_length when set
  int64_t max_length = 20;                // prompt + new tokens
  int64_t min_length = 0;                 // prompt + new tokens before eos is allowed
  int64_t min_new_tokens = 0;
  EarlyStopping early_stopping = EarlyStopping::False;
  std::optional<double> max_time;         // seconds
  std::vector<std::string> stop_strings;  // needs a token decoder (see generate.h)
  // Strategy.
  bool do_sample = false;
  int64_t num_beams = 1;
  // Logits processing (in the order generate applies them: see logits_processors.h).
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  double min_p = 0.0;  // 0: off (v5's None)
  std::optional<double> top_h;  // entropy-bounded top-H sampling, in (0, 1]
  double typical_p = 1.0;
  double epsilon_cutoff = 0.0;
  double eta_cutoff = 0.0;
  double repetition_penalty = 1.0;
  double length_penalty = 1.0;
  int64_t no_repeat_ngram_size = 0;
  std::vector<std::vector<int64_t>> bad_words_ids;
  std::vector<std::pair<std::vector<int64_t>, double>> sequence_bias;
  std::vector<int64_t> suppress_tokens, begin_suppress_tokens;
  std::optional<int64_t> forced_bos_token_id;
  std::vector<int64_t> forced_eos_token_ids;  // int or list in the JSON
  std::optional<std::pair<int64_t, double>> exponential_decay_length_penalty;  // (start_index, decay_factor)
  bool remove_invalid_values = false;
  bool renormalize_logits = false;
  // Outputs.
  int64_t num_return_sequences = 1;
  bool output_scores = false, output_logits = false, output_hidden_states = false, output_attentions = false;
  bool return_dict_in_generate = false;
  // Special tokens.
  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;  // int or list in the JSON
  // Cache.
  std::optional<std::string> cache_implementation;  // null/"dynamic" or "static" (aliases: see generate.cpp)
  std::optional<int64_t> max_cache_len;
  bool use_cache = true;
  Json raw = Json::object();

  static GenerationConfig from_json(const Json& json, const std::string& where = "generation_config.json");
  // Reads MODEL/generation_config.json when present; otherwise derives the token ids from the
  // model config, as Transformers does.
  static GenerationConfig from_pretrained(const std::filesystem::path& folder, const PretrainedConfig* model_config = nullptr);

  // generation_config.json for save_pretrained: `raw` (the file's keys as read, in their order),
  // with every field changed since reading written over it in v5's JSON form.
  Json to_json() const;

  // Raises ValueError naming the field for values out of their domain and for combinations v5
  // rejects (num_return_sequences > num_beams, num_return_sequences > 1 with greedy search, ...).
  void validate() const;
  // Every token id the config uses (bos, pad, forced_*, bad_words_ids, suppress_tokens,
  // sequence_bias, ...) must be in [0, vocab_size): ValueError naming the field and the id.
  // eos ids only stop a row, so one past the vocabulary is accepted (it never matches, as in v5)
  // unless the first stands in for an unset pad_token_id. vocab_size 0 checks only for negatives.
  void check_token_ids(int64_t vocab_size) const;
  // The number of new tokens for a prompt of `input_length`: max_new_tokens, else
  // max_length - input_length.
  int64_t new_tokens_for(int64_t input_length) const;
};

}  // namespace transformers
