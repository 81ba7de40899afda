#include "transformers/training/dataset.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <regex>

#include <unistd.h>

#include "transformers/chat/apply_chat_template.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/ops/ops.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::training {
namespace {

// A JSONL line longer than this is refused before parsing (a runaway file, not a training row).
constexpr size_t kMaxLineBytes = size_t{64} << 20;

std::vector<int64_t> id_list(const Json& row, const char* key, const std::string& where) {
  const Json& value = row.at(key);
  TCPP_CHECK(value.is_array(), FormatError, where, ": '", key, "' must be a list of integers");
  std::vector<int64_t> ids;
  ids.reserve(value.size());
  for (const Json& id : value) {
    TCPP_CHECK(id.is_number_integer(), FormatError, where, ": '", key, "' holds a non-integer ", id.dump());
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

bool template_marks_generation(const Tokenizer& tokenizer) {
  const auto text = tokenizer.chat_template();
  static const std::regex generation_tag(R"(\{%-?\s*generation\s*-?%\})");
  return text && std::regex_search(*text, generation_tag);
}

Example example_from_row(const Json& row, const DatasetOptions& options, const std::string& where) {
  TCPP_CHECK(row.is_object(), FormatError, where, ": a row must be a JSON object");
  Example example;
  if (row.contains("input_ids")) {
    example.input_ids = id_list(row, "input_ids", where);
    example.labels = row.contains("labels") ? id_list(row, "labels", where) : example.input_ids;
    TCPP_CHECK(example.labels.size() == example.input_ids.size(), FormatError, where, ": 'labels' has ",
               example.labels.size(), " entries, 'input_ids' ", example.input_ids.size());
    if (row.contains("attention_mask")) {
      const std::vector<int64_t> mask = id_list(row, "attention_mask", where);
      TCPP_CHECK(mask.size() == example.input_ids.size(), FormatError, where, ": 'attention_mask' has ",
                 mask.size(), " entries, 'input_ids' ", example.input_ids.size());
      // Masked-out positions are never targets; the collator pads them like its own padding.
      for (size_t i = 0; i < mask.size(); ++i) {
        TCPP_CHECK(mask[i] == 0 || mask[i] == 1, FormatError, where, ": 'attention_mask' entries must be 0 or 1");
        if (mask[i] == 0) example.labels[i] = kIgnoreIndex;
      }
    }
  } else if (row.contains("text")) {
    TCPP_CHECK(options.tokenizer, ValueError, where, ": a 'text' row needs a tokenizer");
    TCPP_CHECK(row.at("text").is_string(), FormatError, where, ": 'text' must be a string");
    example.input_ids = options.tokenizer->encode(row.at("text").get<std::string>());
    example.labels = example.input_ids;
  } else if (row.contains("messages")) {
    TCPP_CHECK(options.tokenizer, ValueError, where, ": a 'messages' row needs a tokenizer");
    TCPP_CHECK(row.at("messages").is_array(), FormatError, where, ": 'messages' must be a list");
    const bool masks = template_marks_generation(*options.tokenizer);
    ChatEncoding chat;
    ApplyChatTemplateOptions chat_options;
    chat_options.return_assistant_tokens_mask = masks;
    try {
      chat = apply_chat_template(*options.tokenizer, OrderedJson::parse(row.at("messages").dump()), chat_options);
    } catch (const Error& error) {
      throw FormatError(detail::concat(where, ": ", error.what()));
    }
    example.input_ids = chat.encoding.input_ids.at(0);
    example.labels = example.input_ids;
    if (masks)
      for (size_t i = 0; i < example.labels.size(); ++i)
        if (chat.encoding.assistant_masks.at(0).at(i) == 0) example.labels[i] = kIgnoreIndex;
  } else {
    throw FormatError(where + ": a row needs 'input_ids', 'text' or 'messages'");
  }
  TCPP_CHECK(!example.input_ids.empty(), FormatError, where, ": empty sequence");
  for (int64_t id : example.input_ids) TCPP_CHECK(id >= 0, FormatError, where, ": negative token id ", id);
  for (int64_t label : example.labels)
    TCPP_CHECK(label >= 0 || label == kIgnoreIndex, FormatError, where, ": label ", label, " is neither an id nor -100");
  return example;
}

std::vector<Example> load_jsonl(const std::filesystem::path& path, const DatasetOptions& options) {
  uint64_t size = 0;
  ::close(open_regular_file(path, &size));  // refuses FIFOs, devices and folders with a named error
  std::ifstream in(path, std::ios::binary);
  TCPP_CHECK(in, IoError, path.string(), ": cannot open");
  std::vector<Example> examples;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    const std::string where = detail::concat(path.string(), ":", number);
    TCPP_CHECK(line.size() <= kMaxLineBytes, FormatError, where, ": line longer than ", kMaxLineBytes, " bytes");
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    examples.push_back(example_from_row(parse_json(line, where), options, where));
  }
  TCPP_CHECK(!examples.empty(), FormatError, path.string(), ": no rows");
  return examples;
}

std::vector<Example> load_token_npy(const std::filesystem::path& path) {
  const Tensor ids = load_npy(path);
  TCPP_CHECK(ids.dtype() == DType::I64 || ids.dtype() == DType::I32, FormatError, path.string(),
             ": token ids must be int32 or int64, got ", ids.describe());
  TCPP_CHECK(ids.dim() == 1 || ids.dim() == 2, FormatError, path.string(), ": expected [N] or [N, L] ids, got ",
             ids.describe());
  TCPP_CHECK(ids.numel() > 0, FormatError, path.string(), ": no token ids");
  const std::vector<int64_t> values = ops::to_int64_vector(ids);
  const int64_t rows = ids.dim() == 2 ? ids.size(0) : 1;
  const int64_t length = ids.dim() == 2 ? ids.size(1) : ids.size(0);
  std::vector<Example> examples;
  for (int64_t r = 0; r < rows; ++r) {
    Example example;
    example.input_ids.assign(values.begin() + r * length, values.begin() + (r + 1) * length);
    for (int64_t id : example.input_ids)
      TCPP_CHECK(id >= 0, FormatError, path.string(), ": row ", r, ": negative token id ", id);
    example.labels = example.input_ids;
    examples.push_back(std::move(example));
  }
  return examples;
}

}  // namespace

std::vector<Example> load_dataset(const std::filesystem::path& path, const DatasetOptions& options) {
  std::vector<Example> examples =
      path.extension() == ".npy" ? load_token_npy(path) : load_jsonl(path, options);
  return shape_examples(std::move(examples), options, path.string());
}

std::vector<Example> shape_examples(std::vector<Example> examples, const DatasetOptions& options,
                                    const std::string& what) {
  if (!options.max_length) {
    TCPP_CHECK(!options.pack, ConfigError, what, ": packing needs a max_length (the block size)");
    return examples;
  }
  const auto block = static_cast<size_t>(*options.max_length);
  TCPP_CHECK(*options.max_length >= 2, ConfigError, what, ": max_length must be >= 2, got ", *options.max_length);
  if (!options.pack) {
    for (auto& example : examples) {
      if (example.input_ids.size() > block) example.input_ids.resize(block);
      if (example.labels.size() > block) example.labels.resize(block);
    }
    return examples;
  }
  // group_texts: concatenate everything, cut into blocks, drop the remainder.
  Example stream;
  for (auto& example : examples) {
    stream.input_ids.insert(stream.input_ids.end(), example.input_ids.begin(), example.input_ids.end());
    stream.labels.insert(stream.labels.end(), example.labels.begin(), example.labels.end());
  }
  std::vector<Example> blocks;
  for (size_t start = 0; start + block <= stream.input_ids.size(); start += block) {
    Example piece;
    piece.input_ids.assign(stream.input_ids.begin() + start, stream.input_ids.begin() + start + block);
    piece.labels.assign(stream.labels.begin() + start, stream.labels.begin() + start + block);
    blocks.push_back(std::move(piece));
  }
  TCPP_CHECK(!blocks.empty(), FormatError, what, ": fewer than max_length=", block, " tokens in all; no block to train on");
  return blocks;
}

Batch collate(std::span<const Example* const> rows, int64_t pad_token_id) {
  TCPP_CHECK(!rows.empty(), ValueError, "collate: no rows");
  size_t longest = 0;
  for (const Example* row : rows) longest = std::max(longest, row->input_ids.size());
  const auto batch = static_cast<int64_t>(rows.size()), length = static_cast<int64_t>(longest);
  std::vector<int64_t> ids(rows.size() * longest, pad_token_id), labels(rows.size() * longest, kIgnoreIndex),
      mask(rows.size() * longest, 0);
  bool padded = false;
  for (size_t r = 0; r < rows.size(); ++r) {
    const Example& row = *rows[r];
    std::copy(row.input_ids.begin(), row.input_ids.end(), ids.begin() + r * longest);
    std::copy(row.labels.begin(), row.labels.end(), labels.begin() + r * longest);
    std::fill_n(mask.begin() + r * longest, row.input_ids.size(), 1);
    padded |= row.input_ids.size() < longest;
  }
  Batch out;
  out.input_ids = Tensor::from_values(ids, {batch, length});
  out.labels = Tensor::from_values(labels, {batch, length});
  if (padded) out.attention_mask = Tensor::from_values(mask, {batch, length});
  return out;
}

std::vector<size_t> epoch_order(size_t count, const std::string& strategy, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), size_t{0});
  if (strategy == "sequential") return order;
  TCPP_CHECK(strategy == "random", ConfigError, "train_sampling_strategy: '", strategy,
             "' is not one of random, sequential");
  std::seed_seq seeds{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(epoch)};
  std::mt19937_64 generator(seeds);
  // Fisher-Yates with our own index draw: std::shuffle's use of the generator is unspecified,
  // so it could differ between standard libraries.
  for (size_t i = count; i > 1; --i) {
    const size_t j = static_cast<size_t>(generator() % i);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace transformers::training
