#include "transformers/loading/importance_matrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "transformers/core/error.h"
#include "transformers/gguf/gguf_names.h"
#include "transformers/io/gguf.h"
#include "transformers/io/mapped_file.h"
#include "transformers/models/causal_lm.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

constexpr char kSums[] = ".in_sum2";
constexpr char kCounts[] = ".counts";

// K and the number of stacked matrices of a weight shape ([N, K] or [E, N, K]).
std::pair<int64_t, int64_t> columns_and_matrices(const Shape& shape) {
  return {shape.back(), shape.size() == 3 ? shape[0] : 1};
}

// A matrix parameter's bytes, so an observed weight (a view into it: the matrix itself or one
// expert's slice) finds its name and matrix index.
struct WatchedMatrix {
  std::vector<std::string> names;  // a tied table answers to each of its names
  const char* begin;
  size_t bytes, matrix_bytes;
  int64_t columns, matrices;
};

std::vector<WatchedMatrix> watched_matrices(const nn::Module& model) {
  std::vector<WatchedMatrix> out;
  for (const auto& p : model.named_parameters()) {
    if (p.role != nn::ParamRole::Matrix || !p.tensor->defined() || p.tensor->dim() < 2 || p.tensor->dim() > 3) continue;
    const auto* begin = static_cast<const char*>(p.tensor->raw_data());
    auto same = std::find_if(out.begin(), out.end(), [&](const WatchedMatrix& w) { return w.begin == begin; });
    if (same != out.end()) {
      same->names.push_back(p.name);
      continue;
    }
    const auto [columns, matrices] = columns_and_matrices(p.tensor->shape());
    out.push_back({{p.name}, begin, p.tensor->nbytes(), p.tensor->nbytes() / static_cast<size_t>(matrices), columns,
                   matrices});
  }
  return out;
}

// Matrix names are the same in every architecture gguf_names.h maps ("llama" stands for all):
// only norms differ between them.
std::string file_name_of(const std::string& name) { return gguf::gguf_tensor_name(name, "llama").value_or(name); }
std::string model_name_of(const std::string& name) { return gguf::hf_tensor_name(name, "llama").value_or(name); }

}  // namespace

std::optional<Tensor> ImportanceMatrix::importance(const std::string& name, const Shape& weight_shape) const {
  const auto it = entries.find(name);
  if (it == entries.end()) return std::nullopt;
  const Entry& e = it->second;
  const auto [columns, matrices] = columns_and_matrices(weight_shape);
  std::vector<double> counts = e.counts;
  if (counts.size() == 1 && matrices > 1 && e.columns == matrices * columns) {
    // A legacy entry holds stacked experts' values in one row with one count for them all.
    counts.assign(static_cast<size_t>(matrices), counts[0]);
  } else {
    TCPP_CHECK(e.columns == columns && static_cast<int64_t>(counts.size()) == matrices, ValueError,
               "importance matrix: the entry for ", name, " has ", counts.size(), " x ", e.columns,
               " values, the weight is ", shape_to_string(weight_shape));
  }
  std::vector<float> values(e.sum_squares.size());
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t k = 0; k < columns; ++k) {
      const auto i = static_cast<size_t>(m * columns + k);
      const double count = counts[static_cast<size_t>(m)];
      values[i] = count > 0 ? static_cast<float>(e.sum_squares[i] / count) : 1.0f;
    }
  return weight_shape.size() == 3 ? Tensor::from_values(values, {matrices, columns})
                                  : Tensor::from_values(values, {columns});
}

void ImportanceMatrix::save(const std::filesystem::path& path) const {
  GgufWriter w;
  w.set_string("general.type", "imatrix");
  w.set_strings("imatrix.datasets", datasets);
  w.set_u32("imatrix.chunk_count", static_cast<uint32_t>(chunk_count));
  w.set_u32("imatrix.chunk_size", static_cast<uint32_t>(chunk_size));
  for (const auto& entry : entries) {
    const Entry& e = entry.second;  // a reference lambdas can capture (a structured binding is not one in clang)
    const std::string file_name = file_name_of(entry.first);
    const auto matrices = static_cast<int64_t>(e.counts.size());
    w.add_tensor(file_name + kSums, {matrices, e.columns}, GgmlType::F32, [&e, matrices] {
      return Tensor::from_values(std::vector<float>(e.sum_squares.begin(), e.sum_squares.end()), {matrices, e.columns});
    });
    w.add_tensor(file_name + kCounts, {matrices, 1}, GgmlType::F32, [&e, matrices] {
      return Tensor::from_values(std::vector<float>(e.counts.begin(), e.counts.end()), {matrices, 1});
    });
  }
  w.write(path);
}

ImportanceMatrix ImportanceMatrix::load(const std::filesystem::path& path) {
  if (GgufFile::has_magic(path)) return from_gguf(*GgufFile::open(path));
  const auto file = MappedFile::open(path);
  return from_legacy(file->data(), file->size(), path.string());
}

ImportanceMatrix ImportanceMatrix::from_legacy(const unsigned char* data, size_t size, const std::string& what) {
  size_t at = 0;
  auto int32 = [&](const char* field) {
    TCPP_CHECK(size - at >= 4, FormatError, what, ": legacy importance matrix ends inside ", field, " at byte ", at);
    int32_t v;
    std::memcpy(&v, data + at, 4);
    at += 4;
    return v;
  };
  ImportanceMatrix m;
  const int32_t n_entries = int32("the number of entries");
  // Each entry takes at least 16 bytes: checked before anything is reserved for it.
  TCPP_CHECK(n_entries > 0 && static_cast<uint64_t>(n_entries) <= (size - at) / 16, FormatError, what,
             ": not an importance matrix (neither GGUF nor llama-imatrix's legacy layout: ", n_entries,
             " entries in ", size, " bytes)");
  for (int32_t i = 0; i < n_entries; ++i) {
    const int32_t len = int32("a name's length");
    TCPP_CHECK(len > 0 && static_cast<size_t>(len) <= size - at, FormatError, what, ": entry ", i,
               " has a name of ", len, " bytes where ", size - at, " remain");
    const std::string name(reinterpret_cast<const char*>(data + at), static_cast<size_t>(len));
    at += static_cast<size_t>(len);
    const int32_t ncall = int32("ncall");
    const int32_t nval = int32("nval");
    TCPP_CHECK(ncall >= 0 && nval > 0 && static_cast<size_t>(nval) <= (size - at) / 4, FormatError, what, ": ", name,
               " has ncall ", ncall, " and ", nval, " values where ", (size - at) / 4, " remain");
    Entry e;
    e.columns = nval;
    e.sum_squares.resize(static_cast<size_t>(nval));
    for (int32_t k = 0; k < nval; ++k) {
      float v;
      std::memcpy(&v, data + at + 4 * static_cast<size_t>(k), 4);
      TCPP_CHECK(std::isfinite(v) && v >= 0, FormatError, what, ": ", name, " holds ", v,
                 " (mean squares are finite and >= 0)");
      e.sum_squares[static_cast<size_t>(k)] = v;
    }
    at += 4 * static_cast<size_t>(nval);
    e.counts = {ncall > 0 ? static_cast<double>(ncall) : 1.0};
    TCPP_CHECK(m.entries.emplace(model_name_of(name), std::move(e)).second, FormatError, what, ": ", name,
               " appears twice");
  }
  if (at < size) {  // the last chunk's number and the dataset's name, in files since mid-2024
    m.chunk_count = int32("the chunk count");
    const int32_t len = int32("the dataset name's length");
    TCPP_CHECK(len >= 0 && static_cast<size_t>(len) <= size - at, FormatError, what, ": the dataset name has ", len,
               " bytes where ", size - at, " remain");
    m.datasets = {std::string(reinterpret_cast<const char*>(data + at), static_cast<size_t>(len))};
    at += static_cast<size_t>(len);
  }
  TCPP_CHECK(at == size, FormatError, what, ": ", size - at, " bytes after the legacy importance matrix's end");
  return m;
}

ImportanceMatrix ImportanceMatrix::from_gguf(const GgufFile& gguf) {
  const std::string where = gguf.path().string();
  const auto type = gguf.find_string("general.type");
  TCPP_CHECK(type == "imatrix", FormatError, where, ": not an importance matrix (general.type is '",
             type.value_or("absent"), "', llama-imatrix writes 'imatrix')");
  ImportanceMatrix m;
  if (const GgufValue* d = gguf.find("imatrix.datasets"); d && d->type == GgufType::Array && d->element_type == GgufType::String)
    m.datasets = d->strings;
  m.chunk_count = gguf.find_int("imatrix.chunk_count").value_or(0);
  m.chunk_size = gguf.find_int("imatrix.chunk_size").value_or(0);
  auto f32_values = [&](const std::string& tensor, int64_t inner) {
    const GgufTensorInfo& info = gguf.info(tensor);
    TCPP_CHECK(info.type == static_cast<uint32_t>(GgmlType::F32) && info.dims.size() <= 2 && !info.dims.empty() &&
                   static_cast<int64_t>(info.dims[0]) == inner,
               FormatError, where, ": tensor ", tensor, " must be F32 with ", inner, " values per row");
    const Tensor t = gguf.tensor(tensor);
    const float* v = t.data<float>();
    std::vector<double> out(v, v + t.numel());
    for (double x : out)
      TCPP_CHECK(std::isfinite(x) && x >= 0, FormatError, where, ": tensor ", tensor, " holds ", x,
                 " (sums of squares and counts are finite and >= 0)");
    return out;
  };
  for (const GgufTensorInfo& info : gguf.header().tensors) {
    if (!info.name.ends_with(kSums)) continue;
    const std::string base = info.name.substr(0, info.name.size() - std::strlen(kSums));
    TCPP_CHECK(gguf.contains(base + kCounts), FormatError, where, ": ", info.name, " has no ", base + kCounts);
    Entry e;
    TCPP_CHECK(!info.dims.empty() && info.dims[0] > 0, FormatError, where, ": ", info.name, " is empty");
    e.columns = static_cast<int64_t>(info.dims[0]);
    e.sum_squares = f32_values(info.name, e.columns);
    e.counts = f32_values(base + kCounts, 1);
    TCPP_CHECK(e.sum_squares.size() == e.counts.size() * static_cast<size_t>(e.columns), FormatError, where, ": ",
               info.name, " holds ", e.sum_squares.size() / static_cast<size_t>(e.columns), " matrices, ",
               base + kCounts, " counts ", e.counts.size());
    m.entries[model_name_of(base)] = std::move(e);
  }
  for (const GgufTensorInfo& info : gguf.header().tensors)
    if (info.name.ends_with(kCounts)) {
      const std::string base = info.name.substr(0, info.name.size() - std::strlen(kCounts));
      TCPP_CHECK(gguf.contains(base + kSums), FormatError, where, ": ", info.name, " has no ", base + kSums);
    }
  TCPP_CHECK(!m.entries.empty(), FormatError, where, ": the importance matrix has no entries");
  return m;
}

ImportanceMatrix compute_importance_matrix(const CausalLM& model, const std::vector<int64_t>& ids, int64_t chunk_size,
                                           const std::string& dataset) {
  TCPP_CHECK(chunk_size >= 1, ValueError, "importance matrix: chunk size must be >= 1, got ", chunk_size);
  TCPP_CHECK(!ids.empty(), ValueError, "importance matrix: no calibration tokens");
  ImportanceMatrix m;
  m.datasets = {dataset};
  m.chunk_size = chunk_size;
  const std::vector<WatchedMatrix> watched = watched_matrices(model);
  for (const WatchedMatrix& w : watched)
    for (const std::string& name : w.names) {
      auto& e = m.entries[name];
      e.columns = w.columns;
      e.sum_squares.assign(static_cast<size_t>(w.matrices * w.columns), 0.0);
      e.counts.assign(static_cast<size_t>(w.matrices), 0.0);
    }
  ops::LinearInputObserver observer([&](const Tensor& x, const Tensor& weight) {
    const auto* p = static_cast<const char*>(weight.raw_data());
    for (const WatchedMatrix& w : watched) {
      if (p < w.begin || p >= w.begin + w.bytes) continue;
      const auto matrix = static_cast<int64_t>(static_cast<size_t>(p - w.begin) / w.matrix_bytes);
      const int64_t K = w.columns, rows = x.numel() / K;
      const float* v = x.data<float>();
      auto& first = m.entries[w.names.front()];
      double* sums = first.sum_squares.data() + matrix * K;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < K; ++k) sums[k] += static_cast<double>(v[r * K + k]) * v[r * K + k];
      first.counts[static_cast<size_t>(matrix)] += static_cast<double>(rows);
      return;
    }
  });
  const auto n = static_cast<int64_t>(ids.size());
  for (int64_t begin = 0; begin < n; begin += chunk_size) {
    const int64_t len = std::min(chunk_size, n - begin);
    const std::vector<int64_t> chunk(ids.begin() + begin, ids.begin() + begin + len);
    model.forward(Tensor::from_values(chunk, {1, len}));
    ++m.chunk_count;
  }
  // A tied table's other names get the same sums; a matrix never multiplied (an embedding table
  // only looked up) has no entry, as in llama-imatrix's files, so it is quantized as without one.
  for (const WatchedMatrix& w : watched) {
    const ImportanceMatrix::Entry e = m.entries[w.names.front()];
    if (std::all_of(e.counts.begin(), e.counts.end(), [](double n) { return n == 0; })) {
      for (const std::string& name : w.names) m.entries.erase(name);
      continue;
    }
    for (size_t i = 1; i < w.names.size(); ++i) m.entries[w.names[i]] = e;
  }
  return m;
}

}  // namespace transformers
