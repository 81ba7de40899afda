// Pieces of `transformers chat` checked on their own: GENERATE_FLAGS parsed with v5's rules (the
// expected values follow v5's chat.py: true/false any case, None, numbers, int lists, strings),
// and the server-sent-event reader against the framing rules of the SSE specification.
#include <gtest/gtest.h>

#include "cli/generate_flags.h"
#include "cli/openai_client.h"

namespace transformers::cli {
namespace {

TEST(GenerateFlags, ValuesTakeV5sTypes) {
  const Json j = parse_generate_flags({"max_new_tokens=100", "do_sample=False", "use_cache=TRUE", "eos_token_id=[1,2]",
                                       "temperature=0.7", "top_k=-3", "pad_token_id=None", "cache_implementation=static",
                                       "repetition_penalty=1e-1", "bad_words_ids=[1, x]"});
  EXPECT_EQ(j["max_new_tokens"], Json(100));
  EXPECT_TRUE(j["max_new_tokens"].is_number_integer());
  EXPECT_EQ(j["do_sample"], Json(false));
  EXPECT_EQ(j["use_cache"], Json(true));
  EXPECT_EQ(j["eos_token_id"], Json::array({1, 2}));
  EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), 0.7);
  EXPECT_EQ(j["top_k"], Json(-3));
  EXPECT_TRUE(j["pad_token_id"].is_null());
  EXPECT_EQ(j["cache_implementation"], Json("static"));
  EXPECT_DOUBLE_EQ(j["repetition_penalty"].get<double>(), 0.1);
  EXPECT_EQ(j["bad_words_ids"], Json("[1, x]"));  // not a list of ints: a string, as v5 leaves it
}

TEST(GenerateFlags, LaterKeysReplaceEarlierOnesAndDefaultsStay) {
  const Json j = parse_generate_flags({"temperature=1", "temperature=0"}, {{"do_sample", true}});
  EXPECT_EQ(j, (Json{{"do_sample", true}, {"temperature", 0}}));
}

TEST(GenerateFlags, AWordWithoutKeyOrEqualsIsAnErrorNamingIt) {
  try {
    parse_generate_flags({"max_new_tokens"});
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'max_new_tokens'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_generate_flags({"=3"}), ValueError);
}

std::vector<std::string> events(const std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  SseReader r([&](const std::string& d) { out.push_back(d); });
  for (const auto& p : pieces) r.feed(p);
  return out;
}

TEST(SseReader, EventsSplitAnywhereAreReassembled) {
  const std::string stream = "data: {\"a\":1}\n\ndata: [DONE]\n\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut)
    EXPECT_EQ(events({stream.substr(0, cut), stream.substr(cut)}), (std::vector<std::string>{"{\"a\":1}", "[DONE]"}))
        << "cut at " << cut;
}

TEST(SseReader, FollowsTheFramingRules) {
  // CRLF line ends, multi-line data joined by \n, no space after the colon, comments and other
  // fields ignored, an event without data dispatches nothing, an unfinished event waits.
  EXPECT_EQ(events({": keep-alive\r\n\r\nevent: x\r\nid: 3\r\ndata:a\r\ndata: b\r\n\r\nevent: y\n\ndata: z"}),
            (std::vector<std::string>{"a\nb"}));
}

TEST(SseReader, AnEndlessEventIsRefused) {
  SseReader r([](const std::string&) {});
  const std::string chunk(1 << 20, 'x');
  EXPECT_THROW(
      {
        for (int i = 0; i < 20; ++i) r.feed(chunk);
      },
      IoError);
}

}  // namespace
}  // namespace transformers::cli
