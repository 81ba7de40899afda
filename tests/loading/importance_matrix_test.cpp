// The importance matrix (loading/importance_matrix.h): what a calibration pass collects, checked
// against the activations recomputed from the model's hidden states and its embedding table; the
// GGUF file llama.cpp's tools read (names, metadata, sums and counts) and its reading back; the
// errors for files that are not, or not well-formed, importance matrices.
#include <cmath>
#include <fstream>
#include <optional>
#include <random>

#include "common/test_util.h"
#include "transformers/gguf/gguf_names.h"
#include "transformers/io/gguf.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/models/auto.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::shared_path;

std::vector<int64_t> random_ids(int64_t n, int64_t vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> id(3, vocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (auto& v : ids) v = id(rng);
  return ids;
}

// Per-column sums of squares of x [T, K] (or [1, T, K]), in double.
std::vector<double> column_sum_squares(const Tensor& x) {
  const int64_t K = x.size(-1), rows = x.numel() / K;
  const Tensor c = x.contiguous();
  std::vector<double> s(static_cast<size_t>(K), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k) s[static_cast<size_t>(k)] += std::pow(double{c.data<float>()[r * K + k]}, 2);
  return s;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << what << " [" << i << "]";
}

Tensor f32_tensor(const std::vector<float>& v, const Shape& shape) { return Tensor::from_values(v, shape); }

// llama-imatrix's legacy file (imatrix.dat), byte for byte as its save_imatrix_legacy writes it.
struct LegacyEntry {
  std::string name;
  int32_t ncall;
  std::vector<float> values;
};
std::string legacy_bytes(const std::vector<LegacyEntry>& entries, std::optional<std::pair<int32_t, std::string>> tail) {
  std::string out;
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  auto put_i32 = [&](int32_t v) { put(&v, 4); };
  put_i32(static_cast<int32_t>(entries.size()));
  for (const auto& e : entries) {
    put_i32(static_cast<int32_t>(e.name.size()));
    put(e.name.data(), e.name.size());
    put_i32(e.ncall);
    put_i32(static_cast<int32_t>(e.values.size()));
    put(e.values.data(), 4 * e.values.size());
  }
  if (tail) {
    put_i32(tail->first);
    put_i32(static_cast<int32_t>(tail->second.size()));
    put(tail->second.data(), tail->second.size());
  }
  return out;
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

// Two chunks of 20 tokens through the golden llama: the lm_head's sums are those of the final
// (normed) hidden states, layer 0's q_proj's those of RMSNorm(embedding rows), every count is 40;
// the embedding table (looked up, never multiplied: the model's lm_head is its own) has no entry.
TEST(ImportanceMatrix, CollectsTheSquaresOfEveryMatrixInput) {
  auto model = AutoModelForCausalLM::from_pretrained(shared_path("golden/llama"), {.dtype = "float32"});
  const auto& c = model->config();
  const std::vector<int64_t> ids = random_ids(40, c.vocab_size, 3);
  const ImportanceMatrix m = compute_importance_matrix(*model, ids, 20, "random ids");
  EXPECT_EQ(m.chunk_count, 2);
  EXPECT_EQ(m.chunk_size, 20);
  size_t matrices = 0;
  for (const auto& p : model->named_parameters())
    if (p.role == nn::ParamRole::Matrix) ++matrices;
  EXPECT_EQ(m.entries.size(), matrices - 1);
  EXPECT_FALSE(m.entries.count("model.embed_tokens.weight"));
  std::vector<double> want_head(static_cast<size_t>(c.hidden_size), 0.0), want_q(want_head);
  const Tensor* embed = nullptr;
  const Tensor* norm0 = nullptr;
  for (const auto& p : model->named_parameters()) {
    if (p.name == "model.embed_tokens.weight") embed = p.tensor;
    if (p.name == "model.layers.0.input_layernorm.weight") norm0 = p.tensor;
  }
  ASSERT_TRUE(embed && norm0);
  for (int chunk = 0; chunk < 2; ++chunk) {
    const std::vector<int64_t> part(ids.begin() + 20 * chunk, ids.begin() + 20 * chunk + 20);
    const Tensor input = Tensor::from_values(part, {1, 20});
    const auto out = model->forward(input, {.output_hidden_states = true});
    const auto head = column_sum_squares(out.hidden_states.back());
    const auto q = column_sum_squares(ops::rms_norm(ops::embedding(*embed, input), *norm0, 1e-5f));
    for (size_t k = 0; k < head.size(); ++k) {
      want_head[k] += head[k];
      want_q[k] += q[k];
    }
  }
  expect_close(m.entries.at("lm_head.weight").sum_squares, want_head, "lm_head");
  expect_close(m.entries.at("model.layers.0.self_attn.q_proj.weight").sum_squares, want_q, "q_proj");
  for (const auto& [name, e] : m.entries) EXPECT_EQ(e.counts, std::vector<double>{40.0}) << name;
  // The importances quantization uses: the means.
  const Tensor imp = *m.importance("lm_head.weight", {c.vocab_size, c.hidden_size});
  EXPECT_NEAR(imp.data<float>()[5], want_head[5] / 40, 1e-5 * (1 + want_head[5]));
  EXPECT_FALSE(m.importance("model.norm.weight", {c.hidden_size}).has_value());
  EXPECT_THROW(m.importance("lm_head.weight", {c.vocab_size, c.hidden_size + 1}), ValueError);
}

// Stacked experts: one row of sums and one count per expert; the counts add up to tokens x top-k.
TEST(ImportanceMatrix, CountsEachExpertOnItsOwn) {
  auto model = AutoModelForCausalLM::from_pretrained(shared_path("golden/qwen3_moe"), {.dtype = "float32"});
  const auto& c = model->config();
  const ImportanceMatrix m = compute_importance_matrix(*model, random_ids(48, c.vocab_size, 4), 16, "random ids");
  const auto& e = m.entries.at("model.layers.0.mlp.experts.down_proj");
  const int64_t experts = c.raw["num_experts"].get<int64_t>(), top_k = c.raw["num_experts_per_tok"].get<int64_t>();
  ASSERT_EQ(e.counts.size(), static_cast<size_t>(experts));
  double total = 0;
  for (double n : e.counts) total += n;
  EXPECT_EQ(total, 48.0 * static_cast<double>(top_k));
  EXPECT_EQ(e.sum_squares.size(), static_cast<size_t>(experts * e.columns));
  const Tensor imp = *m.importance("model.layers.0.mlp.experts.down_proj",
                                   {experts, c.hidden_size, e.columns});
  EXPECT_EQ(imp.shape(), (Shape{experts, e.columns}));
}

// The file is llama.cpp's GGUF imatrix: its metadata, GGUF tensor names, F32 [matrices, K] sums
// and [matrices, 1] counts; read back, it is the same matrix under the model's names.
TEST(ImportanceMatrix, SavesLlamaCppsFileAndReadsItBack) {
  auto model = AutoModelForCausalLM::from_pretrained(shared_path("golden/llama"), {.dtype = "float32"});
  const ImportanceMatrix m =
      compute_importance_matrix(*model, random_ids(30, model->config().vocab_size, 5), 30, "calibration.txt");
  const auto path = testing::scratch_dir("imatrix") / "llama.imatrix.gguf";
  m.save(path);
  const auto file = GgufFile::open(path);
  EXPECT_EQ(file->get_string("general.type"), "imatrix");
  EXPECT_EQ(file->find("imatrix.datasets")->strings, std::vector<std::string>{"calibration.txt"});
  EXPECT_EQ(file->get_int("imatrix.chunk_count"), 1);
  EXPECT_EQ(file->get_int("imatrix.chunk_size"), 30);
  const auto& sums = file->info("blk.0.attn_q.weight.in_sum2");
  EXPECT_EQ(sums.dims, (std::vector<uint64_t>{static_cast<uint64_t>(model->config().hidden_size), 1}));
  EXPECT_EQ(file->info("blk.1.ffn_down.weight.counts").dims, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(file->tensor("output.weight.counts").data<float>()[0], 30.0f);
  EXPECT_FALSE(file->contains("model.layers.0.self_attn.q_proj.weight.in_sum2"));
  const ImportanceMatrix back = ImportanceMatrix::load(path);
  ASSERT_EQ(back.entries.size(), m.entries.size());
  for (const auto& [name, e] : m.entries) {
    ASSERT_TRUE(back.entries.count(name)) << name;
    const auto& b = back.entries.at(name);
    EXPECT_EQ(b.counts, e.counts) << name;
    for (size_t i = 0; i < e.sum_squares.size(); ++i)
      EXPECT_EQ(static_cast<float>(b.sum_squares[i]), static_cast<float>(e.sum_squares[i])) << name;
  }
  EXPECT_EQ(back.datasets, m.datasets);
}

// Files that are not importance matrices, or whose sums and counts disagree, are refused naming
// the file and tensor.
TEST(ImportanceMatrix, RefusesMalformedFiles) {
  const auto dir = testing::scratch_dir("imatrix_bad");
  auto write = [&](const std::string& name, const std::function<void(GgufWriter&)>& fill) {
    GgufWriter w;
    fill(w);
    w.write(dir / name);
    return dir / name;
  };
  auto header = [](GgufWriter& w) {
    w.set_string("general.type", "imatrix");
    w.set_u32("imatrix.chunk_count", 1);
    w.set_u32("imatrix.chunk_size", 8);
  };
  auto add = [](GgufWriter& w, const std::string& name, std::vector<float> v, const Shape& shape) {
    w.add_tensor(name, shape, GgmlType::F32, [v, shape] { return f32_tensor(v, shape); });
  };
  auto expect_refused = [](const std::filesystem::path& p, const std::string& says) {
    try {
      ImportanceMatrix::load(p);
      ADD_FAILURE() << p << " was accepted";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(p.filename().string()), std::string::npos) << e.what();
    }
  };
  expect_refused(write("model.gguf", [&](GgufWriter& w) {
                   w.set_string("general.type", "model");
                   add(w, "x.in_sum2", {1, 2}, {1, 2});
                 }),
                 "not an importance matrix");
  expect_refused(write("no_counts.gguf", [&](GgufWriter& w) {
                   header(w);
                   add(w, "a.weight.in_sum2", {1, 2}, {1, 2});
                 }),
                 "has no a.weight.counts");
  expect_refused(write("no_sums.gguf", [&](GgufWriter& w) {
                   header(w);
                   add(w, "a.weight.counts", {1}, {1, 1});
                 }),
                 "has no a.weight.in_sum2");
  expect_refused(write("mismatch.gguf", [&](GgufWriter& w) {
                   header(w);
                   add(w, "a.weight.in_sum2", {1, 2, 3, 4}, {2, 2});
                   add(w, "a.weight.counts", {5}, {1, 1});
                 }),
                 "holds 2 matrices");
  expect_refused(write("negative.gguf", [&](GgufWriter& w) {
                   header(w);
                   add(w, "a.weight.in_sum2", {1, -2}, {1, 2});
                   add(w, "a.weight.counts", {5}, {1, 1});
                 }),
                 "finite and >= 0");
  expect_refused(write("empty.gguf", [&](GgufWriter& w) {
                   header(w);
                   add(w, "unrelated", {1}, {1});
                 }),
                 "no entries");
  // A matrix no calibration token reached weighs 1 everywhere, as llama-quantize reads it.
  const auto unseen = write("unseen.gguf", [&](GgufWriter& w) {
    header(w);
    add(w, "blk.0.ffn_down.weight.in_sum2", {0, 0, 6, 8}, {2, 2});
    add(w, "blk.0.ffn_down.weight.counts", {0, 2}, {2, 1});
  });
  const auto m = ImportanceMatrix::load(unseen);
  const Tensor imp = *m.importance("model.layers.0.mlp.down_proj.weight", {2, 3, 2});
  EXPECT_EQ(std::vector<float>(imp.data<float>(), imp.data<float>() + 4), (std::vector<float>{1, 1, 3, 4}));
}

// llama-imatrix's legacy file of a calibration run, written as its save_imatrix_legacy would
// (GGUF names; ncall = the largest count over the chunk size, rounded up; each value its mean
// square times ncall, ncall where a matrix saw no token; experts' rows one after another in one entry):
// read back, every matrix's importances are the GGUF file's, experts included.
TEST(ImportanceMatrix, ReadsLlamaImatrixsLegacyFile) {
  auto model = AutoModelForCausalLM::from_pretrained(shared_path("golden/qwen3_moe"), {.dtype = "float32"});
  const int64_t chunk = 16;
  const ImportanceMatrix m = compute_importance_matrix(*model, random_ids(48, model->config().vocab_size, 6), chunk,
                                                       "calibration.txt");
  std::vector<LegacyEntry> entries;
  for (const auto& [name, e] : m.entries) {
    const double most = *std::max_element(e.counts.begin(), e.counts.end());
    const auto ncall = static_cast<int32_t>((static_cast<int64_t>(most) + chunk - 1) / chunk);
    LegacyEntry l{gguf::gguf_tensor_name(name, "llama").value_or(name), ncall, {}};
    for (size_t i = 0; i < e.sum_squares.size(); ++i) {
      const double count = e.counts[i / static_cast<size_t>(e.columns)];
      l.values.push_back(static_cast<float>(count > 0 ? e.sum_squares[i] / count * ncall : ncall));
    }
    entries.push_back(std::move(l));
  }
  const auto path = testing::scratch_dir("imatrix_legacy") / "imatrix.dat";
  write_bytes(path, legacy_bytes(entries, std::pair<int32_t, std::string>{3, "calibration.txt"}));
  const ImportanceMatrix back = ImportanceMatrix::load(path);
  EXPECT_EQ(back.chunk_count, 3);
  EXPECT_EQ(back.datasets, std::vector<std::string>{"calibration.txt"});
  ASSERT_EQ(back.entries.size(), m.entries.size());
  size_t experts = 0;
  for (const auto& p : model->named_parameters()) {
    const auto want = m.importance(p.name, p.tensor->shape());
    const auto got = back.importance(p.name, p.tensor->shape());
    ASSERT_EQ(got.has_value(), want.has_value()) << p.name;
    if (!want) continue;
    experts += p.tensor->dim() == 3;
    ASSERT_EQ(got->shape(), want->shape()) << p.name;
    for (int64_t i = 0; i < want->numel(); ++i)
      ASSERT_NEAR(got->data<float>()[i], want->data<float>()[i], 1e-6f * (1 + want->data<float>()[i])) << p.name << " " << i;
  }
  EXPECT_GT(experts, 0u);
}

// A hand-made legacy file: values / ncall (the values themselves where ncall is 0), the GGUF name
// mapped to the model's, the optional tail; and the files it refuses, naming them.
TEST(ImportanceMatrix, LegacyFileByHandAndItsErrors) {
  const auto dir = testing::scratch_dir("imatrix_legacy_hand");
  const std::vector<LegacyEntry> two = {{"blk.0.attn_q.weight", 4, {8, 2, 0}}, {"blk.0.ffn_up.weight", 0, {0.5f, 3}}};
  write_bytes(dir / "plain.dat", legacy_bytes(two, std::nullopt));
  const ImportanceMatrix m = ImportanceMatrix::load(dir / "plain.dat");
  EXPECT_TRUE(m.datasets.empty());
  const Tensor q = *m.importance("model.layers.0.self_attn.q_proj.weight", {5, 3});
  EXPECT_EQ(std::vector<float>(q.data<float>(), q.data<float>() + 3), (std::vector<float>{2, 0.5f, 0}));
  const Tensor up = *m.importance("model.layers.0.mlp.up_proj.weight", {7, 2});
  EXPECT_EQ(std::vector<float>(up.data<float>(), up.data<float>() + 2), (std::vector<float>{0.5f, 3}));
  EXPECT_THROW(m.importance("model.layers.0.mlp.up_proj.weight", {7, 3}), ValueError);

  auto expect_refused = [&](const std::string& name, const std::string& bytes, const std::string& says) {
    write_bytes(dir / name, bytes);
    try {
      ImportanceMatrix::load(dir / name);
      ADD_FAILURE() << name << " was accepted";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  };
  const std::string good = legacy_bytes(two, std::pair<int32_t, std::string>{1, "wiki.txt"});
  expect_refused("text.dat", "{\"not\": \"an imatrix\"}", "not an importance matrix");
  expect_refused("empty.dat", std::string(), "ends inside the number of entries");
  expect_refused("cut_values.dat", good.substr(0, 40), "values where");
  expect_refused("cut_name.dat", legacy_bytes({two[0]}, std::nullopt).substr(0, 20), "has a name of");
  expect_refused("cut_tail.dat", good.substr(0, good.size() - 3), "the dataset name has");
  expect_refused("trailing.dat", good + "xy", "2 bytes after");
  expect_refused("negative.dat", legacy_bytes({{"blk.0.attn_q.weight", 1, {1, -2}}}, std::nullopt), "finite and >= 0");
  expect_refused("twice.dat", legacy_bytes({two[0], two[0]}, std::nullopt), "appears twice");
  expect_refused("many.dat", legacy_bytes({{"a", 1, {1}}}, std::nullopt).replace(0, 4, std::string("\xff\xff\xff\x7f", 4)),
                 "not an importance matrix");
}

}  // namespace transformers
