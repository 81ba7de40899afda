#include "transformers/loading/conversion_plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace transformers::loading {

namespace {

std::string apply_prefix_change(const std::string& key, const std::string& change) {
  if (change.empty()) return key;
  const std::string p = change.substr(1);
  if (change[0] == '+') return p + key;
  return key.compare(0, p.size(), p) == 0 ? key.substr(p.size()) : key;
}

// The prefix change that makes `key` known: "" (known as is), "+model." or "-model.".
std::optional<std::string> resolve_prefix(const std::string& key, const PlanOptions& o) {
  if (!o.known || o.known(key)) return std::string();
  if (o.base_model_prefix.empty()) return std::nullopt;
  const std::string p = o.base_model_prefix + ".";
  if (o.known(p + key)) return "+" + p;
  if (key.compare(0, p.size(), p) == 0 && o.known(key.substr(p.size()))) return "-" + p;
  return std::nullopt;
}

std::string apply_renamings(std::string key, const std::vector<WeightTransform>& rules, std::vector<bool>* fired) {
  for (size_t r = 0; r < rules.size(); ++r) {
    if (rules[r].is_converter()) continue;
    if (auto m = rules[r].match(key)) {
      key = rules[r].rename(key, *m);
      if (fired) (*fired)[r] = true;
    }
  }
  return key;
}

bool has_wildcard(const std::string& pattern) { return pattern.find(".*.") != std::string::npos; }

std::string output_key(const PlanItem& item, const std::vector<WeightTransform>& rules, const PlanOptions& o, size_t t,
                       std::optional<int64_t> index) {
  std::string key = item.converter < 0 ? item.key : rules[static_cast<size_t>(item.converter)].target_key(item.match, t, index);
  if (o.reverse) key = apply_renamings(key, rules, nullptr);
  return apply_prefix_change(key, item.prefix_change);
}

std::string with_index(const SourceTensor& s, int64_t i) {
  return s.key.substr(0, s.index_pos) + std::to_string(i) + s.key.substr(s.index_pos + s.index_len);
}

// The tensors of each source pattern in module-index order, after checking that nothing is
// missing: a converter fed with an incomplete expert list would build a wrong tensor silently.
TensorGroups gather_sources(const PlanItem& item, const WeightTransform& rule,
                            const std::function<Tensor(const std::string&)>& fetch) {
  const auto& patterns = rule.source_patterns();
  std::string example;
  for (const auto& list : item.sources)
    if (!list.empty()) example = list.front().key;
  std::optional<size_t> count;
  std::string count_from;
  TensorGroups groups(item.sources.size());
  for (size_t p = 0; p < item.sources.size(); ++p) {
    auto list = item.sources[p];
    TCPP_CHECK(!list.empty(), FormatError, "incomplete checkpoint for '", item.key, "': no tensor matches '",
               patterns[p], "' beside '", example, "' (rule ", rule.describe(), ")");
    if (list.front().index) {
      std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return *a.index < *b.index; });
      std::set<int64_t> present;
      for (const auto& s : list) {
        TCPP_CHECK(present.insert(*s.index).second, FormatError, "checkpoint has module index ", *s.index,
                   " twice for '", item.key, "' ('", s.key, "')");
      }
      const int64_t n = std::max<int64_t>(*present.rbegin() + 1, count ? static_cast<int64_t>(*count) : 0);
      for (int64_t i = 0; i < n; ++i)
        TCPP_CHECK(present.count(i), FormatError, "incomplete checkpoint for '", item.key, "': missing '",
                   with_index(list.front(), i), "' (have ", list.size(), " of ", n, " modules for '", patterns[p], "')");
      if (count && *count != list.size())
        throw FormatError(detail::concat("incomplete checkpoint for '", item.key, "': '", count_from, "' has ", *count,
                                         " modules but '", patterns[p], "' has ", list.size()));
      count = list.size();
      count_from = patterns[p];
    } else {
      std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return natural_key_less(a.key, b.key); });
    }
    for (const auto& s : list) groups[p].push_back(fetch(s.key));
  }
  return groups;
}

}  // namespace

ConversionPlan plan_conversion(std::vector<std::string> keys, const std::vector<WeightTransform>& rules,
                               const PlanOptions& o) {
  sort_natural(keys);
  ConversionPlan plan;
  plan.fired.assign(rules.size(), false);
  std::map<std::string, size_t> item_of_key;  // bucket key -> item
  std::map<std::string, std::string> source_of_key;
  auto claim = [&](const std::string& bucket, const std::string& source, int converter) -> std::optional<size_t> {
    auto it = item_of_key.find(bucket);
    if (it == item_of_key.end()) return std::nullopt;
    const PlanItem& existing = plan.items[it->second];
    TCPP_CHECK(converter >= 0 && existing.converter == converter, ValueError, "checkpoint keys '",
               source_of_key[bucket], "' and '", source, "' both map to '", bucket, "'");
    return it->second;
  };
  for (const auto& original : keys) {
    std::vector<bool> fired_here(rules.size(), false);
    std::string key = o.reverse ? original : apply_renamings(original, rules, &fired_here);
    int converter = -1;
    std::optional<PatternMatch> match;
    for (size_t r = 0; r < rules.size() && converter < 0; ++r) {
      if (!rules[r].is_converter()) continue;
      if ((match = rules[r].match(key))) converter = static_cast<int>(r);
    }
    if (converter < 0) {
      std::string change;
      if (auto c = resolve_prefix(key, o)) {
        change = *c;
      } else if (key != original && resolve_prefix(original, o)) {
        // v5: a renaming that leads nowhere is dropped when the original key exists.
        key = original;
        change = *resolve_prefix(original, o);
        fired_here.assign(rules.size(), false);
      }
      const std::string bucket = apply_prefix_change(key, change);
      claim(bucket, original, -1);
      PlanItem item;
      item.key = key;
      item.prefix_change = change;
      item.sources = {{SourceTensor{original, std::nullopt, 0, 0}}};
      item_of_key[bucket] = plan.items.size();
      source_of_key[bucket] = original;
      plan.items.push_back(std::move(item));
    } else {
      const WeightTransform& rule = rules[static_cast<size_t>(converter)];
      const bool per_index = has_wildcard(rule.target_patterns()[0]);
      const std::string target = rule.target_key(*match, 0, per_index ? match->index : std::nullopt);
      const std::string change = resolve_prefix(target, o).value_or("");
      const std::string bucket = apply_prefix_change(target, change);
      std::optional<size_t> at = claim(bucket, original, converter);
      if (!at) {
        PlanItem item;
        item.converter = converter;
        item.match = *match;
        item.key = target;
        item.prefix_change = change;
        item.sources.resize(rule.source_patterns().size());
        at = plan.items.size();
        item_of_key[bucket] = *at;
        source_of_key[bucket] = original;
        plan.items.push_back(std::move(item));
      }
      SourceTensor s{original, match->index, match->index_pos, match->index_len};
      // index_pos is relative to the renamed key; recompute it on the original when they differ.
      if (s.index && key != original) {
        const std::string needle = "." + std::to_string(*s.index) + ".";
        const size_t tail = key.size() - match->index_pos;  // same tail length after a prefix-only rename
        size_t pos = original.size() >= tail ? original.size() - tail : std::string::npos;
        if (pos == std::string::npos || original.compare(pos, s.index_len, key, match->index_pos, s.index_len) != 0)
          pos = original.rfind(needle) == std::string::npos ? 0 : original.rfind(needle) + 1;
        s.index_pos = pos;
      }
      plan.items[*at].sources[match->pattern].push_back(std::move(s));
      fired_here[static_cast<size_t>(converter)] = true;
    }
    for (size_t r = 0; r < rules.size(); ++r)
      if (fired_here[r]) plan.fired[r] = true;
  }
  return plan;
}

std::vector<std::pair<std::string, Tensor>> materialize(const PlanItem& item, const std::vector<WeightTransform>& rules,
                                                        const PlanOptions& o,
                                                        const std::function<Tensor(const std::string&)>& fetch,
                                                        const PretrainedConfig* config) {
  if (item.converter < 0) return {{output_key(item, rules, o, 0, std::nullopt), fetch(item.sources[0][0].key)}};
  const WeightTransform& rule = rules[static_cast<size_t>(item.converter)];
  TensorGroups groups = gather_sources(item, rule, fetch);
  ConversionContext ctx{config, item.key, rule.target_patterns().size()};
  for (const auto& op : rule.operations()) {
    try {
      groups = op->convert(std::move(groups), ctx);
    } catch (const Error& e) {
      throw ValueError(detail::concat("converting to '", item.key, "' with ", op->describe(), ": ", e.what()));
    }
  }
  TCPP_CHECK(groups.size() == rule.target_patterns().size(), ValueError, "rule ", rule.describe(), " produced ",
             groups.size(), " tensor groups for ", rule.target_patterns().size(), " target patterns");
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t t = 0; t < groups.size(); ++t) {
    const bool per_index = has_wildcard(rule.target_patterns()[t]);
    if (groups[t].size() == 1 && !(per_index && !item.match.index)) {
      out.emplace_back(output_key(item, rules, o, t, per_index ? item.match.index : std::nullopt), groups[t][0]);
      continue;
    }
    TCPP_CHECK(per_index, ValueError, "rule ", rule.describe(), " produced ", groups[t].size(),
               " tensors for target '", rule.target_patterns()[t], "', which has no `.*.` index");
    for (size_t i = 0; i < groups[t].size(); ++i)
      out.emplace_back(output_key(item, rules, o, t, static_cast<int64_t>(i)), groups[t][i]);
  }
  return out;
}

std::vector<std::string> planned_output_keys(const PlanItem& item, const std::vector<WeightTransform>& rules,
                                             const PlanOptions& o) {
  if (item.converter < 0) return {output_key(item, rules, o, 0, std::nullopt)};
  const WeightTransform& rule = rules[static_cast<size_t>(item.converter)];
  std::vector<std::string> out;
  for (size_t t = 0; t < rule.target_patterns().size(); ++t) {
    if (has_wildcard(rule.target_patterns()[t]) && !item.match.index) return {};  // known after the ops run
    out.push_back(output_key(item, rules, o, t, item.match.index));
  }
  return out;
}

}  // namespace transformers::loading
