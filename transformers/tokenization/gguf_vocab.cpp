#include "transformers/tokenization/gguf_vocab.h"

#include <map>
#include <optional>
#include <vector>

#include "transformers/core/error.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/gguf_spm_vocab.h"
#include "transformers/tokenization/tokenizer_config.h"

namespace transformers::tokenization {
namespace {

// The split patterns of the byte-level tokenizers llama.cpp knows by name (llama-vocab.cpp's
// pre-tokenizer types); the regex in tokenizer.json identifies which one a tokenizer uses.
struct KnownPretokenizer {
  const char* name;
  const char* pattern;
};
constexpr KnownPretokenizer kKnownPretokenizers[] = {
    {"llama-bpe",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"qwen2",
     R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
};

// Collects the pre-tokenizers of tokenizer.json (one, or the members of a Sequence).
void collect_pretokenizers(const Json& node, std::vector<const Json*>& out) {
  if (!node.is_object()) return;
  if (node.value("type", "") == "Sequence" && node.contains("pretokenizers") && node["pretokenizers"].is_array()) {
    for (const auto& member : node["pretokenizers"]) collect_pretokenizers(member, out);
    return;
  }
  out.push_back(&node);
}

// llama.cpp's name for the pre-tokenization of a byte-level BPE tokenizer.json.
std::string pretokenizer_name(const Json& tokenizer, const std::string& where) {
  std::vector<const Json*> parts;
  if (tokenizer.contains("pre_tokenizer")) collect_pretokenizers(tokenizer["pre_tokenizer"], parts);
  bool byte_level = false, byte_level_regex = false;
  std::optional<std::string> split_pattern;
  for (const Json* p : parts) {
    const std::string type = p->value("type", "");
    if (type == "ByteLevel") {
      byte_level = true;
      byte_level_regex = p->value("use_regex", true);
    } else if (type == "Split" && p->contains("pattern") && (*p)["pattern"].is_object() &&
               (*p)["pattern"].contains("Regex") && (*p)["pattern"]["Regex"].is_string()) {
      split_pattern = (*p)["pattern"]["Regex"].get<std::string>();
    } else {
      throw ValueError(where + ": export-gguf: pre-tokenizer " + type + " has no llama.cpp equivalent here");
    }
  }
  TCPP_CHECK(byte_level, ValueError, where,
             ": export-gguf converts byte-level BPE tokenizers (GPT-2, Llama 3, Qwen); this one has no ByteLevel "
             "pre-tokenizer");
  if (!split_pattern) {
    TCPP_CHECK(byte_level_regex, ValueError, where, ": export-gguf: ByteLevel without a split pattern");
    return "gpt-2";
  }
  for (const auto& known : kKnownPretokenizers)
    if (*split_pattern == known.pattern) return known.name;
  throw ValueError(where + ": export-gguf: the split pattern of this tokenizer is not one llama.cpp knows by name");
}

std::optional<int64_t> token_id(const std::map<std::string, int64_t>& ids, const std::optional<std::string>& token) {
  if (!token) return std::nullopt;
  const auto it = ids.find(*token);
  return it == ids.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

void write_special_ids(GgufWriter& w, const PretrainedConfig& config, const TokenizerConfig& tc,
                       const std::map<std::string, int64_t>& ids, bool add_bos, bool add_eos) {
  auto bos = token_id(ids, tc.special.bos_token);
  if (!bos) bos = config.bos_token_id;
  auto eos = token_id(ids, tc.special.eos_token);
  if (!eos && !config.eos_token_ids.empty()) eos = config.eos_token_ids.front();
  auto pad = token_id(ids, tc.special.pad_token);
  if (!pad) pad = config.pad_token_id;
  if (bos) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*bos));
  if (eos) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*eos));
  if (pad) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(*pad));
  if (const auto unk = token_id(ids, tc.special.unk_token)) w.set_u32("tokenizer.ggml.unknown_token_id", *unk);
  w.set_bool("tokenizer.ggml.add_bos_token", add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", add_eos);
  const auto chat = tc.chat_templates.find("default");
  if (chat != tc.chat_templates.end()) w.set_string("tokenizer.chat_template", chat->second);
}

// A vocabulary of vocab_size placeholder tokens (the peer benchmarks' converter's): with 260 or
// more, SentencePiece-style with the 256 byte tokens; below, byte-level BPE whose first 256
// tokens are the bytes.
std::string write_placeholder_vocabulary(GgufWriter& w, const PretrainedConfig& config) {
  const int64_t V = config.vocab_size;
  TCPP_CHECK(V >= 256, ValueError, config.where(), ": export-gguf: vocab_size ", V,
             " is too small for a placeholder vocabulary (256 or more)");
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::string model;
  if (V >= 3 + 256 + 1) {
    model = "llama";
    std::vector<float> scores;
    tokens = {"<unk>", "<s>", "</s>"};
    types = {kUnknown, kControl, kControl};
    scores = {0, 0, 0};
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      tokens.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
      types.push_back(kByte);
      scores.push_back(0);
    }
    for (int64_t i = static_cast<int64_t>(tokens.size()); i < V; ++i) {
      tokens.push_back("\xE2\x96\x81tok" + std::to_string(i));  // "▁tok<i>"
      types.push_back(kNormal);
      scores.push_back(-static_cast<float>(i));
    }
    w.set_f32s("tokenizer.ggml.scores", scores);
    w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  } else {
    model = "gpt2";
    for (int b = 0; b < 256; ++b) tokens.emplace_back(byte_to_utf8(static_cast<unsigned char>(b)));
    for (int64_t i = 256; i < V; ++i) tokens.push_back("tok" + std::to_string(i));
    types.assign(static_cast<size_t>(V), kNormal);
    types[1] = types[2] = kControl;
    w.set_strings("tokenizer.ggml.merges", {"\xC4\xA0 \xC4\xA0"});  // "Ġ Ġ"
  }
  w.set_string("tokenizer.ggml.model", model);
  w.set_string("tokenizer.ggml.pre", "default");
  w.set_strings("tokenizer.ggml.tokens", std::move(tokens));
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(config.bos_token_id.value_or(1)));
  w.set_u32("tokenizer.ggml.eos_token_id",
            static_cast<uint32_t>(config.eos_token_ids.empty() ? 2 : config.eos_token_ids.front()));
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  return model;
}

// A SentencePiece-style BPE tokenizer.json as llama.cpp's "llama" vocabulary (gguf_spm_vocab.h);
// BOS / EOS are added as its post-processor adds them.
std::string write_llama_vocabulary(GgufWriter& w, const PretrainedConfig& config, const Json& tokenizer,
                                   const std::filesystem::path& folder, const std::string& where) {
  SpmVocabulary v = spm_vocabulary(tokenizer, config.vocab_size, where);
  std::map<std::string, int64_t> ids;
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.types[i] != kUnused) ids.emplace(v.tokens[i], static_cast<int64_t>(i));
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string("tokenizer.ggml.pre", "default");
  w.set_strings("tokenizer.ggml.tokens", std::move(v.tokens));
  w.set_f32s("tokenizer.ggml.scores", v.scores);
  w.set_i32s("tokenizer.ggml.token_type", v.types);
  w.set_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  write_special_ids(w, config, load_tokenizer_config(folder), ids, v.add_bos, v.add_eos);
  return "llama";
}

}  // namespace

std::string write_gguf_vocabulary(GgufWriter& w, const PretrainedConfig& config,
                                 const std::filesystem::path& tokenizer_folder) {
  const auto file = tokenizer_folder / "tokenizer.json";
  std::error_code ec;
  if (tokenizer_folder.empty() || !std::filesystem::exists(file, ec)) return write_placeholder_vocabulary(w, config);

  const std::string where = file.string();
  const Json tokenizer = read_json_file(file);
  TCPP_CHECK(tokenizer.is_object() && tokenizer.contains("model") && tokenizer["model"].is_object(), FormatError,
             where, ": no model");
  const Json& model = tokenizer["model"];
  if (is_sentencepiece_bpe(tokenizer)) return write_llama_vocabulary(w, config, tokenizer, tokenizer_folder, where);
  TCPP_CHECK(model.value("type", "") == "BPE", ValueError, where, ": export-gguf converts BPE tokenizers; this one is ",
             model.value("type", "?"));
  const std::string pre = pretokenizer_name(tokenizer, where);

  // Tokens by id: the model's vocabulary, then the added tokens; gaps up to vocab_size are
  // padding tokens, as llama.cpp's converter writes them.
  std::map<std::string, int64_t> ids;
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  TCPP_CHECK(model.contains("vocab") && model["vocab"].is_object(), FormatError, where, ": model.vocab");
  for (const auto& [token, id] : model["vocab"].items()) {
    TCPP_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, FormatError, where, ": model.vocab[", token, "]");
    by_id[id.get<int64_t>()] = {token, kNormal};
    ids[token] = id.get<int64_t>();
  }
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array())
    for (const auto& added : tokenizer["added_tokens"]) {
      const auto id = json_get<int64_t>(added, "id", where + ": added_tokens");
      const auto content = json_get<std::string>(added, "content", where + ": added_tokens");
      by_id[id] = {content, added.value("special", false) ? kControl : kUserDefined};
      ids[content] = id;
    }
  const int64_t count = std::max<int64_t>(config.vocab_size, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  TCPP_CHECK(count == config.vocab_size, ValueError, where, ": token id ", count - 1, " is beyond vocab_size ",
             config.vocab_size);
  std::vector<std::string> tokens(static_cast<size_t>(count));
  std::vector<int32_t> types(static_cast<size_t>(count), kUnused);
  for (int64_t i = 0; i < count; ++i) tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [id, entry] : by_id) {
    tokens[id] = entry.first;
    types[id] = entry.second;
  }

  std::vector<std::string> merges = tokenizer_json_merges(model, where);

  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set_strings("tokenizer.ggml.tokens", std::move(tokens));
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_strings("tokenizer.ggml.merges", std::move(merges));
  const TokenizerConfig tc = load_tokenizer_config(tokenizer_folder);
  write_special_ids(w, config, tc, ids, tc.add_bos_token.value_or(false), tc.add_eos_token.value_or(false));
  return "gpt2";
}

namespace {

// The byte-level BPE ("gpt2") vocabulary as a tokenizer.json.
OrderedJson byte_level_tokenizer_json(const GgufFile& f, const std::optional<std::pair<std::string, int64_t>>& bos) {
  const std::string where = f.path().string();
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  const GgufValue* types = f.find("tokenizer.ggml.token_type");
  const GgufValue* merges = f.find("tokenizer.ggml.merges");
  TCPP_CHECK(!merges || merges->element_type == GgufType::String, FormatError, where,
             ": tokenizer.ggml.merges must be an array of strings");

  // Normal and byte tokens form the BPE vocabulary; control and user-defined ones are added
  // tokens (special or not); unused ones (padding rows) are left out.
  OrderedJson vocab = OrderedJson::object(), added = OrderedJson::array();
  for (size_t id = 0; id < tokens->strings.size(); ++id) {
    const std::string& token = tokens->strings[id];
    const int64_t type = types ? types->integers[id] : kNormal;
    if (type == kControl || type == kUserDefined) {
      added.push_back({{"id", id}, {"content", token}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", false}, {"special", type == kControl}});
    } else if (type != kUnused) {
      vocab[token] = id;
    }
  }
  const std::string pre = f.find_string("tokenizer.ggml.pre").value_or("default");
  OrderedJson byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  OrderedJson pre_tokenizer = byte_level;
  for (const auto& known : kKnownPretokenizers)
    if (pre == known.name) {
      OrderedJson split = {{"type", "Split"}, {"pattern", {{"Regex", known.pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
      OrderedJson bytes = byte_level;
      bytes["use_regex"] = false;
      pre_tokenizer = {{"type", "Sequence"}, {"pretokenizers", {split, bytes}}};
    }
  TCPP_CHECK(pre_tokenizer["type"] == "Sequence" || pre == "default" || pre == "gpt-2", ValueError, where,
             ": tokenizer.ggml.pre ", pre, " is not converted yet (llama-bpe, qwen2, gpt-2, default are)");

  const OrderedJson post = bos ? template_post_processor(bos, std::nullopt)
                               : OrderedJson{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false},
                                             {"use_regex", true}};
  return {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
      // Qwen's tokenizers normalise to NFC first (llama.cpp's qwen2 pre-tokenizer does not).
      {"normalizer", pre == "qwen2" ? OrderedJson{{"type", "NFC"}} : OrderedJson(nullptr)}, {"pre_tokenizer", pre_tokenizer}, {"post_processor", post},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                 // llama.cpp's LLAMA3 pre-tokenizer type takes whole words found in the vocabulary
                 // before merging, as Llama 3's tokenizer.json (ignore_merges) does.
                 {"ignore_merges", pre == "llama-bpe"}, {"vocab", vocab},
                 {"merges", merges ? OrderedJson(merges->strings) : OrderedJson::array()}}}};
}

}  // namespace

GgufTokenizer gguf_tokenizer(const GgufFile& f) {
  const std::string where = f.path().string();
  const std::string model = f.get_string("tokenizer.ggml.model");
  TCPP_CHECK(model == "gpt2" || model == "llama", ValueError, where, ": tokenizer.ggml.model ", model,
             " is not converted yet (gpt2, the byte-level BPE of GPT-2, Llama 3 and Qwen, and llama, SentencePiece's "
             "BPE, are)");
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  TCPP_CHECK(tokens && tokens->element_type == GgufType::String && !tokens->strings.empty(), FormatError, where,
             ": tokenizer.ggml.tokens must be an array of strings");
  const GgufValue* types = f.find("tokenizer.ggml.token_type");
  TCPP_CHECK(!types || types->integers.size() == tokens->strings.size(), FormatError, where,
             ": tokenizer.ggml.token_type has ", types ? types->integers.size() : 0, " entries for ",
             tokens->strings.size(), " tokens");

  GgufTokenizer out;
  auto id_of = [&](const std::string& key) -> int64_t {
    const auto id = f.find_int(key);
    if (!id) return -1;
    TCPP_CHECK(*id >= 0 && static_cast<size_t>(*id) < tokens->strings.size(), FormatError, where, ": ", key, " ", *id,
               " is not a token id");
    return *id;
  };
  auto token_of = [&](int64_t id) { return id < 0 ? std::nullopt : std::optional<std::string>(tokens->strings[id]); };
  const int64_t bos = id_of("tokenizer.ggml.bos_token_id"), eos = id_of("tokenizer.ggml.eos_token_id"),
                unk = id_of("tokenizer.ggml.unknown_token_id");
  out.config.special.bos_token = token_of(bos);
  out.config.special.eos_token = token_of(eos);
  out.config.special.pad_token = token_of(id_of("tokenizer.ggml.padding_token_id"));
  out.config.special.unk_token = token_of(unk);
  const bool add_bos = f.find_int("tokenizer.ggml.add_bos_token").value_or(0) != 0 && bos >= 0;
  const bool add_eos = f.find_int("tokenizer.ggml.add_eos_token").value_or(0) != 0 && eos >= 0;
  out.config.add_bos_token = add_bos;
  out.config.add_eos_token = add_eos;
  if (auto chat = f.find_string("tokenizer.chat_template")) out.config.chat_templates["default"] = std::move(*chat);

  const OrderedJson tokenizer =
      model == "llama" ? spm_tokenizer_json(f, bos, eos, unk, add_bos, add_eos)
                       : byte_level_tokenizer_json(f, add_bos ? std::optional(std::pair(tokens->strings[bos], bos))
                                                              : std::nullopt);
  try {
    out.tokenizer_json = tokenizer.dump();
  } catch (const nlohmann::json::type_error&) {  // a token that is not UTF-8 text
    throw FormatError(where + ": tokenizer.ggml.tokens holds a token that is not valid UTF-8");
  }
  return out;
}

}  // namespace transformers::tokenization
