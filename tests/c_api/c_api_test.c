/* The C API from a C program (compiled as C99, no C++ in sight): load a tiny model and its
 * tokenizer, tokenize, render a chat template, generate greedily with a token callback, stop from
 * the callback, and the status codes and last-error messages of bad calls.
 *   test_c_api MODEL_DIR PROMPT NEW_TOKENS "EXPECTED IDS"
 * EXPECTED IDS: what the C++ API gives for the same greedy call (`transformers generate --json`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transformers/transformers_c.h"

static int failures = 0;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

#define CHECK_OK(call) CHECK((call) == TRANSFORMERS_OK, "%s", transformers_last_error())

/* "1 2 3" -> ids; returns the count. */
static size_t parse_ids(const char* text, int64_t* ids, size_t capacity) {
  size_t n = 0;
  char* end;
  for (long long v = strtoll(text, &end, 10); end != text && n < capacity;
       v = strtoll(text, &end, 10)) {
    ids[n++] = v;
    text = end;
  }
  return n;
}

static int same_ids(const int64_t* a, size_t na, const int64_t* b, size_t nb) {
  return na == nb && (na == 0 || memcmp(a, b, na * sizeof(int64_t)) == 0);
}

struct collected {
  int64_t ids[64];
  size_t count;
  size_t stop_after; /* 0: never stop */
  char text[4096];
};

static int collect(int64_t token_id, const char* text, void* user_data) {
  struct collected* c = (struct collected*)user_data;
  if (c->count < 64) c->ids[c->count++] = token_id;
  if (text && strlen(c->text) + strlen(text) < sizeof c->text) strcat(c->text, text);
  return c->stop_after != 0 && c->count >= c->stop_after;
}

static void check_errors(const char* model_dir) {
  transformers_model* model = (transformers_model*)1;
  CHECK(transformers_model_load("/nonexistent/model", NULL, &model) != TRANSFORMERS_OK,
        "loaded a missing folder");
  CHECK(model == NULL, "a failed load leaves *out NULL");
  CHECK(strstr(transformers_last_error(), "/nonexistent/model") != NULL, "message: %s",
        transformers_last_error());

  transformers_tokenizer* tok = NULL;
  CHECK(transformers_tokenizer_load(NULL, &tok) == TRANSFORMERS_ERROR_INVALID_ARGUMENT,
        "NULL path");
  CHECK(strstr(transformers_last_error(), "path") != NULL, "message: %s",
        transformers_last_error());

  CHECK_OK(transformers_tokenizer_load(model_dir, &tok));
  CHECK(transformers_last_error()[0] == '\0', "a success clears the last error: %s",
        transformers_last_error());
  char* text = NULL;
  CHECK(transformers_apply_chat_template(tok, "{\"role\": \"user\"}", 1, &text, NULL, NULL) ==
            TRANSFORMERS_ERROR_INVALID_ARGUMENT,
        "a conversation that is not an array");
  CHECK(strstr(transformers_last_error(), "conversation_json") != NULL, "message: %s",
        transformers_last_error());
  CHECK(transformers_apply_chat_template(tok, "[{\"role\": ", 1, &text, NULL, NULL) ==
            TRANSFORMERS_ERROR_FORMAT,
        "malformed JSON: %s", transformers_last_error());
  transformers_tokenizer_free(tok);
  transformers_model_free(NULL);
  transformers_tokenizer_free(NULL);
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MODEL_DIR PROMPT NEW_TOKENS \"EXPECTED IDS\"\n", argv[0]);
    return 2;
  }
  const char* model_dir = argv[1];
  const char* prompt = argv[2];
  const int new_tokens = atoi(argv[3]);
  int64_t expected[256];
  const size_t expected_count = parse_ids(argv[4], expected, 256);
  CHECK(expected_count > 0, "no expected ids given");
  CHECK(strlen(transformers_version()) > 0, "empty version");

  check_errors(model_dir);

  transformers_tokenizer* tok = NULL;
  transformers_model* model = NULL;
  CHECK_OK(transformers_tokenizer_load(model_dir, &tok));
  CHECK_OK(transformers_model_load(model_dir, "float32", &model));
  if (!tok || !model) return 1;

  /* Tokenize: decoding the ids (special tokens skipped) gives the prompt back. */
  int64_t* ids = NULL;
  size_t count = 0;
  CHECK_OK(transformers_tokenize(tok, prompt, 1, &ids, &count));
  char* decoded = NULL;
  CHECK_OK(transformers_decode(tok, ids, count, 1, &decoded));
  CHECK(decoded && strcmp(decoded, prompt) == 0, "decoded '%s'", decoded ? decoded : "(null)");
  transformers_free_string(decoded);

  /* Chat template: the rendered text holds the message, and its ids are the text's tokens
   * without added special tokens (as apply_chat_template(tokenize=True) does in v5). */
  char* chat_text = NULL;
  int64_t* chat_ids = NULL;
  size_t chat_count = 0;
  CHECK_OK(transformers_apply_chat_template(tok,
                                            "[{\"role\": \"user\", \"content\": \"Hello there\"}]",
                                            1, &chat_text, &chat_ids, &chat_count));
  CHECK(chat_text && strstr(chat_text, "Hello there") != NULL, "rendered '%s'",
        chat_text ? chat_text : "(null)");
  int64_t* text_ids = NULL;
  size_t text_count = 0;
  if (chat_text) CHECK_OK(transformers_tokenize(tok, chat_text, 0, &text_ids, &text_count));
  CHECK(chat_count > 0 && same_ids(chat_ids, chat_count, text_ids, text_count),
        "chat ids differ from the text's");
  transformers_free_string(chat_text);
  transformers_free_ids(chat_ids);
  transformers_free_ids(text_ids);

  /* Greedy generation: the ids the C++ API gives, and the callback saw every new token. */
  char config[128];
  snprintf(config, sizeof config, "{\"max_new_tokens\": %d, \"do_sample\": false}", new_tokens);
  struct collected seen = {{0}, 0, 0, {0}};
  int64_t* out = NULL;
  size_t out_count = 0;
  CHECK_OK(transformers_generate(model, tok, ids, count, config, collect, &seen, &out, &out_count));
  CHECK(same_ids(out, out_count, expected, expected_count), "generated %zu ids, expected %zu",
        out_count, expected_count);
  CHECK(out_count == count + seen.count &&
            same_ids(out + count, out_count - count, seen.ids, seen.count),
        "the callback saw %zu tokens of %zu", seen.count, out_count - count);
  char* new_text = NULL;
  CHECK_OK(transformers_decode(tok, out + count, out_count - count, 0, &new_text));
  CHECK(new_text && strcmp(new_text, seen.text) == 0, "callback text '%s', decoded '%s'", seen.text,
        new_text ? new_text : "(null)");
  printf("ids:");
  for (size_t i = 0; i < out_count; ++i) printf(" %lld", (long long)out[i]);
  printf("\ntext: %s%s\n", prompt, seen.text);
  transformers_free_string(new_text);
  transformers_free_ids(out);

  /* The callback stops generation after its second token. */
  struct collected stopped = {{0}, 0, 2, {0}};
  CHECK_OK(
      transformers_generate(model, NULL, ids, count, config, collect, &stopped, &out, &out_count));
  CHECK(out_count == count + 2, "stopped after %zu new tokens", out_count - count);
  CHECK(stopped.text[0] == '\0', "text without a tokenizer: '%s'", stopped.text);
  transformers_free_ids(out);

  /* "seed" seeds sampling: the same seed, the same ids; a bad one is refused by name. */
  const char* sampled =
      "{\"max_new_tokens\": 8, \"do_sample\": true, \"temperature\": 2.0, \"seed\": 7}";
  int64_t *first = NULL, *second = NULL;
  size_t first_count = 0, second_count = 0;
  CHECK_OK(
      transformers_generate(model, NULL, ids, count, sampled, NULL, NULL, &first, &first_count));
  CHECK_OK(
      transformers_generate(model, NULL, ids, count, sampled, NULL, NULL, &second, &second_count));
  CHECK(first_count > count && same_ids(first, first_count, second, second_count),
        "seeded runs differ");
  transformers_free_ids(first);
  transformers_free_ids(second);
  CHECK(transformers_generate(model, NULL, ids, count, "{\"seed\": -1}", NULL, NULL, &out,
                              &out_count) == TRANSFORMERS_ERROR_INVALID_ARGUMENT,
        "a negative seed accepted");
  CHECK(strstr(transformers_last_error(), "seed") != NULL, "message: %s",
        transformers_last_error());

  /* Beam search returns several rows: refused, naming the keys. */
  CHECK(transformers_generate(model, tok, ids, count, "{\"num_beams\": 2}", NULL, NULL, &out,
                              &out_count) == TRANSFORMERS_ERROR_INVALID_ARGUMENT,
        "beam search accepted");
  CHECK(strstr(transformers_last_error(), "num_beams") != NULL, "message: %s",
        transformers_last_error());

  transformers_free_ids(ids);
  transformers_model_free(model);
  transformers_tokenizer_free(tok);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
