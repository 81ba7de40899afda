// Beam search and beam sampling as v5's vectorised _beam_search (generation/utils.py), written
// per batch item. Each step:
//  1. log_softmax of the logits, the logits processors on it, plus each beam's running score;
//  2. the top K = max(2, 1 + #eos) * num_beams continuations over all beams (beam sampling
//     draws K without replacement from the softmax of those accumulated scores instead);
//  3. continuations that hit a stopping criterion (eos, max_length, ...) leave the running set;
//     the best num_beams others continue (and the cache rows are reordered to follow them);
//  4. finished continuations among the first num_beams of the K compete, with score
//     sum_logprobs / generated_length^length_penalty, for the num_beams finished slots.
// It stops when no running beam can still beat a finished one (the early-stopping heuristic:
// early_stopping=false estimates the best score at the current length, "never" with a
// positive length_penalty at max_length), when every slot is finished and early_stopping=true,
// or when every continuation hit a stopping criterion. Scores are float32 and "removed" entries
// get -1e9 added, as in v5, so ties and orderings match its arithmetic.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "transformers/generation/decoding.h"

namespace transformers::generation_detail {
namespace {

constexpr float kRemoved = -1.0e9f;

struct Beam {
  std::vector<int64_t> sequence;
  std::vector<int64_t> beam_indices;  // per generated token: the expanded row it came from
  float score = 0;
};

// Indices of the n largest values, descending; equal values keep their order (earlier first).
// A partial sort: the candidates are num_beams * vocab per step, the answer a handful.
std::vector<size_t> top_n(const std::vector<float>& v, size_t n) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  n = std::min(n, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n), idx.end(),
                    [&](size_t a, size_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(n);
  return idx;
}

void log_softmax_rows(StepScores& x) {
  const int64_t V = x.vocab;
  for (int64_t r = 0; r < x.rows; ++r) {
    float* row = x.row(r).data();
    double mx = -INFINITY;
    for (int64_t v = 0; v < V; ++v) mx = std::max<double>(mx, row[v]);
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v]) - mx);
    const double log_z = mx + std::log(sum);
    for (int64_t v = 0; v < V; ++v) row[v] = static_cast<float>(row[v] - log_z);
  }
}

}  // namespace

GenerateOutput beam_search(Decoding& d, std::vector<std::vector<int64_t>> rows) {
  const GenerationConfig& g = d.config;
  const int64_t B = d.batch_size, nb = g.num_beams, prompt_len = d.prompt_length;
  const int64_t K = std::max<int64_t>(2, 1 + static_cast<int64_t>(g.eos_token_ids.size())) * nb;
  const float lp = static_cast<float>(g.length_penalty);
  GenerateOutput out;

  // Running beams start from the prompt; only beam 0 may be extended at the first step.
  std::vector<std::vector<Beam>> running(B), finished(B);
  std::vector<std::vector<bool>> is_finished(B, std::vector<bool>(nb, false));
  std::vector<bool> improvable(B, true);  // v5's is_early_stop_heuristic_unsatisfied
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < nb; ++j) {
      running[b].push_back({rows[b * nb + j], {}, j == 0 ? 0.0f : kRemoved});
      finished[b].push_back({rows[b * nb + j], {}, kRemoved});
    }

  int64_t cur_len = prompt_len;
  while (true) {
    StepScores logp = d.step(rows, out);
    log_softmax_rows(logp);
    d.processors.apply(rows, logp.values);
    check_step_scores(logp, cur_len - prompt_len, /*allow_positive_inf=*/false);
    if (d.output_scores) out.scores.push_back(logp.tensor());
    const int64_t V = logp.vocab;

    bool all_hit = true;
    std::vector<int64_t> reorder(static_cast<size_t>(B * nb));
    for (int64_t b = 0; b < B; ++b) {
      // 2. Top K continuations of this batch item over all its beams.
      std::vector<float> acc(static_cast<size_t>(nb * V));
      for (int64_t j = 0; j < nb; ++j)
        for (int64_t v = 0; v < V; ++v)
          acc[j * V + v] = logp.values[static_cast<size_t>((b * nb + j) * V + v)] + running[b][j].score;
      std::vector<size_t> picked;
      if (g.do_sample) {
        for (int64_t i : sample_without_replacement(softmax(acc), K, d.rng)) picked.push_back(static_cast<size_t>(i));
      } else {
        picked = top_n(acc, static_cast<size_t>(K));
      }
      std::vector<Beam> cand;
      std::vector<bool> hits;
      for (size_t idx : picked) {
        const int64_t j = static_cast<int64_t>(idx) / V, token = static_cast<int64_t>(idx) % V;
        Beam c = running[b][j];
        c.sequence.push_back(token);
        c.beam_indices.push_back(b * nb + j);
        c.score = acc[idx];
        hits.push_back(d.criteria.is_done(c.sequence));
        all_hit = all_hit && hits.back();
        cand.push_back(std::move(c));
      }

      // 3. The best num_beams continuations that did not stop keep running.
      std::vector<float> running_key(cand.size());
      for (size_t k = 0; k < cand.size(); ++k) running_key[k] = cand[k].score + (hits[k] ? kRemoved : 0.0f);
      std::vector<Beam> next_running;
      for (size_t k : top_n(running_key, static_cast<size_t>(nb))) {
        Beam nbm = cand[k];
        nbm.score = running_key[k];
        reorder[b * nb + static_cast<int64_t>(next_running.size())] = nbm.beam_indices.back();
        next_running.push_back(std::move(nbm));
      }

      // 4. Finished candidates (only among the first num_beams) compete for the finished slots.
      const bool full = std::all_of(is_finished[b].begin(), is_finished[b].end(), [](bool f) { return f; }) &&
                        g.early_stopping == EarlyStopping::True;
      const float norm = std::pow(static_cast<float>(cur_len + 1 - prompt_len), lp);
      std::vector<Beam> merged = finished[b];
      std::vector<bool> merged_done = is_finished[b];
      std::vector<float> merged_score;
      for (const Beam& f : finished[b]) merged_score.push_back(f.score);
      for (size_t k = 0; k < cand.size(); ++k) {
        const bool just_finished = hits[k] && static_cast<int64_t>(k) < nb;
        float s = cand[k].score / norm;
        if (full) s += kRemoved;
        if (!improvable[b]) s += kRemoved;
        if (!just_finished) s += kRemoved;
        merged.push_back(cand[k]);
        merged.back().score = s;
        merged_done.push_back(just_finished);
        merged_score.push_back(s);
      }
      std::vector<Beam> next_finished;
      std::vector<bool> next_done;
      for (size_t k : top_n(merged_score, static_cast<size_t>(nb))) {
        next_finished.push_back(merged[k]);
        next_done.push_back(merged_done[k]);
      }
      finished[b] = std::move(next_finished);
      is_finished[b] = std::move(next_done);
      running[b] = std::move(next_running);
    }

    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < nb; ++j) rows[b * nb + j] = running[b][j].sequence;
    if (d.cache) d.cache->reorder_cache(reorder);
    d.inputs.reorder(reorder);
    ++cur_len;

    // Can a running beam still beat the worst finished one?
    bool any_improvable = false, all_full = g.early_stopping == EarlyStopping::True;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t best_len = (g.early_stopping == EarlyStopping::Never && lp > 0) ? g.max_length - prompt_len
                                                                                    : cur_len - prompt_len;
      const float best_possible = running[b][0].score / std::pow(static_cast<float>(best_len), lp);
      float worst = finished[b][0].score;
      for (const Beam& f : finished[b]) worst = std::min(worst, f.score);
      bool beats = false;
      for (int64_t j = 0; j < nb; ++j) beats = beats || best_possible > (is_finished[b][j] ? worst : kRemoved);
      improvable[b] = improvable[b] && beats;
      any_improvable = any_improvable || improvable[b];
      for (int64_t j = 0; j < nb; ++j) all_full = all_full && is_finished[b][j];
    }
    if (!any_improvable || all_full || all_hit) break;
  }

  // The best num_return_sequences finished beams of each item, padded to a common length with
  // v5's fill value: `pad_token_id or eos_token_id[0] if eos_token_id is not None else -1`
  // (Python's precedence, so pad 0 falls back to eos, and no eos means -1).
  const bool has_eos = !g.eos_token_ids.empty();
  const int64_t fill = has_eos ? ((g.pad_token_id && *g.pad_token_id != 0) ? *g.pad_token_id : g.eos_token_ids[0]) : -1;
  size_t max_generated = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < g.num_return_sequences; ++j)
      max_generated = std::max(max_generated, finished[b][j].beam_indices.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < g.num_return_sequences; ++j) {
      Beam& f = finished[b][j];
      f.sequence.resize(static_cast<size_t>(prompt_len) + max_generated, fill);
      f.beam_indices.resize(max_generated, -1);
      out.sequences.push_back(std::move(f.sequence));
      out.beam_indices.push_back(std::move(f.beam_indices));
      out.sequences_scores.push_back(f.score);
    }
  return out;
}

}  // namespace transformers::generation_detail
