// Tokenizers through GGUF, against the real Hugging Face tokenizers' output
// (../shared/tokenizers/expected): a model folder with the Qwen3 or Llama 3 tokenizer is exported,
// then (1) llama.cpp tokenizes the reference texts from our file and (2) our tokenizer, loaded back
// from the GGUF file alone, does.
#include <gtest/gtest.h>

#include <sentencepiece_processor.h>

#include <cmath>
#include <fstream>

#include "common/npm_package.h"
#include "common/process.h"
#include "common/test_util.h"
#include "transformers/gguf/gguf_export.h"
#include "transformers/models/save.h"
#include "transformers/tokenization/gguf_vocab.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::testing {
namespace {

struct Reference {
  std::vector<std::string> texts;
  std::vector<Json> with_special, no_special;
};

Reference reference(const std::string& family) {
  Reference r;
  std::ifstream in(shared_path("tokenizers/expected/" + family + ".jsonl"));
  for (std::string line; std::getline(in, line);) {
    const Json row = Json::parse(line);
    r.texts.push_back(row["text"]);
    r.with_special.push_back(row["with_special"]["ids"]);
    r.no_special.push_back(row["no_special"]["ids"]);
  }
  return r;
}

// A one-layer model of the tokenizer's vocabulary size with its tokenizer files, as GGUF.
std::filesystem::path export_with_tokenizer(const std::string& family, const std::string& model_type, int64_t vocab) {
  const auto folder = scratch_dir("gguf_tokenizer_" + family);
  const Json config = {{"model_type", model_type}, {"architectures", {"X"}}, {"vocab_size", vocab}, {"hidden_size", 32},
                       {"intermediate_size", 64}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                       {"num_key_value_heads", 2}, {"head_dim", 16}, {"max_position_embeddings", 256},
                       {"tie_word_embeddings", true}, {"rms_norm_eps", 1e-6}};
  const auto model = make_random_model(PretrainedConfig::from_json(config), 7);
  save_pretrained(*model, folder);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(shared_path("tokenizers/models/" + family + "/" + file), folder / file,
                               std::filesystem::copy_options::overwrite_existing);
  const auto out = folder / "model.gguf";
  gguf::export_gguf(*model, out, {.outtype = "f32", .write_tokenizer = [&](GgufWriter& w) {
    return tokenization::write_gguf_vocabulary(w, model->config(), folder);
  }});
  return out;
}

std::filesystem::path llama_cpp_runner() {
  const auto prefix = install_npm_package(npm_cache_dir("node-llama-cpp-3.22.1") / "node", "node-llama-cpp", "3.22.1",
                                          "NODE_LLAMA_CPP_SKIP_DOWNLOAD=true");
  if (prefix.empty()) return {};
  std::filesystem::copy_file(std::filesystem::path(TCPP_SOURCE_DIR) / "tests/gguf/llama_cpp_run.mjs",
                             prefix / "llama_cpp_run.mjs", std::filesystem::copy_options::overwrite_existing);
  return prefix / "llama_cpp_run.mjs";
}

// llama.cpp reading our metadata: its tokenizer (its own regex engine) on `texts`; node-llama-cpp's
// tokenize parses special tokens in the text but adds no BOS.
Json llama_cpp_tokenize(const std::filesystem::path& gguf, const std::vector<std::string>& texts) {
  const auto runner = llama_cpp_runner();
  if (runner.empty()) return {};
  const auto texts_file = gguf.parent_path() / "texts.json";
  std::ofstream(texts_file) << Json(texts).dump();
  const auto run = run_command("node " + runner.string() + " " + gguf.string() + " tokenize " + texts_file.string());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return run.exit_code == 0 ? Json::parse(run.out) : Json();
}

void check_family(const std::string& family, const std::string& model_type, int64_t vocab) {
  SCOPED_TRACE(family);
  const Reference ref = reference(family);
  ASSERT_GT(ref.texts.size(), 400u);
  const auto gguf = export_with_tokenizer(family, model_type, vocab);

  // Our tokenizer from the GGUF file alone: every id as the Rust library gives it.
  const Tokenizer tok = Tokenizer::from_pretrained(gguf);
  size_t ours_equal = 0;
  for (size_t i = 0; i < ref.texts.size(); ++i) {
    const Json with = tok.encode(ref.texts[i], true), without = tok.encode(ref.texts[i], false);
    EXPECT_EQ(with, ref.with_special[i]) << "text " << i;
    EXPECT_EQ(without, ref.no_special[i]) << "text " << i;
    ours_equal += with == ref.with_special[i] && without == ref.no_special[i];
  }
  std::printf("%s: our tokenizer from GGUF agrees with HF on %zu/%zu texts\n", family.c_str(), ours_equal, ref.texts.size());

  // llama.cpp: HF's ids without the template's special tokens (the same as with them for the
  // byte-level families).
  const Json theirs = llama_cpp_tokenize(gguf, ref.texts);
  ASSERT_EQ(theirs.size(), ref.texts.size());
  size_t llama_equal = 0;
  for (size_t i = 0; i < ref.texts.size(); ++i) llama_equal += theirs[i] == ref.no_special[i];
  std::printf("%s: llama.cpp on our GGUF agrees with HF on %zu/%zu texts\n", family.c_str(), llama_equal, ref.texts.size());
  EXPECT_GE(llama_equal * 100, ref.texts.size() * 95);
}

}  // namespace

TEST(GgufTokenizer, Qwen3RoundTripsThroughGguf) { check_family("qwen3", "qwen3", 151936); }
TEST(GgufTokenizer, Llama3RoundTripsThroughGguf) { check_family("llama3", "llama", 128256); }
// SentencePiece-style BPE (byte fallback, the ▁ marker): llama.cpp's "llama" vocabulary of
// tokens, scores and token types, its merges rebuilt from the scores when read back.
TEST(GgufTokenizer, Llama2RoundTripsThroughGguf) { check_family("llama2", "llama", 32000); }
TEST(GgufTokenizer, GemmaRoundTripsThroughGguf) { check_family("gemma", "gemma", 256000); }
TEST(GgufTokenizer, Phi3RoundTripsThroughGguf) { check_family("phi-3", "llama", 32064); }

// Mistral v0.3's Metaspace (prepend_scheme "first") adds no ▁ before text that starts with a
// space, nor after special tokens; GGUF has no key for that, and llama.cpp (add_space_prefix) always
// prepends. Our tokenizer from the file equals llama.cpp's on every text (both equal HF on the
// 315 of 436 texts without such a start).
TEST(GgufTokenizer, MistralV03ThroughGgufEqualsLlamaCpp) {
  const Reference ref = reference("mistral-v0.3");
  ASSERT_GT(ref.texts.size(), 400u);
  const auto gguf = export_with_tokenizer("mistral-v0.3", "llama", 32768);
  const Tokenizer tok = Tokenizer::from_pretrained(gguf);
  const Json theirs = llama_cpp_tokenize(gguf, ref.texts);
  ASSERT_EQ(theirs.size(), ref.texts.size());
  size_t hf_equal = 0;
  for (size_t i = 0; i < ref.texts.size(); ++i) {
    const Json ours = tok.encode(ref.texts[i], false);
    EXPECT_EQ(ours, theirs[i]) << "text " << i;
    hf_equal += ours == ref.no_special[i];
  }
  std::printf("mistral-v0.3: our tokenizer from GGUF (= llama.cpp's) agrees with HF on %zu/%zu texts\n", hf_equal,
              ref.texts.size());
}

// A "llama" vocabulary as llama.cpp's converter writes it from tokenizer.model (its
// _create_vocab_sentencepiece): SentencePiece's own pieces, scores and types, no tokenizer.json
// involved. Read back here, it tokenizes as HF's Llama 2 tokenizer on every reference text.
TEST(GgufTokenizer, Llama2SentencePieceModelThroughGguf) {
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(shared_path("tokenizers/models/llama2/tokenizer.model").string()).ok());
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    tokens.push_back(sp.IdToPiece(id));
    scores.push_back(sp.GetScore(id));
    types.push_back(sp.IsUnknown(id) ? 2 : sp.IsControl(id) ? 3 : sp.IsByte(id) ? 6 : sp.IsUnused(id) ? 5 : 1);
  }
  const auto path = scratch_dir("gguf_tokenizer_spm") / "llama2_spm.gguf";
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  w.write(path);
  const Tokenizer tok = Tokenizer::from_pretrained(path);
  const Reference ref = reference("llama2");
  ASSERT_GT(ref.texts.size(), 400u);
  size_t equal = 0;
  for (size_t i = 0; i < ref.texts.size(); ++i) {
    const Json with = tok.encode(ref.texts[i], true);
    EXPECT_EQ(with, ref.with_special[i]) << "text " << i;
    equal += with == ref.with_special[i];
  }
  std::printf("llama2 tokenizer.model as GGUF: agrees with HF on %zu/%zu texts\n", equal, ref.texts.size());
}

// A "llama" vocabulary needs its scores (one per token): an error naming the key, not a crash.
TEST(GgufTokenizer, SentencePieceVocabularyWithoutScoresIsAnError) {
  const auto path = scratch_dir("gguf_tokenizer_bad") / "no_scores.gguf";
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", {"<unk>", "a", "b", "ab"});
  w.set_f32s("tokenizer.ggml.scores", {0, 0, 0});
  w.write(path);
  try {
    Tokenizer::from_pretrained(path);
    ADD_FAILURE() << "loaded";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.scores"), std::string::npos) << e.what();
  }
}

// A stranger's vocabulary: a NaN score (it would break the merge order's sort) and pieces long
// enough that rebuilding their merges would run for hours are FormatErrors naming the key.
TEST(GgufTokenizer, HostileSentencePieceVocabulariesAreErrors) {
  auto expect_refused = [](const std::filesystem::path& path, const std::string& key) {
    try {
      Tokenizer::from_pretrained(path);
      ADD_FAILURE() << path << " loaded";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  const auto dir = scratch_dir("gguf_tokenizer_hostile");
  {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_strings("tokenizer.ggml.tokens", {"<unk>", "a", "b", "ab"});
    w.set_f32s("tokenizer.ggml.scores", {0, -1, std::nanf(""), -2});
    w.write(dir / "nan.gguf");
  }
  expect_refused(dir / "nan.gguf", "tokenizer.ggml.scores[2]");
  {
    std::vector<std::string> tokens{"<unk>"};
    std::vector<float> scores{0};
    for (int n = 1; n <= 1200; ++n) {
      tokens.push_back(std::string(static_cast<size_t>(n), 'a'));
      scores.push_back(-static_cast<float>(n));
    }
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_strings("tokenizer.ggml.tokens", tokens);
    w.set_f32s("tokenizer.ggml.scores", scores);
    w.write(dir / "long.gguf");
  }
  expect_refused(dir / "long.gguf", "tokenizer.ggml.tokens");
}

TEST(GgufTokenizer, GenerateFromTheGgufFileEqualsTheFolder) {
  const auto gguf = export_with_tokenizer("llama3", "llama", 128256);
  const std::string args = " --prompt 'The quick brown fox' --max-new-tokens 6 --quiet";
  const auto from_folder = run_transformers("generate " + gguf.parent_path().string() + args);
  const auto from_gguf = run_transformers("generate " + gguf.string() + args);
  ASSERT_EQ(from_folder.exit_code, 0) << from_folder.err;
  ASSERT_EQ(from_gguf.exit_code, 0) << from_gguf.err;
  EXPECT_EQ(from_gguf.out, from_folder.out);
  EXPECT_NE(from_gguf.out.find("The quick brown fox"), std::string::npos) << from_gguf.out;
}

}  // namespace transformers::testing
