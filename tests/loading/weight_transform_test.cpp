// Key matching with v5's rules and the conversion plan built from key names alone.
#include <algorithm>
#include <map>
#include <set>

#include "common/test_util.h"
#include "transformers/loading/conversion_mapping.h"
#include "transformers/loading/conversion_plan.h"

namespace transformers::loading {
namespace {

using R = WeightTransform;

TEST(WeightTransform, UnanchoredSearchWithModuleIndexAndBackreferences) {
  R merge = R::converter({"experts.*.w1.weight", "experts.*.w3.weight"}, {"experts.gate_up_proj"},
                         {MergeModulelist(0), Concatenate(1)});
  auto m = merge.match("model.layers.10.mlp.experts.17.w3.weight");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->pattern, 1u);
  EXPECT_EQ(m->index, 17);
  EXPECT_EQ(merge.rename("model.layers.10.mlp.experts.17.w3.weight", *m), "model.layers.10.mlp.experts.gate_up_proj");
  EXPECT_FALSE(merge.match("model.layers.10.mlp.experts.gate_up_proj").has_value());

  R backref = R::renaming(R"(layers\.(\d+)\.attention\.w(q|k))", R"(layers.\1.self_attn.\2_proj)");
  auto b = backref.match("model.layers.3.attention.wk.weight");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(backref.rename("model.layers.3.attention.wk.weight", *b), "model.layers.3.self_attn.k_proj.weight");
  // Anchors work as in Python's re.search.
  R anchored = R::renaming("^transformer.", "model.");
  EXPECT_TRUE(anchored.match("transformer.h.0").has_value());
  EXPECT_FALSE(anchored.match("x.transformer.h.0").has_value());
}

TEST(WeightTransform, HugeKeysMatchNothingInsteadOfOverflowingTheStack) {
  R greedy = R::renaming("^(.*)$", "prefix.\\1");
  const std::string normal = "model.norm.weight";
  ASSERT_TRUE(greedy.match(normal).has_value());
  EXPECT_EQ(greedy.rename(normal, *greedy.match(normal)), "prefix.model.norm.weight");
  EXPECT_FALSE(greedy.match(std::string(8 << 20, 'a')).has_value());
}

TEST(WeightTransform, ReversedRuleSwapsPatternsAndReversesOps) {
  R merge = R::converter({"experts.*.w1.weight", "experts.*.w3.weight"}, {"experts.gate_up_proj"},
                         {MergeModulelist(0), Concatenate(1)});
  R back = merge.reversed();
  EXPECT_EQ(back.source_patterns(), (std::vector<std::string>{"experts.gate_up_proj"}));
  EXPECT_EQ(back.target_patterns(), (std::vector<std::string>{"experts.*.w1.weight", "experts.*.w3.weight"}));
  ASSERT_EQ(back.operations().size(), 2u);
  EXPECT_EQ(back.operations()[0]->describe(), "Chunk(dim=1)");
  EXPECT_EQ(back.operations()[1]->describe(), "SplitModulelist(dim=0)");
  EXPECT_EQ(R::renaming(R"(^model\.decoder\.)", "model.").reversed().target_patterns()[0], "model.decoder.");
  EXPECT_THROW(R::renaming(R"(layers\.(\d+)\.x)", R"(layers.\1.y)").reversed(), NotImplementedError);
}

TEST(WeightTransform, NaturalKeyOrder) {
  std::vector<std::string> keys = {"layers.10.w", "layers.2.w", "layers.2.a", "layers.1.w.10", "layers.1.w.9"};
  std::sort(keys.begin(), keys.end(), natural_key_less);
  EXPECT_EQ(keys, (std::vector<std::string>{"layers.1.w.9", "layers.1.w.10", "layers.2.a", "layers.2.w", "layers.10.w"}));
}

TEST(ConversionPlan, MixtralKeysGroupPerLayerAfterChainedRenames) {
  std::vector<std::string> keys;
  for (int l : {0, 1})
    for (int e : {3, 0, 2, 1})
      for (const char* w : {"w1", "w2", "w3"})
        keys.push_back("model.layers." + std::to_string(l) + ".block_sparse_moe.experts." + std::to_string(e) + "." + w +
                       ".weight");
  keys.push_back("model.layers.0.block_sparse_moe.gate.weight");
  keys.push_back("model.norm.weight");
  const auto rules = conversion_mapping("mixtral");
  ConversionPlan plan = plan_conversion(keys, rules, {});
  std::map<std::string, const PlanItem*> by_key;
  for (const auto& item : plan.items) by_key[item.key] = &item;
  ASSERT_EQ(plan.items.size(), 6u);  // 2 layers x (gate_up, down) + router + norm
  const PlanItem* gate_up = by_key.at("model.layers.1.mlp.experts.gate_up_proj");
  ASSERT_EQ(gate_up->sources.size(), 2u);
  ASSERT_EQ(gate_up->sources[0].size(), 4u);
  EXPECT_EQ(gate_up->sources[0][0].key, "model.layers.1.block_sparse_moe.experts.0.w1.weight");
  EXPECT_EQ(gate_up->sources[1][3].key, "model.layers.1.block_sparse_moe.experts.3.w3.weight");
  EXPECT_TRUE(by_key.count("model.layers.0.mlp.gate.weight"));
  EXPECT_TRUE(by_key.count("model.norm.weight"));
  EXPECT_EQ(plan.fired, (std::vector<bool>{true, true, true}));
}

TEST(ConversionPlan, BaseModelPrefixIsAddedOrStrippedWhenThatFindsTheParameter) {
  std::set<std::string> model = {"model.embed_tokens.weight", "lm_head.weight"};
  PlanOptions o;
  o.known = [&](const std::string& k) { return model.count(k) != 0; };
  ConversionPlan plan = plan_conversion({"embed_tokens.weight", "lm_head.weight", "other.weight"}, {}, o);
  std::vector<std::string> outputs;
  for (const auto& item : plan.items)
    for (const auto& k : planned_output_keys(item, {}, o)) outputs.push_back(k);
  std::sort(outputs.begin(), outputs.end());
  EXPECT_EQ(outputs, (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight", "other.weight"}));
}

TEST(ConversionPlan, LegacyNamesAndRenamesThatLeadNowhere) {
  std::set<std::string> model = {"bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias", "cls.norm.weight"};
  PlanOptions o;
  o.known = [&](const std::string& k) { return model.count(k) != 0; };
  o.base_model_prefix = "bert";
  // A rule that would rename cls.norm -> cls.normalisation: the model has no such key but has
  // the original, so the original is kept (v5's rule).
  std::vector<R> rules = {R::renaming("cls.norm", "cls.normalisation")};
  for (auto& r : legacy_renamings()) rules.push_back(r);
  ConversionPlan plan = plan_conversion({"embeddings.LayerNorm.gamma", "embeddings.LayerNorm.beta", "cls.norm.weight"},
                                        rules, o);
  std::vector<std::string> outputs;
  for (const auto& item : plan.items)
    for (const auto& k : planned_output_keys(item, rules, o)) outputs.push_back(k);
  std::sort(outputs.begin(), outputs.end());
  EXPECT_EQ(outputs, (std::vector<std::string>{"bert.embeddings.LayerNorm.bias", "bert.embeddings.LayerNorm.weight",
                                               "cls.norm.weight"}));
  EXPECT_FALSE(plan.fired[0]);
  EXPECT_TRUE(plan.fired[1] && plan.fired[2]);
}

TEST(ConversionPlan, FusedQkvSplitsAtLoadAndConcatenatesBackAtSave) {
  // The README's example: a checkpoint with qkv_proj, a model with q/k/v_proj.
  std::vector<R> rules = {R::converter({"self_attn.qkv_proj.weight"},
                                       {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"},
                                       {Chunk(0)})};
  Tensor qkv = Tensor::empty({6, 2}, DType::F32);
  for (int i = 0; i < 12; ++i) qkv.data<float>()[i] = static_cast<float>(i);
  ConversionPlan plan = plan_conversion({"model.layers.4.self_attn.qkv_proj.weight"}, rules, {});
  ASSERT_EQ(plan.items.size(), 1u);
  auto outs = materialize(plan.items[0], rules, {}, [&](const std::string&) { return qkv; }, nullptr);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].first, "model.layers.4.self_attn.q_proj.weight");
  EXPECT_EQ(outs[2].first, "model.layers.4.self_attn.v_proj.weight");
  EXPECT_EQ(outs[1].second.data<float>()[0], 4.0f);  // k starts at row 2
  // Save: the reversed rule gathers q, k, v (in pattern order, whatever the key order) into qkv.
  std::vector<R> back = {rules[0].reversed()};
  PlanOptions save;
  save.reverse = true;
  std::map<std::string, Tensor> state(outs.begin(), outs.end());
  std::vector<std::string> keys;
  for (const auto& [k, t] : state) keys.push_back(k);
  ConversionPlan again = plan_conversion(keys, back, save);
  ASSERT_EQ(again.items.size(), 1u);
  auto merged = materialize(again.items[0], back, save, [&](const std::string& k) { return state.at(k); }, nullptr);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].first, "model.layers.4.self_attn.qkv_proj.weight");
  EXPECT_EQ(testing::max_abs_diff(merged[0].second, qkv), 0.0f);
}

TEST(ConversionPlan, TwoKeysOntoOneTargetIsAnErrorNamingBoth) {
  std::vector<R> rules = {R::renaming("old_norm", "norm")};
  try {
    plan_conversion({"model.norm.weight", "model.old_norm.weight"}, rules, {});
    FAIL() << "expected an error";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model.norm.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model.old_norm.weight"), std::string::npos) << msg;
  }
}

TEST(ConversionPlan, MissingExpertIsNamed) {
  std::vector<std::string> keys;
  for (int e : {0, 1, 3}) {
    keys.push_back("model.layers.0.mlp.experts." + std::to_string(e) + ".gate_proj.weight");
    keys.push_back("model.layers.0.mlp.experts." + std::to_string(e) + ".up_proj.weight");
  }
  keys.push_back("model.layers.0.mlp.experts.2.up_proj.weight");
  const auto rules = conversion_mapping("qwen3_moe");
  ConversionPlan plan = plan_conversion(keys, rules, {});
  ASSERT_EQ(plan.items.size(), 1u);
  auto fetch = [](const std::string&) { return Tensor::zeros({2, 4}, DType::F32); };
  try {
    materialize(plan.items[0], rules, {}, fetch, nullptr);
    FAIL() << "expected an error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.0.mlp.experts.2.gate_proj.weight'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace transformers::loading
