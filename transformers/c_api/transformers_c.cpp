// The C API (transformers_c.h) over the C++ library. Every entry point runs its body through
// guarded(), which turns an exception into a status code and the thread-local last error, so
// nothing thrown crosses into C.
#include "transformers/transformers_c.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "transformers/chat/apply_chat_template.h"
#include "transformers/config/generation_config_overrides.h"
#include "transformers/generation/generate.h"
#include "transformers/generation/tokenizer_adapters.h"
#include "transformers/models/auto.h"
#include "transformers/tokenization/tokenizer.h"

struct transformers_model {
  std::unique_ptr<transformers::CausalLM> model;
};

struct transformers_tokenizer {
  transformers::Tokenizer tokenizer;
};

namespace {

using namespace transformers;

thread_local std::string last_error;

transformers_status status_of(const Error& e) {
  if (dynamic_cast<const ValueError*>(&e)) return TRANSFORMERS_ERROR_INVALID_ARGUMENT;
  if (dynamic_cast<const IoError*>(&e)) return TRANSFORMERS_ERROR_IO;
  if (dynamic_cast<const FormatError*>(&e)) return TRANSFORMERS_ERROR_FORMAT;
  if (dynamic_cast<const ConfigError*>(&e)) return TRANSFORMERS_ERROR_CONFIG;
  if (dynamic_cast<const ShapeError*>(&e)) return TRANSFORMERS_ERROR_SHAPE;
  if (dynamic_cast<const NotImplementedError*>(&e)) return TRANSFORMERS_ERROR_NOT_IMPLEMENTED;
  if (dynamic_cast<const TemplateError*>(&e)) return TRANSFORMERS_ERROR_TEMPLATE;
  return TRANSFORMERS_ERROR_OTHER;
}

template <typename Body>
transformers_status guarded(Body&& body) noexcept {
  last_error.clear();
  try {
    body();
    return TRANSFORMERS_OK;
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return TRANSFORMERS_ERROR_OUT_OF_MEMORY;
  } catch (const Error& e) {
    last_error = e.what();
    return status_of(e);
  } catch (const std::exception& e) {
    last_error = e.what();
    return TRANSFORMERS_ERROR_INTERNAL;
  } catch (...) {
    last_error = "unknown exception";
    return TRANSFORMERS_ERROR_INTERNAL;
  }
}

void require(const void* pointer, const char* name) {
  TCPP_CHECK(pointer != nullptr, ValueError, name, " is NULL");
}

// Arrays and strings handed to C are malloc'ed, so that any language can free them through
// transformers_free_ids / transformers_free_string.
int64_t* copy_ids(const std::vector<int64_t>& ids) {
  auto* out = static_cast<int64_t*>(std::malloc(std::max<size_t>(ids.size(), 1) * sizeof(int64_t)));
  if (!out) throw std::bad_alloc();
  std::copy(ids.begin(), ids.end(), out);
  return out;
}

char* copy_string(const std::string& text) {
  auto* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

void give_ids(const std::vector<int64_t>& ids, int64_t** out, size_t* count) {
  *out = copy_ids(ids);
  *count = ids.size();
}

// The model's generation config with the caller's JSON set over it; "seed" is taken out as the
// sampling seed (generate()'s argument, not a generation_config key).
GenerationConfig config_for_call(const CausalLM& model, const char* json,
                                 std::optional<uint64_t>& seed) {
  if (!json) return model.generation_config;
  Json patch = parse_json(json, "generation_config_json");
  if (patch.is_object() && patch.contains("seed")) {
    TCPP_CHECK(patch["seed"].is_number_unsigned(), ValueError,
               "generation_config_json: seed must be a non-negative integer");
    seed = patch["seed"].get<uint64_t>();
    patch.erase("seed");
  }
  return with_overrides(model.generation_config, patch, "generation_config_json");
}

// Stops generation once the C callback has asked to (generate() checks its stopping criteria
// right after on_step).
class CallbackStop : public StoppingCriterion {
 public:
  explicit CallbackStop(const bool& stop) : stop_(stop) {}
  bool is_done(std::span<const int64_t>) const override { return stop_; }

 private:
  const bool& stop_;
};

}  // namespace

extern "C" {

const char* transformers_last_error(void) { return last_error.c_str(); }

const char* transformers_version(void) { return TCPP_VERSION; }

void transformers_free_ids(int64_t* ids) { std::free(ids); }

void transformers_free_string(char* text) { std::free(text); }

transformers_status transformers_tokenizer_load(const char* path, transformers_tokenizer** out) {
  return guarded([&] {
    require(path, "path");
    require(out, "out");
    *out = nullptr;
    *out = new transformers_tokenizer{Tokenizer::from_pretrained(path)};
  });
}

void transformers_tokenizer_free(transformers_tokenizer* tokenizer) { delete tokenizer; }

transformers_status transformers_model_load(const char* path, const char* dtype,
                                            transformers_model** out) {
  return guarded([&] {
    require(path, "path");
    require(out, "out");
    *out = nullptr;
    LoadOptions options;
    if (dtype) options.dtype = dtype;
    *out = new transformers_model{AutoModelForCausalLM::from_pretrained(path, options)};
  });
}

void transformers_model_free(transformers_model* model) { delete model; }

transformers_status transformers_tokenize(const transformers_tokenizer* tokenizer, const char* text,
                                          int add_special_tokens, int64_t** ids, size_t* count) {
  return guarded([&] {
    require(tokenizer, "tokenizer");
    require(text, "text");
    require(ids, "ids");
    require(count, "count");
    give_ids(tokenizer->tokenizer.encode(text, add_special_tokens != 0), ids, count);
  });
}

transformers_status transformers_decode(const transformers_tokenizer* tokenizer, const int64_t* ids,
                                        size_t count, int skip_special_tokens, char** text) {
  return guarded([&] {
    require(tokenizer, "tokenizer");
    if (count > 0) require(ids, "ids");
    require(text, "text");
    DecodeOptions options;
    options.skip_special_tokens = skip_special_tokens != 0;
    *text = copy_string(tokenizer->tokenizer.decode(std::span<const int64_t>(ids, count), options));
  });
}

transformers_status transformers_apply_chat_template(const transformers_tokenizer* tokenizer,
                                                     const char* conversation_json,
                                                     int add_generation_prompt, char** text,
                                                     int64_t** ids, size_t* count) {
  return guarded([&] {
    require(tokenizer, "tokenizer");
    require(conversation_json, "conversation_json");
    if (ids) require(count, "count");
    ApplyChatTemplateOptions options;
    options.add_generation_prompt = add_generation_prompt != 0;
    options.tokenize = ids != nullptr;
    OrderedJson conversation = parse_ordered_json(conversation_json, "conversation_json");
    TCPP_CHECK(conversation.is_array(), ValueError,
               "conversation_json must be a JSON array of messages");
    ChatEncoding encoding = apply_chat_template(tokenizer->tokenizer, conversation, options);
    // Both outputs are made before either is handed over, so a failure leaks nothing.
    std::unique_ptr<char, decltype(&std::free)> rendered(
        text ? copy_string(encoding.text.at(0)) : nullptr, &std::free);
    if (ids) give_ids(encoding.encoding.input_ids.at(0), ids, count);
    if (text) *text = rendered.release();
  });
}

transformers_status transformers_generate(const transformers_model* model,
                                          const transformers_tokenizer* tokenizer,
                                          const int64_t* prompt_ids, size_t prompt_count,
                                          const char* generation_config_json,
                                          transformers_token_callback callback, void* user_data,
                                          int64_t** out_ids, size_t* out_count) {
  return guarded([&] {
    require(model, "model");
    require(prompt_ids, "prompt_ids");
    require(out_ids, "out_ids");
    require(out_count, "out_count");
    TCPP_CHECK(prompt_count > 0, ValueError, "prompt_count must be at least 1");
    GenerateOptions options;
    GenerationConfig config = config_for_call(*model->model, generation_config_json, options.seed);
    TCPP_CHECK(
        config.num_beams == 1 && config.num_return_sequences == 1, ValueError,
        "transformers_generate returns one sequence: num_beams and num_return_sequences must be 1");
    config.validate();
    std::optional<IncrementalDecoder> pieces;
    if (tokenizer) {
      options.decode = token_decoder(tokenizer->tokenizer);
      pieces.emplace(tokenizer->tokenizer.incremental_decoder());
    }
    bool stop = false;
    if (callback) {
      options.on_step = [&](const std::vector<int64_t>& next) {
        const std::string text = pieces ? pieces->step(next[0]) : std::string();
        stop = callback(next[0], pieces ? text.c_str() : nullptr, user_data) != 0;
      };
      options.stopping_criteria.push_back(std::make_shared<CallbackStop>(stop));
    }
    std::vector<int64_t> prompt(prompt_ids, prompt_ids + prompt_count);
    Tensor input = Tensor::from_values(prompt, {1, static_cast<int64_t>(prompt_count)});
    GenerateOutput out = generate(*model->model, input, config, options);
    give_ids(out.sequences.at(0), out_ids, out_count);
  });
}

}  // extern "C"
