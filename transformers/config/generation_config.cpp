#include "transformers/config/generation_config.h"

#include "transformers/config/config_values.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/hub/hub_cache.h"

namespace transformers {
namespace {

// A field that v5 accepts as an int or a list of ints (eos_token_id, forced_eos_token_id).
std::vector<int64_t> int_or_list(const Json& json, const std::string& key, const std::string& w) {
  auto it = json.find(key);
  if (it == json.end()) return {};
  return config_int_or_list_value(*it, config_detail::key_name(w, key));
}

}  // namespace

GenerationConfig GenerationConfig::from_json(const Json& json, const std::string& w) {
  TCPP_CHECK(json.is_object(), ConfigError, w, ": must be a JSON object");
  GenerationConfig g;
  g.raw = json;
  g.max_new_tokens = config_get_optional<int64_t>(json, "max_new_tokens", w);
  g.max_length = config_get_or<int64_t>(json, "max_length", 20, w);
  g.min_length = config_get_or<int64_t>(json, "min_length", 0, w);
  g.min_new_tokens = config_get_or<int64_t>(json, "min_new_tokens", 0, w);
  if (auto it = json.find("early_stopping"); it != json.end() && !it->is_null()) {
    if (it->is_boolean()) g.early_stopping = it->get<bool>() ? EarlyStopping::True : EarlyStopping::False;
    else if (it->is_string() && it->get<std::string>() == "never") g.early_stopping = EarlyStopping::Never;
    else throw ConfigError(detail::concat(w, ": early_stopping must be true, false or \"never\", got ", short_dump(*it)));
  }
  g.max_time = config_get_optional<double>(json, "max_time", w);
  if (auto it = json.find("stop_strings"); it != json.end() && !it->is_null()) {
    if (it->is_string()) g.stop_strings = {it->get<std::string>()};
    else g.stop_strings = config_get<std::vector<std::string>>(json, "stop_strings", w);
  }
  g.do_sample = config_get_or<bool>(json, "do_sample", false, w);
  g.num_beams = config_get_or<int64_t>(json, "num_beams", 1, w);
  g.temperature = config_get_or<double>(json, "temperature", 1.0, w);
  g.top_k = config_get_or<int64_t>(json, "top_k", 50, w);
  g.top_p = config_get_or<double>(json, "top_p", 1.0, w);
  g.min_p = config_get_or<double>(json, "min_p", 0.0, w);
  g.top_h = config_get_optional<double>(json, "top_h", w);
  g.typical_p = config_get_or<double>(json, "typical_p", 1.0, w);
  g.epsilon_cutoff = config_get_or<double>(json, "epsilon_cutoff", 0.0, w);
  g.eta_cutoff = config_get_or<double>(json, "eta_cutoff", 0.0, w);
  g.repetition_penalty = config_get_or<double>(json, "repetition_penalty", 1.0, w);
  g.length_penalty = config_get_or<double>(json, "length_penalty", 1.0, w);
  g.no_repeat_ngram_size = config_get_or<int64_t>(json, "no_repeat_ngram_size", 0, w);
  g.bad_words_ids = config_get_or<std::vector<std::vector<int64_t>>>(json, "bad_words_ids", {}, w);
  if (auto it = json.find("sequence_bias"); it != json.end() && !it->is_null()) {
    // save_pretrained writes the {tuple: bias} dict as a list of [[ids...], bias] pairs.
    TCPP_CHECK(it->is_array(), ConfigError, w, ": sequence_bias must be a list of [[token ids], bias] pairs");
    for (const Json& pair : *it) {
      TCPP_CHECK(pair.is_array() && pair.size() == 2 && pair[0].is_array() && pair[1].is_number(), ConfigError, w,
                 ": sequence_bias entries must be [[token ids], bias], got ", short_dump(pair));
      g.sequence_bias.emplace_back(config_int_list_value(pair[0], config_detail::key_name(w, "sequence_bias")),
                                   pair[1].get<double>());
    }
  }
  g.suppress_tokens = config_get_or<std::vector<int64_t>>(json, "suppress_tokens", {}, w);
  g.begin_suppress_tokens = config_get_or<std::vector<int64_t>>(json, "begin_suppress_tokens", {}, w);
  g.forced_bos_token_id = config_get_optional<int64_t>(json, "forced_bos_token_id", w);
  g.forced_eos_token_ids = int_or_list(json, "forced_eos_token_id", w);
  if (auto it = json.find("exponential_decay_length_penalty"); it != json.end() && !it->is_null()) {
    const std::string what = config_detail::key_name(w, "exponential_decay_length_penalty");
    TCPP_CHECK(it->is_array() && it->size() == 2, ConfigError, what, " must be [start_index, decay_factor], got ",
               short_dump(*it));
    g.exponential_decay_length_penalty =
        std::make_pair(config_int_value((*it)[0], what + " start_index"), config_number_value((*it)[1], what + " decay_factor"));
  }
  g.remove_invalid_values = config_get_or<bool>(json, "remove_invalid_values", false, w);
  g.renormalize_logits = config_get_or<bool>(json, "renormalize_logits", false, w);
  g.num_return_sequences = config_get_or<int64_t>(json, "num_return_sequences", 1, w);
  g.output_scores = config_get_or<bool>(json, "output_scores", false, w);
  g.output_logits = config_get_or<bool>(json, "output_logits", false, w);
  g.output_hidden_states = config_get_or<bool>(json, "output_hidden_states", false, w);
  g.output_attentions = config_get_or<bool>(json, "output_attentions", false, w);
  g.return_dict_in_generate = config_get_or<bool>(json, "return_dict_in_generate", false, w);
  g.bos_token_id = config_get_optional<int64_t>(json, "bos_token_id", w);
  g.pad_token_id = config_get_optional<int64_t>(json, "pad_token_id", w);
  g.eos_token_ids = int_or_list(json, "eos_token_id", w);
  g.cache_implementation = config_get_optional<std::string>(json, "cache_implementation", w);
  g.max_cache_len = config_get_optional<int64_t>(json, "max_cache_len", w);
  g.use_cache = config_get_or<bool>(json, "use_cache", true, w);
  return g;
}

GenerationConfig GenerationConfig::from_pretrained(const std::filesystem::path& name, const PretrainedConfig* mc) {
  const auto file = hub::resolve_pretrained_path(name) / "generation_config.json";
  GenerationConfig g = std::filesystem::exists(file) ? from_json(read_json_file(file), file.string()) : GenerationConfig{};
  if (mc) {
    if (!g.bos_token_id) g.bos_token_id = mc->bos_token_id;
    if (!g.pad_token_id) g.pad_token_id = mc->pad_token_id;
    if (g.eos_token_ids.empty()) g.eos_token_ids = mc->eos_token_ids;
  }
  return g;
}

Json GenerationConfig::to_json() const {
  Json out = raw.is_object() ? raw : Json::object();
  const GenerationConfig as_read = from_json(out);
  auto put = [&](const char* key, const auto& now, const auto& before, auto to_json_value) {
    if (!(now == before)) out[key] = to_json_value(now);
  };
  auto same = [](const auto& v) { return Json(v); };
  auto opt = [](const auto& v) { return v ? Json(*v) : Json(nullptr); };
  auto int_or_list = [](const std::vector<int64_t>& v) {
    return v.empty() ? Json(nullptr) : v.size() == 1 ? Json(v[0]) : Json(v);
  };
  put("max_new_tokens", max_new_tokens, as_read.max_new_tokens, opt);
  put("max_length", max_length, as_read.max_length, same);
  put("min_length", min_length, as_read.min_length, same);
  put("min_new_tokens", min_new_tokens, as_read.min_new_tokens, same);
  put("early_stopping", early_stopping, as_read.early_stopping, [](EarlyStopping e) {
    return e == EarlyStopping::Never ? Json("never") : Json(e == EarlyStopping::True);
  });
  put("max_time", max_time, as_read.max_time, opt);
  put("stop_strings", stop_strings, as_read.stop_strings, same);
  put("do_sample", do_sample, as_read.do_sample, same);
  put("num_beams", num_beams, as_read.num_beams, same);
  put("temperature", temperature, as_read.temperature, same);
  put("top_k", top_k, as_read.top_k, same);
  put("top_p", top_p, as_read.top_p, same);
  put("min_p", min_p, as_read.min_p, same);
  put("top_h", top_h, as_read.top_h, opt);
  put("typical_p", typical_p, as_read.typical_p, same);
  put("epsilon_cutoff", epsilon_cutoff, as_read.epsilon_cutoff, same);
  put("eta_cutoff", eta_cutoff, as_read.eta_cutoff, same);
  put("repetition_penalty", repetition_penalty, as_read.repetition_penalty, same);
  put("length_penalty", length_penalty, as_read.length_penalty, same);
  put("no_repeat_ngram_size", no_repeat_ngram_size, as_read.no_repeat_ngram_size, same);
  put("bad_words_ids", bad_words_ids, as_read.bad_words_ids, same);
  put("sequence_bias", sequence_bias, as_read.sequence_bias, [](const auto& v) {
    Json list = Json::array();
    for (const auto& [ids, bias] : v) list.push_back(Json::array({ids, bias}));
    return list;
  });
  put("suppress_tokens", suppress_tokens, as_read.suppress_tokens, same);
  put("begin_suppress_tokens", begin_suppress_tokens, as_read.begin_suppress_tokens, same);
  put("forced_bos_token_id", forced_bos_token_id, as_read.forced_bos_token_id, opt);
  put("forced_eos_token_id", forced_eos_token_ids, as_read.forced_eos_token_ids, int_or_list);
  put("exponential_decay_length_penalty", exponential_decay_length_penalty, as_read.exponential_decay_length_penalty,
      [](const auto& v) { return v ? Json::array({v->first, v->second}) : Json(nullptr); });
  put("remove_invalid_values", remove_invalid_values, as_read.remove_invalid_values, same);
  put("renormalize_logits", renormalize_logits, as_read.renormalize_logits, same);
  put("num_return_sequences", num_return_sequences, as_read.num_return_sequences, same);
  put("output_scores", output_scores, as_read.output_scores, same);
  put("output_logits", output_logits, as_read.output_logits, same);
  put("output_hidden_states", output_hidden_states, as_read.output_hidden_states, same);
  put("output_attentions", output_attentions, as_read.output_attentions, same);
  put("return_dict_in_generate", return_dict_in_generate, as_read.return_dict_in_generate, same);
  put("bos_token_id", bos_token_id, as_read.bos_token_id, opt);
  put("pad_token_id", pad_token_id, as_read.pad_token_id, opt);
  put("eos_token_id", eos_token_ids, as_read.eos_token_ids, int_or_list);
  put("cache_implementation", cache_implementation, as_read.cache_implementation, opt);
  put("max_cache_len", max_cache_len, as_read.max_cache_len, opt);
  put("use_cache", use_cache, as_read.use_cache, same);
  return out;
}

int64_t GenerationConfig::new_tokens_for(int64_t input_length) const {
  return max_new_tokens ? *max_new_tokens : std::max<int64_t>(0, max_length - input_length);
}

void GenerationConfig::validate() const {
  auto fail = [](auto&&... parts) { throw ValueError(detail::concat("generation config: ", parts...)); };
  if (max_new_tokens && *max_new_tokens <= 0) fail("max_new_tokens must be greater than 0, got ", *max_new_tokens);
  if (max_new_tokens && *max_new_tokens > kMaxGenerationLength)
    fail("max_new_tokens is ", *max_new_tokens, ", above the limit of ", kMaxGenerationLength, " tokens");
  if (max_length < 0) fail("max_length must be >= 0, got ", max_length);
  if (max_length > kMaxGenerationLength)
    fail("max_length is ", max_length, ", above the limit of ", kMaxGenerationLength, " tokens");
  if (max_cache_len && *max_cache_len > kMaxGenerationLength)
    fail("max_cache_len is ", *max_cache_len, ", above the limit of ", kMaxGenerationLength, " tokens");
  if (num_beams > kMaxBeams) fail("num_beams is ", num_beams, ", above the limit of ", kMaxBeams);
  if (num_return_sequences > kMaxReturnSequences)
    fail("num_return_sequences is ", num_return_sequences, ", above the limit of ", kMaxReturnSequences);
  if (min_new_tokens < 0 || min_length < 0) fail("min_length and min_new_tokens must be >= 0");
  if (max_time && *max_time <= 0) fail("max_time must be a positive number of seconds, got ", *max_time);
  if (num_beams < 1) fail("num_beams must be >= 1, got ", num_beams);
  if (num_return_sequences < 1) fail("num_return_sequences must be >= 1, got ", num_return_sequences);
  if (num_return_sequences != 1) {
    if (num_beams == 1 && !do_sample)
      fail("greedy methods without beam search do not support num_return_sequences different than 1 (got ",
           num_return_sequences, "); set do_sample=true or num_beams >= num_return_sequences");
    if (num_beams > 1 && num_return_sequences > num_beams)
      fail("num_return_sequences (", num_return_sequences, ") has to be smaller or equal to num_beams (", num_beams, ")");
  }
  if (do_sample) {
    if (!(temperature > 0)) fail("temperature has to be a strictly positive float when do_sample=true, got ", temperature);
    if (top_k < 0) fail("top_k has to be a non-negative integer (0 disables it), got ", top_k);
    if (!(top_p >= 0 && top_p <= 1)) fail("top_p has to be a float in [0, 1], got ", top_p);
    if (!(min_p >= 0 && min_p <= 1)) fail("min_p has to be a float in [0, 1], got ", min_p);
    if (top_h && !(*top_h > 0 && *top_h <= 1)) fail("top_h has to be a float in (0, 1], got ", *top_h);
    if (!(typical_p > 0 && typical_p <= 1)) fail("typical_p has to be a float in (0, 1], got ", typical_p);
    if (!(epsilon_cutoff >= 0 && epsilon_cutoff < 1)) fail("epsilon_cutoff has to be a float in [0, 1), got ", epsilon_cutoff);
    if (!(eta_cutoff >= 0 && eta_cutoff < 1)) fail("eta_cutoff has to be a float in [0, 1), got ", eta_cutoff);
  }
  if (!(repetition_penalty > 0)) fail("repetition_penalty has to be a strictly positive float, got ", repetition_penalty);
  if (no_repeat_ngram_size < 0) fail("no_repeat_ngram_size has to be >= 0, got ", no_repeat_ngram_size);
  for (const auto& w : bad_words_ids)
    if (w.empty()) fail("bad_words_ids must not contain an empty list");
  for (const auto& [ids, bias] : sequence_bias)
    if (ids.empty()) fail("sequence_bias must not contain an empty token sequence");
  if (cache_implementation) {
    static const char* kKnown[] = {"dynamic", "static", "offloaded", "offloaded_static", "sliding_window", "hybrid",
                                   "hybrid_chunked", "offloaded_hybrid", "offloaded_hybrid_chunked", "quantized"};
    bool known = false;
    for (const char* k : kKnown) known = known || *cache_implementation == k;
    if (!known)
      fail("cache_implementation '", *cache_implementation,
           "' is not one of dynamic, static, offloaded, offloaded_static, quantized (or the hybrid aliases)");
  }
  if (max_cache_len && *max_cache_len <= 0) fail("max_cache_len must be > 0, got ", *max_cache_len);
  check_token_ids(0);
}

void GenerationConfig::check_token_ids(int64_t vocab_size) const {
  auto check = [&](const char* field, int64_t id, int64_t limit) {
    if (id < 0 || (limit > 0 && id >= limit))
      throw ValueError(detail::concat("generation config: ", field, " contains token id ", id, ", outside the vocabulary",
                                      limit > 0 ? detail::concat(" [0, ", limit, ")") : std::string(" (< 0)")));
  };
  auto check_all = [&](const char* field, const std::vector<int64_t>& ids) {
    for (int64_t id : ids) check(field, id, vocab_size);
  };
  if (bos_token_id) check("bos_token_id", *bos_token_id, vocab_size);
  if (pad_token_id) check("pad_token_id", *pad_token_id, vocab_size);
  else if (!eos_token_ids.empty()) check("eos_token_id (the pad token: pad_token_id is unset)", eos_token_ids[0], vocab_size);
  if (forced_bos_token_id) check("forced_bos_token_id", *forced_bos_token_id, vocab_size);
  for (int64_t id : eos_token_ids) check("eos_token_id", id, 0);
  check_all("forced_eos_token_id", forced_eos_token_ids);
  check_all("suppress_tokens", suppress_tokens);
  check_all("begin_suppress_tokens", begin_suppress_tokens);
  for (const auto& word : bad_words_ids) check_all("bad_words_ids", word);
  for (const auto& [ids, bias] : sequence_bias) check_all("sequence_bias", ids);
}

}  // namespace transformers
