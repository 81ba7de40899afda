// ConversionOps: every op composed with its reverse is the identity on random tensors, and the
// layout-changing ones agree with small cases worked out by hand.
#include <random>

#include "common/test_util.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/loading/conversion_ops.h"

namespace transformers::loading {
namespace {

using testing::max_abs_diff;
using testing::random_tensor;

Tensor iota(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

std::vector<float> values(const Tensor& t) {
  Tensor c = t.contiguous();
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

TensorGroups round_trip(const OpPtr& op, const TensorGroups& in, size_t forward_targets, size_t reverse_targets) {
  ConversionContext fwd{nullptr, "model.layers.0.self_attn.q_proj.weight", forward_targets};
  ConversionContext rev{nullptr, "model.layers.0.self_attn.q_proj.weight", reverse_targets};
  return op->reverse()->convert(op->convert(in, fwd), rev);
}

void expect_same(const TensorGroups& a, const TensorGroups& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t g = 0; g < a.size(); ++g) {
    ASSERT_EQ(a[g].size(), b[g].size()) << "group " << g;
    for (size_t i = 0; i < a[g].size(); ++i) EXPECT_EQ(max_abs_diff(a[g][i], b[g][i]), 0.0f) << g << "/" << i;
  }
}

TEST(ConversionOps, EachOpAndItsReverseAreTheIdentity) {
  std::mt19937 rng(1);
  // Concatenate of 3 sources <-> Chunk into 3 targets.
  TensorGroups three = {{random_tensor({4, 6}, rng)}, {random_tensor({4, 6}, rng)}, {random_tensor({4, 6}, rng)}};
  expect_same(round_trip(Concatenate(0), three, 1, 3), three);
  expect_same(round_trip(Concatenate(1), three, 1, 3), three);
  TensorGroups one = {{random_tensor({6, 4, 2}, rng)}};
  expect_same(round_trip(Chunk(0), one, 3, 1), one);
  // Per-expert lists <-> stacked tensors, along 0 and along a middle dimension.
  TensorGroups experts = {{random_tensor({3, 5}, rng), random_tensor({3, 5}, rng), random_tensor({3, 5}, rng)},
                          {random_tensor({3, 5}, rng), random_tensor({3, 5}, rng), random_tensor({3, 5}, rng)}};
  expect_same(round_trip(MergeModulelist(0), experts, 2, 2), experts);
  expect_same(round_trip(MergeModulelist(1), experts, 2, 2), experts);
  expect_same(round_trip(Transpose(0, 1), one, 1, 1), one);
  expect_same(round_trip(Transpose(2, 0), one, 1, 1), one);
  expect_same(round_trip(Interleave(0), one, 1, 1), one);
  expect_same(round_trip(Interleave(2, true), one, 1, 1), one);
  TensorGroups q = {{random_tensor({8, 3}, rng)}, {random_tensor({8}, rng)}};
  PretrainedConfig config;
  config.head_dim = 4;
  ConversionContext ctx{&config, "model.layers.0.self_attn.q_proj.weight", 1};
  auto rope = PermuteForRope();
  expect_same(rope->reverse()->convert(rope->convert(q, ctx), ctx), q);
  // It does change the layout (an identity op would pass the line above too).
  EXPECT_GT(max_abs_diff(rope->convert(q, ctx)[0][0], q[0][0]), 0.0f);
}

TEST(ConversionOps, MixtralFusionStacksExpertsThenConcatenatesGateAndUp) {
  // Two experts, gate (w1) and up (w3) of [I=1, H=2]: gate_up[e] = [w1[e]; w3[e]].
  TensorGroups in = {{Tensor::from_values<float>({1, 2}, {1, 2}), Tensor::from_values<float>({3, 4}, {1, 2})},
                     {Tensor::from_values<float>({5, 6}, {1, 2}), Tensor::from_values<float>({7, 8}, {1, 2})}};
  ConversionContext ctx{nullptr, "experts.gate_up_proj", 1};
  TensorGroups out = Concatenate(1)->convert(MergeModulelist(0)->convert(in, ctx), ctx);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][0].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values(out[0][0]), (std::vector<float>{1, 2, 5, 6, 3, 4, 7, 8}));
}

TEST(ConversionOps, InterleaveAndRopePermutationByHand) {
  ConversionContext ctx{nullptr, "x", 1};
  // a0 b0 a1 b1 a2 b2 -> a0 a1 a2 b0 b1 b2.
  EXPECT_EQ(values(Interleave(0)->convert({{iota({6})}}, ctx)[0][0]), (std::vector<float>{0, 2, 4, 1, 3, 5}));
  EXPECT_EQ(values(Interleave(0, true)->convert({{iota({6})}}, ctx)[0][0]), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // Two heads of head_dim 4, one input column: per head (r0 i0 r1 i1) -> (r0 r1 i0 i1).
  EXPECT_EQ(values(permute_for_rope(iota({8, 1}), 4, false)), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  // With two columns the rows move whole.
  EXPECT_EQ(values(permute_for_rope(iota({4, 2}), 4, false)), (std::vector<float>{0, 1, 4, 5, 2, 3, 6, 7}));
  // Keys that are not q/k projections are left alone.
  PretrainedConfig config;
  config.head_dim = 4;
  ConversionContext v{&config, "model.layers.0.self_attn.v_proj.weight", 1};
  EXPECT_EQ(values(PermuteForRope()->convert({{iota({8, 1})}}, v)[0][0]), values(iota({8, 1})));
}

TEST(ConversionOps, WrongStructuresFailNamingTheKey) {
  ConversionContext ctx{nullptr, "model.layers.3.mlp.experts.gate_up_proj", 1};
  TensorGroups lists = {{iota({2, 2}), iota({2, 2})}};
  try {
    Concatenate(0)->convert(lists, ctx);
    FAIL() << "expected an error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.3.mlp.experts.gate_up_proj"), std::string::npos) << e.what();
  }
  ConversionContext three{nullptr, "qkv", 3};
  EXPECT_THROW(Chunk(0)->convert({{iota({4, 2})}}, three), ShapeError);
  EXPECT_THROW(MergeModulelist(0)->convert({{iota({2, 2}), iota({3, 2})}}, ctx), ShapeError);
}

}  // namespace
}  // namespace transformers::loading
