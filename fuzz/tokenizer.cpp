// libFuzzer target: tokenizer.json loading (both JSON readers) and encoding / decoding with what
// loads. Two input shapes:
//   - tokenizer.json text, optionally followed by a NUL byte and a text to encode;
//   - a first byte 0x01, then bytes that pick and parameterise a pipeline (normalizers,
//     pre-tokenizers, model, decoder, with fuzzed patterns, contents and vocabularies), then the
//     text: hostile *configs* that mutating whole JSON files rarely reaches.
// Bad files must fail with transformers::Error; anything else (crash, other exception) is a bug.
#include "transformers/tokenization/tokenizer.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "transformers/core/error.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer_json.h"

namespace {

using transformers::Json;
using transformers::tokenization::TokenizerJson;

void exercise(const TokenizerJson& tok, std::string_view text) {
  auto enc = tok.encode(text, true);
  auto ids = tok.encode_ids(text, false);
  (void)tok.decode(enc.ids, false);
  (void)tok.decode(ids, true);
  auto pair = tok.post_process(tok.encode_sequence(text, 0), tok.encode_sequence(text, 1), true);
  (void)pair;
}

void load_and_exercise(std::string_view json, std::string_view text) {
  try {
    auto tok = TokenizerJson::from_string(json, "fuzz.json");
    exercise(*tok, text);
  } catch (const transformers::Error&) {
  }
  try {
    auto tok = TokenizerJson::from_text_fast(json, "fuzz.json");
    exercise(*tok, text);
  } catch (const transformers::Error&) {
  }
}

// Short fuzzed strings (patterns, contents, vocabulary pieces); occasionally a long repetition,
// the shape that amplifies.
std::string fuzzed_string(FuzzedDataProvider& in) {
  std::string s = in.ConsumeRandomLengthString(16);
  if (!s.empty() && in.ConsumeIntegralInRange(0, 7) == 0) {
    std::string repeated;
    size_t times = in.ConsumeIntegralInRange<size_t>(1, 4096);
    for (size_t i = 0; i < times; ++i) repeated += s;
    return repeated;
  }
  return s;
}

Json pattern(FuzzedDataProvider& in) {
  return {{in.ConsumeBool() ? "Regex" : "String", fuzzed_string(in)}};
}

Json normalizer(FuzzedDataProvider& in, int depth) {
  switch (in.ConsumeIntegralInRange(0, 9)) {
    case 0:
      return {{"type", "Replace"}, {"pattern", pattern(in)}, {"content", fuzzed_string(in)}};
    case 1:
      return {{"type", "Prepend"}, {"prepend", fuzzed_string(in)}};
    case 2:
      return {{"type", "NFKC"}};
    case 3:
      return {{"type", "NFD"}};
    case 4:
      return {{"type", "Lowercase"}};
    case 5:
      return {
          {"type", "Strip"}, {"strip_left", in.ConsumeBool()}, {"strip_right", in.ConsumeBool()}};
    case 6:
      return {{"type", "BertNormalizer"}, {"lowercase", in.ConsumeBool()}};
    case 7:
      return {{"type", "ByteLevel"}};
    case 8:
      return {{"type", "Nmt"}};
    default: {
      Json list = Json::array();
      int n = depth < 3 ? in.ConsumeIntegralInRange(0, 4) : 0;
      for (int i = 0; i < n; ++i) list.push_back(normalizer(in, depth + 1));
      return {{"type", "Sequence"}, {"normalizers", list}};
    }
  }
}

Json pre_tokenizer(FuzzedDataProvider& in, int depth) {
  static const char* const kBehaviors[] = {"Removed", "Isolated", "MergedWithPrevious",
                                           "MergedWithNext", "Contiguous"};
  switch (in.ConsumeIntegralInRange(0, 9)) {
    case 0:
      return {{"type", "Split"},
              {"pattern", pattern(in)},
              {"behavior", kBehaviors[in.ConsumeIntegralInRange(0, 4)]},
              {"invert", in.ConsumeBool()}};
    case 1:
      return {{"type", "Metaspace"},
              {"replacement", in.ConsumeBool() ? "\xE2\x96\x81" : "_"},
              {"prepend_scheme", in.ConsumeBool() ? "always" : "first"},
              {"split", in.ConsumeBool()}};
    case 2:
      return {{"type", "ByteLevel"},
              {"add_prefix_space", in.ConsumeBool()},
              {"use_regex", in.ConsumeBool()}};
    case 3:
      return {{"type", "Whitespace"}};
    case 4:
      return {{"type", "WhitespaceSplit"}};
    case 5:
      return {{"type", "Digits"}, {"individual_digits", in.ConsumeBool()}};
    case 6:
      return {{"type", "Punctuation"}, {"behavior", kBehaviors[in.ConsumeIntegralInRange(0, 4)]}};
    case 7:
      return {{"type", "BertPreTokenizer"}};
    case 8:
      return {{"type", "CharDelimiterSplit"}, {"delimiter", in.ConsumeBool() ? " " : "a"}};
    default: {
      Json list = Json::array();
      int n = depth < 3 ? in.ConsumeIntegralInRange(0, 4) : 0;
      for (int i = 0; i < n; ++i) list.push_back(pre_tokenizer(in, depth + 1));
      return {{"type", "Sequence"}, {"pretokenizers", list}};
    }
  }
}

Json model(FuzzedDataProvider& in) {
  std::vector<std::string> pieces = {"[UNK]", "a", "b", "##a", "\xE2\x96\x81"};
  int extra = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < extra; ++i) pieces.push_back(fuzzed_string(in));
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: {
      Json vocab = Json::array();
      for (const auto& p : pieces)
        vocab.push_back(Json::array({p, -static_cast<double>(p.size())}));
      return {{"type", "Unigram"},
              {"unk_id", 0},
              {"vocab", vocab},
              {"byte_fallback", in.ConsumeBool()}};
    }
    case 1: {
      Json vocab = Json::object();
      for (const auto& p : pieces) vocab.emplace(p, vocab.size());
      return {{"type", "WordPiece"},
              {"unk_token", "[UNK]"},
              {"vocab", vocab},
              {"max_input_chars_per_word", in.ConsumeIntegralInRange<uint64_t>(0, 1u << 30)}};
    }
    case 2: {
      Json vocab = Json::object();
      for (const auto& p : pieces) vocab.emplace(p, vocab.size());
      vocab.emplace("ab", vocab.size());
      return {{"type", "BPE"},
              {"unk_token", "[UNK]"},
              {"vocab", vocab},
              {"merges", Json::array({"a b"})},
              {"byte_fallback", in.ConsumeBool()},
              {"fuse_unk", in.ConsumeBool()}};
    }
    default: {
      Json vocab = Json::object();
      for (const auto& p : pieces) vocab.emplace(p, vocab.size());
      return {{"type", "WordLevel"}, {"unk_token", "[UNK]"}, {"vocab", vocab}};
    }
  }
}

Json decoder(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0:
      return {{"type", "Replace"}, {"pattern", pattern(in)}, {"content", fuzzed_string(in)}};
    case 1:
      return {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}};
    case 2:
      return {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", in.ConsumeBool()}};
    case 3:
      return {{"type", "ByteFallback"}};
    case 4:
      return {{"type", "ByteLevel"}};
    case 5:
      return {{"type", "Strip"},
              {"content", " "},
              {"start", in.ConsumeIntegralInRange(0, 3)},
              {"stop", in.ConsumeIntegralInRange(0, 3)}};
    default:
      return nullptr;
  }
}

void structured(FuzzedDataProvider& in) {
  Json json = {{"version", "1.0"}, {"added_tokens", Json::array()}};
  json["normalizer"] = in.ConsumeBool() ? normalizer(in, 0) : Json(nullptr);
  json["pre_tokenizer"] = in.ConsumeBool() ? pre_tokenizer(in, 0) : Json(nullptr);
  json["model"] = model(in);
  json["decoder"] = decoder(in);
  json["post_processor"] = nullptr;
  if (in.ConsumeBool())
    json["added_tokens"].push_back({{"id", 1000},
                                    {"content", fuzzed_string(in)},
                                    {"single_word", in.ConsumeBool()},
                                    {"lstrip", in.ConsumeBool()},
                                    {"rstrip", in.ConsumeBool()},
                                    {"normalized", in.ConsumeBool()},
                                    {"special", in.ConsumeBool()}});
  std::string text = in.ConsumeRemainingBytesAsString();
  load_and_exercise(json.dump(-1, ' ', false, Json::error_handler_t::replace), text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (!input.empty() && input[0] == '\x01') {
    FuzzedDataProvider in(data + 1, size - 1);
    structured(in);
    return 0;
  }
  size_t nul = input.find('\0');
  std::string_view json = input.substr(0, nul);
  std::string_view text =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  load_and_exercise(json, text);
  return 0;
}
