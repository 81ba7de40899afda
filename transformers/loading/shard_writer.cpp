#include "transformers/loading/shard_writer.h"

#include <cstdint>
#include <set>

#include "transformers/io/json.h"

namespace transformers::loading {

namespace {

uint64_t planned_bytes(const PlannedTensor& t) {
  return dtype_nbytes(t.dtype, shape_numel(t.shape));
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
  total_size_ = total;
}

ShardedSafetensorsWriter::~ShardedSafetensorsWriter() = default;

// The same header layout as io's save_safetensors (dtype, shape, data_offsets; __metadata__
// first; padded with spaces to 8 bytes), written before the shard's data is known.
void ShardedSafetensorsWriter::open_shard(size_t shard) {
  if (file_) file_->commit();
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
  file_ = std::make_unique<AtomicFileWriter>(dir_ / shard_files_[shard]);
  open_ = shard;
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  file_->write(len, 8);
  file_->write(text);
}

void ShardedSafetensorsWriter::write(const std::string& name, const Tensor& t) {
  TCPP_CHECK(next_ < plan_.size(), ValueError, "save: tensor '", name, "' was not planned");
  const PlannedTensor& p = plan_[next_];
  TCPP_CHECK(p.name == name && p.dtype == t.dtype() && p.shape == t.shape(), ValueError, "save: tensor '", name, "' ",
             t.describe(), " does not match the plan ('", p.name, "' ", dtype_torch_name(p.dtype),
             shape_to_string(p.shape), ")");
  if (open_ != shard_of_[next_]) open_shard(shard_of_[next_]);
  Tensor c = t.contiguous();
  file_->write(c.raw_data(), c.nbytes());
  ++next_;
}

void ShardedSafetensorsWriter::finish() {
  TCPP_CHECK(next_ == plan_.size(), ValueError, "save: ", plan_.size() - next_, " planned tensors were not written");
  if (plan_.empty()) open_shard(0);
  if (file_) file_->commit();
  file_.reset();
  // The index last: it names only shards that are complete on disk.
  if (shard_files_.size() > 1) {
    Json index;
    index["metadata"] = {{"total_size", total_size_}};
    index["weight_map"] = Json::object();
    for (size_t i = 0; i < plan_.size(); ++i) index["weight_map"][plan_[i].name] = shard_files_[shard_of_[i]];
    write_file_atomically(dir_ / "model.safetensors.index.json", index.dump(2) + "\n");
  }
}

std::set<std::string> ShardedSafetensorsWriter::written_files() const {
  std::set<std::string> files(shard_files_.begin(), shard_files_.end());
  if (shard_files_.size() > 1) files.insert("model.safetensors.index.json");
  return files;
}

}  // namespace transformers::loading
