/* The C API of transformers-cpp: what Go, Rust, C#, Python (ctypes/cffi) and C programs bind to.
 * Plain C (C99): opaque handles, status codes and a thread-local last-error string; no C++ type
 * crosses the boundary and no exception escapes it.
 *
 *   transformers_tokenizer* tok; transformers_model* model;
 *   if (transformers_tokenizer_load("path/to/model", &tok) != TRANSFORMERS_OK)
 *     fprintf(stderr, "error: %s\n", transformers_last_error());
 *   transformers_model_load("path/to/model", NULL, &model);
 *   int64_t* ids; size_t n;
 *   transformers_tokenize(tok, "Hello", 1, &ids, &n);
 *   int64_t* out; size_t out_n;
 *   transformers_generate(model, tok, ids, n, "{\"max_new_tokens\": 16}", on_token, NULL, &out,
 * &out_n); transformers_free_ids(ids); transformers_free_ids(out); transformers_model_free(model);
 * transformers_tokenizer_free(tok);
 *
 * Memory: arrays and strings the library returns are the caller's, released with
 * transformers_free_ids / transformers_free_string. Handles are released with their _free
 * function; _free(NULL) does nothing. Calls that share a handle must not overlap (serialise them);
 * the last error is kept per thread. Link: transformers::transformers (CMake) or
 * `pkg-config --libs transformers`; a C program links with the C++ driver (c++) or adds -lstdc++
 * when the libraries are static. */
#ifndef TRANSFORMERS_C_H
#define TRANSFORMERS_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function that can fail returns one of these; on failure transformers_last_error() says
 * why, naming the file, key or argument at fault. */
typedef enum transformers_status {
  TRANSFORMERS_OK = 0,
  TRANSFORMERS_ERROR_INVALID_ARGUMENT = 1, /* a NULL handle or pointer, a value out of its domain */
  TRANSFORMERS_ERROR_IO = 2,               /* a file could not be opened or read */
  TRANSFORMERS_ERROR_FORMAT = 3, /* malformed bytes: safetensors, JSON, tokenizer, template */
  TRANSFORMERS_ERROR_CONFIG = 4, /* a config key missing, of the wrong type or unsupported */
  TRANSFORMERS_ERROR_SHAPE = 5,  /* weights whose shapes disagree with the config */
  TRANSFORMERS_ERROR_NOT_IMPLEMENTED = 6, /* in Transformers, not here yet */
  TRANSFORMERS_ERROR_TEMPLATE = 7, /* a chat template failed (raise_exception, a bad expression) */
  TRANSFORMERS_ERROR_OTHER = 8,    /* another failure the library reports (the message says) */
  TRANSFORMERS_ERROR_OUT_OF_MEMORY = 9,
  TRANSFORMERS_ERROR_INTERNAL = 10 /* not the library's own error: please report it */
} transformers_status;

typedef struct transformers_model transformers_model; /* a causal LM + its generation config */
typedef struct transformers_tokenizer transformers_tokenizer; /* a tokenizer + its chat templates */

/* The message of the last failure on this thread ("" if none). Valid until the next call into the
 * library on this thread. */
const char* transformers_last_error(void);
/* The library's version, e.g. "0.1.0". */
const char* transformers_version(void);

void transformers_free_ids(int64_t* ids);
void transformers_free_string(char* text);

/* A model folder (tokenizer.json and/or tokenizer.model, tokenizer_config.json, chat templates). */
transformers_status transformers_tokenizer_load(const char* path, transformers_tokenizer** out);
void transformers_tokenizer_free(transformers_tokenizer* tokenizer);

/* A model folder (config.json, *.safetensors, generation_config.json). dtype: NULL or "auto" (the
 * checkpoint's), "float32", "bfloat16", "float16". */
transformers_status transformers_model_load(const char* path, const char* dtype,
                                            transformers_model** out);
void transformers_model_free(transformers_model* model);

/* text (UTF-8) -> *ids[*count]. add_special_tokens: nonzero adds BOS/EOS as the tokenizer does. */
transformers_status transformers_tokenize(const transformers_tokenizer* tokenizer, const char* text,
                                          int add_special_tokens, int64_t** ids, size_t* count);
/* ids -> *text (UTF-8, NUL-terminated). */
transformers_status transformers_decode(const transformers_tokenizer* tokenizer, const int64_t* ids,
                                        size_t count, int skip_special_tokens, char** text);

/* Renders a conversation with the tokenizer's chat template, as apply_chat_template does in
 * Transformers v5. conversation_json: a JSON array of {"role": ..., "content": ...} messages.
 * *text gets the rendered prompt and *ids its tokens (special tokens as the template wrote them);
 * either pointer may be NULL when not wanted (then *count too). */
transformers_status transformers_apply_chat_template(const transformers_tokenizer* tokenizer,
                                                     const char* conversation_json,
                                                     int add_generation_prompt, char** text,
                                                     int64_t** ids, size_t* count);

/* Called once per generated token with its id and the text it completes (UTF-8, possibly ""
 * while a character is incomplete; NULL when generate was given no tokenizer). Return 0 to go on,
 * nonzero to stop after this token. */
typedef int (*transformers_token_callback)(int64_t token_id, const char* text, void* user_data);

/* Generates from one prompt (prompt_ids[prompt_count]) as generate() in Transformers v5 does.
 * generation_config_json: NULL, or a JSON object of generation_config keys set over the model's
 * generation_config.json (e.g. {"max_new_tokens": 32, "do_sample": true, "temperature": 0.7});
 * its key "seed" (not a generation_config key) seeds sampling. tokenizer: NULL, or the tokenizer
 * that decodes the callback's text and the config's stop_strings. callback: may be NULL.
 * *out_ids[*out_count] gets the prompt followed by the generated tokens. Beam search and
 * num_return_sequences > 1 are refused (one row in, one row out). */
transformers_status transformers_generate(const transformers_model* model,
                                          const transformers_tokenizer* tokenizer,
                                          const int64_t* prompt_ids, size_t prompt_count,
                                          const char* generation_config_json,
                                          transformers_token_callback callback, void* user_data,
                                          int64_t** out_ids, size_t* out_count);

#ifdef __cplusplus
}
#endif

#endif /* TRANSFORMERS_C_H */
