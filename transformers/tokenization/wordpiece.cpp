// WordPiece (BERT): greedy longest-match-first over each word, continuation pieces carrying the
// "##" prefix; a word with any unmatched rest becomes one unknown token.
#include "transformers/tokenization/models.h"
#include "transformers/tokenization/unicode.h"
#include "transformers/tokenization/vocab.h"
#include "transformers/tokenization/word_cache.h"

namespace transformers::tokenization {

namespace {

class WordPieceModel final : public Model {
 public:
  WordPieceModel(const Json& json, const ModelBulk& bulk, const std::string& where)
      : unk_token_(json_get_or<std::string>(json, "unk_token", "[UNK]", where)),
        prefix_(json_get_or<std::string>(json, "continuing_subword_prefix", "##", where)),
        max_chars_(json_get_or<size_t>(json, "max_input_chars_per_word", 100, where)),
        where_(where) {
    fill_vocab(vocab_, bulk, where);
  }

  void tokenize(std::string_view text, std::vector<Token>& out) const override {
    if (cache_.lookup(text, out)) return;
    size_t first = out.size();
    greedy_longest_match(text, out);
    cache_.store(text, out.data() + first, out.data() + out.size());
  }

  void greedy_longest_match(std::string_view text, std::vector<Token>& out) const {
    if (count_code_points(text) > max_chars_) {
      out.push_back({unk_id(), 0, static_cast<uint32_t>(text.size())});
      return;
    }
    size_t first = out.size();
    std::string candidate;
    // A large max_input_chars_per_word lets long words through: start each search at the longest
    // vocabulary entry (no longer candidate can match; same result) and bound the rest.
    WorkBudget budget(text.size(), where_);
    for (size_t start = 0; start < text.size();) {
      // Longest piece from `start`, shrinking one char at a time.
      size_t end = text.size();
      if (end - start > vocab_.max_token_size()) {
        end = start + vocab_.max_token_size();
        while (end > start && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
      }
      std::optional<uint32_t> found;
      while (start < end) {
        candidate.clear();
        if (start > 0) candidate += prefix_;
        candidate.append(text.substr(start, end - start));
        budget.spend(candidate.size());
        if ((found = vocab_.find(candidate))) break;
        do {
          --end;
        } while (end > start && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.resize(first);
        out.push_back({unk_id(), 0, static_cast<uint32_t>(text.size())});
        return;
      }
      out.push_back({*found, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
      start = end;
    }
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    return vocab_.token(id);
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  uint32_t unk_id() const {
    auto id = vocab_.find(unk_token_);
    TCPP_CHECK(id, ConfigError, "WordPiece: unk_token '", unk_token_, "' is not in the vocabulary");
    return *id;
  }
  Vocab vocab_;
  std::string unk_token_, prefix_;
  size_t max_chars_;
  std::string where_;
  WordCache cache_;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece_model(const Json& json, const ModelBulk& bulk,
                                            const std::string& where) {
  return std::make_unique<WordPieceModel>(json, bulk, where);
}

}  // namespace transformers::tokenization
