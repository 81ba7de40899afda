// A fast path for the most common tokenizer.json shape (GPT-2, Llama-3, Qwen, RoBERTa,
// ModernBERT): no normalizer (or NFC on text it leaves unchanged), a regex split and the
// byte-level mapping, then the model. It runs the same steps as the general pipeline on plain
// strings instead of NormalizedStrings with per-byte alignments, and computes offsets directly
// (a byte-level char stands for one input byte, aligned to the input char holding it). The
// acceptance tests run through it; texts it cannot take go to the general pipeline.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/tokenization/added_tokens.h"
#include "transformers/tokenization/models.h"
#include "transformers/tokenization/regex.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::tokenization {

namespace fast_byte_level_detail {
class CharCursor;
}

class FastByteLevelPath {
 public:
  // The fast path for a tokenizer.json config, or null when its shape does not allow one.
  static std::unique_ptr<FastByteLevelPath> detect(const Json& config, const Model& model,
                                                   const AddedVocabulary& added);

  // Encodes `text` (valid UTF-8) without special tokens; false when this text needs the general
  // pipeline. Fills ids, and with `full` also tokens, offsets (code points) and word ids.
  bool encode(std::string_view text, bool full, Encoding& out) const;

 private:
  FastByteLevelPath(const Model& model, const AddedVocabulary& added, std::string pattern,
                    bool nfc, bool add_prefix_space);

  struct EncodeRun;  // one call's buffers (fast_byte_level.cpp)
  // What a vocabulary entry's string says about the input bytes it stands for (one byte-level
  // char per byte): how many, how many of them start a UTF-8 char, and whether the first one is
  // a continuation byte. bytes == 0: not usable (not byte-level chars, or too long).
  struct TokenSpan {
    uint8_t bytes = 0, leads = 0;
    bool starts_inside_char = false;
  };
  // Collects the tokens of a piece of input text (input[start, ...) as byte-level `piece`, at
  // `piece_begin` of the run's text) with offsets from spans_ alone, when every token is a
  // contiguous piece of the text with a known span; false (nothing collected) otherwise.
  bool collect_by_spans(std::string_view piece, size_t piece_begin, size_t start,
                        fast_byte_level_detail::CharCursor& text_chars, EncodeRun& run) const;
  // For NFC pipelines on text that NFC changes: the same passes as the general pipeline (raw
  // added tokens, NFC per remaining piece, normalized added tokens, split, model), offsets read
  // through the NFC alignments.
  void encode_normalizing(std::string_view text, bool full, EncodeRun& run, Encoding& out) const;
  // The regex split and the model on norm[begin, end) (normalized text without added tokens):
  // ids into `out`, or with `full` tokens into `run`, their offsets from `offsets`.
  template <typename OffsetMap>
  void encode_text(std::string_view norm, size_t begin, size_t end, bool full,
                   const OffsetMap& offsets, EncodeRun& run, Encoding& out) const;
  // The added token at `index` of the added vocabulary, matched as `value`.
  void add_token(size_t index, std::string_view value, Offsets offsets, bool full, EncodeRun& run,
                 Encoding& out) const;
  // The regex split of text[begin, end): emit_piece(start, end) per piece.
  template <typename Emit>
  void encode_segment(std::string_view text, size_t begin, size_t end, Emit&& emit_piece) const;

  const Model& model_;
  const AddedVocabulary& added_;
  Regex regex_;
  bool nfc_;
  bool add_prefix_space_;
  std::vector<TokenSpan> spans_;  // by token id
};

}  // namespace transformers::tokenization
