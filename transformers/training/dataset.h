// Training data: JSONL rows or token-id .npy files turned into token sequences with labels, the
// causal-LM collator that pads them into a Batch, and the samplers that order them.
//
// JSONL rows (one JSON object a line, blank lines skipped) hold one of:
//   {"input_ids": [...], "labels": [...]?, "attention_mask": [...]?}   token ids as given
//   {"text": "..."}                      tokenised with the tokenizer (special tokens added)
//   {"messages": [...]}                  rendered with the chat template and tokenised; labels
//                                        -100 on non-assistant tokens when the template marks
//                                        generation spans ({% generation %}), else on none
// Every bad row is an error naming the file and line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "transformers/training/trainable.h"

namespace transformers {
class Tokenizer;
}

namespace transformers::training {

struct Example {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> labels;  // same length; kIgnoreIndex where no target
};

struct DatasetOptions {
  const Tokenizer* tokenizer = nullptr;  // needed for "text" and "messages" rows
  // Sequences longer than this are truncated (pack = false) or the stream is cut into blocks of
  // exactly this length (pack = true: run_clm's group_texts, the remainder dropped).
  std::optional<int64_t> max_length;
  bool pack = false;
};

// Reads a .jsonl file (rows as above) or a .npy file of token ids (int [N, L]: one row a
// sequence; int [N]: one stream, to be packed); labels of .npy rows are the ids.
std::vector<Example> load_dataset(const std::filesystem::path& path, const DatasetOptions& options);

// Truncation or block packing as DatasetOptions describe; every example keeps labels aligned.
std::vector<Example> shape_examples(std::vector<Example> examples, const DatasetOptions& options,
                                    const std::string& what);

// DataCollatorForLanguageModeling(mlm=False) on ready labels: rows padded on the right to the
// longest with pad_token_id, labels -100 at the padding, attention_mask 1/0 (left undefined when
// no row needed padding, as pad-free data gives none).
Batch collate(std::span<const Example* const> rows, int64_t pad_token_id);

// The order of the examples for one epoch. "sequential": 0..n-1. "random": a permutation seeded
// by (seed, epoch) with std::mt19937_64 and a Fisher-Yates shuffle; it is NOT torch's
// RandomSampler order (which draws from torch's generator), but it is a pure function of seed
// and epoch, so a resumed run sees exactly the order the uninterrupted run saw.
std::vector<size_t> epoch_order(size_t count, const std::string& strategy, uint64_t seed, int64_t epoch);

}  // namespace transformers::training
