// `transformers tokenize PATH [--text TEXT]... [--offsets] [--tokens] [--no-special-tokens]`:
// encode text with a checkpoint's tokenizer and print one JSON line per text, shaped as v5's
// tokenizer(text) BatchEncoding: {"input_ids", "attention_mask"[, "token_type_ids"]
// [, "offset_mapping"][, "tokens"]}. Without --text, each line of stdin is a text (--jsonl: a JSON
// string or {"text": ...} per line). --format hf-encode prints the test harness's record instead,
// the shape of ../shared/tools/hf_encode.mjs ({i, text, with_special:{ids,tokens,offsets},
// no_special:{...}, decode, decode_skip}; offsets in code points), so the two can be diffed.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace {

using transformers::OrderedJson;

struct TokenizeArgs {
  std::string path;
  std::vector<std::string> texts;
  bool jsonl = false;
  bool ids_only = false;
  std::string format = "v5";  // or "hf-encode"
  bool offsets = false, tokens = false, no_special = false;
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

// v5's BatchEncoding for one text.
void print_batch_encoding(const transformers::Tokenizer& tok, const std::string& text, const TokenizeArgs& args) {
  const transformers::BatchEncoding b = tok(std::string_view(text), {.add_special_tokens = !args.no_special});
  OrderedJson rec;
  rec["input_ids"] = b.input_ids.at(0);
  const auto& names = tok.model_input_names();
  if (std::find(names.begin(), names.end(), "token_type_ids") != names.end()) rec["token_type_ids"] = b.token_type_ids.at(0);
  rec["attention_mask"] = b.attention_mask.at(0);
  if (args.offsets) {
    OrderedJson offsets = OrderedJson::array();
    for (auto [s, t] : b.encodings.at(0).offsets) offsets.push_back({s, t});
    rec["offset_mapping"] = std::move(offsets);
  }
  if (args.tokens) rec["tokens"] = b.encodings.at(0).tokens;
  std::cout << rec.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << '\n';
}

void print_record(const transformers::Tokenizer& tok, size_t index, const std::string& text, const TokenizeArgs& args) {
  if (args.format == "v5" && !args.ids_only) return print_batch_encoding(tok, text, args);
  auto with = tok.encode_full(text, !args.no_special);
  if (args.ids_only) {
    std::cout << OrderedJson(with.ids).dump() << '\n';
    return;
  }
  with = tok.encode_full(text, true);
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
  for (const auto& text : args.texts) print_record(tok, index++, text, args);
  if (args.jsonl || args.texts.empty()) {
    std::string line;
    size_t line_number = 0;
    while (std::getline(std::cin, line)) {
      ++line_number;
      if (!args.jsonl) {  // plain lines: each one a text, as typed
        if (!line.empty() && line.back() == '\r') line.pop_back();
        print_record(tok, index++, line, args);
        continue;
      }
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto value = transformers::parse_json(line, "stdin line " + std::to_string(line_number));
      std::string text;
      if (value.is_string()) {
        text = value.get<std::string>();
      } else {
        text = transformers::json_get<std::string>(value, "text",
                                                   "stdin line " + std::to_string(line_number));
      }
      print_record(tok, index++, text, args);
    }
  }
}

const transformers::cli::Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand(
      "tokenize",
      "Tokenize text with a checkpoint's tokenizer (tokenizer.json or tokenizer.model): one JSON line "
      "per text, {\"input_ids\", \"attention_mask\"} as v5's tokenizer(text) returns; texts from --text, else "
      "one per line of stdin");
  sub->add_option("path", args->path, "Checkpoint folder or tokenizer.json file")->required();
  sub->add_option("--text", args->texts, "Text to encode (repeatable; none: read stdin)");
  sub->add_flag("--jsonl", args->jsonl,
                "Read texts from stdin, one per line: a JSON string or {\"text\": ...}");
  sub->add_flag("--ids", args->ids_only, "Print only the ids per text");
  sub->add_flag("--offsets,--return_offsets_mapping", args->offsets, "Add offset_mapping (code points)");
  sub->add_flag("--tokens", args->tokens, "Add the tokens");
  sub->add_flag("--no-special-tokens", args->no_special,
                "add_special_tokens=False: no BOS/EOS/CLS...");
  sub->add_option("--format", args->format,
                  "v5 (default) or hf-encode: the test harness's record ({i, text, with_special, no_special, "
                  "decode, decode_skip}, as ../shared/tools/hf_encode.mjs prints)")
      ->check(CLI::IsMember({"v5", "hf-encode"}));
  sub->callback([args] { run(*args); });
}};

}  // namespace
