// What the Python-rendered fixtures cannot pin down: |random's documented determinism, and the
// bounds on Python ints beyond 64 bits (Python itself would allocate without limit).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "transformers/chat/template.h"

using namespace transformers;
using namespace transformers::jinja;

namespace {

// The TemplateError kind and message a render fails with ("" when it renders).
std::pair<std::string, std::string> failure_of(const std::string& source,
                                               RenderLimits limits = {}) {
  try {
    RenderOptions options;
    options.limits = limits;
    Template(source).render({}, options);
  } catch (const TemplateError& e) {
    return {e.kind(), e.what()};
  }
  return {};
}

}  // namespace

TEST(ChatEngineExtensions, RandomIsReproducibleAndPicksFromTheSequence) {
  const std::string source =
      "{% for i in range(40) %}{{ 'abcdefgh'|random }}{% endfor %}|{{ []|random }}|";
  Template t(source);
  std::string first = t.render({}).text, second = t.render({}).text;
  EXPECT_EQ(first, second);  // seeded at each render
  ASSERT_EQ(first.size(), 42u);
  std::set<char> seen(first.begin(), first.begin() + 40);
  for (char c : seen) EXPECT_NE(std::string("abcdefgh").find(c), std::string::npos) << c;
  EXPECT_GE(seen.size(), 6u);         // 40 draws over 8 items reach most of them
  EXPECT_EQ(first.substr(40), "||");  // empty: jinja2's undefined, which prints nothing
  EXPECT_EQ(Template("{{ [7]|random }}").render({}).text, "7");
}

TEST(ChatEngineExtensions, BigIntegersAreBounded) {
  // Python prints at most 4300 digits (its ValueError, verbatim).
  auto [kind, message] = failure_of("{{ 10 ** 5000 }}");
  EXPECT_EQ(kind, "ValueError");
  EXPECT_EQ(message,
            "Exceeds the limit (4300 digits) for integer string conversion; use "
            "sys.set_int_max_str_digits() to increase the limit");
  EXPECT_EQ(Template("{{ (10 ** 4299)|string|length }}").render({}).text, "4300");
  // A result larger than the output budget is refused before GMP allocates it.
  EXPECT_EQ(failure_of("{% set x = 3 ** 100000000000 %}").first, "SecurityError");
  EXPECT_EQ(failure_of("{% set x = 7 ** (2 ** 40) %}").first, "SecurityError");
  RenderLimits one_megabyte;
  one_megabyte.max_output_bytes = 1 << 20;
  EXPECT_EQ(failure_of("{% set x = 2 ** 5000000 %}{% set y = x + x %}", one_megabyte).first, "");
  EXPECT_EQ(failure_of("{% set x = 2 ** 5000000 %}{% set y = x * x %}", one_megabyte).first,
            "SecurityError");
  // 0, 1 and -1 to any power stay small.
  EXPECT_EQ(Template("{{ 1 ** (10 ** 30) }} {{ (-1) ** (10 ** 30 + 1) }} {{ 0 ** (10 ** 30) }}")
                .render({})
                .text,
            "1 -1 0");
}
