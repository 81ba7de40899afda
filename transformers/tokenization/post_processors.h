// Post-processors of tokenizer.json ("post_processor"): add the special tokens around one
// sequence or a pair (TemplateProcessing, BertProcessing, RobertaProcessing), fix byte-level
// offsets (ByteLevel), and set type ids. Encodings here already carry char offsets.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::tokenization {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // How many special tokens process() adds to a single sequence or a pair.
  virtual size_t added_tokens(bool is_pair) const = 0;
  // Rewrites the per-sequence encodings (1 or 2); the caller merges them.
  virtual void process_encodings(std::vector<Encoding>& encodings,
                                 bool add_special_tokens) const = 0;
  // Whether overflow windows keep their sequences' own type ids (0 / 1) rather than the ones this
  // processor assigns (RobertaProcessing rewrites them to 0).
  virtual bool windows_keep_sequence_type_ids() const { return true; }
};

// The Rust PostProcessor::process: sequence and type ids set per part, process_encodings, merge.
// Without a processor, the parts are only merged.
Encoding post_process(const PostProcessor* processor, Encoding first, std::optional<Encoding> second,
                      bool add_special_tokens);

// Concatenates encodings (Encoding::merge with growing_offsets = false).
Encoding merge_encodings(std::vector<Encoding>& parts);

std::unique_ptr<PostProcessor> make_post_processor(const Json& json, const std::string& where);

// Trims the byte-level space (U+0120) and whitespace off token offsets (ByteLevel trim_offsets).
void trim_byte_level_offsets(Encoding& encoding, bool add_prefix_space);

}  // namespace transformers::tokenization
