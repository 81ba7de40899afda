#include "transformers/training/training_arguments.h"

#include <cmath>
#include <map>
#include <variant>

#include "transformers/io/files.h"

namespace transformers::training {
namespace {

using Args = TrainingArguments;
using Member = std::variant<int64_t Args::*, double Args::*, bool Args::*, std::string Args::*,
                            std::optional<int64_t> Args::*, std::optional<double> Args::*,
                            std::optional<std::string> Args::*, std::optional<bool> Args::*, Json Args::*>;

const std::map<std::string, Member>& fields() {
  static const std::map<std::string, Member> table = {
      {"output_dir", &Args::output_dir},
      {"do_train", &Args::do_train},
      {"do_eval", &Args::do_eval},
      {"per_device_train_batch_size", &Args::per_device_train_batch_size},
      {"per_device_eval_batch_size", &Args::per_device_eval_batch_size},
      {"gradient_accumulation_steps", &Args::gradient_accumulation_steps},
      {"learning_rate", &Args::learning_rate},
      {"weight_decay", &Args::weight_decay},
      {"adam_beta1", &Args::adam_beta1},
      {"adam_beta2", &Args::adam_beta2},
      {"adam_epsilon", &Args::adam_epsilon},
      {"max_grad_norm", &Args::max_grad_norm},
      {"num_train_epochs", &Args::num_train_epochs},
      {"max_steps", &Args::max_steps},
      {"optim", &Args::optim},
      {"optim_args", &Args::optim_args},
      {"lr_scheduler_type", &Args::lr_scheduler_type},
      {"lr_scheduler_kwargs", &Args::lr_scheduler_kwargs},
      {"warmup_steps", &Args::warmup_steps},
      {"logging_strategy", &Args::logging_strategy},
      {"logging_steps", &Args::logging_steps},
      {"logging_first_step", &Args::logging_first_step},
      {"logging_nan_inf_filter", &Args::logging_nan_inf_filter},
      {"eval_strategy", &Args::eval_strategy},
      {"eval_steps", &Args::eval_steps},
      {"eval_on_start", &Args::eval_on_start},
      {"save_strategy", &Args::save_strategy},
      {"save_steps", &Args::save_steps},
      {"save_total_limit", &Args::save_total_limit},
      {"save_only_model", &Args::save_only_model},
      {"seed", &Args::seed},
      {"data_seed", &Args::data_seed},
      {"bf16", &Args::bf16},
      {"fp16", &Args::fp16},
      {"use_cpu", &Args::use_cpu},
      {"report_to", &Args::report_to},
      {"resume_from_checkpoint", &Args::resume_from_checkpoint},
      {"average_tokens_across_devices", &Args::average_tokens_across_devices},
      {"train_sampling_strategy", &Args::train_sampling_strategy},
      {"dataloader_drop_last", &Args::dataloader_drop_last},
      {"dataloader_num_workers", &Args::dataloader_num_workers},
      {"label_smoothing_factor", &Args::label_smoothing_factor},
      {"load_best_model_at_end", &Args::load_best_model_at_end},
      {"metric_for_best_model", &Args::metric_for_best_model},
      {"greater_is_better", &Args::greater_is_better},
      {"run_name", &Args::run_name},
      {"disable_tqdm", &Args::disable_tqdm},
      {"remove_unused_columns", &Args::remove_unused_columns},
      {"gradient_checkpointing", &Args::gradient_checkpointing},
      {"prediction_loss_only", &Args::prediction_loss_only},
      {"push_to_hub", &Args::push_to_hub},
  };
  return table;
}

// v4 arguments that v5 removed, with what replaces them.
const std::map<std::string, std::string>& removed_arguments() {
  static const std::map<std::string, std::string> table = {
      {"warmup_ratio", "warmup_steps (a float < 1 is a ratio of the total steps)"},
      {"overwrite_output_dir", "nothing: output_dir is reused; continue with resume_from_checkpoint"},
      {"logging_dir", "nothing: loggers choose their own folder (report_to is 'none' here)"},
      {"no_cuda", "use_cpu"},
      {"use_mps_device", "use_cpu (the device is chosen automatically)"},
      {"per_gpu_train_batch_size", "per_device_train_batch_size"},
      {"per_gpu_eval_batch_size", "per_device_eval_batch_size"},
      {"evaluation_strategy", "eval_strategy"},
      {"group_by_length", "train_sampling_strategy=\"group_by_length\""},
      {"fp16_backend", "half_precision_backend"},
      {"push_to_hub_token", "hub_token"},
      {"push_to_hub_model_id", "hub_model_id"},
      {"push_to_hub_organization", "hub_model_id"},
      {"use_legacy_prediction_loop", "nothing: the evaluation loop is the only one"},
  };
  return table;
}

const Member& member_of(const std::string& key, const std::string& where) {
  if (auto removed = removed_arguments().find(key); removed != removed_arguments().end())
    throw ConfigError(detail::concat(where, ": '", key, "' was removed in Transformers v5; use ",
                                     removed->second));
  auto it = fields().find(key);
  TCPP_CHECK(it != fields().end(), ConfigError, where, ": unknown TrainingArguments key '", key, "'");
  return it->second;
}

template <typename T>
T json_as(const Json& value, const std::string& key, const std::string& where) {
  if constexpr (std::is_same_v<T, int64_t>) {
    // 3.0 is accepted as 3 (Python would accept neither from JSON, but a CLI "3.0" is natural).
    if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>())
      return static_cast<int64_t>(value.get<double>());
    TCPP_CHECK(value.is_number_integer(), ConfigError, where, ": '", key, "' must be an integer, got ", value.dump());
  } else if constexpr (std::is_same_v<T, double>) {
    TCPP_CHECK(value.is_number(), ConfigError, where, ": '", key, "' must be a number, got ", value.dump());
  } else if constexpr (std::is_same_v<T, bool>) {
    TCPP_CHECK(value.is_boolean(), ConfigError, where, ": '", key, "' must be true or false, got ", value.dump());
  } else {
    TCPP_CHECK(value.is_string(), ConfigError, where, ": '", key, "' must be a string, got ", value.dump());
  }
  return value.get<T>();
}

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

void assign(Args& args, const Member& member, const Json& value, const std::string& key, const std::string& where) {
  std::visit(
      [&](auto pointer) {
        using Field = std::remove_cvref_t<decltype(args.*pointer)>;
        if constexpr (std::is_same_v<Field, Json>) {
          args.*pointer = value;
        } else if constexpr (IsOptional<Field>::value) {
          if (value.is_null())
            args.*pointer = std::nullopt;
          else
            args.*pointer = json_as<typename Field::value_type>(value, key, where);
        } else {
          args.*pointer = json_as<Field>(value, key, where);
        }
      },
      member);
}

Json read(const Args& args, const Member& member) {
  return std::visit(
      [&](auto pointer) -> Json {
        using Field = std::remove_cvref_t<decltype(args.*pointer)>;
        if constexpr (IsOptional<Field>::value) {
          const auto& value = args.*pointer;
          return value ? Json(*value) : Json(nullptr);
        } else {
          return Json(args.*pointer);
        }
      },
      member);
}

bool is_bool_field(const Member& member) {
  return std::holds_alternative<bool Args::*>(member) || std::holds_alternative<std::optional<bool> Args::*>(member);
}

// The JSON value a command-line word stands for, given the field it goes to: numbers and booleans
// as Python's argparse types would read them, "None" as null, JSON objects for the dict fields.
Json word_to_json(const Member& member, const std::string& key, const std::string& text) {
  const std::string where = detail::concat("argument --", key);
  if (text == "None" || text == "null") return nullptr;
  if (is_bool_field(member)) {
    if (text == "true" || text == "True" || text == "1" || text == "yes") return true;
    if (text == "false" || text == "False" || text == "0" || text == "no") return false;
    throw ConfigError(detail::concat(where, ": expected true or false, got '", text, "'"));
  }
  const bool integer = std::holds_alternative<int64_t Args::*>(member) ||
                       std::holds_alternative<std::optional<int64_t> Args::*>(member);
  const bool number = std::holds_alternative<double Args::*>(member) ||
                      std::holds_alternative<std::optional<double> Args::*>(member);
  if (integer || number) {
    size_t used = 0;
    try {
      if (integer) {
        const int64_t value = std::stoll(text, &used);
        if (used == text.size()) return value;
      } else {
        const double value = std::stod(text, &used);
        if (used == text.size()) return value;
      }
    } catch (const std::exception&) {
    }
    throw ConfigError(detail::concat(where, ": expected ", integer ? "an integer" : "a number", ", got '", text, "'"));
  }
  if (std::holds_alternative<Json Args::*>(member)) {
    if (key == "resume_from_checkpoint" && (text == "true" || text == "True")) return true;
    if (key == "resume_from_checkpoint" && (text == "false" || text == "False")) return nullptr;
    if (!text.empty() && (text.front() == '{' || text.front() == '[')) return parse_json(text, where);
  }
  return text;
}

std::string normalise_key(std::string key) {
  for (char& c : key)
    if (c == '-') c = '_';
  return key;
}

void check_choice(const std::string& key, const std::string& value, std::initializer_list<const char*> choices) {
  std::string listed;
  for (const char* choice : choices) {
    if (value == choice) return;
    listed += listed.empty() ? choice : detail::concat(", ", choice);
  }
  throw ConfigError(detail::concat("TrainingArguments: ", key, "='", value, "' is not one of: ", listed));
}

}  // namespace

TrainingArguments TrainingArguments::from_json(const Json& json, const std::string& what) {
  TCPP_CHECK(json.is_object(), ConfigError, what, ": TrainingArguments must be a JSON object");
  TrainingArguments args;
  for (const auto& [key, value] : json.items()) assign(args, member_of(key, what), value, key, what);
  return args;
}

TrainingArguments TrainingArguments::from_json_file(const std::filesystem::path& path) {
  return from_json(read_json_file(path), path.string());
}

void TrainingArguments::set(const std::string& raw_key, const std::string& value) {
  const std::string key = normalise_key(raw_key);
  const std::string where = detail::concat("argument --", key);
  const Member& member = member_of(key, where);
  assign(*this, member, word_to_json(member, key, value), key, where);
}

void TrainingArguments::apply_command_line(const std::vector<std::string>& words) {
  for (size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i];
    const bool dashed = word.starts_with("--");
    if (dashed) word = word.substr(2);
    const size_t equals = word.find('=');
    if (equals != std::string::npos) {
      set(word.substr(0, equals), word.substr(equals + 1));
      continue;
    }
    TCPP_CHECK(dashed, ConfigError, "command line: '", words[i], "' is neither key=value nor --key value");
    const std::string key = normalise_key(word);
    const bool has_value = i + 1 < words.size() && !words[i + 1].starts_with("--");
    if (!has_value) {
      // A bare boolean flag means true, as HfArgumentParser's nargs="?" const=True does.
      TCPP_CHECK(is_bool_field(member_of(key, "argument --" + key)), ConfigError, "argument --", key,
                 ": missing value");
      set(key, "true");
      continue;
    }
    set(key, words[++i]);
  }
}

void TrainingArguments::validate() const {
  TCPP_CHECK(per_device_train_batch_size >= 1 && per_device_eval_batch_size >= 1, ConfigError,
             "TrainingArguments: per_device_train_batch_size and per_device_eval_batch_size must be >= 1");
  TCPP_CHECK(gradient_accumulation_steps >= 1, ConfigError, "TrainingArguments: gradient_accumulation_steps must be >= 1");
  TCPP_CHECK(max_steps > 0 || num_train_epochs > 0, ConfigError,
             "TrainingArguments: max_steps or num_train_epochs must be > 0");
  TCPP_CHECK(warmup_steps >= 0, ConfigError, "TrainingArguments: warmup_steps must be >= 0, got ", warmup_steps);
  TCPP_CHECK(learning_rate >= 0, ConfigError, "TrainingArguments: learning_rate must be >= 0");
  TCPP_CHECK(logging_steps > 0 && save_steps > 0 && (!eval_steps || *eval_steps > 0), ConfigError,
             "TrainingArguments: logging_steps, save_steps and eval_steps must be > 0");
  TCPP_CHECK(!fp16, ConfigError, "TrainingArguments: fp16 mixed precision needs a GPU; not available on CPU");
  TCPP_CHECK(label_smoothing_factor == 0.0, NotImplementedError,
             "TrainingArguments: label_smoothing_factor must be 0 (label smoothing is not implemented)");
  TCPP_CHECK(!push_to_hub, NotImplementedError, "TrainingArguments: push_to_hub is not implemented");
  TCPP_CHECK(!load_best_model_at_end, NotImplementedError,
             "TrainingArguments: load_best_model_at_end is not implemented");
  check_choice("optim", optim, {"adamw_torch", "adamw_torch_fused", "sgd"});
  check_choice("lr_scheduler_type", lr_scheduler_type,
               {"linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                "inverse_sqrt", "warmup_stable_decay"});
  TCPP_CHECK(lr_scheduler_kwargs.is_object(), ConfigError, "TrainingArguments: lr_scheduler_kwargs must be an object");
  check_choice("logging_strategy", logging_strategy, {"no", "steps", "epoch"});
  check_choice("eval_strategy", eval_strategy, {"no", "steps", "epoch"});
  check_choice("save_strategy", save_strategy, {"no", "steps", "epoch"});
  check_choice("train_sampling_strategy", train_sampling_strategy, {"random", "sequential"});
  const bool no_report = report_to.is_null() || (report_to.is_string() && report_to == "none") ||
                         (report_to.is_array() && (report_to.empty() || report_to == Json::array({"none"})));
  TCPP_CHECK(no_report, NotImplementedError, "TrainingArguments: report_to=", report_to.dump(),
             " is not supported (only \"none\"; the log is in trainer_state.json)");
  TCPP_CHECK(resume_from_checkpoint.is_null() || resume_from_checkpoint.is_string() ||
                 resume_from_checkpoint.is_boolean(),
             ConfigError, "TrainingArguments: resume_from_checkpoint must be a path or true");
}

Json TrainingArguments::to_json() const {
  Json out = Json::object();
  for (const auto& [key, member] : fields()) out[key] = read(*this, member);
  return out;
}

void TrainingArguments::save(const std::filesystem::path& path) const {
  write_file_atomically(path, to_json().dump(2) + "\n");
}

int64_t TrainingArguments::resolved_warmup_steps(int64_t total_steps) const {
  if (warmup_steps >= 1) return static_cast<int64_t>(warmup_steps);
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_steps));
}

int64_t TrainingArguments::resolve_interval(double steps, int64_t max_steps) {
  if (steps < 1) return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(static_cast<double>(max_steps) * steps)));
  return static_cast<int64_t>(steps);
}

}  // namespace transformers::training
