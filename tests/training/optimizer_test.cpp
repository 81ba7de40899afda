// Schedules against trace.json's learning_rate column and hand-worked values; AdamW and SGD
// against updates computed by hand in double; clipping against a hand-computed norm.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>

#include <nlohmann/json.hpp>

#include "transformers/training/lr_schedule.h"
#include "transformers/training/optimizer.h"

using namespace transformers;
using namespace transformers::training;

TEST(LrSchedule, CosineMatchesTheGoldenTrace) {
  std::ifstream in(std::string(TCPP_SHARED_DIR) + "/train_golden/trace.json");
  ASSERT_TRUE(in);
  const auto trace = nlohmann::json::parse(in);
  const auto& steps = trace.at("steps");
  ASSERT_EQ(steps.size(), 24u);
  const LrSchedule schedule("cosine", 0.002, 3, 24);
  for (const auto& step : steps) {
    const int64_t k = step.at("step").get<int64_t>();
    EXPECT_EQ(schedule.rate_for_step(k), step.at("learning_rate").get<double>()) << "step " << k;
    EXPECT_EQ(schedule.rate_for_step(k + 1), step.at("lr_next").get<double>()) << "step " << k;
  }
}

TEST(LrSchedule, HandWorkedValues) {
  const double pi = std::numbers::pi;
  // linear, warmup 2 of 10: lambda(1) = 1/2, lambda(2) = 8/8, lambda(6) = 4/8, lambda(10) = 0.
  const LrSchedule linear("linear", 1.0, 2, 10);
  EXPECT_EQ(linear.lambda(1), 0.5);
  EXPECT_EQ(linear.lambda(2), 1.0);
  EXPECT_EQ(linear.lambda(6), 0.5);
  EXPECT_EQ(linear.lambda(10), 0.0);
  EXPECT_EQ(linear.lambda(12), 0.0);
  EXPECT_EQ(LrSchedule("constant", 1.0, 5, 10).lambda(0), 1.0);
  EXPECT_EQ(LrSchedule("constant_with_warmup", 1.0, 4, 10).lambda(1), 0.25);
  EXPECT_EQ(LrSchedule("constant_with_warmup", 1.0, 4, 10).lambda(9), 1.0);
  // cosine_with_restarts, 2 cycles over 8 decay steps: progress 3/8 -> frac(0.75) -> 0.5(1+cos(0.75 pi)).
  const LrSchedule restarts("cosine_with_restarts", 1.0, 2, 10, {{"num_cycles", 2}});
  EXPECT_DOUBLE_EQ(restarts.lambda(5), 0.5 * (1 + std::cos(pi * 0.75)));
  EXPECT_DOUBLE_EQ(restarts.lambda(6), 1.0);  // progress 0.5: a restart
  EXPECT_EQ(restarts.lambda(10), 0.0);
  // polynomial, lr 1, lr_end 0.1, power 2, warmup 0 of 4: lambda(1) = 0.9 * 0.75^2 + 0.1.
  const LrSchedule poly("polynomial", 1.0, 0, 4, {{"lr_end", 0.1}, {"power", 2.0}});
  EXPECT_DOUBLE_EQ(poly.lambda(1), 0.9 * 0.5625 + 0.1);
  EXPECT_DOUBLE_EQ(poly.lambda(5), 0.1);
  // inverse_sqrt, warmup 4: lambda(16) = 1/sqrt(16/4) = 0.5; no warmup: timescale 10000.
  EXPECT_EQ(LrSchedule("inverse_sqrt", 1.0, 4, 100).lambda(16), 0.5);
  EXPECT_EQ(LrSchedule("inverse_sqrt", 1.0, 0, 100).lambda(20000), 1.0 / std::sqrt(3.0));  // shift 10000
  // warmup_stable_decay: warmup 2, decay 4 of 10 -> stable 4; linear decay to min ratio 0.2.
  const LrSchedule wsd("warmup_stable_decay", 1.0, 2, 10,
                       {{"num_decay_steps", 4}, {"decay_type", "linear"}, {"min_lr_ratio", 0.2}});
  EXPECT_DOUBLE_EQ(wsd.lambda(1), 0.5 * 0.8 + 0.2);
  EXPECT_EQ(wsd.lambda(5), 1.0);
  EXPECT_DOUBLE_EQ(wsd.lambda(7), 0.75 * 0.8 + 0.2);
  EXPECT_EQ(wsd.lambda(10), 0.2);
  EXPECT_THROW(LrSchedule("cosine", 1.0, 0, 10, {{"power", 2}}), ConfigError);
  EXPECT_THROW(LrSchedule("polynomial", 1e-8, 0, 10), ConfigError);  // lr_end must be below lr
  EXPECT_THROW(LrSchedule("warmup_stable_decay", 1.0, 0, 10), ConfigError);  // num_decay_steps missing
}

TEST(AdamW, TwoStepsAgreeWithAHandComputedUpdate) {
  std::vector<float> p = {0.5f, -1.25f, 2.0f}, g(3), q = {0.75f};
  std::vector<float> gq(1);
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  AdamW adam({{"w", p, g, true}, {"norm.weight", q, gq, false}}, {b1, b2, eps, wd});
  const std::vector<std::vector<double>> grads = {{0.3, -0.2, 0.05}, {-0.1, 0.4, 0.05}};
  const std::vector<double> grads_q = {1.0, -2.0};
  std::vector<double> ref = {0.5, -1.25, 2.0}, m(3, 0), v(3, 0);
  double ref_q = 0.75, mq = 0, vq = 0;
  for (int t = 1; t <= 2; ++t) {
    for (int j = 0; j < 3; ++j) g[j] = static_cast<float>(grads[t - 1][j]);
    gq[0] = static_cast<float>(grads_q[t - 1]);
    adam.step(lr);
    const double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
    for (int j = 0; j < 3; ++j) {
      const double grad = static_cast<float>(grads[t - 1][j]);
      ref[j] *= 1 - lr * wd;
      m[j] = b1 * m[j] + (1 - b1) * grad;
      v[j] = b2 * v[j] + (1 - b2) * grad * grad;
      ref[j] -= lr / c1 * m[j] / (std::sqrt(v[j]) / std::sqrt(c2) + eps);
    }
    const double grad_q = grads_q[t - 1];  // no decay: the norm weight's group has weight_decay 0
    mq = b1 * mq + (1 - b1) * grad_q;
    vq = b2 * vq + (1 - b2) * grad_q * grad_q;
    ref_q -= lr / c1 * mq / (std::sqrt(vq) / std::sqrt(c2) + eps);
  }
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(p[j], ref[j], 2e-7 * std::abs(ref[j])) << j;
  EXPECT_NEAR(q[0], ref_q, 2e-7);
  EXPECT_EQ(adam.steps_taken(), 2);
}

TEST(Sgd, MomentumNesterovAndDecayAsTorch) {
  // lr 0.1, momentum 0.9, nesterov, wd 0.5: step 1 d = g + 0.5p = 1 + 0.5 = 1.5, buf = 1.5,
  // d = 1.5 + 0.9*1.5 = 2.85, p = 1 - 0.285 = 0.715. Step 2 (g = 1): d = 1 + 0.3575 = 1.3575,
  // buf = 1.35 + 1.3575 = 2.7075, d = 1.3575 + 2.43675 = 3.79425, p = 0.715 - 0.379425 = 0.335575.
  std::vector<float> p = {1.0f}, g = {1.0f};
  Sgd sgd({{"w", p, g, true}}, {.momentum = 0.9, .dampening = 0.0, .weight_decay = 0.5, .nesterov = true});
  sgd.step(0.1);
  EXPECT_NEAR(p[0], 0.715, 1e-6);
  sgd.step(0.1);
  EXPECT_NEAR(p[0], 0.335575, 1e-6);
  std::vector<float> plain = {2.0f}, plain_grad = {4.0f};
  Sgd(std::vector<ParameterBuffer>{{"w", plain, plain_grad, true}}, {}).step(0.25);
  EXPECT_EQ(plain[0], 1.0f);
}

TEST(ClipGradNorm, ReturnsTheNormBeforeClipping) {
  std::vector<float> a = {3.0f, 0.0f}, ga = {3.0f, 4.0f}, b = {0.0f}, gb = {12.0f};
  const std::vector<ParameterBuffer> params = {{"a", a, ga, true}, {"b", b, gb, true}};
  EXPECT_FLOAT_EQ(clip_grad_norm(params, 0.0), 13.0f);  // no clipping: norm only
  EXPECT_EQ(gb[0], 12.0f);
  EXPECT_FLOAT_EQ(clip_grad_norm(params, 1.3), 13.0f);
  const float factor = 1.3f / (13.0f + 1e-6f);
  EXPECT_EQ(ga[1], 4.0f * factor);
  EXPECT_EQ(gb[0], 12.0f * factor);
  EXPECT_NEAR(clip_grad_norm(params, 100.0), 1.3, 1e-6);  // factor clamped at 1
}
