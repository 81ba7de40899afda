#include "cli/common.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <filesystem>
#include <vector>

#include "cli/usage_error.h"
#include "transformers/core/thread_pool.h"
#include "transformers/gguf/gguf_model.h"
#include "transformers/io/files.h"

namespace transformers::cli {

bool has_tokenizer(const std::filesystem::path& model) {
  return std::filesystem::exists(model / "tokenizer.json") || std::filesystem::exists(model / "tokenizer.model") ||
         gguf::is_gguf_file(model);
}

Tensor parse_id_matrix(const std::string& text, const std::string& flag) {
  std::vector<std::vector<int64_t>> rows(1);
  size_t i = 0;
  while (i <= text.size()) {
    size_t end = text.find_first_of(",;", i);
    if (end == std::string::npos) end = text.size();
    std::string tok = text.substr(i, end - i);
    tok.erase(0, tok.find_first_not_of(" \t"));
    tok.erase(tok.find_last_not_of(" \t") + 1);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    TCPP_CHECK(!tok.empty() && ec == std::errc() && p == tok.data() + tok.size(), ValueError, flag, ": '", tok,
               "' is not an integer (expected e.g. \"1,17,42;1,5,5\")");
    rows.back().push_back(v);
    if (end < text.size() && text[end] == ';') rows.emplace_back();
    i = end + 1;
  }
  for (const auto& r : rows)
    TCPP_CHECK(r.size() == rows[0].size(), ValueError, flag, ": rows have different lengths (", rows[0].size(), " and ",
               r.size(), ")");
  const int64_t B = static_cast<int64_t>(rows.size()), L = static_cast<int64_t>(rows[0].size());
  Tensor t = Tensor::empty({B, L}, DType::I64);
  for (int64_t b = 0; b < B; ++b) std::copy(rows[b].begin(), rows[b].end(), t.data<int64_t>() + b * L);
  return t;
}

bool is_within(const std::filesystem::path& path, const std::filesystem::path& folder) {
  const auto rel = path.lexically_relative(folder);
  return !rel.empty() && *rel.begin() != "..";
}

void check_outputs(const std::string& model_dir, const std::vector<OutputFile>& outputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path folder = fs::weakly_canonical(model_dir, ec);
  std::vector<fs::path> inputs;
  if (fs::is_directory(model_dir, ec))
    for (const auto& e : fs::directory_iterator(model_dir, ec)) inputs.push_back(e.path());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const OutputFile& out = outputs[i];
    if (out.path.empty()) continue;
    const fs::path resolved = fs::weakly_canonical(out.path, ec);
    TCPP_CHECK(!is_within(resolved, folder), ValueError, out.flag, ": '", out.path,
               "' is inside the model folder ", model_dir, "; refusing to write over the model's files");
    for (const fs::path& input : inputs)
      TCPP_CHECK(!same_file(out.path, input), ValueError, out.flag, ": '", out.path, "' is the model's file ",
                 input.string(), "; refusing to overwrite it");
    for (size_t j = 0; j < i; ++j)
      TCPP_CHECK(outputs[j].path.empty() || !same_file(out.path, outputs[j].path), ValueError, out.flag, " and ",
                 outputs[j].flag, " name the same file '", out.path, "'");
  }
}

void use_threads(int threads) {
  TCPP_CHECK(threads >= 1 && threads <= kMaxThreads, ValueError, "--threads must be from 1 to ", kMaxThreads, ", got ",
             threads);
  setenv("TRANSFORMERS_NUM_THREADS", std::to_string(threads).c_str(), 1);
  const int got = ThreadPool::global().size();
  TCPP_CHECK(got == threads, ValueError, "--threads ", threads, ": the thread pool already runs ", got, " threads");
}

void add_imatrix_flag(CLI::App* sub, std::string* path) {
  sub->add_option("--imatrix", *path,
                  "Importance matrix (GGUF, from `transformers imatrix` or llama-imatrix): Q4_0 and the K-quants "
                  "use GGML's importance-weighted quantizers for the matrices it covers");
}

std::shared_ptr<const ImportanceMatrix> importance_from_flag(const std::string& path) {
  if (path.empty()) return nullptr;
  return std::make_shared<const ImportanceMatrix>(ImportanceMatrix::load(path));
}

void add_quantization_flag(CLI::App* sub, QuantizationFlags* flags) {
  add_imatrix_flag(sub, &flags->imatrix);
  sub->add_option("--quantization", flags->method,
                  "Quantize weight matrices while loading: q8_0, q4_0, q5_0, q5_1, q4_k, q5_k, q6_k (GGML's block formats; "
                  "K-quant rows that are not whole 256s take llama.cpp's fallback, Q5_0 / Q5_1 / Q8_0) "
                  "or q4_k_m (llama.cpp's Q4_K / Q6_K mix); embeddings and lm_head stay in float, unless "
                  "the name ends in -all (q4_0-all: those too, as llama.cpp); bnb-4bit (bitsandbytes nf4), bnb-fp4, bnb-8bit (LLM.int8)");
}

std::optional<QuantizationConfig> quantization_from_flag(const QuantizationFlags& flags) {
  const std::string& value = flags.method;
  TCPP_CHECK(!value.empty() || flags.imatrix.empty(), UsageError, "--imatrix needs --quantization");
  if (value.empty()) return std::nullopt;
  const bool all = value.ends_with("-all");
  QuantizationConfig c = QuantizationConfig::from_name(all ? value.substr(0, value.size() - 4) : value, "--quantization");
  if (all) {
    c.modules_to_not_convert = std::vector<std::string>{};
    c.quantize_embeddings = true;
  }
  c.importance = importance_from_flag(flags.imatrix);
  return c;
}

}  // namespace transformers::cli
