#include "transformers/loading/weight_transform.h"

#include <algorithm>
#include <cctype>

namespace transformers::loading {

namespace {

const std::string kIndexWildcard = ".*.";

// Only the literal `.*.` is a module index. v5 rewrites it to `\..*\.`; we capture digits
// instead, which matches the same keys in practice (module indices are numbers) and tells us
// which expert a tensor belongs to, so a missing one can be named.
struct Translated {
  std::string regex;
  int index_group = -1;
  std::vector<int> user_groups;
};

Translated translate(const std::string& p) {
  Translated t;
  int group = 0;
  bool in_class = false;
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      t.regex += p.substr(i, 2);
      i += 2;
      continue;
    }
    if (in_class) {
      in_class = c != ']';
      t.regex += c;
      ++i;
      continue;
    }
    if (p.compare(i, kIndexWildcard.size(), kIndexWildcard) == 0) {
      t.regex += "\\.(\\d+)\\.";
      ++group;
      if (t.index_group < 0) t.index_group = group;
      i += kIndexWildcard.size();
      continue;
    }
    if (c == '[') in_class = true;
    if (c == '(' && (i + 1 >= p.size() || p[i + 1] != '?')) t.user_groups.push_back(++group);
    t.regex += c;
    ++i;
  }
  return t;
}

// The words a pattern requires when it is a plain chain of words, dots and `.*.` wildcards
// (the common case); none when it uses other regex syntax, where a word may be optional.
std::vector<std::string> required_words(const std::string& p) {
  std::vector<std::string> words;
  std::string word;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      word += c;
      continue;
    }
    if (p.compare(i, kIndexWildcard.size(), kIndexWildcard) == 0) {
      i += kIndexWildcard.size() - 1;
    } else if (c != '.' && c != '^' && c != '$') {
      return {};
    }
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// A source regex as plain text, for use as a target after reversal.
std::string regex_as_text(const std::string& p, const std::string& rule) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if ((c == '^' && i == 0) || (c == '$' && i + 1 == p.size())) continue;
    if (c == '\\' && i + 1 < p.size() && !std::isdigit(static_cast<unsigned char>(p[i + 1]))) {
      out += p[++i];
      continue;
    }
    if (p.compare(i, kIndexWildcard.size(), kIndexWildcard) == 0) {
      out += kIndexWildcard;
      i += kIndexWildcard.size() - 1;
      continue;
    }
    TCPP_CHECK(std::string("()[]|?+*{}\\").find(c) == std::string::npos, NotImplementedError, "weight rule '", rule,
               "' cannot be reversed: pattern '", p, "' is not plain text");
    out += c;
  }
  return out;
}

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

WeightTransform::WeightTransform(std::vector<std::string> sources, std::vector<std::string> targets,
                                 std::vector<OpPtr> ops)
    : sources_(std::move(sources)), targets_(std::move(targets)), operations_(std::move(ops)) {
  TCPP_CHECK(!sources_.empty() && !targets_.empty(), ValueError, "weight rule needs source and target patterns");
  for (const auto& s : sources_) {
    Translated t = translate(s);
    try {
      compiled_.push_back({std::regex(t.regex, std::regex::ECMAScript | std::regex::optimize), t.index_group,
                           t.user_groups, required_words(s)});
    } catch (const std::regex_error& e) {
      throw ValueError(detail::concat("weight rule pattern '", s, "' is not a valid regex: ", e.what()));
    }
  }
}

WeightTransform WeightTransform::renaming(std::string source, std::string target) {
  return WeightTransform({std::move(source)}, {std::move(target)}, {});
}

WeightTransform WeightTransform::converter(std::vector<std::string> sources, std::vector<std::string> targets,
                                           std::vector<OpPtr> operations) {
  TCPP_CHECK(!operations.empty(), ValueError, "WeightConverter needs at least one operation");
  TCPP_CHECK(sources.size() == 1 || targets.size() == 1, ValueError,
             "WeightConverter maps 1 -> 1, 1 -> N or N -> 1 patterns, not ", sources.size(), " -> ", targets.size());
  return WeightTransform(std::move(sources), std::move(targets), std::move(operations));
}

std::optional<PatternMatch> WeightTransform::match(const std::string& key) const {
  // libstdc++'s regex matcher recurses per character on patterns like (.*): a hostile file with
  // a megabyte-long tensor name must not overflow the stack. No real parameter name is this long;
  // such a key simply matches no rule (and is reported as unexpected).
  if (key.size() > kMaxMatchedKeyLength) return std::nullopt;
  std::optional<PatternMatch> best;
  size_t best_pos = std::string::npos;
  for (size_t i = 0; i < compiled_.size(); ++i) {
    bool possible = true;
    for (const auto& w : compiled_[i].required) possible = possible && key.find(w) != std::string::npos;
    std::smatch m;
    if (!possible || !std::regex_search(key, m, compiled_[i].re)) continue;
    const size_t pos = static_cast<size_t>(m.position(0));
    if (best && pos >= best_pos) continue;
    PatternMatch pm;
    pm.pattern = i;
    pm.prefix = key.substr(0, pos);
    pm.suffix = key.substr(pos + static_cast<size_t>(m.length(0)));
    for (int g : compiled_[i].user_groups) pm.groups.push_back(m[g].matched ? m[g].str() : std::string());
    if (compiled_[i].index_group > 0) {
      const auto& g = m[compiled_[i].index_group];
      TCPP_CHECK(g.length() <= 18, FormatError, "tensor '", key, "': module index ", g.str(), " is out of range");
      pm.index = std::stoll(g.str());
      pm.index_pos = static_cast<size_t>(m.position(compiled_[i].index_group));
      pm.index_len = static_cast<size_t>(g.length());
    }
    best = std::move(pm);
    best_pos = pos;
  }
  return best;
}

std::string WeightTransform::target_key(const PatternMatch& m, size_t t, std::optional<int64_t> index) const {
  const std::string& p = targets_.at(t);
  std::string mid;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[++i];
      if (std::isdigit(static_cast<unsigned char>(n))) {
        const size_t g = static_cast<size_t>(n - '0');
        TCPP_CHECK(g >= 1 && g <= m.groups.size(), ValueError, "weight rule target '", p, "' refers to group ", g,
                   " that its source pattern does not have");
        mid += m.groups[g - 1];
      } else {
        mid += n;
      }
      continue;
    }
    if (index && p.compare(i, kIndexWildcard.size(), kIndexWildcard) == 0) {
      mid += "." + std::to_string(*index) + ".";
      i += kIndexWildcard.size() - 1;
      continue;
    }
    mid += c;
  }
  return m.prefix + mid + m.suffix;
}

WeightTransform WeightTransform::reversed() const {
  const std::string rule = describe();
  std::vector<std::string> new_targets;
  for (const auto& s : sources_) new_targets.push_back(regex_as_text(s, rule));
  for (const auto& t : targets_)
    TCPP_CHECK(t.find('\\') == std::string::npos, NotImplementedError, "weight rule '", rule,
               "' cannot be reversed: target '", t, "' uses backreferences");
  std::vector<OpPtr> ops;
  for (auto it = operations_.rbegin(); it != operations_.rend(); ++it) ops.push_back((*it)->reverse());
  return WeightTransform(targets_, std::move(new_targets), std::move(ops));
}

std::string WeightTransform::describe() const {
  std::string s;
  for (size_t i = 0; i < sources_.size(); ++i) s += (i ? ", " : "") + sources_[i];
  s += " -> ";
  for (size_t i = 0; i < targets_.size(); ++i) s += (i ? ", " : "") + targets_[i];
  if (!operations_.empty()) {
    s += " [";
    for (size_t i = 0; i < operations_.size(); ++i) s += (i ? ", " : "") + operations_[i]->describe();
    s += "]";
  }
  return s;
}

NaturalKey::NaturalKey(const std::string& key) {
  for (auto& part : split_dots(key)) {
    const bool number = all_digits(part);
    parts.push_back({number, number ? std::stoll(part) : 0, std::move(part)});
  }
}

bool NaturalKey::operator<(const NaturalKey& o) const {
  for (size_t i = 0; i < parts.size() && i < o.parts.size(); ++i) {
    const Part &a = parts[i], &b = o.parts[i];
    if (a.number && b.number) {
      if (a.value != b.value) return a.value < b.value;
      if (a.text != b.text) return a.text < b.text;  // "01" vs "1": any fixed order
      continue;
    }
    if (a.number != b.number) return a.number;  // numbers before names, as (0, int) < (1, str)
    if (a.text != b.text) return a.text < b.text;
  }
  return parts.size() < o.parts.size();
}

bool natural_key_less(const std::string& a, const std::string& b) { return NaturalKey(a) < NaturalKey(b); }

void sort_natural(std::vector<std::string>& keys) {
  std::vector<std::pair<NaturalKey, std::string>> decorated;
  decorated.reserve(keys.size());
  for (auto& k : keys) decorated.emplace_back(NaturalKey(k), std::move(k));
  std::sort(decorated.begin(), decorated.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = std::move(decorated[i].second);
}

}  // namespace transformers::loading
