#include "transformers/loading/shard_writer.h"

#include <cstdint>
#include <set>

#include "transformers/io/json.h"

namespace transformers::loading {

namespace {

uint64_t planned_bytes(const PlannedTensor& t) {
  return static_cast<uint64_t>(shape_numel(t.shape)) * dtype_size(t.dtype);
}

void write_all(std::FILE* f, const void* data, size_t n, const std::string& path) {
  TCPP_CHECK(n == 0 || std::fwrite(data, 1, n, f) == n, IoError, path, ": write failed");
}

}  // namespace

ShardedSafetensorsWriter::ShardedSafetensorsWriter(std::filesystem::path dir, std::vector<PlannedTensor> plan,
                                                   uint64_t max_shard_size)
    : dir_(std::move(dir)), plan_(std::move(plan)) {
  // Greedy in order, as Transformers shards a state dict: a new shard when the next tensor would
  // overflow a non-empty one.
  size_t shard = 0;
  uint64_t used = 0, total = 0;
  std::set<std::string> names;
  for (const auto& t : plan_) {
    TCPP_CHECK(names.insert(t.name).second, ValueError, "save: two tensors named '", t.name, "'");
    const uint64_t n = planned_bytes(t);
    if (used > 0 && used + n > max_shard_size) ++shard, used = 0;
    used += n;
    total += n;
    shard_of_.push_back(shard);
  }
  const size_t count = plan_.empty() ? 1 : shard + 1;
  for (size_t s = 0; s < count; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, count);
    shard_files_.push_back(count == 1 ? "model.safetensors" : name);
  }
  if (count > 1) {
    Json index;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = Json::object();
    for (size_t i = 0; i < plan_.size(); ++i) index["weight_map"][plan_[i].name] = shard_files_[shard_of_[i]];
    const auto path = dir_ / "model.safetensors.index.json";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    TCPP_CHECK(f != nullptr, IoError, path.string(), ": cannot open for writing");
    const std::string text = index.dump(2) + "\n";
    const size_t written = std::fwrite(text.data(), 1, text.size(), f);
    TCPP_CHECK(std::fclose(f) == 0 && written == text.size(), IoError, path.string(), ": write failed");
  }
}

ShardedSafetensorsWriter::~ShardedSafetensorsWriter() {
  if (file_) std::fclose(file_);
}

// The same header layout as io's save_safetensors (dtype, shape, data_offsets; __metadata__
// first; padded with spaces to 8 bytes), written before the shard's data is known.
void ShardedSafetensorsWriter::open_shard(size_t shard) {
  if (file_) {
    TCPP_CHECK(std::fclose(file_) == 0, IoError, (dir_ / shard_files_[open_]).string(), ": write failed");
    file_ = nullptr;
  }
  OrderedJson header = OrderedJson::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (shard_of_[i] != shard) continue;
    OrderedJson e;
    e["dtype"] = std::string(dtype_safetensors_name(plan_[i].dtype));
    e["shape"] = plan_[i].shape;
    e["data_offsets"] = {offset, offset + planned_bytes(plan_[i])};
    header[plan_[i].name] = e;
    offset += planned_bytes(plan_[i]);
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');
  const std::string path = (dir_ / shard_files_[shard]).string();
  file_ = std::fopen(path.c_str(), "wb");
  TCPP_CHECK(file_ != nullptr, IoError, path, ": cannot open for writing");
  open_ = shard;
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  write_all(file_, len, 8, path);
  write_all(file_, text.data(), text.size(), path);
}

void ShardedSafetensorsWriter::write(const std::string& name, const Tensor& t) {
  TCPP_CHECK(next_ < plan_.size(), ValueError, "save: tensor '", name, "' was not planned");
  const PlannedTensor& p = plan_[next_];
  TCPP_CHECK(p.name == name && p.dtype == t.dtype() && p.shape == t.shape(), ValueError, "save: tensor '", name, "' ",
             t.describe(), " does not match the plan ('", p.name, "' ", dtype_torch_name(p.dtype),
             shape_to_string(p.shape), ")");
  if (open_ != shard_of_[next_]) open_shard(shard_of_[next_]);
  Tensor c = t.contiguous();
  write_all(file_, c.raw_data(), c.nbytes(), (dir_ / shard_files_[open_]).string());
  ++next_;
}

void ShardedSafetensorsWriter::finish() {
  TCPP_CHECK(next_ == plan_.size(), ValueError, "save: ", plan_.size() - next_, " planned tensors were not written");
  if (plan_.empty()) open_shard(0);
  if (file_) {
    const int rc = std::fclose(file_);
    file_ = nullptr;
    TCPP_CHECK(rc == 0, IoError, (dir_ / shard_files_[open_]).string(), ": write failed");
  }
}

}  // namespace transformers::loading
