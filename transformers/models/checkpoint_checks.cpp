#include "transformers/models/checkpoint_checks.h"

#include <charconv>
#include <cstdio>
#include <optional>

namespace transformers {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// N in a "...layers.N.", "...h.N." (GPT-2) or "...layer.N." (BERT) segment of a tensor name.
std::optional<int64_t> layer_index(const std::string& name) {
  for (const char* marker : {"layers.", "h.", "layer."}) {
    const std::string m = marker;
    for (size_t at = name.find(m); at != std::string::npos; at = name.find(m, at + 1)) {
      if (at != 0 && name[at - 1] != '.') continue;
      const char* begin = name.data() + at + m.size();
      const char* end = name.data() + name.size();
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(begin, end, n);
      if (ec == std::errc() && ptr != begin && ptr != end && *ptr == '.') return n;
    }
  }
  return std::nullopt;
}

// The first present key of `keys` with its value (num_hidden_layers or GPT-2's n_layer, ...).
std::optional<std::pair<const char*, int64_t>> first_key(const PretrainedConfig& c, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (auto v = c.get_optional<int64_t>(k)) return std::make_pair(k, *v);
  return std::nullopt;
}

}  // namespace

void check_config_against_checkpoint(const PretrainedConfig& c, const SafetensorsCheckpoint& ck) {
  const std::string w = c.where();
  int64_t stored_layers = 0;
  std::optional<std::string> embedding, q_proj0;
  for (const std::string& name : ck.names()) {
    if (auto i = layer_index(name)) stored_layers = std::max(stored_layers, *i + 1);
    for (const char* suffix : {"embed_tokens.weight", "wte.weight", "word_embeddings.weight", "tok_embeddings.weight"})
      if (!embedding && ends_with(name, suffix)) embedding = name;
    if (!q_proj0 && ends_with(name, "layers.0.self_attn.q_proj.weight")) q_proj0 = name;
  }
  if (auto layers = first_key(c, {"num_hidden_layers", "n_layer"}); layers && stored_layers > 0)
    TCPP_CHECK(layers->second <= stored_layers, ConfigError, w, ": ", layers->first, " is ", layers->second,
               " but the checkpoint holds weights for ", stored_layers, " layers");
  if (embedding) {
    const Shape& shape = ck.entry(*embedding).shape;
    auto hidden = first_key(c, {"hidden_size", "n_embd"});
    if (shape.size() == 2 && hidden)
      TCPP_CHECK(hidden->second == shape[1], ConfigError, w, ": ", hidden->first, " is ", hidden->second, " but ",
                 *embedding, " is ", shape_to_string(shape));
    if (shape.size() == 2 && c.vocab_size > 0)
      TCPP_CHECK(c.vocab_size == shape[0], ConfigError, w, ": vocab_size is ", c.vocab_size, " but ", *embedding, " is ",
                 shape_to_string(shape));
  }
  // A U8 q_proj weight is bitsandbytes' packed 4-bit layout ([N * K / 2, 1]), checked at repack.
  if (q_proj0 && c.num_attention_heads > 0 && c.head_dim > 0 && ck.entry(*q_proj0).dtype != DType::U8) {
    const Shape& shape = ck.entry(*q_proj0).shape;
    TCPP_CHECK(shape.size() == 2 && shape[0] == c.num_attention_heads * c.head_dim, ConfigError, w,
               ": num_attention_heads x head_dim is ", c.num_attention_heads, " x ", c.head_dim, " but ", *q_proj0,
               " is ", shape_to_string(shape));
  }
}

void warn_unused_weights(const LoadReport& report) {
  if (report.unexpected.empty()) return;
  std::fprintf(stderr, "warning: %zu tensors of the checkpoint are not used by the model (first: %s)\n",
               report.unexpected.size(), report.unexpected.front().c_str());
}

}  // namespace transformers
