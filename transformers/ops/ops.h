// The op API: what models call, and the only code above core/ that reads or writes tensor memory
// (nn/, models/, cache/ and generation/ go through these functions; see docs/DESIGN_NOTES.md).
// Every op checks its inputs (ShapeError naming the op and the shapes), checks that they share
// one device, and dispatches on it (ops/on_device.h); today that is the CPU (ops/cpu/*_op.cpp,
// declared in ops/cpu/cpu_ops.h, calling the kernel tables of ops/cpu/kernels.h). Activations are f32; weights may be f32, bf16 or f16 (converted inside the kernels, never materialised as f32 copies).
// Autograd (core/autograd.h): when grad mode is on and an input carries autograd state, an op
// runs its recorded form (ops/recorded.h, the backward beside the forward in ops/*_backward.cpp)
// instead; ops without a backward refuse then (NotImplementedError naming them).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers::ops {

enum class Activation { SiLU, GELU, GELUTanh, ReLU };
// Maps config.json's hidden_act ("silu", "gelu", "gelu_pytorch_tanh", "gelu_new", "relu", ...).
Activation activation_from_name(const std::string& name, const std::string& where);

// Dtype conversion of float and quantized tensors (any strides in, contiguous out): to a block
// dtype (Q8_0, Q4_0) quantizes with GGML's reference rounding, from one dequantizes; the last
// dimension of a quantized result must be a multiple of its block.
// To LLM_INT8 (bitsandbytes' row-wise int8) the outlier threshold is 6.0, BitsAndBytesConfig's
// default; quantize_llm_int8 sets another (0: no outlier columns, every product in int8).
Tensor cast(const Tensor& x, DType dtype);
Tensor quantize_llm_int8(const Tensor& x, float threshold);
// x (a float matrix [N, K], or stacked matrices [E, N, K]) quantized to `dtype` by GGML's
// importance-weighted quantizer (llama-quantize with an importance matrix): `importance` is f32
// [K] (or [E, K], one row per matrix), the mean square of the activations each input column
// multiplies. Formats without a weighted quantizer (Q8_0, the others) ignore it, as GGML does.
Tensor quantize_weighted(const Tensor& x, DType dtype, const Tensor& importance);
// An NF4 / FP4 tensor with bitsandbytes' double quantization applied to its absmax values
// (ops/cpu/bnb_blocks.h): each block's f32 absmax becomes the value bitsandbytes dequantizes from
// the 8-bit nested state of the whole tensor.
Tensor bnb_double_quantize(const Tensor& x);
// x on `device`: x itself when it is there already; NotImplementedError naming the devices when
// a copy between them would be needed (only the CPU exists today).
Tensor to(const Tensor& x, Device device);

// Rows of `weight` ([V, H], any float dtype) picked by integer `ids` (I64 or I32, any shape);
// returns f32 [..., H]. Ids outside [0, V) throw ValueError.
Tensor embedding(const Tensor& weight, const Tensor& ids);

// x [..., K] f32 · weight[N, K]ᵀ + bias[N] -> [..., N] f32.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias = nullptr);
// linear() of one x with each of several weights (the separate q/k/v or gate/up projections of
// one input), in one pass over the thread pool: the same values as the separate calls, without
// a barrier between them. Recorded (autograd) as the separate calls.
struct LinearWeights {
  const Tensor* weight;
  const Tensor* bias = nullptr;
};
std::vector<Tensor> linear_group(const Tensor& x, const std::vector<LinearWeights>& parts);
// While alive, `observe(x, weight)` sees the input of every linear() / linear_group() product run
// on this thread (x as multiplied, [..., K] f32; weight the matrix or expert slice) before it is
// computed: the calibration pass of an importance matrix (loading/importance_matrix.h), as
// llama.cpp's imatrix watches its graph's matrix products. One per thread; not nested.
class LinearInputObserver {
 public:
  explicit LinearInputObserver(std::function<void(const Tensor& x, const Tensor& weight)> observe);
  ~LinearInputObserver();
  LinearInputObserver(const LinearInputObserver&) = delete;
  LinearInputObserver& operator=(const LinearInputObserver&) = delete;

 private:
  std::function<void(const Tensor&, const Tensor&)> observe_;
};

Tensor add(const Tensor& a, const Tensor& b);
void add_(Tensor& a, const Tensor& b);  // a += b
Tensor mul(const Tensor& a, const Tensor& b);
// a *= b with b broadcast to a's shape as torch broadcasts (b has at most a's dimensions; each of
// its trailing dimensions equals a's or is 1): per-head norm weights [H, D] over [B, L, H, D],
// a per-token gate [T, 1] over [T, H].
void mul_(Tensor& a, const Tensor& b);
void div_(Tensor& a, const Tensor& b);  // a /= b, b broadcast as in mul_
void scale_(Tensor& a, float s);
// x = cap * tanh(x / cap), elementwise (Gemma-2's final_logit_softcapping); cap > 0.
void softcap_(Tensor& x, float cap);
void tanh_(Tensor& x);
Tensor sigmoid(const Tensor& x);  // 1 / (1 + exp(-x))
// Divides every row of the last dimension by its sum (the renormalised top-k router weights).
void normalize_sum_(Tensor& x);

// Normalisations over the last dimension; weight and bias are f32 [H].
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset = false);
Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps);

void softmax_(Tensor& x);  // last dimension, in place
void activation_(Tensor& x, Activation act);
// act(gate) * up, elementwise (the gated MLP).
Tensor gated_activation(const Tensor& gate, const Tensor& up, Activation act);

// Rotary embedding in the half-split layout (rotate_half) applied in place to x viewed as
// [B, L, H, D]; cos and sin are [B, L, R] with R <= D even (partial rotary leaves D-R untouched).
void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin);

struct AttentionParams {
  float scale = 1.0f;
  int64_t query_position = 0;  // cache position of the first query
  int64_t key_position = 0;    // cache position of the first key
  bool causal = true;
  std::optional<int64_t> sliding_window;  // key visible when query_pos - key_pos < window
                                          // (not causal: also key_pos - query_pos < window)
  float softcap = 0.0f;                   // > 0: scores = softcap * tanh(scores / softcap)
  const Tensor* key_padding_mask = nullptr;  // [B, key_position + T], nonzero = attend
};
// Scaled dot-product attention with grouped-query heads: q [B, Hq, L, D], k and v
// [B, Hkv, T, D] (any strides with contiguous D), Hq a multiple of Hkv; K/V are indexed per
// group, never repeated in memory. Returns [B, L, Hq * D] f32 contiguous.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& params);

// The attention probabilities the op above uses, [B, Hq, L, T] (zero for keys a query cannot
// see): what Transformers returns as `attentions` with output_attentions=True. Computed apart
// from the fused op, only when asked for.
Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionParams& params);

// Paged KV memory (cache/paged_cache.h): blocks of kPageTokens token slots. A block holds, for
// every layer of one layer group, K then V as [Hkv, kPageTokens, D] f32 (so a page of one KV head
// is kPageTokens contiguous rows, one key tile of the attention kernel).
constexpr int64_t kPageTokens = 64;
struct PagedKV {
  const std::vector<Tensor>* blocks = nullptr;  // block id -> contiguous f32 block memory
  int64_t layer_offset = 0;                     // floats from a block's start to this layer's K
  int64_t num_kv_heads = 0, head_dim = 0;       // V follows K at num_kv_heads * kPageTokens * head_dim
};
// One sequence of a ragged batch: rows [token_begin, token_begin + tokens) of the packed tokens,
// at cache positions position, position + 1, ...; its keys are positions [0, position + tokens),
// page i (positions [64 i, 64 i + 64)) in block block_table[i] (-1: freed, out of the window).
struct RaggedSequence {
  int64_t token_begin = 0, tokens = 0, position = 0;
  std::vector<int32_t> block_table;
};
// Stores k and v ([T, Hkv, D], any strides with contiguous D) of every sequence's tokens in its
// pages. ValueError for a block id outside the pool or a freed page that is written.
void paged_kv_write(const PagedKV& kv, const Tensor& k, const Tensor& v, const std::vector<RaggedSequence>& sequences);
// Attention of packed queries q [T, Hq, D] (contiguous D) over each sequence's pages:
// params.query_position/key_position are ignored (each sequence's own), the rest (scale,
// causal, window, softcap) apply; no padding mask. Returns [T, Hq * D] f32 contiguous.
Tensor paged_attention(const Tensor& q, const PagedKV& kv, const std::vector<RaggedSequence>& sequences,
                       const AttentionParams& params);

// The keys [lo, hi) that the query at cache position `query_position` may see among T keys
// starting at params.key_position (before padding): causal, sliding window (symmetric when not
// causal).
std::pair<int64_t, int64_t> visible_keys(const AttentionParams& params, int64_t query_position, int64_t T);

// Index of the maximum over the last dimension (first one on ties, as torch.argmax).
Tensor argmax(const Tensor& x);
// k largest values over the last dimension, sorted descending, with their indices (I64).
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k);

Tensor cat(const std::vector<Tensor>& xs, int64_t dim);

// The summed cross-entropy of logits [..., V] against I64 labels [...] (rows labelled
// ignore_index count nothing; other labels outside [0, V) throw ValueError), as a float32 scalar
// tensor: torch's cross_entropy(reduction="sum"), each row's log-sum-exp and the sum in double
// (recording for a backward: the exps in f32 through the tier's vector exp, ops/cpu/loss_op.cpp).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index = -100);

// Copies src into dst (same shape and dtype, any strides; dst writable). dst and src may overlap
// in one storage (a cache shifting its own rows down): the result is as if src were read first.
void copy_(Tensor& dst, const Tensor& src);

// The rows x[ids[i]] along the first dimension of x: [n, ...] for n ids (I64). Ids outside
// [0, x.size(0)) throw ValueError.
Tensor index_select(const Tensor& x, const Tensor& ids);
// out[ids[i]] += weights[i] * src[i] along the first dimension (torch's index_add_ of src scaled
// per row): the mixture-of-experts scatter. out and src f32, ids I64 [n], weights f32 [n] or null
// (weight 1). Repeated ids accumulate in order.
void index_add_(Tensor& out, const Tensor& ids, const Tensor& src, const Tensor* weights = nullptr);

// [start, start + 1, ..., end - 1] as I64 [end - start].
Tensor arange(int64_t start, int64_t end);
// The position ids of a batch without padding: every row start, start + 1, ..., as I64 [B, L].
Tensor position_ids(int64_t batch, int64_t length, int64_t start);
// Rotary cos/sin tables [B, L, 2 * F] f32 for I64 positions [B, L] and F inverse frequencies:
// angle = position * inv_freq[i] (a float product, as torch's matmul gives), cos and sin taken in
// double, times `scaling`, the halves duplicated (rotate_half layout).
std::pair<Tensor, Tensor> rotary_tables(const Tensor& positions, const std::vector<float>& inv_freq, float scaling);

// Reading tensors into host values (a device-to-host copy once tensors live elsewhere).
// The smallest and largest value of a non-empty integer tensor (I64, I32 or U8).
std::pair<int64_t, int64_t> min_max(const Tensor& x);
// The elements in row-major order, converted to int64 (integer tensors) or float (F32).
std::vector<int64_t> to_int64_vector(const Tensor& x);
std::vector<float> to_float_vector(const Tensor& x);

}  // namespace transformers::ops
