// Checkpoint folders: output_dir/checkpoint-N/ holding
//   model.safetensors, config.json, generation_config.json   TrainableModel::save_pretrained
//   (a LoRA run: adapter_model.safetensors, adapter_config.json)
//   optimizer.safetensors + optimizer.json                   Optimizer::save (moments, step);
//                                                            torch's optimizer.pt pickle is NOT written
//   scheduler.json                                           LambdaLR's state (last_epoch, rates)
//   rng_state.json                                           the sampler's seed and strategy
//   trainer_loop.json                                        the running loss sum and last log step
//   trainer_state.json, training_args.json
// A checkpoint is written into output_dir/tmp-checkpoint-N/ and renamed to checkpoint-N only when
// complete, so a run killed mid-save leaves no folder that looks complete.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "transformers/training/optimizer.h"

namespace transformers::training {

// checkpoint-N folders of `output_dir` (real folders, not links) ordered by N.
std::vector<std::filesystem::path> sorted_checkpoints(const std::filesystem::path& output_dir);
// The highest complete checkpoint-N (holding trainer_state.json), if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& output_dir);
// Deletes the oldest checkpoints beyond `limit`.
void rotate_checkpoints(const std::filesystem::path& output_dir, int64_t limit);
// Calls `fill` on a fresh temporary folder beside `target`, then renames it to `target`
// (replacing an existing folder or link of that name, never writing through a link).
void write_folder_atomically(const std::filesystem::path& target,
                             const std::function<void(const std::filesystem::path&)>& fill);
// Copies the saved model weights of a checkpoint (model.safetensors or shards, or a LoRA run's
// adapter_model.safetensors) into the buffers by
// name; a missing name or a different size is an error naming the folder and tensor.
void load_model_weights(const std::filesystem::path& folder, const std::vector<ParameterBuffer>& buffers);

}  // namespace transformers::training
