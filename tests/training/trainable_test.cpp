// The decay split and the target count, against Transformers' rules as SEMANTICS.md and
// ../shared/train_golden/trace.json record them for the golden Llama.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "transformers/training/trainable.h"

using namespace transformers;
using namespace transformers::training;

TEST(Trainable, DecaySplitMatchesTheGoldenTrace) {
  std::ifstream in(std::string(TCPP_SHARED_DIR) + "/train_golden/trace.json");
  ASSERT_TRUE(in) << "../shared/train_golden/trace.json";
  const nlohmann::json trace = nlohmann::json::parse(in);
  const auto decay = trace.at("weight_decay_params").get<std::vector<std::string>>();
  const auto no_decay = trace.at("no_weight_decay_params").get<std::vector<std::string>>();
  ASSERT_FALSE(decay.empty());
  ASSERT_EQ(no_decay.size(), 5u);  // the 5 RMSNorm weights of the 2-layer Llama
  for (const auto& name : decay) EXPECT_TRUE(uses_weight_decay(name)) << name;
  for (const auto& name : no_decay) EXPECT_FALSE(uses_weight_decay(name)) << name;
  EXPECT_FALSE(uses_weight_decay("encoder.layer.0.attention.output.LayerNorm.bias"));
  EXPECT_FALSE(uses_weight_decay("blocks.3.attn_norm.weight"));
  EXPECT_TRUE(uses_weight_decay("normalizer.weight"));  // "norm" only as a whole component
}

TEST(Trainable, CountsTargetsAfterTheCausalShift) {
  // Row 0: 4 labels, first column dropped -> 3; row 1: -100 at positions 0 and 2 -> 2.
  const std::vector<int64_t> labels = {5, 6, 7, 8, -100, 6, -100, 8};
  EXPECT_EQ(count_shifted_targets(Tensor::from_values(labels, {2, 4})), 5);
  EXPECT_THROW(count_shifted_targets(Tensor::from_values(labels, {8})), ShapeError);
}
