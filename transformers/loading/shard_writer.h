// Writes a checkpoint as safetensors shards while its tensors are produced one by one, so that
// saving never holds more than the tensor being written: the names, dtypes and shapes are
// planned first (which fixes every shard's header and the index), then the bytes are streamed.
// Shards follow Transformers' naming (model-00001-of-00003.safetensors) and index
// (model.safetensors.index.json with metadata.total_size); a checkpoint that fits in one shard
// is a single model.safetensors. A tensor bigger than the limit gets a shard of its own.
// Each file is written under a temporary name and renamed when complete (AtomicFileWriter).
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"
#include "transformers/io/files.h"

namespace transformers::loading {

struct PlannedTensor {
  std::string name;
  DType dtype;
  Shape shape;
};

class ShardedSafetensorsWriter {
 public:
  ShardedSafetensorsWriter(std::filesystem::path dir, std::vector<PlannedTensor> plan, uint64_t max_shard_size);
  ~ShardedSafetensorsWriter();
  ShardedSafetensorsWriter(const ShardedSafetensorsWriter&) = delete;
  ShardedSafetensorsWriter& operator=(const ShardedSafetensorsWriter&) = delete;

  // The next planned tensor; its name, dtype and shape must be the planned ones.
  void write(const std::string& name, const Tensor& t);
  // Checks every planned tensor was written; closes the last shard.
  void finish();
  size_t num_shards() const { return shard_files_.size(); }
  // The file names finish() wrote: the shards and, when there are several, the index.
  std::set<std::string> written_files() const;

 private:
  void open_shard(size_t shard);
  std::filesystem::path dir_;
  std::vector<PlannedTensor> plan_;
  std::vector<size_t> shard_of_;  // per planned tensor
  std::vector<std::string> shard_files_;
  size_t next_ = 0;
  size_t open_ = SIZE_MAX;
  uint64_t total_size_ = 0;
  std::unique_ptr<AtomicFileWriter> file_;
};

}  // namespace transformers::loading
