#include "transformers/training/trainer_state.h"

#include "transformers/io/files.h"

namespace transformers::training {

Json TrainerState::to_json() const {
  Json history = Json::array();
  // Transformers dumps with sort_keys=True, which sorts the keys of every log entry too.
  for (const auto& entry : log_history) history.push_back(Json::parse(entry.dump()));
  return {{"best_global_step", nullptr},
          {"best_metric", best_metric ? Json(*best_metric) : Json(nullptr)},
          {"best_model_checkpoint", best_model_checkpoint ? Json(*best_model_checkpoint) : Json(nullptr)},
          {"epoch", epoch},
          {"eval_steps", eval_steps},
          {"global_step", global_step},
          {"is_hyper_param_search", false},
          {"is_local_process_zero", true},
          {"is_world_process_zero", true},
          {"log_history", history},
          {"logging_steps", logging_steps},
          {"max_steps", max_steps},
          {"num_input_tokens_seen", num_input_tokens_seen},
          {"num_train_epochs", num_train_epochs},
          {"save_steps", save_steps},
          {"stateful_callbacks", Json::object()},
          {"total_flos", total_flos},
          {"train_batch_size", train_batch_size},
          {"trial_name", nullptr},
          {"trial_params", nullptr}};
}

TrainerState TrainerState::from_json(const Json& json, const std::string& what) {
  TrainerState state;
  state.epoch = json_get<double>(json, "epoch", what);
  state.global_step = json_get<int64_t>(json, "global_step", what);
  state.max_steps = json_get<int64_t>(json, "max_steps", what);
  state.num_train_epochs = json_get_or<int64_t>(json, "num_train_epochs", 0, what);
  state.logging_steps = json_get_or<int64_t>(json, "logging_steps", 500, what);
  state.eval_steps = json_get_or<int64_t>(json, "eval_steps", 500, what);
  state.save_steps = json_get_or<int64_t>(json, "save_steps", 500, what);
  state.train_batch_size = json_get_or<int64_t>(json, "train_batch_size", 0, what);
  state.num_input_tokens_seen = json_get_or<int64_t>(json, "num_input_tokens_seen", 0, what);
  state.total_flos = json_get_or<double>(json, "total_flos", 0.0, what);
  state.best_metric = json_get_optional<double>(json, "best_metric", what);
  state.best_model_checkpoint = json_get_optional<std::string>(json, "best_model_checkpoint", what);
  TCPP_CHECK(json.contains("log_history"), FormatError, what, ": missing key 'log_history'");
  const Json& history = json.at("log_history");
  TCPP_CHECK(history.is_array(), FormatError, what, ": 'log_history' must be a list");
  state.log_history = OrderedJson::parse(history.dump());
  return state;
}

void TrainerState::save(const std::filesystem::path& path) const {
  write_file_atomically(path, to_json().dump(2) + "\n");
}

TrainerState TrainerState::load(const std::filesystem::path& path) {
  return from_json(read_json_file(path), path.string());
}

void TrainerState::continue_from(const TrainerState& saved) {
  global_step = saved.global_step;
  epoch = saved.epoch;
  log_history = saved.log_history;
  num_input_tokens_seen = saved.num_input_tokens_seen;
  total_flos = saved.total_flos;
  best_metric = saved.best_metric;
  best_model_checkpoint = saved.best_model_checkpoint;
}

}  // namespace transformers::training
