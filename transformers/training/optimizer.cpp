#include "transformers/training/optimizer.h"

#include <cmath>
#include <sstream>

#include "transformers/io/safetensors.h"
#include "transformers/ops/ops.h"

// The float32 expressions below are written in torch's operation order and must not be fused
// into FMAs (the project builds this file with -std=c++20, where GCC does not contract).

namespace transformers::training {

Optimizer::Optimizer(std::vector<ParameterBuffer> params) : params_(std::move(params)) {
  for (const auto& p : params_)
    TCPP_CHECK(p.value.size() == p.grad.size(), ShapeError, "optimizer: parameter '", p.name,
               "' has ", p.value.size(), " values but ", p.grad.size(), " gradients");
}

void Optimizer::zero_grad() {
  for (auto& p : params_) std::fill(p.grad.begin(), p.grad.end(), 0.0f);
}

void Optimizer::save(const std::filesystem::path& folder) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  auto* self = const_cast<Optimizer*>(this);  // state_of hands out pointers; nothing is modified
  for (size_t i = 0; i < params_.size(); ++i)
    for (auto& [state_name, values] : self->state_of(i))
      tensors.emplace_back(params_[i].name + "." + state_name,
                           Tensor::from_values(*values, {static_cast<int64_t>(values->size())}));
  save_safetensors(folder / "optimizer.safetensors", tensors, {{"format", "pt"}});
  Json meta = {{"optimizer", kind()}, {"step", steps_}, {"hyper_parameters", hyper_parameters()}};
  Json names = Json::array();
  for (const auto& p : params_) names.push_back({{"name", p.name}, {"weight_decay", p.weight_decay}});
  meta["parameters"] = names;
  write_file_atomically(folder / "optimizer.json", meta.dump(2) + "\n");
}

void Optimizer::load(const std::filesystem::path& folder) {
  const auto json_path = folder / "optimizer.json";
  const Json meta = read_json_file(json_path);
  const std::string where = json_path.string();
  const auto saved_kind = json_get<std::string>(meta, "optimizer", where);
  TCPP_CHECK(saved_kind == kind(), ConfigError, where, ": the checkpoint holds a '", saved_kind,
             "' optimizer state, this run uses '", kind(), "'");
  steps_ = json_get<int64_t>(meta, "step", where);
  const auto file = SafetensorsFile::open(folder / "optimizer.safetensors");
  for (size_t i = 0; i < params_.size(); ++i)
    for (auto& [state_name, values] : state_of(i)) {
      const std::string name = params_[i].name + "." + state_name;
      TCPP_CHECK(file->contains(name), FormatError, file->path().string(), ": missing optimizer state '", name, "'");
      std::vector<float> loaded = ops::to_float_vector(file->tensor(name));
      TCPP_CHECK(loaded.size() == values->size(), ShapeError, file->path().string(), ": optimizer state '", name,
                 "' has ", loaded.size(), " values, the parameter ", values->size());
      *values = std::move(loaded);
    }
}

AdamW::AdamW(std::vector<ParameterBuffer> params, AdamWOptions options)
    : Optimizer(std::move(params)), options_(options) {
  for (const auto& p : params_) {
    exp_avg_.emplace_back(p.value.size(), 0.0f);
    exp_avg_sq_.emplace_back(p.value.size(), 0.0f);
  }
}

void AdamW::step(double lr) {
  ++steps_;
  // Scalars as torch computes them: Python doubles, cast to float when they meet a tensor.
  const double step = static_cast<double>(steps_);
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, step);
  const float negative_step_size = static_cast<float>(-(lr / bias_correction1));
  const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float beta1 = static_cast<float>(options_.beta1), beta2 = static_cast<float>(options_.beta2);
  const float one_minus_beta1 = static_cast<float>(1.0 - options_.beta1);
  const float one_minus_beta2 = static_cast<float>(1.0 - options_.beta2);
  const float eps = static_cast<float>(options_.eps);
  for (size_t i = 0; i < params_.size(); ++i) {
    const double weight_decay = params_[i].weight_decay ? options_.weight_decay : 0.0;
    const float decay = static_cast<float>(1.0 - lr * weight_decay);
    float* p = params_[i].value.data();
    const float* g = params_[i].grad.data();
    float* m = exp_avg_[i].data();
    float* v = exp_avg_sq_[i].data();
    for (size_t j = 0; j < params_[i].value.size(); ++j) {
      p[j] = p[j] * decay;                                              // param.mul_(1 - lr*wd)
      m[j] = m[j] * beta1 + one_minus_beta1 * g[j];                     // exp_avg.mul_(b1).add_(g, 1-b1)
      v[j] = v[j] * beta2 + one_minus_beta2 * g[j] * g[j];              // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
      const float denom = std::sqrt(v[j]) / bias_correction2_sqrt + eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
      p[j] = p[j] + negative_step_size * m[j] / denom;                  // param.addcdiv_(m, denom, -step_size)
    }
  }
}

Json AdamW::hyper_parameters() const {
  return {{"betas", {options_.beta1, options_.beta2}}, {"eps", options_.eps}, {"weight_decay", options_.weight_decay}};
}

std::vector<std::pair<std::string, std::vector<float>*>> AdamW::state_of(size_t index) {
  return {{"exp_avg", &exp_avg_[index]}, {"exp_avg_sq", &exp_avg_sq_[index]}};
}

Sgd::Sgd(std::vector<ParameterBuffer> params, SgdOptions options) : Optimizer(std::move(params)), options_(options) {
  if (options_.momentum != 0.0)
    for (const auto& p : params_) momentum_buffer_.emplace_back(p.value.size(), 0.0f);
  TCPP_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0), ConfigError,
             "sgd: nesterov momentum requires a momentum and zero dampening");
}

void Sgd::step(double lr) {
  const bool first = steps_ == 0;
  ++steps_;
  const float momentum = static_cast<float>(options_.momentum);
  const float one_minus_dampening = static_cast<float>(1.0 - options_.dampening);
  const float negative_lr = static_cast<float>(-lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    const float weight_decay = params_[i].weight_decay ? static_cast<float>(options_.weight_decay) : 0.0f;
    float* p = params_[i].value.data();
    const float* g = params_[i].grad.data();
    float* buf = momentum_buffer_.empty() ? nullptr : momentum_buffer_[i].data();
    for (size_t j = 0; j < params_[i].value.size(); ++j) {
      float d = weight_decay != 0.0f ? g[j] + weight_decay * p[j] : g[j];  // grad.add(param, alpha=wd)
      if (buf) {
        buf[j] = first ? d : buf[j] * momentum + one_minus_dampening * d;  // clone, or mul_.add_
        d = options_.nesterov ? d + momentum * buf[j] : buf[j];
      }
      p[j] = p[j] + negative_lr * d;  // param.add_(d, alpha=-lr)
    }
  }
}

Json Sgd::hyper_parameters() const {
  return {{"momentum", options_.momentum},
          {"dampening", options_.dampening},
          {"weight_decay", options_.weight_decay},
          {"nesterov", options_.nesterov}};
}

std::vector<std::pair<std::string, std::vector<float>*>> Sgd::state_of(size_t index) {
  if (momentum_buffer_.empty()) return {};
  return {{"momentum_buffer", &momentum_buffer_[index]}};
}

namespace {

// optim_args "momentum=0.9,nesterov=True" (Transformers' format) for SGD.
SgdOptions parse_sgd_args(const std::optional<std::string>& text, double weight_decay) {
  SgdOptions options;
  options.weight_decay = weight_decay;
  if (!text) return options;
  std::stringstream items(*text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t equals = item.find('=');
    TCPP_CHECK(equals != std::string::npos, ConfigError, "optim_args: '", item, "' is not key=value");
    const std::string key = item.substr(0, equals), value = item.substr(equals + 1);
    try {
      if (key == "momentum")
        options.momentum = std::stod(value);
      else if (key == "dampening")
        options.dampening = std::stod(value);
      else if (key == "nesterov")
        options.nesterov = value == "True" || value == "true" || value == "1";
      else
        throw ConfigError("optim_args: unknown SGD argument '" + key + "' (momentum, dampening, nesterov)");
    } catch (const std::invalid_argument&) {
      throw ConfigError("optim_args: '" + key + "' must be a number, got '" + value + "'");
    }
  }
  return options;
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const TrainingArguments& args, std::vector<ParameterBuffer> params) {
  if (args.optim == "sgd") return std::make_unique<Sgd>(std::move(params), parse_sgd_args(args.optim_args, args.weight_decay));
  TCPP_CHECK(args.optim == "adamw_torch" || args.optim == "adamw_torch_fused", ConfigError, "optim: '", args.optim,
             "' is not one of adamw_torch, adamw_torch_fused, sgd");
  TCPP_CHECK(!args.optim_args, ConfigError, "optim_args: not used by ", args.optim);
  return std::make_unique<AdamW>(std::move(params), AdamWOptions{args.adam_beta1, args.adam_beta2, args.adam_epsilon,
                                                                 args.weight_decay});
}

float clip_grad_norm(const std::vector<ParameterBuffer>& params, double max_norm) {
  // Per-tensor norms rounded to float32 as torch.norm returns them, then the norm of the stack.
  double total_squares = 0;
  for (const auto& p : params) {
    double squares = 0;
    for (float g : p.grad) squares += static_cast<double>(g) * g;
    const float tensor_norm = static_cast<float>(std::sqrt(squares));
    total_squares += static_cast<double>(tensor_norm) * tensor_norm;
  }
  const float total_norm = static_cast<float>(std::sqrt(total_squares));
  if (max_norm > 0) {
    const float clip = std::min(1.0f, static_cast<float>(max_norm) / (total_norm + 1e-6f));
    for (const auto& p : params)
      for (float& g : p.grad) g = g * clip;
  }
  return total_norm;
}

}  // namespace transformers::training
