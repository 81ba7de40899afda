// The bulky parts of tokenizer.json's "model" (vocab and merges, hundreds of thousands of
// entries), held as string views into the parsed document so that models are built straight
// from the parser's memory. Two producers: the fast simdjson reader (files) and nlohmann Json
// (strings, tests, fuzzing); the views live as long as the parsed document.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transformers/io/json.h"

namespace transformers::tokenization {

struct ModelBulk {
  bool has_vocab_object = false;  // {"token": id, ...}: BPE, WordPiece, WordLevel
  bool has_vocab_list = false;    // [["piece", score], ...]: Unigram
  bool has_merges = false;
  std::vector<std::pair<std::string_view, uint32_t>> vocab_ids;
  std::vector<std::pair<std::string_view, double>> vocab_scores;
  // Each merge as its two tokens (the "a b" form is split at load).
  std::vector<std::pair<std::string_view, std::string_view>> merges;
};

// Reads vocab / merges of a model object held as nlohmann Json (views into `model`).
ModelBulk bulk_from_json(const Json& model, const std::string& where);

// A tokenizer.json parsed for loading: everything but the model's vocab and merges as nlohmann
// Json (small), the bulk as views into the simdjson document kept alive here.
struct ParsedTokenizerJson {
  Json config;
  ModelBulk bulk;
  std::shared_ptr<void> storage;  // owns the memory the bulk views point into
};

// Parses tokenizer.json text with simdjson; FormatError naming `where` on malformed JSON.
ParsedTokenizerJson parse_tokenizer_json(std::string_view text, const std::string& where);

// Splits a "a b" merge into its two tokens (FormatError naming `where` unless exactly one space).
std::pair<std::string_view, std::string_view> split_merge(std::string_view merge,
                                                          const std::string& where);

}  // namespace transformers::tokenization
