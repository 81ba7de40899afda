// Constrained decoding to one JSON object: the prefix recogniser against nlohmann's parser (a text
// is accepted whole and complete exactly when nlohmann parses it as an object; every prefix of a
// valid object is accepted), and the logits processor's masks worked by hand on a small vocabulary.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "transformers/generation/json_constraint.h"

namespace transformers {
namespace {

// Whether nlohmann parses `text` as one JSON object.
bool parses_as_object(const std::string& text) {
  if (!nlohmann::json::accept(text)) return false;
  return nlohmann::json::parse(text).is_object();
}

bool accepted_whole(const std::string& text, bool* complete = nullptr) {
  JsonObjectPrefix p;
  const bool ok = p.feed(text);
  if (complete) *complete = ok && p.complete();
  return ok;
}

TEST(JsonObjectPrefix, HandPickedTexts) {
  for (const std::string good : {R"({})", R"( {"a": 1} )", R"({"a":[1,-2.5e+3,0,true,false,null,"x\u00e9\n"],"b":{}})",
                                 R"({"k": "caf\u00e9 ☕", "n": -0.0E-1})", "{\n  \"a\": [\n    {}\n  ]\n}"}) {
    bool complete = false;
    EXPECT_TRUE(accepted_whole(good, &complete)) << good;
    EXPECT_TRUE(complete) << good;
    EXPECT_TRUE(parses_as_object(good)) << good;
    for (size_t k = 0; k < good.size(); ++k) EXPECT_TRUE(accepted_whole(good.substr(0, k))) << good.substr(0, k);
  }
  // Not objects, or not JSON: refused at the first byte that cannot continue.
  for (const std::string bad : {"[1]", "1", "\"s\"", "{a:1}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1,}", "{\"a\":tru}",
                                "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":1.}", "{\"a\":-}", "{} {}", "{\"a\":[1 2]}",
                                "{\"a\":1]", "{\"a\":\"\\u12G4\"}"}) {
    bool complete = false;
    accepted_whole(bad, &complete);
    EXPECT_FALSE(complete) << bad;
    EXPECT_FALSE(parses_as_object(bad)) << bad;
  }
  // A refused byte leaves the state as it was.
  JsonObjectPrefix p;
  ASSERT_TRUE(p.feed(std::string_view("{\"a\":")));
  EXPECT_FALSE(p.feed(std::string_view("}")));
  EXPECT_TRUE(p.feed(std::string_view("7}")));
  EXPECT_TRUE(p.complete());
}

// A random JSON value (nested up to `depth`).
nlohmann::json random_value(std::mt19937& rng, int depth) {
  switch (rng() % (depth > 0 ? 7 : 5)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int>(rng() % 2001) - 1000;
    case 3: return static_cast<double>(rng() % 100000) / 977.0 * (rng() % 2 ? 1 : -1e-7);
    case 4: {
      // ASCII: a cut multi-byte character is nlohmann's UTF-8 check, not grammar (the recogniser
      // takes any byte >= 0x20 in a string, as tokens may split characters).
      static const char* kStrings[] = {"", "s", "caf\\u00e9", "a\nb", "q\"uote", "back\\slash", "tab\t"};
      return kStrings[rng() % 7];
    }
    case 5: {
      nlohmann::json a = nlohmann::json::array();
      for (unsigned k = rng() % 4; k > 0; --k) a.push_back(random_value(rng, depth - 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (unsigned k = rng() % 4; k > 0; --k) o["k" + std::to_string(rng() % 5)] = random_value(rng, depth - 1);
      return o;
    }
  }
}

// Random objects as nlohmann writes them, half of them then broken by one edit (a byte deleted,
// inserted or replaced, or the text cut): complete-and-accepted equals nlohmann's verdict.
TEST(JsonObjectPrefix, AgreesWithNlohmannOnRandomTexts) {
  const std::string alphabet = "{}[],:\"\\ 0123456789-+.eEtrufalsn";
  std::mt19937 rng(11);
  int objects = 0, disagreements = 0;
  for (int trial = 0; trial < 20000 && disagreements < 20; ++trial) {
    nlohmann::json value = nlohmann::json::object();
    for (unsigned k = 1 + rng() % 3; k > 0; --k) value["k" + std::to_string(k)] = random_value(rng, 3);
    std::string text = value.dump(rng() % 2 == 0 ? -1 : 1);
    if (rng() % 2 == 0) {
      const size_t at = rng() % text.size();
      switch (rng() % 4) {
        case 0: text.erase(at, 1); break;
        case 1: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: text[at] = alphabet[rng() % alphabet.size()]; break;
        default: text.resize(at); break;
      }
    }
    bool object = false;
    try {
      object = nlohmann::json::parse(text).is_object();
    } catch (const nlohmann::json::parse_error&) {
    } catch (const nlohmann::json::out_of_range&) {
      continue;  // a number beyond double's range (an edit added exponent digits): grammar is not the question
    }
    bool complete = false;
    accepted_whole(text, &complete);
    objects += object;
    if (complete != object) {
      ++disagreements;
      ADD_FAILURE() << "'" << text << "': ours " << complete << ", nlohmann " << object;
    }
  }
  EXPECT_GT(objects, 10000);  // about half of the texts are objects
}

// Vocabulary: 0 "{", 1 "}", 2 "\"a\"", 3 ":", 4 "1", 5 "x", 6 special (""), 7 eos.
TEST(JsonObjectLogitsProcessor, MasksWhatCannotContinueAndEndsOnlyWhenComplete) {
  auto texts = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"{", "}", "\"a\"", ":", "1", "x", "", ""});
  JsonObjectLogitsProcessor proc(texts, {7}, /*prompt_length=*/2);
  constexpr float kInf = std::numeric_limits<float>::infinity();
  auto allowed = [&](const std::vector<int64_t>& seq) {
    std::vector<float> scores(8, 0.0f);
    proc.apply(seq, scores);
    std::vector<int64_t> out;
    for (int64_t i = 0; i < 8; ++i)
      if (scores[static_cast<size_t>(i)] != -kInf) out.push_back(i);
    return out;
  };
  EXPECT_EQ(allowed({5, 5}), (std::vector<int64_t>{0}));           // the prompt is not read; only "{"
  EXPECT_EQ(allowed({5, 5, 0}), (std::vector<int64_t>{1, 2}));     // "}" or a key
  EXPECT_EQ(allowed({5, 5, 0, 2}), (std::vector<int64_t>{3}));     // ":"
  EXPECT_EQ(allowed({5, 5, 0, 2, 3}), (std::vector<int64_t>{0, 2, 4}));  // a value (an object, a string, a number)
  EXPECT_EQ(allowed({5, 5, 0, 2, 3, 4}), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(allowed({5, 5, 0, 2, 3, 4, 1}), (std::vector<int64_t>{7}));  // complete: eos only
}

}  // namespace
}  // namespace transformers
