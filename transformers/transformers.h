// The public API in one include: models (causal LMs and encoders, Auto classes, save_pretrained),
// generation (generate, streamers, processors), tokenizers (AutoTokenizer, encode/decode,
// batches) and chat templates (apply_chat_template). Link transformers::transformers (CMake) or
// `pkg-config --libs transformers`.
#pragma once

#include "transformers/chat/apply_chat_template.h"
#include "transformers/config/generation_config.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/core/error.h"
#include "transformers/core/tensor.h"
#include "transformers/generation/generate.h"
#include "transformers/generation/streamers.h"
#include "transformers/generation/tokenizer_adapters.h"
#include "transformers/io/npy.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/models/causal_lm.h"
#include "transformers/models/encoder.h"
#include "transformers/models/save.h"
#include "transformers/tokenization/tokenizer.h"
