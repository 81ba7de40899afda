// `transformers tokenize PATH [--text TEXT] [--jsonl]`: encode text with a checkpoint's
// tokenizer and print one JSON line per text, in the shape of ../shared/tools/hf_encode.mjs
// ({i, text, with_special:{ids,tokens,offsets}, no_special:{...}, decode, decode_skip}; offsets
// in code points) so that the two outputs can be diffed.
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/hub_args.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace {

using transformers::OrderedJson;

struct TokenizeArgs {
  std::string path;
  std::vector<std::string> texts;
  bool jsonl = false;
  bool ids_only = false;
  transformers::cli::HubArgs hub;
};

OrderedJson encoding_json(const transformers::Encoding& e) {
  OrderedJson offsets = OrderedJson::array();
  for (auto [s, t] : e.offsets) offsets.push_back({s, t});
  OrderedJson out;
  out["ids"] = e.ids;
  out["tokens"] = e.tokens;
  out["offsets"] = std::move(offsets);
  return out;
}

void print_record(const transformers::Tokenizer& tok, size_t index, const std::string& text,
                  bool ids_only) {
  auto with = tok.encode_full(text, true);
  if (ids_only) {
    std::cout << OrderedJson(with.ids).dump() << '\n';
    return;
  }
  auto without = tok.encode_full(text, false);
  // The Rust library's decode: no clean_up_tokenization_spaces.
  transformers::DecodeOptions raw{.skip_special_tokens = false, .clean_up_tokenization_spaces = false};
  transformers::DecodeOptions skip{.skip_special_tokens = true, .clean_up_tokenization_spaces = false};
  OrderedJson rec;
  rec["i"] = index;
  rec["text"] = text;
  rec["with_special"] = encoding_json(with);
  rec["no_special"] = encoding_json(without);
  rec["decode"] = tok.decode(with.ids, raw);
  rec["decode_skip"] = tok.decode(with.ids, skip);
  std::cout << rec.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << '\n';
}

void run(const TokenizeArgs& args) {
  auto tok = transformers::Tokenizer::from_pretrained(args.path);
  size_t index = 0;
  for (const auto& text : args.texts) print_record(tok, index++, text, args.ids_only);
  if (args.jsonl || args.texts.empty()) {
    std::string line;
    size_t line_number = 0;
    while (std::getline(std::cin, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto value = transformers::parse_json(line, "stdin line " + std::to_string(line_number));
      std::string text;
      if (value.is_string()) {
        text = value.get<std::string>();
      } else {
        text = transformers::json_get<std::string>(value, "text",
                                                   "stdin line " + std::to_string(line_number));
      }
      print_record(tok, index++, text, args.ids_only);
    }
  }
}

const transformers::cli::Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand(
      "tokenize",
      "Tokenize text with a checkpoint's tokenizer (tokenizer.json or tokenizer.model); one JSON "
      "line per text, as ../shared/tools/hf_encode.mjs prints");
  sub->add_option("path", args->path, "Checkpoint folder, tokenizer.json file or Hub name org/name[@revision]")->required();
  transformers::cli::add_hub_flags(sub, args->hub);
  sub->add_option("--text", args->texts, "Text to encode (repeatable)");
  sub->add_flag("--jsonl", args->jsonl,
                "Read texts from stdin, one per line: a JSON string or {\"text\": ...}");
  sub->add_flag("--ids", args->ids_only, "Print only the ids (with special tokens) per text");
  sub->callback([args] {
    args->path = transformers::cli::resolve_model_arg(args->path, args->hub);
    run(*args);
  });
}};

}  // namespace
