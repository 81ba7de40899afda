// Statement execution: output, if/for/set/macro/call/filter/with, loop controls, generation
// spans, and Template (compile once, render many).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "transformers/chat/context.h"
#include "transformers/chat/parser.h"

namespace transformers::jinja {

Context::Context(const RenderOptions& opts, std::string* output)
    : options(opts), out(output), root_out(output), budget(opts.limits) {}

Context::~Context() {
  for (auto& f : functions_) f->fn = nullptr;
  for (auto& d : namespaces_) d->items.clear();
}

void Context::check_size(size_t bytes) const {
  if (bytes > options.limits.max_output_bytes)
    raise("SecurityError", "output limit exceeded: the template produced more than " +
                               std::to_string(options.limits.max_output_bytes) + " bytes");
}

void Context::tick_loop() {
  budget.work(1);
  if (++loop_iterations_ > options.limits.max_loop_iterations)
    raise("SecurityError", "loop iteration limit exceeded: more than " +
                               std::to_string(options.limits.max_loop_iterations) + " iterations");
}

namespace {
struct OutputRedirect {
  Context& ctx;
  std::string* saved;
  OutputRedirect(Context& c, std::string* buffer) : ctx(c), saved(c.out) { c.out = buffer; }
  ~OutputRedirect() { ctx.out = saved; }
};
}  // namespace

std::string Context::capture(const Body& body, const ScopePtr& scope) {
  std::string buffer;
  OutputRedirect redirect(*this, &buffer);
  exec(body, scope);
  return buffer;
}

Flow Context::exec(const Body& body, const ScopePtr& scope) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

void Context::assign(const Target& t, Value v, const ScopePtr& scope) {
  if (!t.ns_attr.empty()) {
    const Value* ns = scope->lookup(t.names[0]);
    if (!ns) ns = find_global(t.names[0]);
    if (!ns || !ns->is_namespace()) raise("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
    ns->as_dict().set(Value(t.ns_attr), std::move(v));
    return;
  }
  if (!t.is_tuple) {
    scope->set(t.names[0], std::move(v));
    return;
  }
  std::vector<Value> items = iterate(v);
  if (v.is_undefined() || v.is_none() || v.is_number()) raise("TypeError", "cannot unpack non-iterable " + v.type_name() + " object");
  if (items.size() > t.names.size())
    raise("ValueError", "too many values to unpack (expected " + std::to_string(t.names.size()) + ")");
  if (items.size() < t.names.size())
    raise("ValueError", "not enough values to unpack (expected " + std::to_string(t.names.size()) + ", got " +
                            std::to_string(items.size()) + ")");
  for (size_t i = 0; i < items.size(); ++i) scope->set(t.names[i], std::move(items[i]));
}

void Context::exec_set(const Stmt& s, const ScopePtr& scope) {
  if (s.kind == StmtKind::Set) {
    assign(s.target, eval(*s.exprs[0], scope), scope);
    return;
  }
  Value v = make_str(capture(s.body, scope), autoescape);
  if (s.exprs[0]) {
    // The filter chain was parsed with a null innermost input; apply it from the inside out.
    std::vector<const Expr*> chain;
    for (const Expr* e = s.exprs[0].get(); e; e = e->items[0].get()) chain.push_back(e);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      CallArgs args;
      eval_call_args((*it)->call, scope, args);
      v = apply_filter((*it)->name, v, args);
    }
  }
  assign(s.target, std::move(v), scope);
}

Flow Context::exec_stmt(const Stmt& s, const ScopePtr& scope) {
  try {
    return exec_stmt_impl(s, scope);
  } catch (TemplateError& e) {
    if (e.line() == 0) e.set_line(s.line);  // the innermost statement names the place
    throw;
  }
}

Flow Context::exec_stmt_impl(const Stmt& s, const ScopePtr& scope) {
  DepthGuard guard(*this);
  budget.work(1);
  switch (s.kind) {
    case StmtKind::Data: write(s.text); return Flow::Normal;
    case StmtKind::Output:
      for (const auto& e : s.exprs) {
        Value v = eval(*e, scope);
        if (autoescape && !v.is_safe()) {
          write(html_escape(v.str()));
        } else if (v.is_string()) {
          write(v.as_str());
        } else {
          v.append_str(*out);
          write({});
        }
      }
      return Flow::Normal;
    case StmtKind::If:
      for (size_t i = 0; i < s.exprs.size(); ++i)
        if (eval(*s.exprs[i], scope).truthy()) return exec(s.branches[i], scope);
      return exec(s.else_body, scope);
    case StmtKind::For: return exec_for(s, scope);
    case StmtKind::Set:
    case StmtKind::SetBlock: exec_set(s, scope); return Flow::Normal;
    case StmtKind::Macro: scope->set(s.name, make_macro(s, scope)); return Flow::Normal;
    case StmtKind::CallBlock: {
      Value caller = make_macro(s, scope);
      const Expr& call_expr = *s.exprs[0];
      CallArgs args;
      eval_call_args(call_expr.call, scope, args);
      args.kwargs.emplace_back("caller", caller);
      Value callee;
      const Expr& callee_expr = *call_expr.items[0];
      if (callee_expr.kind == ExprKind::GetAttr) {
        Value obj = eval(*callee_expr.items[0], scope);
        Value result;
        if (call_method(*this, obj, callee_expr.name, args, result)) {
          write(result.str());
          return Flow::Normal;
        }
        callee = get_attr(obj, callee_expr.name);
      } else {
        callee = eval(callee_expr, scope);
      }
      write(call(callee, args).str());
      return Flow::Normal;
    }
    case StmtKind::FilterBlock: {
      Value v(capture(s.body, scope));
      std::vector<const Expr*> chain;
      for (const Expr* e = s.exprs[0].get(); e; e = e->items[0].get()) chain.push_back(e);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        CallArgs args;
        eval_call_args((*it)->call, scope, args);
        v = apply_filter((*it)->name, v, args);
      }
      write(v.str());
      return Flow::Normal;
    }
    case StmtKind::With: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      for (size_t i = 0; i < s.targets.size(); ++i) assign(s.targets[i], eval(*s.exprs[i], scope), inner);
      return exec(s.body, inner);
    }
    case StmtKind::Block:
      return exec_block(s, scope);
    case StmtKind::AutoEscape: {
      // A scope of its own (like with); the setting holds for the body and what it calls.
      bool enable = eval(*s.exprs[0], scope).truthy();
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      bool outer = std::exchange(autoescape, enable);
      try {
        Flow f = exec(s.body, inner);
        autoescape = outer;
        return f;
      } catch (...) {
        autoescape = outer;
        throw;
      }
    }
    case StmtKind::Break: return Flow::Break;
    case StmtKind::Continue: return Flow::Continue;
    case StmtKind::Generation: {
      std::string body = capture(s.body, scope);
      // As HF's AssistantTracker: the span starts at the length of the top-level output.
      size_t start = root_out->size();
      generation_spans.emplace_back(start, start + body.size());
      write(body);
      return Flow::Normal;
    }
  }
  return Flow::Normal;
}

// ---- loops -------------------------------------------------------------------------------

struct LoopObj : ObjectObj {
  Context* ctx = nullptr;
  const Stmt* stmt = nullptr;
  ScopePtr scope;
  std::shared_ptr<std::vector<Value>> items;
  size_t index0 = 0;
  int depth0 = 0;
  mutable std::vector<Value> last_changed;
  mutable bool has_changed = false;

  Value get_attr(std::string_view name) const override {
    size_t n = items->size();
    if (name == "index") return Value(static_cast<int64_t>(index0 + 1));
    if (name == "index0") return Value(static_cast<int64_t>(index0));
    if (name == "revindex") return Value(static_cast<int64_t>(n - index0));
    if (name == "revindex0") return Value(static_cast<int64_t>(n - index0 - 1));
    if (name == "first") return Value(index0 == 0);
    if (name == "last") return Value(index0 + 1 == n);
    if (name == "length") return Value(static_cast<int64_t>(n));
    if (name == "depth") return Value(static_cast<int64_t>(depth0 + 1));
    if (name == "depth0") return Value(static_cast<int64_t>(depth0));
    if (name == "previtem") return index0 > 0 ? (*items)[index0 - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem") return index0 + 1 < n ? (*items)[index0 + 1] : Value::undefined("there is no next item");
    if (name == "cycle") {
      const LoopObj* self = this;
      return Value::function("cycle", [self](Context&, CallArgs& a) -> Value {
        if (a.args.empty()) raise("TypeError", "no items for cycling given");
        return a.args[self->index0 % a.args.size()];
      });
    }
    if (name == "changed") {
      const LoopObj* self = this;
      return Value::function("changed", [self](Context&, CallArgs& a) -> Value {
        bool same = self->has_changed && self->last_changed.size() == a.args.size();
        for (size_t i = 0; same && i < a.args.size(); ++i) same = a.args[i].equals(self->last_changed[i]);
        self->last_changed = a.args;
        self->has_changed = true;
        return Value(!same);
      });
    }
    return Value::undefined("'jinja2.runtime.LoopContext object' has no attribute '" + std::string(name) + "'");
  }
  std::string repr() const override {
    return "<LoopContext " + std::to_string(index0 + 1) + "/" + std::to_string(items->size()) + ">";
  }
  Value call(Context& c, CallArgs& a) const override {
    if (!stmt->recursive) raise("TypeError", "Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.");
    if (a.args.size() != 1) raise("TypeError", "loop() takes exactly one argument");
    if (++c.call_depth > c.options.limits.max_call_depth)
      raise("RecursionError", "maximum recursion depth exceeded in a recursive loop");
    std::string buffer;
    std::string* saved = c.out;
    c.out = &buffer;
    try {
      c.run_loop(*stmt, scope, a.args[0], depth0 + 1);
    } catch (...) {
      c.out = saved;
      --c.call_depth;
      throw;
    }
    c.out = saved;
    --c.call_depth;
    return Value(std::move(buffer));
  }
};

Flow Context::exec_for(const Stmt& s, const ScopePtr& scope) { return run_loop(s, scope, eval(*s.exprs[0], scope), 0); }

Flow Context::run_loop(const Stmt& s, const ScopePtr& scope, const Value& iterable, int depth0) {
  if (iterable.is_none() || iterable.is_number() || iterable.is_function())
    raise("TypeError", "'" + iterable.type_name() + "' object is not iterable");
  // The loop holds a copy of its items (a string's characters as separate strings): counted as
  // memory before it is made, given back when the loop ends.
  size_t item_bytes = iteration_bytes(iterable);
  budget.reserve(item_bytes);
  struct ItemsReservation {
    Budget& budget;
    size_t bytes;
    ~ItemsReservation() { budget.release(bytes); }
  } reservation{budget, item_bytes};
  auto items = std::make_shared<std::vector<Value>>(iterate(iterable));
  if (s.exprs[1]) {
    // `for x in xs if cond`: filter first, so loop.index/length count the kept items.
    std::vector<Value> kept;
    for (auto& item : *items) {
      tick_loop();
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      assign(s.target, item, probe);
      if (eval(*s.exprs[1], probe).truthy()) kept.push_back(std::move(item));
    }
    *items = std::move(kept);
  }
  auto loop = std::make_shared<LoopObj>();
  loop->ctx = this;
  loop->stmt = &s;
  loop->scope = scope;
  loop->items = items;
  loop->depth0 = depth0;
  Value loop_value(std::static_pointer_cast<ObjectObj>(loop));
  ScopePtr iter_scope;
  // jinja2 runs the else block unless some iteration reached the end of the body: an empty loop,
  // but also one whose every iteration ended in break or continue.
  bool run_else = true;
  for (size_t i = 0; i < items->size(); ++i) {
    tick_loop();
    loop->index0 = i;
    if (!iter_scope || iter_scope.use_count() > 1) {
      iter_scope = std::make_shared<Scope>();
      iter_scope->parent = scope;
    } else {
      iter_scope->vars.clear();
    }
    iter_scope->vars.emplace_back("loop", loop_value);
    assign(s.target, (*items)[i], iter_scope);
    Flow f = exec(s.body, iter_scope);
    if (f == Flow::Break) break;
    if (f == Flow::Continue) continue;
    run_else = false;
  }
  loop->scope.reset();
  if (run_else && !s.else_body.empty()) {
    auto else_scope = std::make_shared<Scope>();  // jinja2's else frame: assignments stay inside
    else_scope->parent = scope;
    return exec(s.else_body, else_scope);
  }
  return Flow::Normal;
}

// ---- macros ------------------------------------------------------------------------------

Value Context::make_macro(const Stmt& s, const ScopePtr& scope) {
  auto f = std::make_shared<FunctionObj>();
  f->name = s.name;
  f->is_macro = true;
  const Stmt* stmt = &s;
  ScopePtr closure = scope;
  f->fn = [stmt, closure](Context& ctx, CallArgs& args) { return ctx.invoke_macro(*stmt, closure, args); };
  track(f);
  return Value(std::move(f));
}

Value Context::invoke_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args) {
  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& depth) : d(depth) { ++d; }
    ~DepthGuard() { --d; }
  } guard(call_depth);
  if (call_depth > options.limits.max_call_depth)
    raise("RecursionError", "maximum recursion depth exceeded: more than " +
                                std::to_string(options.limits.max_call_depth) + " nested macro calls");
  auto scope = std::make_shared<Scope>();
  scope->parent = closure;
  size_t n = s.params.size();
  size_t first_default = n - s.defaults.size();
  std::vector<bool> used_kw(args.kwargs.size(), false);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = s.params[i];
    const Value* given = nullptr;
    for (size_t k = 0; k < args.kwargs.size(); ++k) {
      if (args.kwargs[k].first == p) {
        if (i < args.args.size())
          raise("TypeError", "macro '" + s.name + "' got multiple values for argument '" + p + "'");
        given = &args.kwargs[k].second;
        used_kw[k] = true;
      }
    }
    if (i < args.args.size()) scope->set(p, args.args[i]);
    else if (given) scope->set(p, *given);
    else if (i >= first_default) scope->set(p, eval(*s.defaults[i - first_default], scope));
    else scope->set(p, Value::undefined("parameter '" + p + "' was not provided"));
  }
  if (args.args.size() > n) {
    if (!s.uses_varargs)
      raise("TypeError", "macro '" + s.name + "' takes not more than " + std::to_string(n) + " argument(s)");
    scope->set("varargs", Value::tuple(std::vector<Value>(args.args.begin() + n, args.args.end())));
  } else if (s.uses_varargs) {
    scope->set("varargs", Value::tuple({}));
  }
  Value kwargs = Value::dict();
  bool caller_given = false;
  for (size_t k = 0; k < args.kwargs.size(); ++k) {
    if (used_kw[k]) continue;
    const auto& [key, value] = args.kwargs[k];
    if (key == "caller" && s.uses_caller) {
      scope->set("caller", value);
      caller_given = true;
      continue;
    }
    if (!s.uses_kwargs) {
      if (key == "caller")
        raise("TypeError", "macro '" + s.name +
                               "' was invoked with two values for the special caller argument. This is most likely a bug.");
      raise("TypeError", "macro '" + s.name + "' takes no keyword argument '" + key + "'");
    }
    kwargs.as_dict().items.emplace_back(Value(key), value);
  }
  if (s.uses_kwargs) scope->set("kwargs", kwargs);
  // A macro's own caller shadows the caller of an enclosing macro's call block.
  bool caller_param = std::find(s.params.begin(), s.params.end(), "caller") != s.params.end();
  if (s.uses_caller && !caller_given && !caller_param) scope->set("caller", Value::undefined("No caller defined"));
  return make_str(capture(s.body, scope),
                  autoescape);  // Markup under autoescape, as jinja2's macros
}

// ---- Template ----------------------------------------------------------------------------

Template::Template(std::string_view source) : program_(std::make_shared<Program>(parse(source))) {}

RenderResult Template::render(const Variables& variables, const RenderOptions& options) const {
  RenderResult result;
  Context ctx(options, &result.text);
  Budget::Activation active(ctx.budget);
  auto root = std::make_shared<Scope>();
  root->vars.reserve(variables.size() + 8);
  for (const auto& [k, v] : variables) root->set(k, v);
  if (!program_->blocks.empty())
    root->set("self", template_reference(program_->blocks));  // jinja2's wins too
  ctx.root_scope = root;
  ctx.exec(program_->body, root);
  result.generation_spans = std::move(ctx.generation_spans);
  result.work = ctx.budget.work_used();
  result.peak_memory_bytes = ctx.budget.peak_memory();
  return result;
}

std::optional<std::tm> parse_iso_datetime(std::string_view text) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  std::string t(text);
  int n = std::sscanf(t.c_str(), "%d-%d-%d%*[T ]%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  if (n != 3 && n < 5) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  std::tm copy = tm;
  timegm(&copy);  // fills tm_wday / tm_yday
  tm.tm_wday = copy.tm_wday;
  tm.tm_yday = copy.tm_yday;
  return tm;
}

}  // namespace transformers::jinja
