// WordLevel (a plain word -> id table), the shared vocabulary filler, and the model factory.
#include "transformers/tokenization/models.h"
#include "transformers/tokenization/vocab.h"

namespace transformers::tokenization {

namespace {

class WordLevelModel final : public Model {
 public:
  WordLevelModel(const Json& json, const ModelBulk& bulk, const std::string& where)
      : unk_token_(json_get_or<std::string>(json, "unk_token", "<unk>", where)) {
    fill_vocab(vocab_, bulk, where);
  }

  void tokenize(std::string_view text, std::vector<Token>& out) const override {
    uint32_t len = static_cast<uint32_t>(text.size());
    if (auto id = vocab_.find(text)) {
      out.push_back({*id, 0, len});
      return;
    }
    auto unk = vocab_.find(unk_token_);
    TCPP_CHECK(unk, ValueError, "WordLevel: '", text, "' is unknown and unk_token '", unk_token_,
               "' is not in the vocabulary");
    out.push_back({*unk, 0, len});
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    return vocab_.token(id);
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::string unk_token_;
};

}  // namespace

void fill_vocab(Vocab& vocab, const ModelBulk& bulk, const std::string& where) {
  TCPP_CHECK(bulk.has_vocab_object, ConfigError, where, ": 'vocab' must be an object {token: id}");
  vocab.reserve(bulk.vocab_ids.size());
  // Ids index an array: refuse ids far beyond the vocabulary size (a corrupt file must not make
  // us allocate gigabytes).
  const uint64_t id_limit = 16 * static_cast<uint64_t>(bulk.vocab_ids.size()) + 65536;
  for (auto [token, id] : bulk.vocab_ids) {
    TCPP_CHECK(id < id_limit, ConfigError, where, ": vocab entry '", token, "' has id ", id,
               ", far beyond the vocabulary size (", bulk.vocab_ids.size(), ")");
    vocab.add(std::string(token), id);
  }
}

std::unique_ptr<Model> make_wordlevel_model(const Json& json, const ModelBulk& bulk,
                                            const std::string& where) {
  return std::make_unique<WordLevelModel>(json, bulk, where);
}

std::unique_ptr<Model> make_model(const Json& json, const ModelBulk& bulk, const std::string& where) {
  TCPP_CHECK(json.is_object(), ConfigError, where, ": expected an object");
  std::string type = json_get_or<std::string>(json, "type", "", where);
  if (type.empty()) {
    // Old files omit the tag: infer it from the fields like the untagged deserializer.
    auto vocab = json.find("vocab");
    if (vocab != json.end() && vocab->is_array()) type = "Unigram";
    else if (json.contains("merges")) type = "BPE";
    else if (json.contains("max_input_chars_per_word")) type = "WordPiece";
    else type = "WordLevel";
  }
  std::string at = where + " (" + type + ")";
  if (type == "BPE") return make_bpe_model(json, bulk, at);
  if (type == "Unigram") return make_unigram_model(json, bulk, at);
  if (type == "WordPiece") return make_wordpiece_model(json, bulk, at);
  if (type == "WordLevel") return make_wordlevel_model(json, bulk, at);
  throw ConfigError(detail::concat(where, ": unknown model type '", type, "'"));
}

}  // namespace transformers::tokenization
