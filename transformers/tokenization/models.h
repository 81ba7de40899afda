// Tokenization models of tokenizer.json ("model": {"type": "BPE" | "Unigram" | "WordPiece" |
// "WordLevel"}): each turns one pre-tokenized piece of text into tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/tokenization/model_bulk.h"
#include "transformers/tokenization/pre_tokenizers.h"

namespace transformers::tokenization {

// The work a model may spend on one word: kWorkPerByte steps (trie nodes walked, candidate bytes
// hashed) per byte of the word plus kWorkAllowance. With a real vocabulary a step per byte costs
// at most the longest piece's length (tens of bytes); a vocabulary with a piece of megabytes
// would make one long word cost its length times that piece's, so such a word is refused with a
// ValueError naming the model instead.
class WorkBudget {
 public:
  static constexpr size_t kWorkPerByte = 1024;
  static constexpr size_t kWorkAllowance = size_t{1} << 20;
  WorkBudget(size_t word_size, const std::string& model)
      : word_size_(word_size), limit_(word_size * kWorkPerByte + kWorkAllowance), model_(model) {}
  void spend(size_t steps) {
    used_ += steps;
    TCPP_CHECK(used_ <= limit_, ValueError, model_, ": a ", word_size_,
               "-byte word needs more than ", limit_, " steps (the limit is ", kWorkPerByte,
               " per byte + ", kWorkAllowance, "; the vocabulary has very long pieces)");
  }

 private:
  size_t word_size_, limit_, used_ = 0;
  const std::string& model_;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of `text` to `out`; offsets are bytes of `text`.
  virtual void tokenize(std::string_view text, std::vector<Token>& out) const = 0;
  virtual std::optional<uint32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string_view> id_to_token(uint32_t id) const = 0;
  // The Rust get_vocab_size(): the next id free for added tokens.
  virtual size_t vocab_size() const = 0;
};

// Builds the model from tokenizer.json's "model" object (its "type" may be missing in old files:
// it is then inferred from the fields, as the Rust untagged deserializer does).
// `bulk` holds its vocab and merges (see model_bulk.h).
std::unique_ptr<Model> make_model(const Json& json, const ModelBulk& bulk, const std::string& where);

std::unique_ptr<Model> make_bpe_model(const Json& json, const ModelBulk& bulk,
                                      const std::string& where);
std::unique_ptr<Model> make_unigram_model(const Json& json, const ModelBulk& bulk,
                                          const std::string& where);
std::unique_ptr<Model> make_wordpiece_model(const Json& json, const ModelBulk& bulk,
                                            const std::string& where);
std::unique_ptr<Model> make_wordlevel_model(const Json& json, const ModelBulk& bulk,
                                            const std::string& where);
// The token -> id vocabulary of a BPE / WordPiece / WordLevel model.
class Vocab;
void fill_vocab(Vocab& vocab, const ModelBulk& bulk, const std::string& where);

}  // namespace transformers::tokenization
