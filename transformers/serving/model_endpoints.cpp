// The endpoints that run no generation: GET /v1/models, POST /v1/embeddings (the pooling the
// model folder asks for: serving/sentence_embedding.h), POST /tokenize and /detokenize (vLLM's
// shapes).
#include <set>

#include "transformers/hub/cache_listing.h"
#include "transformers/serving/api_error.h"
#include "transformers/serving/endpoints.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

namespace {
using namespace detail;

constexpr size_t kMaxEmbeddingInputs = 256;
constexpr int64_t kMaxEmbeddingTokens = 8192;

std::string base64(const std::vector<float>& values) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());  // little-endian float32, as OpenAI
  const size_t n = values.size() * sizeof(float);
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t chunk = (uint32_t{bytes[i]} << 16) | (i + 1 < n ? uint32_t{bytes[i + 1]} << 8 : 0) | (i + 2 < n ? bytes[i + 2] : 0);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

// The inputs as token id lists: a string, a list of strings, a list of ids, a list of id lists.
std::vector<std::vector<int64_t>> embedding_inputs(const Json& input, const ServedModel& model) {
  std::vector<std::vector<int64_t>> rows;
  if (input.is_string() || (input.is_array() && !input.empty() && input[0].is_number_integer())) {
    rows.push_back(prompt_ids(input, "input", model));
    return rows;
  }
  if (!input.is_array() || input.empty()) throw bad_field("input", "expected a string, an array of strings or an array of token id arrays");
  if (input.size() > kMaxEmbeddingInputs) throw bad_field("input", "at most " + std::to_string(kMaxEmbeddingInputs) + " inputs per request");
  for (const Json& item : input) {
    if (!item.is_string() && !item.is_array()) throw bad_field("input", "each input must be a string or an array of token ids");
    rows.push_back(prompt_ids(item, "input", model));
  }
  return rows;
}

}  // namespace

Reply embeddings(const Request& request, ServerState& state) {
  auto model = model_of(request.body, state);
  if (!request.body.contains("input") || request.body["input"].is_null()) throw bad_field("input", "is required");
  const std::string format = get_string(request.body, "encoding_format").value_or("float");
  if (format != "float" && format != "base64") throw bad_field("encoding_format", "must be 'float' or 'base64'");
  const int64_t hidden = model->config().hidden_size;
  if (auto dims = get_integer(request.body, "dimensions", 1, 1 << 20); dims && *dims != hidden)
    throw bad_field("dimensions", "this model's embeddings have " + std::to_string(hidden) + " dimensions");
  const auto rows = embedding_inputs(request.body["input"], *model);
  int64_t tokens = 0;
  for (const auto& r : rows) {
    if (static_cast<int64_t>(r.size()) > kMaxEmbeddingTokens)
      throw bad_field("input", "an input has " + std::to_string(r.size()) + " tokens; at most " + std::to_string(kMaxEmbeddingTokens));
    tokens += static_cast<int64_t>(r.size());
  }
  Json data = Json::array();
  std::lock_guard lock(model->embedding_mutex);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<float> v = sentence_embedding(model->model.get(), model->encoder.get(), rows[i], model->pooling);
    Json e = {{"object", "embedding"}, {"index", i}};
    if (format == "base64") e["embedding"] = base64(v);
    else e["embedding"] = v;
    data.push_back(std::move(e));
  }
  return Reply::json({{"object", "list"}, {"data", data}, {"model", model->id}, {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

// The loaded models, then (when requests may name any model) those of the Hub cache as v5 lists
// them: `org/name` for main, `org/name@ref` for other refs.
Json list_models(ServerState& state) {
  Json data = Json::array();
  std::set<std::string> listed;
  for (const auto& m : state.models.loaded()) {
    data.push_back({{"id", m->id}, {"object", "model"}, {"created", m->created}, {"owned_by", "transformers-cpp"}});
    listed.insert(m->id);
  }
  if (!state.models.loads_on_demand()) return {{"object", "list"}, {"data", data}};
  for (const hub::CachedRepo& repo : hub::list_cached_models())
    for (const auto& [ref, sha] : repo.refs) {
      const std::string id = ref == "main" ? repo.repo_id : repo.repo_id + "@" + ref;
      if (listed.insert(id).second)
        data.push_back({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", repo.repo_id.substr(0, repo.repo_id.find('/'))}});
    }
  return {{"object", "list"}, {"data", data}};
}

Json tokenize(const Request& request, ServerState& state) {
  auto model = model_of(request.body, state);
  const bool add_special = get_bool(request.body, "add_special_tokens").value_or(true);
  std::optional<std::string> text = get_string(request.body, "prompt");
  if (!text) text = get_string(request.body, "text");
  if (!text) throw bad_field("prompt", "is required (a string)");
  const std::vector<int64_t> ids = model->tokenizer->encode(*text, add_special);
  return {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", model->config().max_position_embeddings}};
}

Json detokenize(const Request& request, ServerState& state) {
  auto model = model_of(request.body, state);
  if (!request.body.contains("tokens")) throw bad_field("tokens", "is required (an array of token ids)");
  const Json& tokens = request.body["tokens"];
  if (!tokens.is_array()) throw bad_field("tokens", "expected an array of token ids, got " + json_type_name(tokens));
  const std::vector<int64_t> ids = tokens.empty() ? std::vector<int64_t>{} : prompt_ids(tokens, "tokens", *model);
  const bool skip = get_bool(request.body, "skip_special_tokens").value_or(false);
  DecodeOptions decode;
  decode.skip_special_tokens = skip;
  return {{"prompt", model->tokenizer->decode(ids, decode)}};
}

}  // namespace transformers::serving
