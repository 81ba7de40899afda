#include "transformers/serving/sentence_embedding.h"

#include <cmath>

#include "transformers/io/json.h"
#include "transformers/ops/ops.h"

namespace transformers::serving {

Pooling parse_pooling(const std::string& name, const std::string& field) {
  if (name == "mean") return Pooling::kMean;
  if (name == "cls") return Pooling::kCls;
  if (name == "last") return Pooling::kLast;
  throw ValueError(detail::concat(field, ": unknown pooling '", name, "' (mean, cls or last)"));
}

const char* pooling_name(Pooling pooling) {
  switch (pooling) {
    case Pooling::kCls: return "cls";
    case Pooling::kLast: return "last";
    case Pooling::kMean: break;
  }
  return "mean";
}

Pooling folder_pooling(const std::filesystem::path& folder) {
  const auto path = folder / "1_Pooling" / "config.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Pooling::kMean;
  const Json config = read_json_file(path);
  TCPP_CHECK(config.is_object(), ConfigError, path.string(), ": expected a JSON object");
  auto flag = [&](const char* key) {
    const auto it = config.find(key);
    if (it == config.end() || it->is_null()) return false;
    TCPP_CHECK(it->is_boolean(), ConfigError, path.string(), ": ", key, " must be true or false");
    return it->get<bool>();
  };
  if (flag("pooling_mode_cls_token")) return Pooling::kCls;
  if (flag("pooling_mode_lasttoken")) return Pooling::kLast;
  return Pooling::kMean;
}

namespace {
// The last hidden state [1, L, H] of one input, as f32.
Tensor last_hidden_state(const CausalLM* decoder, const EncoderModel* encoder, const std::vector<int64_t>& ids) {
  TCPP_CHECK((decoder == nullptr) != (encoder == nullptr), ValueError, "sentence_embedding: give a decoder or an encoder");
  TCPP_CHECK(!ids.empty(), ValueError, "sentence_embedding: an input of no tokens");
  const Tensor input = Tensor::from_values(ids, {1, static_cast<int64_t>(ids.size())});
  Tensor last;
  if (encoder) {
    last = encoder->forward(input).last_hidden_state;
  } else {
    ForwardOptions options;
    options.output_hidden_states = true;
    options.logits_to_keep = 1;  // the logits are not needed, the hidden states are all kept
    last = decoder->forward(input, options).hidden_states.back();
  }
  return ops::cast(last, DType::F32).contiguous();
}
}  // namespace

std::vector<float> sentence_embedding(const CausalLM* decoder, const EncoderModel* encoder,
                                      const std::vector<int64_t>& ids, Pooling pooling) {
  const Tensor last = last_hidden_state(decoder, encoder, ids);
  const int64_t L = last.size(1), H = last.size(2);
  const float* data = last.data<float>();
  if (pooling == Pooling::kCls) return std::vector<float>(data, data + H);
  if (pooling == Pooling::kLast) return std::vector<float>(data + (L - 1) * H, data + L * H);
  std::vector<float> pooled(static_cast<size_t>(H), 0.0f);
  for (int64_t t = 0; t < L; ++t)
    for (int64_t h = 0; h < H; ++h) pooled[h] += data[t * H + h];
  for (float& v : pooled) v /= static_cast<float>(L);
  return pooled;
}

void l2_normalize(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum == 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

}  // namespace transformers::serving
