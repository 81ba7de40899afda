// Helpers shared by the chat engine tests: render a template source, expect a TemplateError of
// a kind with a message part, or get the syntax error that compiling a source throws.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "transformers/chat/template.h"

namespace chat_test {

using transformers::jinja::RenderLimits;
using transformers::jinja::RenderResult;
using transformers::jinja::Variables;

inline RenderResult render_result(const std::string& src, const Variables& vars = {}, RenderLimits limits = {}) {
  transformers::jinja::RenderOptions o;
  o.limits = limits;
  return transformers::jinja::Template(src).render(vars, o);
}

inline std::string render(const std::string& src, const Variables& vars = {}, RenderLimits limits = {}) {
  return render_result(src, vars, limits).text;
}

// The TemplateError the render fails with (kind "" when it renders).
inline transformers::TemplateError failure_of(const std::string& src, RenderLimits limits = {}) {
  try {
    render_result(src, {}, limits);
  } catch (const transformers::TemplateError& e) {
    return e;
  }
  return transformers::TemplateError("", "rendered without error");
}

// Expects the render to fail with a TemplateError of `kind` whose message contains `needle`.
// (No wall-clock assertion: hostile templates are stopped by counted budgets, which the
// messages name.)
inline void expect_failure(const std::string& src, const std::string& kind, const std::string& needle,
                           RenderLimits limits = {}) {
  transformers::TemplateError e = failure_of(src, limits);
  EXPECT_EQ(e.kind(), kind) << src << " -> " << e.what();
  EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << src << " -> " << e.what();
}

// The FormatError message compiling `src` throws ("" when it compiles).
inline std::string syntax_error_of(const std::string& src) {
  try {
    transformers::jinja::Template t(src);
  } catch (const transformers::FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace chat_test
