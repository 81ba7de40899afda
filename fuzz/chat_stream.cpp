// What `transformers chat` reads from a server: server-sent events cut into arbitrary pieces
// (the first byte picks the piece size), each event's payload applied as a chat completion chunk;
// and the same bytes as GENERATE_FLAGS words. Errors derived from transformers::Error are the
// expected outcome of bad input; anything else (a crash, a sanitizer report) is a finding.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "cli/generate_flags.h"
#include "cli/openai_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  transformers::cli::ChatReply reply;
  try {
    transformers::cli::SseReader sse([&](const std::string& payload) {
      try {
        transformers::cli::apply_chat_chunk(payload, reply);
      } catch (const transformers::Error&) {
      }
    });
    for (size_t at = 0; at < text.size(); at += piece) sse.feed(std::string_view(text).substr(at, piece));
  } catch (const transformers::Error&) {
  }
  std::istringstream words(text);
  transformers::Json flags = transformers::Json::object();
  for (std::string w; words >> w;) {
    try {
      transformers::cli::parse_generate_flag(w, flags);
    } catch (const transformers::Error&) {
    }
  }
  return 0;
}
