// transformers embed MODEL [TEXT...] [--pooling mean|cls|last] [--normalize] [--format json|jsonl]
// Sentence embeddings, as sentence-transformers' encode() computes them and with the same code as
// serve's /v1/embeddings (transformers/serving/sentence_embedding.h): each text is tokenized with
// the folder's tokenizer (special tokens added), run alone (no padding), and its last hidden state
// pooled. The pooling defaults to what 1_Pooling/config.json asks for, else the mean. Texts come
// from the arguments, else one per line of stdin.
#include <iostream>

#include "cli/command.h"
#include "cli/hub_args.h"
#include "cli/progress.h"
#include "transformers/io/json.h"
#include "transformers/models/auto.h"
#include "transformers/serving/sentence_embedding.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::cli {
namespace {

struct EmbedArgs {
  std::string model, pooling, format = "json", dtype = "auto";
  std::vector<std::string> texts;
  bool normalize = false;
  HubArgs hub;
};

// The model loaded as what it is: an encoder (BERT, ModernBERT) or a decoder.
struct LoadedModel {
  std::unique_ptr<CausalLM> decoder;
  std::unique_ptr<EncoderModel> encoder;
};

LoadedModel load(const EmbedArgs& a, const PretrainedConfig& config) {
  ProgressLine loading("loading weights");
  const LoadOptions options{.dtype = a.dtype, .on_progress = loading.callback()};
  LoadedModel m;
  if (find_encoder(config.model_type)) m.encoder = AutoModel::from_pretrained(a.model, options);
  else m.decoder = AutoModelForCausalLM::from_pretrained(a.model, options);
  return m;
}

std::vector<std::string> stdin_lines() {
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

void run_embed(const EmbedArgs& a) {
  const std::vector<std::string> texts = a.texts.empty() ? stdin_lines() : a.texts;
  const PretrainedConfig config = PretrainedConfig::from_pretrained(a.model);
  const serving::Pooling pooling =
      a.pooling.empty() ? serving::folder_pooling(a.model) : serving::parse_pooling(a.pooling, "--pooling");
  const Tokenizer tokenizer = Tokenizer::from_pretrained(a.model);
  // Every text is tokenized and checked before the weights load, so a bad input fails at once.
  std::vector<std::vector<int64_t>> ids;
  for (size_t i = 0; i < texts.size(); ++i) {
    ids.push_back(tokenizer.encode(texts[i], /*add_special_tokens=*/true));
    TCPP_CHECK(!ids.back().empty(), ValueError, "text ", i + 1, " encodes to no tokens");
    check_sequence_length(config, static_cast<int64_t>(ids.back().size()), "embed");
  }
  const LoadedModel model = load(a, config);
  Json all = Json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<float> v = serving::sentence_embedding(model.decoder.get(), model.encoder.get(), ids[i], pooling);
    if (a.normalize) serving::l2_normalize(v);
    if (a.format == "jsonl") {
      std::cout << Json{{"text", texts[i]}, {"embedding", v}}.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
    } else {
      all.push_back(std::move(v));
    }
  }
  if (a.format == "json") std::cout << all.dump() << '\n';
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* sub = app.add_subcommand(
      "embed",
      "Sentence embeddings (as serve's /v1/embeddings): json prints one array of vectors, jsonl one "
      "{\"text\", \"embedding\"} line per text; texts from the arguments, else one per line of stdin");
  sub->add_option("model", args->model, "Model folder (encoder or decoder) or Hub name org/name[@revision]")->required();
  sub->add_option("texts", args->texts, "Texts to embed (none: read stdin lines)");
  add_hub_flags(sub, args->hub);
  sub->add_option("--pooling", args->pooling,
                  "mean, cls or last (default: what 1_Pooling/config.json asks for, else mean)")
      ->check(CLI::IsMember({"mean", "cls", "last"}));
  sub->add_flag("--normalize", args->normalize, "Scale each embedding to unit L2 norm");
  sub->add_option("--format", args->format, "json (default) or jsonl")->check(CLI::IsMember({"json", "jsonl"}));
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  sub->callback([args] {
    args->model = resolve_model_arg(args->model, args->hub);
    run_embed(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
