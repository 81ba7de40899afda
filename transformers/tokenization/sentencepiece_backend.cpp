#include "transformers/tokenization/sentencepiece_backend.h"

#include <sentencepiece_processor.h>

#include "transformers/core/error.h"
#include "transformers/io/files.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

// Real tokenizer.model files are under 5 MB (Gemma's 256k vocabulary: 4.2 MB).
constexpr uint64_t kMaxSentencePieceModelBytes = uint64_t{64} << 20;

class SentencePieceBackend final : public TokenizerBackend {
 public:
  SentencePieceBackend(const std::filesystem::path& path, bool add_bos, bool add_eos)
      : add_bos_(add_bos), add_eos_(add_eos) {
    // Read through io (regular file, size limit) rather than sentencepiece's own open, which would
    // block forever on a FIFO and read a device without end.
    auto status = processor_.LoadFromSerializedProto(read_text_file(path, kMaxSentencePieceModelBytes));
    TCPP_CHECK(status.ok(), FormatError, path.string(), ": not a sentencepiece model (",
               status.ToString(), ")");
  }

  Encoding encode_sequence(std::string_view raw, int64_t type_id) const override {
    std::string text = to_valid_utf8(raw);
    auto proto = processor_.EncodeAsImmutableProto(text);
    // sentencepiece reports byte offsets into the input; convert them to code points.
    std::vector<uint32_t> char_at(text.size() + 1, 0);
    uint32_t index = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++index;
      char_at[i] = index;
    }
    uint32_t total = static_cast<uint32_t>(count_code_points(text));
    char_at[text.size()] = total;
    Encoding e;
    uint32_t word = 0;
    for (const auto& piece : proto.pieces()) {
      e.ids.push_back(piece.id());
      e.tokens.push_back(piece.piece());
      size_t b = std::min<size_t>(piece.begin(), text.size());
      size_t end = std::min<size_t>(piece.end(), text.size());
      e.offsets.emplace_back(char_at[b], char_at[end]);
      e.word_ids.push_back(word++);
    }
    size_t n = e.ids.size();
    e.type_ids.assign(n, type_id);
    e.special_tokens_mask.assign(n, 0);
    e.attention_mask.assign(n, 1);
    e.sequence_ids.assign(n, 0);
    return e;
  }

  Encoding post_process(Encoding first, std::optional<Encoding> second,
                        bool add_special_tokens) const override {
    std::vector<Encoding> parts;
    auto wrap = [&](Encoding e, int64_t type_id) {
      Encoding out;
      auto add_special = [&](int id) {
        out.ids.push_back(id);
        out.tokens.push_back(processor_.IdToPiece(id));
        out.offsets.emplace_back(0, 0);
        out.type_ids.push_back(type_id);
        out.special_tokens_mask.push_back(1);
        out.attention_mask.push_back(1);
        out.word_ids.push_back(std::nullopt);
        out.sequence_ids.push_back(std::nullopt);
      };
      if (add_special_tokens && add_bos_ && processor_.bos_id() >= 0) add_special(processor_.bos_id());
      for (size_t i = 0; i < e.ids.size(); ++i) {
        out.ids.push_back(e.ids[i]);
        out.tokens.push_back(e.tokens[i]);
        out.offsets.push_back(e.offsets[i]);
        out.type_ids.push_back(type_id);
        out.special_tokens_mask.push_back(0);
        out.attention_mask.push_back(1);
        out.word_ids.push_back(e.word_ids[i]);
        out.sequence_ids.push_back(static_cast<uint32_t>(type_id));
      }
      if (add_special_tokens && add_eos_ && processor_.eos_id() >= 0) add_special(processor_.eos_id());
      return out;
    };
    Encoding out = wrap(std::move(first), 0);
    if (second) {
      Encoding b = wrap(std::move(*second), 1);
      auto append = [](auto& dst, auto& src) { dst.insert(dst.end(), src.begin(), src.end()); };
      append(out.ids, b.ids);
      append(out.tokens, b.tokens);
      append(out.offsets, b.offsets);
      append(out.type_ids, b.type_ids);
      append(out.special_tokens_mask, b.special_tokens_mask);
      append(out.attention_mask, b.attention_mask);
      append(out.word_ids, b.word_ids);
      append(out.sequence_ids, b.sequence_ids);
    }
    return out;
  }

  size_t num_special_tokens_to_add(bool is_pair) const override {
    size_t one = (add_bos_ && processor_.bos_id() >= 0) + (add_eos_ && processor_.eos_id() >= 0);
    return is_pair ? 2 * one : one;
  }

  std::string decode(std::span<const int64_t> ids, bool skip_special_tokens) const override {
    std::vector<int> kept;
    for (int64_t id : ids) {
      if (id < 0 || id >= processor_.GetPieceSize()) continue;
      if (skip_special_tokens && is_special_id(id)) continue;
      kept.push_back(static_cast<int>(id));
    }
    return processor_.DecodeIds(kept);
  }

  std::optional<int64_t> token_to_id(std::string_view token) const override {
    int id = processor_.PieceToId(std::string(token));
    if (id == processor_.unk_id() && token != processor_.IdToPiece(id)) return std::nullopt;
    return id;
  }
  std::optional<std::string> id_to_token(int64_t id) const override {
    if (id < 0 || id >= processor_.GetPieceSize()) return std::nullopt;
    return processor_.IdToPiece(static_cast<int>(id));
  }
  size_t vocab_size_with_added() const override { return processor_.GetPieceSize(); }
  bool is_special_id(int64_t id) const override {
    if (id < 0 || id >= processor_.GetPieceSize()) return false;
    return processor_.IsControl(static_cast<int>(id)) || processor_.IsUnknown(static_cast<int>(id));
  }
  std::vector<std::string> special_token_contents() const override {
    std::vector<std::string> out;
    for (int id = 0; id < processor_.GetPieceSize(); ++id)
      if (is_special_id(id)) out.push_back(processor_.IdToPiece(id));
    return out;
  }

 private:
  sentencepiece::SentencePieceProcessor processor_;
  bool add_bos_, add_eos_;
};

}  // namespace

std::unique_ptr<TokenizerBackend> make_sentencepiece_backend(const std::filesystem::path& model,
                                                             bool add_bos, bool add_eos) {
  return std::make_unique<SentencePieceBackend>(model, add_bos, add_eos);
}

}  // namespace transformers::tokenization
