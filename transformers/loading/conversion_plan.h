// The conversion plan: which source keys feed which target keys through which rule, decided
// from the key names alone (all headers are parsed before any tensor is read), then carried out
// one item at a time. Loading runs it on checkpoint keys (forward); save_pretrained runs the
// reversed rules on the model's keys.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/loading/weight_transform.h"

namespace transformers::loading {

struct SourceTensor {
  std::string key;
  std::optional<int64_t> index;  // the module index when the pattern has `.*.`
  size_t index_pos = 0, index_len = 0;
};

// One unit of work: a converter bucket (all sources of one target key) or one tensor 1:1.
struct PlanItem {
  int converter = -1;                              // index into the rules, -1: 1:1
  PatternMatch match;                              // the converter's match on the first source
  std::vector<std::vector<SourceTensor>> sources;  // per source pattern
  std::string key;                                 // the (first) target key
  // base_model_prefix handling: "+model." added, "-model." stripped, "" none.
  std::string prefix_change;
};

struct ConversionPlan {
  std::vector<PlanItem> items;
  std::vector<bool> fired;  // per rule: it applied to at least one key
};

struct PlanOptions {
  // Save mode: rules are the reversed ones; a converter matches the model key first and the
  // renamings then apply to its output keys (v5 reverses the order of the two stages).
  bool reverse = false;
  // Whether a key exists in the target (the model). Unset: every key does (saving).
  std::function<bool(const std::string&)> known;
  // Added or stripped when that makes an unknown key known (loading XForY from XModel weights).
  std::string base_model_prefix = "model";
};

// Throws ValueError naming both source keys when two of them land on one target key.
ConversionPlan plan_conversion(std::vector<std::string> keys, const std::vector<WeightTransform>& rules,
                               const PlanOptions& options);

// Runs one item: checks the sources are complete (every pattern present, module indices
// 0..N-1 with none missing, the same N for every pattern; errors name the missing keys), reads
// them with `fetch`, applies the converter's ops and names the outputs.
std::vector<std::pair<std::string, Tensor>> materialize(const PlanItem& item, const std::vector<WeightTransform>& rules,
                                                        const PlanOptions& options,
                                                        const std::function<Tensor(const std::string&)>& fetch,
                                                        const PretrainedConfig* config);

// The keys an item produces when they are known without running it (targets without `.*.`).
std::vector<std::string> planned_output_keys(const PlanItem& item, const std::vector<WeightTransform>& rules,
                                             const PlanOptions& options);

}  // namespace transformers::loading
