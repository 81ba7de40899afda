#include "transformers/training/checkpoint.h"

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>

#include "transformers/io/safetensors.h"
#include "transformers/ops/ops.h"

namespace transformers::training {
namespace fs = std::filesystem;
namespace {

std::optional<int64_t> checkpoint_number(const fs::path& folder) {
  const std::string name = folder.filename().string();
  const std::string prefix = "checkpoint-";
  if (!name.starts_with(prefix) || name.size() == prefix.size() || name.size() > prefix.size() + 18) return std::nullopt;
  for (size_t i = prefix.size(); i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
  return std::stoll(name.substr(prefix.size()));
}

// Flushes a folder's entries (the rename of a finished checkpoint) to disk.
void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::vector<fs::path> sorted_checkpoints(const fs::path& output_dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code error;
  if (!fs::is_directory(output_dir, error)) return {};
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    const auto number = checkpoint_number(entry.path());
    if (number && entry.is_directory() && !entry.is_symlink()) found.emplace_back(*number, entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (auto& [number, path] : found) paths.push_back(path);
  return paths;
}

std::optional<fs::path> latest_checkpoint(const fs::path& output_dir) {
  auto checkpoints = sorted_checkpoints(output_dir);
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it)
    if (fs::is_regular_file(*it / "trainer_state.json")) return *it;
  return std::nullopt;
}

void rotate_checkpoints(const fs::path& output_dir, int64_t limit) {
  if (limit <= 0) return;
  auto checkpoints = sorted_checkpoints(output_dir);
  const auto excess = static_cast<int64_t>(checkpoints.size()) - limit;
  for (int64_t i = 0; i < excess; ++i) fs::remove_all(checkpoints[static_cast<size_t>(i)]);
}

void write_folder_atomically(const fs::path& target, const std::function<void(const fs::path&)>& fill) {
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  fs::create_directories(parent);
  const fs::path temp = parent / ("tmp-" + target.filename().string());
  fs::remove_all(temp);  // a leftover of a killed save; remove_all removes a link, not its target
  TCPP_CHECK(fs::create_directory(temp), IoError, temp.string(), ": cannot create the temporary folder");
  fill(temp);
  sync_folder(temp);
  fs::remove_all(target);
  fs::rename(temp, target);
  sync_folder(parent);
}

void load_model_weights(const fs::path& folder, const std::vector<ParameterBuffer>& buffers) {
  // A LoRA run's checkpoint holds its adapter (PEFT's file, keyed by the parameter names) instead.
  const fs::path adapter = folder / "adapter_model.safetensors";
  const bool has_model = fs::exists(folder / "model.safetensors") || fs::exists(folder / "model.safetensors.index.json");
  const auto checkpoint = SafetensorsCheckpoint::open(!has_model && fs::is_regular_file(adapter) ? adapter : folder);
  for (const auto& buffer : buffers) {
    TCPP_CHECK(checkpoint.contains(buffer.name), FormatError, folder.string(), ": the checkpoint has no weight '",
               buffer.name, "'");
    const std::vector<float> values = ops::to_float_vector(ops::cast(checkpoint.tensor(buffer.name), DType::F32));
    TCPP_CHECK(values.size() == buffer.value.size(), ShapeError, folder.string(), ": weight '", buffer.name, "' has ",
               values.size(), " values, the model ", buffer.value.size());
    std::copy(values.begin(), values.end(), buffer.value.begin());
  }
}

}  // namespace transformers::training
