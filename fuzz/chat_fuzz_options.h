// Render options shared by the chat fuzz targets: limits and budgets tight enough that every
// hostile input ends within a few milliseconds of counted work, and a fixed strftime_now().
#pragma once

#include <ctime>

#include "transformers/chat/template.h"

inline transformers::jinja::RenderOptions fuzz_render_options() {
  transformers::jinja::RenderOptions o;
  o.limits.max_output_bytes = 1 << 20;
  o.limits.max_loop_iterations = 20000;
  o.limits.max_call_depth = 40;
  o.limits.max_eval_depth = 400;
  o.limits.max_work = 200000;
  o.limits.max_memory_bytes = 16 << 20;
  std::tm now{};
  now.tm_year = 124;
  now.tm_mon = 8;
  now.tm_mday = 3;
  o.now = now;
  return o;
}
