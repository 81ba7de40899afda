#include "transformers/nn/layers.h"

namespace transformers::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias, bool stored_transposed)
    : in_(in_features), out_(out_features) {
  register_parameter("weight", &weight, {out_features, in_features}, ParamRole::Matrix, false, stored_transposed);
  if (has_bias) register_parameter("bias", &bias, {out_features}, ParamRole::Vector);
}

Tensor Linear::forward(const Tensor& x) const {
  Tensor y = ops::linear(x, weight, bias.defined() ? &bias : nullptr);
  if (adapter) [[unlikely]]
    adapter->add_to(x, y);
  return y;
}

std::vector<Tensor> forward_group(const Tensor& x, std::initializer_list<const Linear*> linears) {
  std::vector<ops::LinearWeights> parts;
  for (const Linear* l : linears) parts.push_back({&l->weight, l->bias.defined() ? &l->bias : nullptr});
  std::vector<Tensor> ys = ops::linear_group(x, parts);
  size_t i = 0;
  for (const Linear* l : linears) {
    if (l->adapter) [[unlikely]]
      l->adapter->add_to(x, ys[i]);
    ++i;
  }
  return ys;
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim) {
  register_parameter("weight", &weight, {num_embeddings, dim}, ParamRole::Matrix);
  mark_parameter_lookup_table("weight");
}

RMSNorm::RMSNorm(int64_t dim, double eps, bool unit_offset) : eps_(eps), unit_offset_(unit_offset) {
  register_parameter("weight", &weight, {dim}, ParamRole::Vector);
}

LayerNorm::LayerNorm(int64_t dim, double eps, bool has_bias) : eps_(eps) {
  register_parameter("weight", &weight, {dim}, ParamRole::Vector);
  if (has_bias) register_parameter("bias", &bias, {dim}, ParamRole::Vector);
}

Tensor LayerNorm::forward(const Tensor& x) const {
  return ops::layer_norm(x, &weight, bias.defined() ? &bias : nullptr, static_cast<float>(eps_));
}

Norm::Norm(int64_t dim, const NormConfig& config) : config_(config) {
  TCPP_CHECK(config.heads == 0 || (config.kind == NormConfig::Kind::Layer && !config.bias), ConfigError,
             "norm: per-head weights are supported for LayerNorm without bias only");
  if (config.heads > 0) {
    register_parameter("weight", &weight, {config.heads, dim}, ParamRole::Vector);
    return;
  }
  register_parameter("weight", &weight, {dim}, ParamRole::Vector);
  if (config.kind == NormConfig::Kind::Layer && config.bias) register_parameter("bias", &bias, {dim}, ParamRole::Vector);
}

Tensor Norm::forward(const Tensor& x) const {
  if (config_.heads > 0) {
    TCPP_CHECK(x.dim() >= 2 && x.size(-2) == config_.heads && x.size(-1) == weight.size(1), ShapeError,
               "norm: per-head weight ", weight.describe(), " does not fit ", x.describe());
    Tensor out = ops::layer_norm(x, nullptr, nullptr, static_cast<float>(config_.eps));
    ops::mul_(out, weight);  // [heads, dim] broadcast over the leading dimensions
    return out;
  }
  if (config_.kind == NormConfig::Kind::RMS)
    return ops::rms_norm(x, weight, static_cast<float>(config_.eps), config_.unit_offset);
  return ops::layer_norm(x, &weight, bias.defined() ? &bias : nullptr, static_cast<float>(config_.eps));
}

}  // namespace transformers::nn
