// A compiled Jinja2 template rendered the way Hugging Face renders chat templates: jinja2's
// ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loopcontrols, HF's tojson,
// raise_exception and strftime_now, and the {% generation %} tag (assistant spans).
//
//   jinja::Template t(source);                       // parse once (FormatError on bad syntax)
//   auto r = t.render({{"messages", msgs}, {"add_generation_prompt", true}});
//   r.text; r.generation_spans;                       // TemplateError when the template fails
//
// Sandbox: no file or OS access exists in the language we implement (no include/import/
// extends, no attribute access to Python internals, no mutating methods); recursion depth,
// loop iterations, output size, total work and memory are bounded by RenderLimits and fail with a
// clear error (SecurityError naming the limit) after a bounded amount of counted work.
// {% block %} renders in place (and again through self.name()), as in a stand-alone jinja2
// template. Ints are Python's (arbitrary precision, 4300 printable digits). |random is the one
// deliberate difference: it draws from a SplitMix64 stream seeded with 0 at each render, so a
// template renders the same every time (Python's random.choice differs from run to run).
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transformers/chat/value.h"

namespace transformers::jinja {

struct Program;

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // any one rendered or built string
  int64_t max_loop_iterations = 2'000'000;      // total over the render
  int max_call_depth = 200;                     // nested macro / recursive-loop calls
  int max_eval_depth = 1000;                    // nested evaluation frames (bounds the C++ stack)
  // Total work of the render, in counted operations: statements, expressions, loop iterations,
  // calls (32 each), list items visited, and 32-byte units of strings built or scanned. The real
  // templates in the tests use at most ~2,000 (tests/chat/test_reference_templates.cpp checks
  // they stay under 1%); exponential and quadratic templates end here.
  int64_t max_work = 20'000'000;
  // Bytes of strings, lists and dicts built by the render and still alive (approximated: small
  // values count from being built to the end of the render). Real templates: ~10 KB.
  size_t max_memory_bytes = size_t{256} << 20;
};

struct RenderOptions {
  // The time strftime_now() formats; unset = the current local time.
  std::optional<std::tm> now;
  RenderLimits limits;
};

struct RenderResult {
  std::string text;
  // Byte ranges [begin, end) of `text` produced inside {% generation %} blocks.
  std::vector<std::pair<size_t, size_t>> generation_spans;
  // What the render used of RenderLimits::max_work and max_memory_bytes.
  int64_t work = 0;
  size_t peak_memory_bytes = 0;
};

using Variables = std::vector<std::pair<std::string, Value>>;

class Template {
 public:
  explicit Template(std::string_view source);
  // Renders with the given top-level variables. Throws TemplateError on failure.
  RenderResult render(const Variables& variables, const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const Program> program_;
};

// Parses "2024-09-03T12:00:00" (or with a space, or date only) into a broken-down time.
std::optional<std::tm> parse_iso_datetime(std::string_view text);

}  // namespace transformers::jinja
