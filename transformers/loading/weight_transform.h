// v5's WeightRenaming and WeightConverter (core_model_loading.py): rules that map checkpoint keys
// to model keys, and for converters the tensor ops between the two layouts.
//
// Matching follows v5: source patterns are regexes searched anywhere in the key (unanchored);
// the literal `.*.` stands for one module index (`experts.*.w1.weight` matches
// `experts.17.w1.weight`); the matched text is replaced by the first target pattern, with `\1`..
// filled from the source's own capture groups. Renamings chain (all that match apply, in order),
// then at most one converter claims the key (the first that matches).
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "transformers/loading/conversion_ops.h"

namespace transformers::loading {

// Keys longer than this match no rule (see WeightTransform::match).
constexpr size_t kMaxMatchedKeyLength = 4096;

// Where a source pattern matched a key.
struct PatternMatch {
  size_t pattern = 0;             // which source pattern
  std::string prefix, suffix;     // the key around the matched text
  std::vector<std::string> groups;  // the pattern's own capture groups (\1 = groups[0])
  std::optional<int64_t> index;   // the module index `.*.` matched
  size_t index_pos = 0, index_len = 0;  // where that index sits in the key
};

class WeightTransform {
 public:
  // A pure rename (WeightRenaming).
  static WeightTransform renaming(std::string source, std::string target);
  // A converter: sources -> targets through `operations` (1 -> 1, 1 -> N or N -> 1).
  static WeightTransform converter(std::vector<std::string> sources, std::vector<std::string> targets,
                                   std::vector<OpPtr> operations);

  bool is_converter() const { return !operations_.empty(); }
  const std::vector<std::string>& source_patterns() const { return sources_; }
  const std::vector<std::string>& target_patterns() const { return targets_; }
  const std::vector<OpPtr>& operations() const { return operations_; }

  // The leftmost match of any source pattern in `key` (ties: the earlier pattern).
  std::optional<PatternMatch> match(const std::string& key) const;
  // Target pattern `t` filled in for a match: backreferences from its groups, `.*.` from
  // `index` when given; the prefix and suffix around it.
  std::string target_key(const PatternMatch& m, size_t t, std::optional<int64_t> index) const;
  // The key with the match replaced by the first target pattern (rename_source_key).
  std::string rename(const std::string& key, const PatternMatch& m) const { return target_key(m, 0, m.index); }
  // The rule that undoes this one: patterns swapped, op list reversed, each op reversed.
  // Throws NotImplementedError for patterns with capture groups (not invertible as text).
  WeightTransform reversed() const;
  // e.g. "experts.*.w1.weight, experts.*.w3.weight -> experts.gate_up_proj [MergeModulelist(dim=0), ...]"
  std::string describe() const;

 private:
  struct Compiled {
    std::regex re;
    int index_group = -1;           // the regex group of `.*.`, or -1
    std::vector<int> user_groups;   // regex group of the pattern's own group 1, 2, ...
    // Plain words every match must contain (empty when the pattern is not simple enough to
    // tell): a substring test rejects most keys before the much slower regex runs.
    std::vector<std::string> required;
  };
  WeightTransform(std::vector<std::string> sources, std::vector<std::string> targets, std::vector<OpPtr> ops);
  std::vector<std::string> sources_, targets_;
  std::vector<OpPtr> operations_;
  std::vector<Compiled> compiled_;
};

// v5's dot_natural_key order: keys split on '.', numeric parts compared as numbers, so
// layers.2 < layers.10 and experts come in index order.
bool natural_key_less(const std::string& a, const std::string& b);
// The same order, with each key split once (for sorting many keys).
void sort_natural(std::vector<std::string>& keys);
struct NaturalKey {
  explicit NaturalKey(const std::string& key);
  bool operator<(const NaturalKey& other) const;
  struct Part {
    bool number;
    long long value;
    std::string text;
  };
  std::vector<Part> parts;
};

}  // namespace transformers::loading
