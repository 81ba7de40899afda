// libFuzzer target: a GGUF file as a model folder sees it past the header (fuzz/gguf.cpp): the
// config read from its metadata (gguf_config: llama, qwen, gemma families, rope and softcap keys)
// and its tokenizer (gguf_tokenizer: the "gpt2" byte-level vocabulary, the "llama" SentencePiece
// one with merges rebuilt from scores), loaded and run on a short text; and the same bytes read as
// an importance matrix (loading/importance_matrix.h, seed imatrix.gguf), and as llama-imatrix's
// legacy file (seed imatrix.dat). GgufFile maps a path, so
// each input is written to one temporary file of this process first.
// Seeds: fuzz/corpus/gguf_model, written by fuzz/make_gguf_model_seeds.py.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "transformers/core/error.h"
#include "transformers/gguf/gguf_model.h"
#include "transformers/io/gguf.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/tokenization/gguf_vocab.h"
#include "transformers/tokenization/tokenizer_json.h"

namespace {

const std::string& scratch_path() {
  static const std::string path = "/tmp/fuzz_gguf_model_" + std::to_string(getpid()) + ".gguf";
  return path;
}

bool write_input(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(scratch_path().c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

void read_importances(const transformers::ImportanceMatrix& m) {
  for (const auto& [name, e] : m.entries) {
    const auto matrices = static_cast<int64_t>(e.counts.size());
    (void)m.importance(name, matrices > 1 ? transformers::Shape{matrices, 4, e.columns} : transformers::Shape{4, e.columns});
    if (e.columns % 2 == 0) (void)m.importance(name, transformers::Shape{2, 4, e.columns / 2});  // as stacked experts
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {  // the same bytes as llama-imatrix's legacy file (imatrix.dat)
    read_importances(transformers::ImportanceMatrix::from_legacy(data, size, "fuzz.dat"));
  } catch (const transformers::Error&) {
  }
  if (!write_input(data, size)) return 0;
  std::shared_ptr<transformers::GgufFile> file;
  try {
    file = transformers::GgufFile::open(scratch_path());
  } catch (const transformers::Error&) {
    return 0;
  }
  try {  // an importance matrix (--imatrix FILE) read from the same bytes
    read_importances(transformers::ImportanceMatrix::from_gguf(*file));
  } catch (const transformers::Error&) {
  }
  try {
    (void)transformers::gguf::gguf_config(*file);
  } catch (const transformers::Error&) {
  }
  try {
    const auto tok = transformers::tokenization::gguf_tokenizer(*file);
    const auto json = transformers::tokenization::TokenizerJson::from_string(tok.tokenizer_json, "fuzz.gguf");
    const auto ids = json->encode_ids(" Hello world, 12 \xe2\x96\x81x\xc3\xa9!", true);
    (void)json->decode(ids, false);
  } catch (const transformers::Error&) {
  }
  return 0;
}
