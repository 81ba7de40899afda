// What `transformers serve` reads from a client and from a model: a request body parsed as JSON
// and every typed field getter applied to every field (wrong types must be ApiError 400, never
// another exception), and the same bytes, cut into pieces (the first byte picks the size), through
// the output parser that splits generated text into content, <think> reasoning and <tool_call>
// blocks. Anything but transformers::Error is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "transformers/serving/api_error.h"
#include "transformers/serving/output_parser.h"
#include "transformers/serving/request_fields.h"

namespace {

using namespace transformers;

void read_every_field(const Json& body) {
  for (const auto& [key, value] : body.items()) {
    (void)value;
    try { serving::get_number(body, key, -1e9, 1e9); } catch (const serving::ApiError&) {}
    try { serving::get_integer(body, key, -1000000, 1000000); } catch (const serving::ApiError&) {}
    try { serving::get_bool(body, key); } catch (const serving::ApiError&) {}
    try { serving::get_string(body, key); } catch (const serving::ApiError&) {}
    try { serving::get_object(body, key, true); } catch (const serving::ApiError&) {}
    try { serving::get_array(body, key); } catch (const serving::ApiError&) {}
    try { serving::get_string_or_strings(body, key, 4); } catch (const serving::ApiError&) {}
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    read_every_field(serving::parse_request_body(text));
  } catch (const serving::ApiError&) {
  }
  const size_t piece = 1 + data[0] % 16;
  for (bool reasoning : {false, true}) {
    serving::OutputParser parser(reasoning, /*tools=*/true);
    serving::ParsedText all;
    for (size_t at = 0; at < text.size(); at += piece) all.append(parser.feed(std::string_view(text).substr(at, piece)));
    all.append(parser.finish());
  }
  serving::prompt_opens_reasoning(text);
  return 0;
}
