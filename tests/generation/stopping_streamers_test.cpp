// Stopping criteria, stop strings and streamers with a toy decoder (each id is a fixed string),
// so the expected text is known by construction; one test runs the real GPT-2 style tokenizer.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "common/test_util.h"
#include "tiny.h"
#include "transformers/generation/generate.h"
#include "transformers/generation/tokenizer_adapters.h"

namespace transformers {
namespace {

using testing::ids_tensor;
using testing::tiny_model;

// Token i decodes to kPieces[i % size].
const std::vector<std::string> kPieces = {"a", "b", " ", ".", "\n", "cd", "e.", "x ", "\xe4\xb8\xad", "!"};

TokenDecoder toy_decoder() {
  return [](std::span<const int64_t> ids) {
    std::string s;
    for (int64_t i : ids) s += kPieces[static_cast<size_t>(i) % kPieces.size()];
    return s;
  };
}

TEST(StopStrings, MatchEndingInsideTheNewestToken) {
  StopStringCriteria c({"b."}, toy_decoder());
  EXPECT_TRUE(c.is_done(std::vector<int64_t>{0, 1, 3}));    // "ab."
  EXPECT_FALSE(c.is_done(std::vector<int64_t>{0, 1, 3, 0})); // the match ended at an earlier token
  EXPECT_FALSE(c.is_done(std::vector<int64_t>{1, 0, 3}));    // "ba."
  // The newest token may run past the stop string: "e" ends inside the final token "e.".
  EXPECT_TRUE(StopStringCriteria({"e"}, toy_decoder()).is_done(std::vector<int64_t>{5, 6}));
  // "d" ends inside the earlier token "cd": no match now.
  EXPECT_FALSE(StopStringCriteria({"d"}, toy_decoder()).is_done(std::vector<int64_t>{5, 6}));
}

TEST(StopStrings, StopStringSpanningTokens) {
  StopStringCriteria c({"de."}, toy_decoder());
  EXPECT_TRUE(c.is_done(std::vector<int64_t>{0, 5, 6}));  // "a" "cd" "e." -> "acde."
  StopStringCriteria d({"a b"}, toy_decoder());
  EXPECT_TRUE(d.is_done(std::vector<int64_t>{0, 2, 1}));
  EXPECT_FALSE(d.is_done(std::vector<int64_t>{0, 2, 0}));
}

TEST(StoppingCriteria, MaxLengthEosAndMaxTime) {
  EXPECT_TRUE(MaxLengthCriteria(3).is_done(std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(MaxLengthCriteria(4).is_done(std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(EosTokenCriteria({4, 9}).is_done(std::vector<int64_t>{1, 9}));
  EXPECT_FALSE(EosTokenCriteria({4, 9}).is_done(std::vector<int64_t>{9, 1}));
  // No assertion depends on how fast this machine is: an hour is never spent here, and 20 ms
  // always are after a sleep of 40 (steady clock).
  EXPECT_FALSE(MaxTimeCriteria(3600).is_done(std::vector<int64_t>{1}));
  MaxTimeCriteria t(0.02);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  EXPECT_TRUE(t.is_done(std::vector<int64_t>{1}));
}

TEST(StopStrings, GenerateStopsAfterTheStopString) {
  auto m = tiny_model(10, 2);
  std::vector<int64_t> prompt = {0, 1, 0};
  GenerationConfig g;
  g.max_new_tokens = 12;
  GenerateOutput free_run = generate(*m, ids_tensor({prompt}), g);
  // Stop at the text of the 4th generated token: generation ends at its first occurrence.
  const std::string piece = kPieces[free_run.sequences[0][6]];
  g.stop_strings = {piece};
  GenerateOutput out = generate(*m, ids_tensor({prompt}), g, {.decode = toy_decoder()});
  StopStringCriteria c({piece}, toy_decoder());
  size_t end = 4;
  while (!c.is_done(std::span<const int64_t>(free_run.sequences[0]).first(end))) ++end;
  EXPECT_LE(end, 7u);
  EXPECT_EQ(out.sequences[0], std::vector<int64_t>(free_run.sequences[0].begin(), free_run.sequences[0].begin() + end));
}

TEST(Streamers, TextStreamerPrintsWholeWords) {
  std::ostringstream os;
  TextStreamer s(toy_decoder(), /*skip_prompt=*/true, &os);
  s.put({0, 0});  // the prompt: skipped
  EXPECT_EQ(os.str(), "");
  s.put({0});  // "a": no space yet, held back
  EXPECT_EQ(os.str(), "");
  s.put({1});  // "ab"
  s.put({2});  // "ab " -> the word is complete
  EXPECT_EQ(os.str(), "ab ");
  s.put({5});  // "ab cd"
  EXPECT_EQ(os.str(), "ab ");
  s.put({8});  // CJK character: flushed at once
  EXPECT_EQ(os.str(), "ab cd\xe4\xb8\xad");
  s.put({4});  // newline: the line is flushed and the cache restarts
  EXPECT_EQ(os.str(), "ab cd\xe4\xb8\xad\n");
  s.put({9});
  s.end();  // the rest, then a newline
  EXPECT_EQ(os.str(), "ab cd\xe4\xb8\xad\n!\n");
}

TEST(Streamers, GenerateStreamsWhatItReturnsAndIteratesFromAThread) {
  auto m = tiny_model(10, 2);
  std::vector<int64_t> prompt = {0, 1, 2};
  GenerationConfig g;
  g.max_new_tokens = 15;
  std::ostringstream os;
  TextStreamer streamer(toy_decoder(), /*skip_prompt=*/true, &os);
  GenerateOutput out = generate(*m, ids_tensor({prompt}), g, {.streamer = &streamer});
  std::vector<int64_t> gen(out.sequences[0].begin() + 3, out.sequences[0].end());
  // Everything generated was printed once, in order (newline splits restart the cache, so
  // compare the concatenation), plus the final newline.
  EXPECT_EQ(os.str(), toy_decoder()(gen) + "\n");

  TextIteratorStreamer it(toy_decoder(), true, std::chrono::milliseconds(20000));
  std::thread worker([&] { generate(*m, ids_tensor({prompt}), g, {.streamer = &it}); });
  std::string joined;
  while (auto piece = it.next()) joined += *piece;
  worker.join();
  EXPECT_EQ(joined, toy_decoder()(gen));
}

TEST(Streamers, RealTokenizerDecoderAndStopString) {
  auto tok = Tokenizer::from_pretrained(testing::shared_path("tokenizers/models/gpt2"));
  TokenDecoder decode = token_decoder(tok);
  std::vector<int64_t> ids = tok.encode("Hello world. Next", false);
  // Stop string "." is found when the token holding it arrives, not later.
  StopStringCriteria c({"."}, decode);
  size_t first = 0;
  while (!c.is_done(std::span<const int64_t>(ids).first(first + 1))) ++first;
  EXPECT_EQ(decode(std::span<const int64_t>(ids).first(first + 1)), "Hello world.");
  std::ostringstream os;
  TextStreamer s(decode, false, &os);
  for (int64_t id : ids) s.put({id});
  EXPECT_EQ(os.str(), "Hello world. ");
  s.end();
  EXPECT_EQ(os.str(), "Hello world. Next\n");
}

}  // namespace
}  // namespace transformers
