// The Tokenizer API beyond the pipeline: padding, truncation, pairs, special tokens and chat
// templates from tokenizer_config.json, streaming decode, and errors on malformed files.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "transformers/core/error.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

fs::path model_dir(const std::string& family) {
  fs::path p = fs::path(TCPP_SHARED_DIR) / "tokenizers/models" / family;
  EXPECT_TRUE(fs::exists(p)) << "missing fixture " << p;
  return p;
}

const Tokenizer& bert() {
  static Tokenizer t = Tokenizer::from_pretrained(model_dir("bert"));
  return t;
}

TEST(TokenizerApi, PaddingLongestRightAndLeft) {
  const Tokenizer& tok = bert();
  ASSERT_EQ(tok.pad_token(), "[PAD]");
  auto enc = tok({"hello world", "hi"}, {.padding = Padding::kLongest});
  ASSERT_EQ(enc.size(), 2u);
  // [CLS] hello world [SEP] / [CLS] hi [SEP] [PAD]
  EXPECT_EQ(enc.input_ids[0], (std::vector<int64_t>{101, 7592, 2088, 102}));
  EXPECT_EQ(enc.input_ids[1], (std::vector<int64_t>{101, 7632, 102, 0}));
  EXPECT_EQ(enc.attention_mask[1], (std::vector<int64_t>{1, 1, 1, 0}));
  EXPECT_EQ(enc.special_tokens_mask[1], (std::vector<int64_t>{1, 0, 1, 1}));
  auto left = tok({"hello world", "hi"}, {.padding = Padding::kLongest, .padding_side = Side::kLeft});
  EXPECT_EQ(left.input_ids[1], (std::vector<int64_t>{0, 101, 7632, 102}));
  EXPECT_EQ(left.attention_mask[1], (std::vector<int64_t>{0, 1, 1, 1}));
}

TEST(TokenizerApi, PaddingMaxLengthAndMultiple) {
  const Tokenizer& tok = bert();
  auto enc = tok({"hi"}, {.padding = Padding::kMaxLength, .max_length = 6});
  EXPECT_EQ(enc.input_ids[0].size(), 6u);
  auto mult = tok({"hello world"}, {.padding = Padding::kLongest, .pad_to_multiple_of = 8});
  EXPECT_EQ(mult.input_ids[0].size(), 8u);
}

TEST(TokenizerApi, TruncationWithStrideAndOverflow) {
  const Tokenizer& tok = bert();
  std::string text = "one two three four five six seven eight nine ten";
  auto full = tok.encode(text, false);
  ASSERT_EQ(full.size(), 10u);
  auto enc = tok({text}, {.truncation = Truncation::kLongestFirst, .max_length = 6, .stride = 2,
                          .return_overflowing_tokens = true});
  // 4 content tokens per window, 2 shared: [0..4) [2..6) [4..8) [6..10)
  ASSERT_EQ(enc.size(), 4u);
  EXPECT_EQ(enc.overflow_to_sample_mapping, (std::vector<int64_t>{0, 0, 0, 0}));
  for (const auto& row : enc.input_ids) {
    EXPECT_EQ(row.size(), 6u);
    EXPECT_EQ(row.front(), 101);
    EXPECT_EQ(row.back(), 102);
  }
  EXPECT_EQ(enc.input_ids[1][1], full[2]);
  EXPECT_EQ(enc.input_ids[3][4], full[9]);
  auto left = tok({text}, {.truncation = Truncation::kLongestFirst, .max_length = 4,
                           .truncation_side = Side::kLeft});
  EXPECT_EQ(left.input_ids[0], (std::vector<int64_t>{101, full[8], full[9], 102}));
}

TEST(TokenizerApi, PairsTypeIdsAndTruncation) {
  const Tokenizer& tok = bert();
  auto enc = tok(std::vector<std::pair<std::string, std::string>>{{"hello world", "hi"}});
  EXPECT_EQ(enc.input_ids[0], (std::vector<int64_t>{101, 7592, 2088, 102, 7632, 102}));
  EXPECT_EQ(enc.token_type_ids[0], (std::vector<int64_t>{0, 0, 0, 0, 1, 1}));
  auto cut = tok(std::vector<std::pair<std::string, std::string>>{{"one two three four", "five six"}},
                 {.truncation = Truncation::kOnlyFirst, .max_length = 7});
  EXPECT_EQ(cut.input_ids[0].size(), 7u);
  EXPECT_EQ(cut.token_type_ids[0], (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1}));
  auto longest = tok(std::vector<std::pair<std::string, std::string>>{{"one two three four", "five six"}},
                     {.truncation = Truncation::kLongestFirst, .max_length = 7});
  EXPECT_EQ(longest.token_type_ids[0], (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1}));
}

TEST(TokenizerApi, PaddingWithoutPadTokenIsAnError) {
  auto tok = Tokenizer::from_pretrained(model_dir("gpt2"));
  EXPECT_THROW(tok({"a", "b c"}, {.padding = Padding::kLongest}), ValueError);
}

TEST(TokenizerApi, SpecialTokensAndTemplatesFromConfig) {
  auto qwen = Tokenizer::from_pretrained(model_dir("qwen3"));
  EXPECT_EQ(qwen.eos_token(), "<|im_end|>");
  EXPECT_EQ(qwen.eos_token_id(), 151645);
  EXPECT_FALSE(qwen.bos_token().has_value());
  ASSERT_TRUE(qwen.chat_template().has_value());
  EXPECT_NE(qwen.chat_template()->find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(qwen.convert_token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(qwen.convert_id_to_token(151644), "<|im_start|>");
  EXPECT_TRUE(qwen.is_special_token(151644));
  auto all = qwen.all_special_tokens();
  EXPECT_NE(std::find(all.begin(), all.end(), "<|im_start|>"), all.end());
  EXPECT_EQ(qwen.encode("<|im_start|>user", false), (std::vector<int64_t>{151644, 872}));

  auto llama3 = Tokenizer::from_pretrained(model_dir("llama3"));
  EXPECT_EQ(llama3.bos_token_id(), 128000);
  EXPECT_TRUE(llama3.clean_up_tokenization_spaces());
  auto gpt2 = Tokenizer::from_pretrained(model_dir("gpt2"));
  EXPECT_EQ(gpt2.model_max_length(), 1024u);
}

TEST(TokenizerApi, DecodeCleanUpAndBatch) {
  auto gpt2 = Tokenizer::from_pretrained(model_dir("gpt2"));
  auto ids = gpt2.encode("Hello , world .", false);
  EXPECT_EQ(gpt2.decode(ids, {.clean_up_tokenization_spaces = false}), "Hello , world .");
  EXPECT_EQ(gpt2.decode(ids, {.clean_up_tokenization_spaces = true}), "Hello, world.");
  auto batch = gpt2.batch_decode({ids, ids}, {.clean_up_tokenization_spaces = false});
  EXPECT_EQ(batch, (std::vector<std::string>{"Hello , world .", "Hello , world ."}));
}

std::vector<std::string> sample_texts() {
  fs::path path = fs::path(TCPP_SHARED_DIR) / "tokenizers/texts/samples.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing fixture " << path;
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) {
      Json v = parse_json(line, path.string());
      texts.push_back(v.is_string() ? v.get<std::string>() : v["text"].get<std::string>());
    }
  return texts;
}

// Streaming every sample text id by id gives back decode(ids), and no piece is invalid UTF-8.
TEST(TokenizerApi, IncrementalDecoderMatchesDecode) {
  auto texts = sample_texts();
  for (const char* family : {"llama2", "gpt2", "gemma", "bert"}) {
    auto tok = Tokenizer::from_pretrained(model_dir(family));
    for (const auto& text : texts) {
      auto ids = tok.encode(text, false);
      auto stream = tok.incremental_decoder({.clean_up_tokenization_spaces = false});
      std::string streamed;
      for (int64_t id : ids) streamed += stream.step(id);
      streamed += stream.flush();
      ASSERT_EQ(streamed, tok.decode(ids, {.clean_up_tokenization_spaces = false}))
          << family << ": " << text;
    }
  }
}

TEST(TokenizerApi, IncrementalDecoderHoldsBackPartialCharacters) {
  auto tok = Tokenizer::from_pretrained(model_dir("llama2"));
  auto ids = tok.encode("🤗", false);  // byte-fallback: <0xF0> <0x9F> <0xA4> <0x97>
  ASSERT_GT(ids.size(), 1u);
  auto stream = tok.incremental_decoder();
  std::string out;
  for (size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_EQ(stream.step(ids[i]), "") << i;
  out = stream.step(ids.back());
  EXPECT_EQ(out, "🤗");
}

TEST(TokenizerApi, InvalidUtf8IsReplacedNotFatal) {
  auto tok = Tokenizer::from_pretrained(model_dir("gpt2"));
  std::string bad = "ab\xff\xc3(cd";
  auto enc = tok.encode_full(bad, false);
  EXPECT_EQ(tok.decode(enc.ids), "ab\xEF\xBF\xBD\xEF\xBF\xBD(cd");
}

std::string minimal_bpe(const std::string& model_extra, const std::string& top_extra = "") {
  return R"({"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,)"
         R"("post_processor":null,"decoder":null,)" + top_extra +
         R"("model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":)" + model_extra + "}}";
}

TEST(TokenizerApi, MinimalTokenizerFromString) {
  auto tok = Tokenizer::from_json_string(minimal_bpe(R"(["a b"])"), "minimal");
  EXPECT_EQ(tok.encode("abab"), (std::vector<int64_t>{2, 2}));
  auto pairs = Tokenizer::from_json_string(minimal_bpe(R"([["a","b"]])"), "pairs");
  EXPECT_EQ(pairs.encode("aba"), (std::vector<int64_t>{2, 0}));
}

void expect_error_mentions(const std::string& json, const std::string& needle) {
  try {
    Tokenizer::from_json_string(json, "broken.json");
    ADD_FAILURE() << "no error for " << json;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("broken.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerApi, MalformedFilesGiveClearErrors) {
  expect_error_mentions("{\"model\": ", "broken.json");
  expect_error_mentions(minimal_bpe(R"(["a c"])"), "unknown token 'c'");
  expect_error_mentions(minimal_bpe(R"(["a b"])", R"("normalizer":{"type":"Frobnicate"},)"),
                        "unknown normalizer type 'Frobnicate'");
  expect_error_mentions(
      minimal_bpe(R"(["a b"])",
                  R"("pre_tokenizer":{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated","invert":false},)"),
      "invalid regex");
  expect_error_mentions(R"({"model":{"type":"Nope"}})", "unknown model type 'Nope'");
  EXPECT_THROW(Tokenizer::from_pretrained("/nonexistent/folder"), IoError);
}

}  // namespace
}  // namespace transformers

#include <atomic>
#include <thread>

namespace transformers {
namespace {

// A Tokenizer is shared by threads (per-thread caches, no shared mutable state): parallel
// encodes equal sequential ones, with two tokenizers interleaved on each thread.
TEST(TokenizerApi, ConcurrentEncodingMatchesSequential) {
  auto texts = sample_texts();
  auto gpt2 = Tokenizer::from_pretrained(model_dir("gpt2"));
  auto llama2 = Tokenizer::from_pretrained(model_dir("llama2"));
  std::vector<std::vector<int64_t>> expect_a, expect_b;
  for (const auto& t : texts) {
    expect_a.push_back(gpt2.encode(t));
    expect_b.push_back(llama2.encode(t));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> pool;
  for (int k = 0; k < 4; ++k) {
    pool.emplace_back([&, k] {
      for (size_t i = k; i < texts.size() * 3; i += 4) {
        size_t j = i % texts.size();
        if (gpt2.encode(texts[j]) != expect_a[j]) ++mismatches;
        if (llama2.encode(texts[j]) != expect_b[j]) ++mismatches;
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace transformers

namespace transformers {
namespace {

TEST(TokenizerApi, AbsurdVocabIdIsAnErrorNotAnAllocation) {
  std::string json = R"({"model":{"type":"WordLevel","unk_token":"a","vocab":{"a":0,"b":4000000000}}})";
  try {
    Tokenizer::from_json_string(json, "huge.json");
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("far beyond"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace transformers

namespace transformers {
namespace {

// v5's model_input_names: tokenizer_config.json's list when given (Llama-3, ModernBERT), else the
// class default: Llama/GPT-2/Qwen2/T5/Gemma tokenizers return no token_type_ids, BERT's (no
// tokenizer_class: the base class) does.
TEST(TokenizerApi, ModelInputNamesFollowTheConfigOrTheClass) {
  const std::vector<std::string> without = {"input_ids", "attention_mask"};
  const std::vector<std::string> with = {"input_ids", "token_type_ids", "attention_mask"};
  for (const char* family : {"llama3", "modernbert", "llama2", "gpt2", "qwen3", "t5", "gemma"})
    EXPECT_EQ(Tokenizer::from_pretrained(model_dir(family))
                  .model_input_names(),
              without)
        << family;
  EXPECT_EQ(Tokenizer::from_pretrained(model_dir("bert")).model_input_names(), with);
}

}  // namespace
}  // namespace transformers
