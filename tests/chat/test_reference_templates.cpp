// Every real chat template x conversation in ../shared/chat_templates must render exactly as
// Python jinja2 with HF's environment did (text), or fail with the template's own message.
// Also the project's own language fixtures in tests/chat/data (rendered by Python jinja2).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "transformers/chat/chat_template.h"

namespace fs = std::filesystem;
using namespace transformers;

namespace {

struct Case {
  fs::path template_dir;
  fs::path context;
  fs::path expected;
};

// The most work and memory any case used (printed with the pass count).
int64_t max_work_seen = 0;
size_t max_memory_seen = 0;

// Runs one case; returns an empty string on success or a description of the mismatch.
std::string run_case(const Case& c) {
  OrderedJson expected = read_ordered_json_file(c.expected);
  ConversationFile conv = parse_conversation(read_ordered_json_file(c.context));
  conv.options.now = jinja::parse_iso_datetime("2024-09-03T12:00:00");
  auto templates = ChatTemplates::from_directory(c.template_dir);
  bool ok = expected["ok"].get<bool>();
  try {
    RenderedChat r = render_chat(templates, conv.messages, conv.options);
    if (!ok) return "expected failure '" + expected["error"].get<std::string>() + "' but rendered:\n" + r.text;
    // The default budgets must leave real templates far from their end: at most 1% used.
    const jinja::RenderLimits defaults;
    max_work_seen = std::max(max_work_seen, r.work);
    max_memory_seen = std::max(max_memory_seen, r.peak_memory_bytes);
    if (r.work > defaults.max_work / 100 || r.peak_memory_bytes > defaults.max_memory_bytes / 100)
      return "used " + std::to_string(r.work) + " work units and " + std::to_string(r.peak_memory_bytes) +
             " bytes: more than 1% of the default budgets";
    std::string want = expected["text"].get<std::string>();
    if (r.text == want) return "";
    size_t i = 0;
    while (i < want.size() && i < r.text.size() && want[i] == r.text[i]) ++i;
    size_t from = i > 120 ? i - 120 : 0;
    return "text differs at byte " + std::to_string(i) + "\n--- expected (from byte " + std::to_string(from) +
           "):\n" + want.substr(from, 240) + "\n--- got:\n" + r.text.substr(from, 240);
  } catch (const TemplateError& e) {
    if (ok) return std::string("unexpected ") + e.kind() + ": " + e.what();
    std::string got = e.kind() + ": " + e.what();
    std::string want = expected["error"].get<std::string>();
    // A template's own raise_exception must carry its exact message; other failures must be
    // of the same Python exception type.
    if (want.rfind("TemplateError: ", 0) == 0) return got == want ? "" : "error '" + got + "' != '" + want + "'";
    return want.substr(0, want.find(':')) == e.kind() ? "" : "error '" + got + "' != '" + want + "'";
  } catch (const Error& e) {
    if (ok) return std::string("unexpected error: ") + e.what();
    return "";  // e.g. ValueError from continue_final_message: a failure as expected
  }
}

std::vector<Case> collect(const fs::path& root) {
  std::vector<Case> cases;
  for (const auto& t : fs::directory_iterator(root / "templates")) {
    for (const auto& ctx : fs::directory_iterator(root / "contexts")) {
      fs::path expected = root / "expected" / (t.path().filename().string() + "__" + ctx.path().stem().string() + ".json");
      if (fs::exists(expected)) cases.push_back({t.path(), ctx.path(), expected});
    }
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.expected < b.expected; });
  return cases;
}

void run_all(const fs::path& root, size_t min_cases) {
  ASSERT_TRUE(fs::is_directory(root / "templates")) << "missing fixture directory " << root;
  auto cases = collect(root);
  ASSERT_GE(cases.size(), min_cases) << "too few fixtures under " << root;
  size_t passed = 0;
  for (const auto& c : cases) {
    std::string failure;
    try {
      failure = run_case(c);
    } catch (const std::exception& e) {
      failure = std::string("exception: ") + e.what();
    }
    if (failure.empty()) ++passed;
    else ADD_FAILURE() << c.expected.filename().string() << ": " << failure;
  }
  std::printf("[chat] %zu/%zu fixtures of %s pass (most work %lld units, most memory %zu bytes)\n", passed,
              cases.size(), root.string().c_str(), static_cast<long long>(max_work_seen), max_memory_seen);
  EXPECT_EQ(passed, cases.size());
}

}  // namespace

TEST(ChatReference, SharedTemplatesRenderLikePythonJinja2) {
  run_all(fs::path(TCPP_SHARED_DIR) / "chat_templates", 84);
}

TEST(ChatReference, LanguageFixturesRenderLikePythonJinja2) {
  run_all(fs::path(TCPP_SOURCE_DIR) / "tests" / "chat" / "data", 1);
}
