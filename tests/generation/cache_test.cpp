// Cache layers: static preallocation and its limit, sliding windows, beam reordering.
#include <gtest/gtest.h>

#include "common/test_util.h"
#include "transformers/cache/cache.h"

namespace transformers {
namespace {

// [B, H=1, L, D=2] whose entries encode (row, position): value = 100 * b + position.
Tensor kv(int64_t B, int64_t start, int64_t L) {
  Tensor t = Tensor::empty({B, 1, L, 2}, DType::F32);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t d = 0; d < 2; ++d) t.data<float>()[(b * L + l) * 2 + d] = static_cast<float>(100 * b + start + l);
  return t;
}

float at(const Tensor& t, int64_t b, int64_t l) { return t.select(0, b).select(0, 0).select(0, l).data<float>()[0]; }

TEST(Cache, StaticLayerPreallocatesAndRefusesToGrow) {
  auto c = Cache::make_static({std::nullopt, 3}, 6);
  EXPECT_TRUE(c->is_static());
  EXPECT_EQ(c->layer_windows(), (std::vector<std::optional<int64_t>>{std::nullopt, 3}));
  KVView v = c->layer(0).update(kv(2, 0, 4), kv(2, 0, 4));
  EXPECT_EQ(c->layer(0).capacity(), 6);
  EXPECT_EQ(v.keys.size(2), 4);
  c->layer(0).update(kv(2, 4, 2), kv(2, 4, 2));
  EXPECT_EQ(c->layer(0).capacity(), 6);  // no reallocation
  try {
    c->layer(0).update(kv(2, 6, 1), kv(2, 6, 1));
    ADD_FAILURE() << "a 7th token fit in max_cache_len 6";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("max_cache_len"), std::string::npos);
  }
  // The sliding layer keeps window-1 = 2 tokens and its first position moves on.
  c->layer(1).update(kv(2, 0, 4), kv(2, 0, 4));
  KVView s = c->layer(1).update(kv(2, 4, 1), kv(2, 4, 1));
  EXPECT_EQ(s.keys.size(2), 3);
  EXPECT_EQ(s.key_position, 2);
  EXPECT_EQ(at(s.keys, 1, 0), 102.0f);
}

TEST(Cache, ReorderSelectsBatchRows) {
  Cache c({std::nullopt, 2});
  c.layer(0).update(kv(3, 0, 3), kv(3, 0, 3));
  c.layer(1).update(kv(3, 0, 3), kv(3, 0, 3));
  std::vector<int64_t> rows = {2, 2, 0};
  c.reorder_cache(rows);
  KVView v = c.layer(0).update(kv(3, 3, 1), kv(3, 3, 1));
  EXPECT_EQ(at(v.keys, 0, 0), 200.0f);
  EXPECT_EQ(at(v.keys, 1, 2), 202.0f);
  EXPECT_EQ(at(v.keys, 2, 1), 1.0f);
  EXPECT_EQ(at(v.keys, 2, 3), 203.0f);  // the new token of row 2 (its own values)
  KVView s = c.layer(1).update(kv(3, 3, 1), kv(3, 3, 1));
  EXPECT_EQ(at(s.values, 0, 0), 202.0f);  // window 2 keeps 1 old token: position 2 of old row 2
  std::vector<int64_t> bad = {0, 5, 1};
  EXPECT_THROW(c.reorder_cache(bad), ValueError);
}

}  // namespace
}  // namespace transformers
