#include "transformers/tokenization/gguf_spm_vocab.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <unordered_map>

#include "transformers/core/error.h"

namespace transformers::tokenization {
namespace {

constexpr char kSpace[] = "\xE2\x96\x81";  // "▁", SentencePiece's space marker
// The score of tokens no merge makes: below every merge's, and read back as "never merged".
// (SentencePiece itself scores some pieces -1e9, Llama 2's runs of spaces: those do merge.)
constexpr float kNeverMerged = -1e30f;
// Sum of the squared byte lengths of the pieces merges are rebuilt from: about 4e7 for Gemma's
// 256k pieces; 5.4e8 is a fraction of a second of hashing, and a hostile file stops there.
constexpr int64_t kMaxMergeWork = int64_t{1} << 29;

bool is_byte_token(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return t.size() == 6 && t.starts_with("<0x") && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

bool flag(const Json& node, const char* key) { return node.contains(key) && node[key].is_boolean() && node[key].get<bool>(); }

// The normalizers of tokenizer.json (one, or a Sequence's members).
std::vector<const Json*> members(const Json& node, const char* list_key) {
  std::vector<const Json*> out;
  if (!node.is_object()) return out;
  if (node.value("type", "") == "Sequence" && node.contains(list_key) && node[list_key].is_array()) {
    for (const auto& m : node[list_key])
      if (m.is_object()) out.push_back(&m);
  } else {
    out.push_back(&node);
  }
  return out;
}

bool replaces_spaces(const Json& n) {
  return n.value("type", "") == "Replace" && n.contains("pattern") && n["pattern"].is_object() &&
         n["pattern"].value("String", "") == " " && n.value("content", "") == kSpace;
}

// The ids of the special tokens the template processing adds before and after a single text.
void template_specials(const Json& post, bool& add_bos, bool& add_eos) {
  if (!post.is_object() || post.value("type", "") != "TemplateProcessing" || !post.contains("single") ||
      !post["single"].is_array() || post["single"].empty())
    return;
  const Json& single = post["single"];
  add_bos = single.front().is_object() && single.front().contains("SpecialToken");
  add_eos = single.size() > 1 && single.back().is_object() && single.back().contains("SpecialToken");
}

size_t utf8_length(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

}  // namespace

std::vector<std::pair<std::string, std::string>> tokenizer_json_merge_pairs(const Json& model,
                                                                           const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!model.contains("merges") || !model["merges"].is_array()) return out;
  for (const auto& m : model["merges"]) {
    if (m.is_string()) {  // "a b": split at the first space (the legacy form cannot hold one in a)
      const std::string text = m.get<std::string>();
      const size_t space = text.find(' ');
      TCPP_CHECK(space != std::string::npos, FormatError, where, ": model.merges[", out.size(), "] '", text,
                 "' is not a pair");
      out.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else {
      TCPP_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), FormatError, where,
                 ": model.merges entry");
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
  }
  return out;
}

std::vector<std::string> tokenizer_json_merges(const Json& model, const std::string& where) {
  std::vector<std::string> out;
  for (auto& [left, right] : tokenizer_json_merge_pairs(model, where)) out.push_back(left + " " + right);
  return out;
}

bool is_sentencepiece_bpe(const Json& tokenizer) {
  return tokenizer.is_object() && tokenizer.contains("model") && tokenizer["model"].is_object() &&
         tokenizer["model"].value("type", "") == "BPE" && flag(tokenizer["model"], "byte_fallback");
}

SpmVocabulary spm_vocabulary(const Json& tokenizer, int64_t vocab_size, const std::string& where) {
  const Json& model = tokenizer["model"];
  SpmVocabulary v;
  // The "▁" marking: a Replace of spaces (with a Prepend for the prefix), or a Metaspace.
  bool marked = false, prepend = false;
  if (tokenizer.contains("normalizer"))
    for (const Json* n : members(tokenizer["normalizer"], "normalizers")) {
      const std::string type = n->value("type", "");
      if (replaces_spaces(*n)) marked = true;
      else if (type == "Prepend" && n->value("prepend", "") == kSpace) prepend = true;
      else throw ValueError(where + ": export-gguf: normalizer " + type + " has no llama.cpp equivalent here");
    }
  if (tokenizer.contains("pre_tokenizer"))
    for (const Json* p : members(tokenizer["pre_tokenizer"], "pretokenizers")) {
      const std::string type = p->value("type", "");
      TCPP_CHECK(type == "Metaspace" && p->value("replacement", "") == kSpace, ValueError, where,
                 ": export-gguf: pre-tokenizer ", type, " has no llama.cpp SentencePiece equivalent");
      marked = true;
      const std::string scheme = p->contains("prepend_scheme") && (*p)["prepend_scheme"].is_string()
                                     ? (*p)["prepend_scheme"].get<std::string>()
                                     : (flag(*p, "add_prefix_space") ? "always" : "never");
      prepend = prepend || scheme != "never";
    }
  TCPP_CHECK(marked, ValueError, where,
             ": export-gguf: a byte-fallback BPE tokenizer without the \u2581 space marker (Replace or Metaspace)");
  v.add_space_prefix = prepend;
  if (tokenizer.contains("post_processor")) template_specials(tokenizer["post_processor"], v.add_bos, v.add_eos);

  TCPP_CHECK(model.contains("vocab") && model["vocab"].is_object(), FormatError, where, ": model.vocab");
  const int64_t count = vocab_size;
  TCPP_CHECK(count > 0 && count <= (int64_t{1} << 31), ValueError, where, ": vocab_size ", count);
  v.tokens.resize(static_cast<size_t>(count));
  v.types.assign(static_cast<size_t>(count), kUnused);
  v.scores.assign(static_cast<size_t>(count), kNeverMerged);
  for (int64_t i = 0; i < count; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  auto place = [&](int64_t id, const std::string& token, int32_t type, const char* what) {
    TCPP_CHECK(id >= 0 && id < count, ValueError, where, ": ", what, " '", token, "' has id ", id,
               ", beyond vocab_size ", count);
    v.tokens[id] = token;
    v.types[id] = type;
  };
  std::unordered_map<std::string, int64_t> ids;
  for (const auto& [token, id] : model["vocab"].items()) {
    TCPP_CHECK(id.is_number_integer(), FormatError, where, ": model.vocab[", token, "] is not an id");
    place(id.get<int64_t>(), token, is_byte_token(token) ? kByte : kNormal, "model.vocab token");
    ids[token] = id.get<int64_t>();
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const auto it = ids.find(model["unk_token"].get<std::string>());
    if (it != ids.end()) v.types[it->second] = kUnknown;
  }
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array())
    for (const auto& added : tokenizer["added_tokens"]) {
      const auto id = json_get<int64_t>(added, "id", where + ": added_tokens");
      const auto content = json_get<std::string>(added, "content", where + ": added_tokens");
      const bool unknown = id >= 0 && id < count && v.types[id] == kUnknown && v.tokens[id] == content;
      place(id, content, unknown ? kUnknown : flag(added, "special") ? kControl : kUserDefined, "added token");
    }
  const auto merges = tokenizer_json_merge_pairs(model, where);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto it = ids.find(left + right);
    TCPP_CHECK(it != ids.end(), FormatError, where, ": model.merges[", rank, "] '", left, " ", right,
               "' makes no vocabulary token");
    float& score = v.scores[it->second];
    score = std::max(score, -static_cast<float>(rank));
  }
  return v;
}

OrderedJson spm_tokenizer_json(const GgufFile& f, int64_t bos, int64_t eos, int64_t unk, bool add_bos, bool add_eos) {
  const std::string where = f.path().string();
  const GgufValue* tokens_value = f.find("tokenizer.ggml.tokens");
  const GgufValue* scores_value = f.find("tokenizer.ggml.scores");
  const GgufValue* types_value = f.find("tokenizer.ggml.token_type");
  const std::vector<std::string>& tokens = tokens_value->strings;
  TCPP_CHECK(scores_value && scores_value->numbers.size() == tokens.size(), FormatError, where,
             ": tokenizer.ggml.scores must hold one number per token (", tokens.size(), ") for a llama vocabulary");
  const std::vector<double>& scores = scores_value->numbers;
  auto type_of = [&](size_t id) { return types_value ? types_value->integers[id] : int64_t{kNormal}; };
  const bool space_prefix = f.find_int("tokenizer.ggml.add_space_prefix").value_or(1) != 0;

  // Every token is in the BPE vocabulary (as Transformers' GGUF converter has it); control,
  // unknown and user-defined tokens are also added tokens, matched before the model runs.
  OrderedJson vocab = OrderedJson::object(), added = OrderedJson::array();
  std::unordered_map<std::string_view, int64_t> ids;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const int64_t type = type_of(id);
    if (!ids.emplace(tokens[id], static_cast<int64_t>(id)).second) continue;  // the first of duplicates
    vocab[tokens[id]] = id;
    if (type == kControl || type == kUnknown || type == kUserDefined)
      added.push_back({{"id", id}, {"content", tokens[id]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", type != kUserDefined}});
  }
  // Merges: each normal or user-defined token's splits into two vocabulary pieces (at character
  // boundaries), by descending score; a token's splits by their pieces' ids. (Gemma's "▁▁" is
  // both an added token and made by a merge.)
  struct Merge {
    int64_t left, right;
    double score;
  };
  std::vector<Merge> merges;
  // Bounds for a stranger's file: each split of a token hashes both halves, so the work grows with
  // the square of a token's length (real pieces are a few dozen bytes), and the merges with its length.
  int64_t work = 0;
  const size_t max_merges = 64 * tokens.size() + 1024;
  for (size_t id = 0; id < tokens.size(); ++id) {
    TCPP_CHECK(std::isfinite(scores[id]), FormatError, where, ": tokenizer.ggml.scores[", id, "] is not finite");
    const int64_t type = type_of(id);
    if ((type != kNormal && type != kUserDefined) || scores[id] <= kNeverMerged || tokens[id].empty()) continue;
    const std::string& t = tokens[id];
    work += static_cast<int64_t>(t.size()) * static_cast<int64_t>(t.size());
    TCPP_CHECK(work <= kMaxMergeWork, FormatError, where, ": tokenizer.ggml.tokens: pieces too long to rebuild ",
               "merges from (token ", id, " is ", t.size(), " bytes)");
    const size_t first = merges.size();
    for (size_t at = utf8_length(static_cast<unsigned char>(t[0])); at < t.size();
         at += utf8_length(static_cast<unsigned char>(t[at]))) {
      const auto l = ids.find(std::string_view(t).substr(0, at)), r = ids.find(std::string_view(t).substr(at));
      if (l != ids.end() && r != ids.end()) merges.push_back({l->second, r->second, scores[id]});
    }
    TCPP_CHECK(merges.size() <= max_merges, FormatError, where, ": tokenizer.ggml.tokens: more than ", max_merges,
               " merges");
    std::sort(merges.begin() + static_cast<std::ptrdiff_t>(first), merges.end(),
              [](const Merge& a, const Merge& b) { return std::pair(a.left, a.right) < std::pair(b.left, b.right); });
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  OrderedJson merge_list = OrderedJson::array();
  // As pairs: a piece may hold a space (the "a b" form splits at the first one).
  for (const Merge& m : merges) merge_list.push_back(OrderedJson::array({tokens[m.left], tokens[m.right]}));

  const OrderedJson replace_spaces = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
  OrderedJson normalizer = replace_spaces;
  if (space_prefix)
    normalizer = {{"type", "Sequence"},
                  {"normalizers", {{{"type", "Prepend"}, {"prepend", kSpace}}, replace_spaces}}};
  OrderedJson decoders = {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                          {{"type", "ByteFallback"}}, {{"type", "Fuse"}}};
  if (space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  auto special = [&](int64_t id) -> std::optional<std::pair<std::string, int64_t>> {
    if (id < 0) return std::nullopt;
    return std::pair(tokens[static_cast<size_t>(id)], id);
  };
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", normalizer},
          {"pre_tokenizer", nullptr},
          {"post_processor", template_post_processor(add_bos ? special(bos) : std::nullopt,
                                                     add_eos ? special(eos) : std::nullopt)},
          {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", unk >= 0 ? OrderedJson(tokens[unk]) : OrderedJson(nullptr)},
            {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", true},
            {"byte_fallback", true}, {"ignore_merges", false}, {"vocab", vocab}, {"merges", merge_list}}}};
}

OrderedJson template_post_processor(const std::optional<std::pair<std::string, int64_t>>& bos,
                                    const std::optional<std::pair<std::string, int64_t>>& eos) {
  auto piece = [](const std::string& token, int type_id) {
    return OrderedJson{{"SpecialToken", {{"id", token}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* id, int type_id) { return OrderedJson{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
  OrderedJson single = OrderedJson::array(), pair = OrderedJson::array(), specials = OrderedJson::object();
  for (int part = 0; part < 2; ++part) {
    OrderedJson& out = part == 0 ? single : pair;
    for (int text = 0; text < (part == 0 ? 1 : 2); ++text) {
      if (bos) out.push_back(piece(bos->first, text));
      out.push_back(sequence(text == 0 ? "A" : "B", text));
      if (eos) out.push_back(piece(eos->first, text));
    }
  }
  for (const auto* s : {&bos, &eos})
    if (*s) specials[(*s)->first] = {{"id", (*s)->first}, {"ids", {(*s)->second}}, {"tokens", {(*s)->first}}};
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

}  // namespace transformers::tokenization
