// The public API in one include.
#pragma once

#include "transformers/config/generation_config.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/core/tensor.h"
#include "transformers/generation/generate.h"
#include "transformers/io/npy.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/models/causal_lm.h"
