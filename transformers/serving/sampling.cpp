#include "transformers/serving/sampling.h"

#include <limits>

#include "transformers/config/generation_config_overrides.h"
#include "transformers/serving/api_error.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

namespace {
constexpr int kMaxTopLogprobs = 20;  // OpenAI's limit
constexpr size_t kMaxStopStrings = 4;

std::vector<std::pair<std::vector<int64_t>, double>> parse_logit_bias(const Json& bias, int64_t vocab) {
  std::vector<std::pair<std::vector<int64_t>, double>> out;
  for (const auto& [key, value] : bias.items()) {
    int64_t id = -1;
    try {
      size_t used = 0;
      id = std::stoll(key, &used);
      if (used != key.size()) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0 || id >= vocab) throw bad_field("logit_bias", "keys must be token ids from 0 to " + std::to_string(vocab - 1) + ", got '" + key + "'");
    if (!value.is_number()) throw bad_field("logit_bias", "values must be numbers, got " + json_type_name(value));
    const double b = value.get<double>();
    if (!(b >= -100 && b <= 100)) throw bad_field("logit_bias", "values must be from -100 to 100");
    out.push_back({{id}, b});
  }
  return out;
}
}  // namespace

SamplingRequest parse_sampling(const Json& body, const ServedModel& model, const SamplingLimits& limits,
                               const std::vector<std::string>& max_tokens_fields) {
  SamplingRequest s;
  s.config = model.model->generation_config;
  if (auto extra = get_object(body, "generation_config", /*json_text_ok=*/true)) {
    try {
      s.config = with_overrides(s.config, *extra, "generation_config");
    } catch (const Error& e) {
      throw bad_field("generation_config", e.what());
    }
  }
  std::optional<int64_t> max_tokens;
  std::string max_field;
  for (const auto& f : max_tokens_fields) {
    auto v = get_integer(body, f, 1, std::numeric_limits<int64_t>::max());
    if (v && !max_tokens) {
      max_tokens = v;
      max_field = f;
    }
  }
  if (max_tokens && *max_tokens > limits.max_tokens)
    throw bad_field(max_field, "at most " + std::to_string(limits.max_tokens) + " on this server, got " + std::to_string(*max_tokens));
  if (max_tokens) s.config.max_new_tokens = *max_tokens;
  else if (!body.contains("generation_config"))
    s.config.max_new_tokens = std::min(limits.max_tokens, std::max(limits.default_tokens, s.config.max_new_tokens.value_or(0)));
  else s.config.max_new_tokens = std::min(limits.max_tokens, s.config.max_new_tokens.value_or(limits.default_tokens));

  if (auto t = get_number(body, "temperature", 0, 2)) {
    // v5: temperature 0 is greedy decoding; any other value samples with it.
    s.config.do_sample = *t > 0;
    if (*t > 0) s.config.temperature = *t;
  }
  if (auto p = get_number(body, "top_p", 0, 1)) {
    if (*p <= 0) throw bad_field("top_p", "must be > 0");
    s.config.top_p = *p;
  }
  if (auto fp = get_number(body, "frequency_penalty", -2, 2)) {
    if (*fp <= -1) throw bad_field("frequency_penalty", "must be > -1 here (it becomes repetition_penalty = 1 + penalty, as in v5)");
    s.config.repetition_penalty = 1 + *fp;
  }
  if (auto n = get_integer(body, "n", 1, kMaxChoices)) s.n = *n;
  if (auto seed = get_integer(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()))
    s.seed = static_cast<uint64_t>(*seed);
  else s.seed = limits.default_seed;
  if (auto bias = get_object(body, "logit_bias"))
    s.config.sequence_bias = parse_logit_bias(*bias, model.model->config().vocab_size);
  s.stop = get_string_or_strings(body, "stop", kMaxStopStrings);
  if (!s.stop.empty()) s.config.stop_strings = s.stop;

  const Json* lp = body.contains("logprobs") ? &body["logprobs"] : nullptr;
  const bool logprobs = lp && lp->is_boolean() ? lp->get<bool>() : false;
  if (lp && !lp->is_null() && !lp->is_boolean()) throw bad_field("logprobs", "expected a boolean, got " + json_type_name(*lp));
  const auto top = get_integer(body, "top_logprobs", 0, kMaxTopLogprobs);
  if (top && !logprobs) throw bad_field("top_logprobs", "needs logprobs: true");
  if (logprobs) s.top_logprobs = static_cast<int>(top.value_or(0));
  return s;
}

}  // namespace transformers::serving
