// Checks of a config against its checkpoint, made from the safetensors headers alone before a
// model is built from the config: a model is laid out (layers, rotary tables) from config sizes,
// so a hostile num_hidden_layers or hidden_size must be refused before anything is allocated,
// not discovered tensor by tensor afterwards.
#pragma once

#include "transformers/config/pretrained_config.h"
#include "transformers/io/safetensors.h"
#include "transformers/loading/load_weights.h"

namespace transformers {

// ConfigError naming the key when the config asks for more layers than the checkpoint holds,
// or its hidden size / vocabulary differ from the embedding matrix's shape, or its attention
// width differs from layer 0's q_proj. Fewer layers than the checkpoint holds load (as in
// Transformers) and leave unused weights, which warn_unused_weights reports.
void check_config_against_checkpoint(const PretrainedConfig& config, const SafetensorsCheckpoint& checkpoint);

// One stderr line when checkpoint tensors were left unused (strict loading refuses them).
void warn_unused_weights(const LoadReport& report);

}  // namespace transformers
