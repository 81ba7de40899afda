// tokenizer(texts, options): truncation (with stride and overflowing windows), special tokens,
// then padding over the batch, with the semantics of Transformers' fast tokenizers.
#include <algorithm>

#include "transformers/core/error.h"
#include "transformers/tokenization/backend.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {

namespace {

// Keeps `length` tokens of `e` (from the start for kRight, from the end for kLeft); the cut-off
// tokens become overflowing windows of `length` tokens overlapping by `stride`.
void truncate_encoding(Encoding& e, size_t length, size_t stride, Side side) {
  size_t n = e.ids.size();
  if (n <= length) return;
  auto take = [&](size_t start, size_t end) {
    Encoding w;
    auto slice = [&](auto& dst, const auto& src) {
      dst.assign(src.begin() + static_cast<std::ptrdiff_t>(start),
                 src.begin() + static_cast<std::ptrdiff_t>(end));
    };
    slice(w.ids, e.ids);
    slice(w.type_ids, e.type_ids);
    slice(w.tokens, e.tokens);
    slice(w.offsets, e.offsets);
    slice(w.special_tokens_mask, e.special_tokens_mask);
    slice(w.attention_mask, e.attention_mask);
    slice(w.word_ids, e.word_ids);
    slice(w.sequence_ids, e.sequence_ids);
    return w;
  };
  std::vector<std::pair<size_t, size_t>> ranges;
  if (length == 0) {
    ranges.emplace_back(0, 0);
    ranges.emplace_back(0, n);
  } else {
    TCPP_CHECK(stride < length, ValueError, "truncation: stride (", stride,
               ") must be smaller than the kept length (", length,
               "; max_length minus the special tokens)");
    size_t step = length - stride;
    if (side == Side::kRight) {
      for (size_t start = 0;; start += step) {
        size_t end = std::min(n, start + length);
        ranges.emplace_back(start, end);
        if (end == n) break;
      }
    } else {
      for (size_t end = n;; end -= std::min(end, step)) {
        size_t start = end > length ? end - length : 0;
        ranges.emplace_back(start, end);
        if (start == 0) break;
      }
    }
  }
  Encoding first = take(ranges[0].first, ranges[0].second);
  for (size_t i = 1; i < ranges.size(); ++i)
    first.overflowing.push_back(take(ranges[i].first, ranges[i].second));
  e = std::move(first);
}

void pad_encoding(Encoding& e, size_t target, int64_t pad_id, const std::string& pad_token,
                  Side side) {
  size_t n = e.ids.size();
  if (n >= target) return;
  size_t k = target - n;
  auto pad = [&](auto& v, auto value) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    if (side == Side::kRight) v.insert(v.end(), k, T(value));
    else v.insert(v.begin(), k, T(value));
  };
  pad(e.ids, pad_id);
  pad(e.type_ids, int64_t{0});
  pad(e.tokens, pad_token);
  pad(e.offsets, Offsets{0, 0});
  pad(e.special_tokens_mask, int64_t{1});
  pad(e.attention_mask, int64_t{0});
  pad(e.word_ids, std::optional<uint32_t>());
  pad(e.sequence_ids, std::optional<uint32_t>());
}

// The Rust truncate_encodings: the special tokens' room is taken from max_length first.
void truncate_pair(Encoding& first, std::optional<Encoding>& second, const EncodeOptions& options,
                   size_t special_tokens, Side default_side, size_t model_max_length) {
  size_t max_length = options.max_length.value_or(model_max_length);
  size_t added = options.add_special_tokens ? special_tokens : 0;
  size_t budget = max_length > added ? max_length - added : 0;
  Side side = options.truncation_side.value_or(default_side);
  size_t stride = options.return_overflowing_tokens ? options.stride : 0;
  if (budget == 0) {
    truncate_encoding(first, 0, stride, side);
    if (second) truncate_encoding(*second, 0, stride, side);
    return;
  }
  size_t n1 = first.size(), n2 = second ? second->size() : 0;
  if (n1 + n2 <= budget) return;
  size_t to_remove = n1 + n2 - budget;
  switch (options.truncation) {
    case Truncation::kLongestFirst: {
      if (!second) {
        truncate_encoding(first, n1 - to_remove, stride, side);
        break;
      }
      // The shorter keeps its length when it can; otherwise both get half of max_length.
      bool swap = n1 > n2;
      size_t a = swap ? n2 : n1, b;
      b = a > budget ? a : std::max(a, budget - a);
      if (a + b > budget) {
        a = budget / 2;
        b = a + budget % 2;
      }
      if (swap) std::swap(a, b);
      truncate_encoding(first, a, stride, side);
      truncate_encoding(*second, b, stride, side);
      break;
    }
    case Truncation::kOnlyFirst:
    case Truncation::kOnlySecond: {
      bool on_first = options.truncation == Truncation::kOnlyFirst;
      TCPP_CHECK(on_first || second, ValueError, "truncation only_second needs text pairs");
      Encoding& target = on_first ? first : *second;
      TCPP_CHECK(target.size() > to_remove, ValueError,
                 "truncation: the sequence to truncate is too short to respect max_length (",
                 max_length, ")");
      truncate_encoding(target, target.size() - to_remove, stride, side);
      break;
    }
    case Truncation::kNone:
      break;
  }
}

}  // namespace

Encoding Tokenizer::encode_pair_for_batch(std::string_view text, const std::string_view* pair,
                                          const EncodeOptions& options) const {
  Encoding first = backend_->encode_sequence(text, 0);
  std::optional<Encoding> second;
  if (pair) second = backend_->encode_sequence(*pair, 1);
  if (options.truncation != Truncation::kNone)
    truncate_pair(first, second, options, backend_->num_special_tokens_to_add(second.has_value()),
                  truncation_side(), model_max_length());
  // Windows cut off by truncation are post-processed like the main row, in the Rust library's
  // order: each first-sequence window with the second (and the second's windows), then the
  // first with each second-sequence window.
  std::vector<Encoding> first_windows = std::move(first.overflowing);
  first.overflowing.clear();
  std::vector<Encoding> second_windows;
  if (second) {
    second_windows = std::move(second->overflowing);
    second->overflowing.clear();
  }
  bool special = options.add_special_tokens;
  Encoding out = backend_->post_process(first, second, special);
  const bool first_only[2] = {true, false}, both[2] = {true, true}, second_only[2] = {false, true};
  for (auto& w : first_windows) {
    out.overflowing.push_back(backend_->post_process_window(w, second, special, first_only));
    for (auto& w2 : second_windows)
      out.overflowing.push_back(backend_->post_process_window(w, w2, special, both));
  }
  for (auto& w2 : second_windows)
    out.overflowing.push_back(backend_->post_process_window(first, w2, special, second_only));
  return out;
}

BatchEncoding Tokenizer::finish_batch(std::vector<Encoding> rows, const EncodeOptions& options) const {
  BatchEncoding batch;
  std::vector<Encoding> flat;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<Encoding> windows = std::move(rows[i].overflowing);
    rows[i].overflowing.clear();
    flat.push_back(std::move(rows[i]));
    batch.overflow_to_sample_mapping.push_back(static_cast<int64_t>(i));
    if (options.return_overflowing_tokens) {
      for (auto& w : windows) {
        flat.push_back(std::move(w));
        batch.overflow_to_sample_mapping.push_back(static_cast<int64_t>(i));
      }
    }
  }
  if (!options.return_overflowing_tokens) batch.overflow_to_sample_mapping.clear();
  if (options.padding != Padding::kNone) {
    size_t target = 0;
    if (options.padding == Padding::kLongest) {
      for (const auto& e : flat) target = std::max(target, e.size());
    } else {
      target = options.max_length.value_or(model_max_length());
      TCPP_CHECK(target != std::numeric_limits<size_t>::max(), ValueError,
                 "padding=max_length needs max_length (the tokenizer has no model_max_length)");
    }
    if (options.pad_to_multiple_of && *options.pad_to_multiple_of > 0) {
      size_t m = *options.pad_to_multiple_of;
      target = (target + m - 1) / m * m;
    }
    auto pad_id = pad_token_id();
    TCPP_CHECK(pad_id, ValueError,
               "asking to pad but the tokenizer has no pad_token (set one in tokenizer_config.json)");
    Side side = options.padding_side.value_or(padding_side());
    for (auto& e : flat) pad_encoding(e, target, *pad_id, *pad_token(), side);
  }
  for (auto& e : flat) {
    batch.input_ids.push_back(e.ids);
    batch.attention_mask.push_back(e.attention_mask);
    batch.token_type_ids.push_back(e.type_ids);
    batch.special_tokens_mask.push_back(e.special_tokens_mask);
    batch.offset_mapping.push_back(e.offsets);
    batch.tokens.push_back(e.tokens);
  }
  batch.encodings = std::move(flat);
  return batch;
}

BatchEncoding Tokenizer::operator()(const std::vector<std::string>& texts,
                                    const EncodeOptions& options) const {
  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  for (const auto& t : texts) rows.push_back(encode_pair_for_batch(t, nullptr, options));
  return finish_batch(std::move(rows), options);
}

BatchEncoding Tokenizer::operator()(const std::vector<std::pair<std::string, std::string>>& pairs,
                                    const EncodeOptions& options) const {
  std::vector<Encoding> rows;
  rows.reserve(pairs.size());
  for (const auto& [a, b] : pairs) {
    std::string_view second = b;
    rows.push_back(encode_pair_for_batch(a, &second, options));
  }
  return finish_batch(std::move(rows), options);
}

BatchEncoding Tokenizer::operator()(std::initializer_list<std::string_view> texts,
                                    const EncodeOptions& options) const {
  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  for (std::string_view t : texts) rows.push_back(encode_pair_for_batch(t, nullptr, options));
  return finish_batch(std::move(rows), options);
}

BatchEncoding Tokenizer::operator()(std::string_view text, const EncodeOptions& options) const {
  std::vector<Encoding> rows;
  rows.push_back(encode_pair_for_batch(text, nullptr, options));
  return finish_batch(std::move(rows), options);
}

}  // namespace transformers
