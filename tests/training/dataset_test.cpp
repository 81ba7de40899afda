// Datasets, the collator and the samplers: the golden rows, hand-made JSONL files, errors that
// name file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "transformers/ops/ops.h"
#include "transformers/tokenization/tokenizer.h"
#include "error_text.h"
#include "transformers/training/dataset.h"

using namespace transformers;
using namespace transformers::training;
using transformers::training::testing::error_of;
namespace fs = std::filesystem;

namespace {
fs::path write_temp(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / ("tcpp_dataset_test_" + name);
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST(Dataset, GoldenJsonlAndNpyHoldTheSameRows) {
  const std::string dir = std::string(TCPP_SHARED_DIR) + "/train_golden/";
  const auto jsonl = load_dataset(dir + "dataset.jsonl", {});
  const auto npy = load_dataset(dir + "dataset.npy", {});
  ASSERT_EQ(jsonl.size(), 48u);
  ASSERT_EQ(npy.size(), 48u);
  for (size_t i = 0; i < 48; ++i) {
    EXPECT_EQ(jsonl[i].input_ids, npy[i].input_ids) << i;
    EXPECT_EQ(jsonl[i].labels, jsonl[i].input_ids);
    EXPECT_EQ(jsonl[i].input_ids.size(), 24u);
  }
  EXPECT_EQ(jsonl[0].input_ids[1], 167);  // the first row of dataset.jsonl: [1, 167, 176, ...]
}

TEST(Dataset, RowsWithLabelsMasksAndErrors) {
  const auto path = write_temp("rows.jsonl",
                               "{\"input_ids\": [5, 6, 7], \"labels\": [-100, 6, 7]}\n\n"
                               "{\"input_ids\": [1, 2, 3, 4], \"attention_mask\": [1, 1, 1, 0]}\n");
  const auto rows = load_dataset(path, {});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].labels, (std::vector<int64_t>{-100, 6, 7}));
  EXPECT_EQ(rows[1].labels, (std::vector<int64_t>{1, 2, 3, -100}));
  const auto bad = write_temp("bad.jsonl", "{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, \"x\"]}\n");
  const std::string message = error_of([&] { load_dataset(bad, {}); });
  EXPECT_NE(message.find(bad.string() + ":2"), std::string::npos) << message;
  const auto broken = write_temp("broken.jsonl", "{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, \n");
  EXPECT_NE(error_of([&] { load_dataset(broken, {}); }).find(broken.string() + ":2"), std::string::npos);
  const auto unknown = write_temp("unknown.jsonl", "{\"prompt\": \"x\"}\n");
  EXPECT_NE(error_of([&] { load_dataset(unknown, {}); }).find(":1"), std::string::npos);
  const auto text = write_temp("text.jsonl", "{\"text\": \"Hello world\"}\n");
  EXPECT_NE(error_of([&] { load_dataset(text, {}); }).find("tokenizer"), std::string::npos);
  for (const auto& p : {path, bad, broken, unknown, text}) fs::remove(p);
}

TEST(Dataset, TextRowsAreTokenised) {
  const auto tokenizer = Tokenizer::from_pretrained(std::string(TCPP_SHARED_DIR) + "/tokenizers/models/gpt2");
  const auto path = write_temp("gpt2.jsonl", "{\"text\": \"Hello world\"}\n");
  const auto rows = load_dataset(path, {.tokenizer = &tokenizer, .max_length = std::nullopt, .pack = false});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].input_ids, (std::vector<int64_t>{15496, 995}));  // GPT-2's ids of "Hello", " world"
  EXPECT_EQ(rows[0].labels, rows[0].input_ids);
  fs::remove(path);
}

TEST(Dataset, TruncationAndPacking) {
  std::vector<Example> rows = {{{1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}}, {{6, 7, 8}, {-100, 7, 8}}};
  const auto truncated = shape_examples(rows, {.max_length = 4}, "rows");
  EXPECT_EQ(truncated[0].input_ids, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(truncated[1].labels, (std::vector<int64_t>{-100, 7, 8}));
  const auto packed = shape_examples(rows, {.max_length = 3, .pack = true}, "rows");
  ASSERT_EQ(packed.size(), 2u);  // 8 tokens -> two blocks of 3, remainder of 2 dropped
  EXPECT_EQ(packed[1].input_ids, (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(packed[1].labels, (std::vector<int64_t>{4, 5, -100}));
  EXPECT_THROW(shape_examples(rows, {.max_length = 20, .pack = true}, "rows"), FormatError);
}

TEST(Dataset, CollatorPadsOnTheRight) {
  const Example a{{1, 2, 3}, {1, 2, 3}}, b{{4}, {4}};
  const std::vector<const Example*> rows = {&a, &b};
  const Batch batch = collate(rows, 0);
  EXPECT_EQ(ops::to_int64_vector(batch.input_ids), (std::vector<int64_t>{1, 2, 3, 4, 0, 0}));
  EXPECT_EQ(ops::to_int64_vector(batch.labels), (std::vector<int64_t>{1, 2, 3, 4, -100, -100}));
  ASSERT_TRUE(batch.attention_mask.defined());
  EXPECT_EQ(ops::to_int64_vector(batch.attention_mask), (std::vector<int64_t>{1, 1, 1, 1, 0, 0}));
  const std::vector<const Example*> same = {&a, &a};
  EXPECT_FALSE(collate(same, 0).attention_mask.defined());
}

TEST(Dataset, SamplerOrders) {
  EXPECT_EQ(epoch_order(4, "sequential", 1, 3), (std::vector<size_t>{0, 1, 2, 3}));
  const auto first = epoch_order(50, "random", 42, 0);
  EXPECT_EQ(first, epoch_order(50, "random", 42, 0));  // a function of (seed, epoch)
  EXPECT_NE(first, epoch_order(50, "random", 42, 1));
  EXPECT_NE(first, epoch_order(50, "random", 43, 0));
  EXPECT_EQ(std::set<size_t>(first.begin(), first.end()).size(), 50u);
  EXPECT_THROW(epoch_order(3, "group_by_length", 1, 0), ConfigError);
}
