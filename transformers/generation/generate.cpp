// generate(): resolves the config and inputs as v5's GenerationMixin.generate does (defaults,
// validation, max_length from max_new_tokens, attention mask, pad token, cache choice, expansion
// for beams / return sequences), then runs greedy search or sampling here, beam search in
// beam_search.cpp.
#include "transformers/generation/generate.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <unistd.h>

#include "transformers/generation/decoding.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace generation_detail {

StepScores Decoding::step(const std::vector<std::vector<int64_t>>& rows, GenerateOutput& out) {
  CausalLMOutput o = inputs.forward(model, cache.get(), rows, config.output_hidden_states, config.output_attentions);
  const Tensor last = o.logits.select(1, 0);  // [N, V]
  StepScores logits{last.size(0), last.size(1), ops::to_float_vector(last)};
  if (config.output_logits) out.logits.push_back(logits.tensor());
  if (config.output_hidden_states) out.hidden_states.push_back(std::move(o.hidden_states));
  if (config.output_attentions) out.attentions.push_back(std::move(o.attentions));
  return logits;
}

void check_step_scores(const StepScores& scores, int64_t step, bool allow_positive_inf) {
  for (int64_t r = 0; r < scores.rows; ++r)
    for (int64_t v = 0; v < scores.vocab; ++v) {
      const float x = scores.row(r)[static_cast<size_t>(v)];
      TCPP_CHECK(!std::isnan(x) && (allow_positive_inf || x != INFINITY), ValueError, "generate: step ", step,
                 ": the scores of row ", r, " hold ", std::isnan(x) ? "NaN" : "inf", " (token ", v,
                 "); the model's weights or inputs produce invalid logits (remove_invalid_values=true replaces them)");
    }
}

namespace {

// v5's _sample (greedy when do_sample is false).
GenerateOutput sample_loop(Decoding& d, std::vector<std::vector<int64_t>> rows) {
  const GenerationConfig& g = d.config;
  GenerateOutput out;
  const int64_t N = static_cast<int64_t>(rows.size());
  const bool has_eos = !g.eos_token_ids.empty();
  // v5 pads finished rows only when an eos criterion exists; pad falls back to the first eos.
  const int64_t pad = g.pad_token_id ? *g.pad_token_id : (has_eos ? g.eos_token_ids[0] : 0);
  std::vector<bool> unfinished(static_cast<size_t>(N), true);
  if (d.options.streamer) d.options.streamer->put(rows[0]);
  while (true) {
    StepScores scores = d.step(rows, out);
    d.processors.apply(rows, scores.values);
    check_step_scores(scores, static_cast<int64_t>(rows[0].size()) - d.prompt_length, !g.do_sample);
    if (d.output_scores) out.scores.push_back(scores.tensor());
    std::vector<int64_t> next(static_cast<size_t>(N));
    for (int64_t r = 0; r < N; ++r) {
      const std::span<const float> row = std::as_const(scores).row(r);
      int64_t t = g.do_sample ? sample_index(softmax(row), d.rng) : argmax(row);
      if (has_eos && !unfinished[r]) t = pad;
      next[r] = t;
      rows[r].push_back(t);
    }
    if (d.options.streamer) d.options.streamer->put({next[0]});
    if (d.options.on_step) d.options.on_step(next);
    bool any = false;
    for (int64_t r = 0; r < N; ++r) {
      if (unfinished[r] && d.criteria.is_done(rows[r])) unfinished[r] = false;
      any = any || unfinished[r];
    }
    if (!any) break;
  }
  if (d.options.streamer) d.options.streamer->end();
  out.sequences = std::move(rows);
  return out;
}

std::vector<std::vector<int64_t>> to_rows(const Tensor& t, const char* what) {
  TCPP_CHECK(t.dtype() == DType::I64 || t.dtype() == DType::I32 || t.dtype() == DType::U8, ShapeError, what,
             " must be an integer tensor");
  const int64_t B = t.size(0), L = t.size(1);
  const std::vector<int64_t> values = ops::to_int64_vector(t);
  std::vector<std::vector<int64_t>> rows(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) rows[b].assign(values.begin() + b * L, values.begin() + (b + 1) * L);
  return rows;
}

// The mask v5 uses: the one given, else inferred from pad_token_id when the pad token occurs in
// the input and differs from eos; empty when no row is padded (the unmasked fast path).
std::vector<std::vector<int64_t>> prompt_mask(const std::vector<std::vector<int64_t>>& ids, const GenerationConfig& g,
                                              const Tensor* given) {
  std::vector<std::vector<int64_t>> mask;
  if (given) {
    TCPP_CHECK(given->dim() == 2 && given->size(0) == static_cast<int64_t>(ids.size()) &&
                   given->size(1) == static_cast<int64_t>(ids[0].size()),
               ShapeError, "generate: attention_mask ", given->describe(), " must have the shape of input_ids [",
               ids.size(), ", ", ids[0].size(), "]");
    mask = to_rows(*given, "attention_mask");
    for (auto& row : mask)
      for (auto& v : row) v = v != 0;
  } else if (g.pad_token_id && std::find(g.eos_token_ids.begin(), g.eos_token_ids.end(), *g.pad_token_id) == g.eos_token_ids.end()) {
    mask.resize(ids.size());
    for (size_t r = 0; r < ids.size(); ++r)
      for (int64_t t : ids[r]) mask[r].push_back(t != *g.pad_token_id);
  }
  bool padded = false;
  for (const auto& row : mask) padded = padded || std::find(row.begin(), row.end(), 0) != row.end();
  if (!padded) return {};
  for (size_t r = 0; r < mask.size(); ++r) {
    // A given mask that ends in 0 is right padding, which decoder-only generation cannot continue
    // from (v5 warns and produces garbage). An inferred one may just mean a prompt that ends with
    // the pad token's id, which v5 accepts: only a given mask is refused.
    TCPP_CHECK(!given || mask[r].back() != 0, ValueError, "generate: row ", r,
               " is right-padded (attention_mask ends in 0); decoder-only models need LEFT padding");
    TCPP_CHECK(std::find(mask[r].begin(), mask[r].end(), 1) != mask[r].end(), ValueError, "generate: row ", r,
               " has no token (attention_mask is all 0)");
  }
  return mask;
}

// A static cache preallocates layers x 2 x rows x length x (kv heads x head_dim) floats at the
// first step: refused before anything runs when that exceeds the machine's memory.
void check_static_cache_size(const CausalLM& model, size_t layers, int64_t rows, int64_t length) {
  const PretrainedConfig& c = model.config();
  const double width = c.num_key_value_heads > 0 && c.head_dim > 0
                           ? static_cast<double>(c.num_key_value_heads * c.head_dim)
                           : static_cast<double>(std::max<int64_t>(c.hidden_size, c.get_or<int64_t>("n_embd", 1)));
  const double bytes = static_cast<double>(layers) * 2.0 * static_cast<double>(rows) * static_cast<double>(length) *
                       width * sizeof(float);
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  TCPP_CHECK(bytes <= memory, ValueError, "generate: a static cache of ", length, " tokens (max_length / max_cache_len) for ",
             rows, " rows needs ", bytes / (1 << 30), " GiB, more than this machine's ", memory / (1 << 30),
             " GiB; lower max_new_tokens, max_cache_len or num_beams");
}


}  // namespace
}  // namespace generation_detail

GenerateOutput generate(const CausalLM& model, const Tensor& input_ids, const GenerationConfig& config,
                        const GenerateOptions& options) {
  using namespace generation_detail;
  TCPP_CHECK(input_ids.dim() == 2 && input_ids.dtype() == DType::I64 && input_ids.size(0) > 0 && input_ids.size(1) > 0,
             ShapeError, "generate: input_ids must be int64 [batch, length] with batch, length > 0, got ",
             input_ids.describe());
  config.validate();
  config.check_token_ids(model.config().vocab_size);
  TCPP_CHECK(!options.streamer || (input_ids.size(0) == 1 && config.num_beams == 1 && config.num_return_sequences == 1),
             ValueError, "generate: a streamer needs batch size 1 and no beam search / num_return_sequences");
  const int64_t B = input_ids.size(0), L = input_ids.size(1);
  const PretrainedConfig& mc = model.config();
  check_sequence_length(mc, L, "generate");

  GenerationConfig g = config;
  g.max_length = L + config.new_tokens_for(L);
  g.output_scores = config.output_scores || options.output_scores;
  std::vector<std::vector<int64_t>> ids = to_rows(input_ids, "input_ids");
  TCPP_CHECK(g.max_length > L, ValueError, "generate: the input has ", L, " tokens but max_length is ", g.max_length,
             "; increase max_length or, better, set max_new_tokens");
  std::vector<std::vector<int64_t>> mask = prompt_mask(ids, g, options.attention_mask);

  // Expand: each batch row repeated num_beams (beam search) or num_return_sequences times.
  const int64_t expand = g.num_beams > 1 ? g.num_beams : g.num_return_sequences;
  std::vector<std::vector<int64_t>> rows, row_mask;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t e = 0; e < expand; ++e) {
      rows.push_back(ids[b]);
      if (!mask.empty()) row_mask.push_back(mask[b]);
    }

  std::shared_ptr<Cache> cache;
  if (options.use_cache && g.use_cache) {
    std::unique_ptr<Cache> layout = model.make_cache();
    const std::string impl = g.cache_implementation.value_or("dynamic");
    if (impl == "static" || impl == "offloaded_static" || impl == "sliding_window" || impl == "hybrid" ||
        impl == "hybrid_chunked" || impl == "offloaded_hybrid" || impl == "offloaded_hybrid_chunked") {
      const int64_t length = std::max(g.max_length, g.max_cache_len.value_or(0));
      check_static_cache_size(model, layout->num_layers(), static_cast<int64_t>(rows.size()), length);
      cache = Cache::make_static(layout->layer_windows(), length);
    } else if (impl == "dynamic" || impl == "offloaded") {
      cache = std::move(layout);  // offloading has no meaning on one CPU memory
    } else {
      throw NotImplementedError(detail::concat("generate: cache_implementation '", impl, "' is not implemented"));
    }
  }

  Decoding d{model, g, options, {}, {}, cache, StepInputs(std::move(row_mask)), SamplingRng(options.seed.value_or(random_seed()))};
  d.batch_size = B;
  d.prompt_length = L;
  d.output_scores = g.output_scores;
  d.processors = make_logits_processors(g,
                                        {.input_length = L,
                                         .max_length = g.max_length,
                                         .prefix_allowed_tokens_fn = options.prefix_allowed_tokens_fn,
                                         .rows_per_item = expand},
                                        options.logits_processors);
  d.criteria.add(std::make_shared<MaxLengthCriteria>(g.max_length));
  if (g.max_time) d.criteria.add(std::make_shared<MaxTimeCriteria>(*g.max_time));
  if (!g.stop_strings.empty()) d.criteria.add(std::make_shared<StopStringCriteria>(g.stop_strings, options.decode));
  if (!g.eos_token_ids.empty()) d.criteria.add(std::make_shared<EosTokenCriteria>(g.eos_token_ids));
  for (const auto& c : options.stopping_criteria) d.criteria.add(c);

  GenerateOutput out = g.num_beams > 1 ? beam_search(d, std::move(rows)) : sample_loop(d, std::move(rows));
  out.past_key_values = cache;
  return out;
}

}  // namespace transformers
