// The evaluator's state for one render: scopes, output buffers, limits, and the operations that
// filters and methods call back into (calling values, filters, tests). Internal to chat/.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/chat/ast.h"
#include "transformers/chat/budget.h"
#include "transformers/chat/template.h"
#include "transformers/chat/value.h"

namespace transformers::jinja {

// A variable scope: the template root, a loop iteration, a macro call, a with block.
struct Scope {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Scope> parent;

  const Value* lookup(std::string_view name) const {
    for (const Scope* s = this; s; s = s->parent.get())
      for (const auto& [k, v] : s->vars)
        if (k == name) return &v;
    return nullptr;
  }
  void set(std::string_view name, Value v) {
    for (auto& [k, old] : vars) {
      if (k == name) {
        old = std::move(v);
        return;
      }
    }
    vars.emplace_back(std::string(name), std::move(v));
  }
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow : uint8_t { Normal, Break, Continue };

class Context {
 public:
  Context(const RenderOptions& options, std::string* out);
  ~Context();

  const RenderOptions& options;
  std::string* out;
  std::string* root_out;
  std::vector<std::pair<size_t, size_t>> generation_spans;

  // Statements (evaluator.cpp).
  Flow exec(const Body& body, const ScopePtr& scope);
  std::string capture(const Body& body, const ScopePtr& scope);

  // Expressions (expressions.cpp).
  Value eval(const Expr& e, const ScopePtr& scope);
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(std::string_view name, const Value& input, CallArgs& args);
  bool apply_test(std::string_view name, const Value& input, CallArgs& args);

  // Limits.
  Budget budget;
  void check_size(size_t bytes) const;
  void tick_loop();
  void write(std::string_view s) {
    out->append(s);
    if (out->size() > options.limits.max_output_bytes) check_size(out->size());
  }

  // Macro closures and namespaces form reference cycles (a macro lives in the scope it
  // captures); the context keeps them and breaks the cycles when the render ends.
  void track(const std::shared_ptr<FunctionObj>& f) { functions_.push_back(f); }
  void track(const std::shared_ptr<DictObj>& d) { namespaces_.push_back(d); }

  int call_depth = 0;
  int eval_depth = 0;
  uint64_t random_draws = 0;  // |random's position in its per-render stream
  bool autoescape = false;    // inside {% autoescape true %} (HF's environment starts without)

  // Blocks (blocks.cpp): the template's top-level scope, which unscoped blocks render in.
  ScopePtr root_scope;
  Flow exec_block(const Stmt& s, const ScopePtr& scope);
  std::string render_block(const Stmt& s, const ScopePtr& scope);

  // Counts nested evaluation; fails like Python's RecursionError instead of overflowing the stack.
  struct DepthGuard {
    Context& c;
    explicit DepthGuard(Context& ctx) : c(ctx) {
      if (++c.eval_depth > c.options.limits.max_eval_depth) {
        --c.eval_depth;
        raise("RecursionError", "maximum recursion depth exceeded");
      }
    }
    ~DepthGuard() { --c.eval_depth; }
  };

 private:
  Flow exec_stmt(const Stmt& s, const ScopePtr& scope);
  Flow exec_stmt_impl(const Stmt& s, const ScopePtr& scope);
  Flow exec_for(const Stmt& s, const ScopePtr& scope);
  void exec_set(const Stmt& s, const ScopePtr& scope);
  Value make_macro(const Stmt& s, const ScopePtr& scope);
  Value invoke_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args);
  void assign(const Target& t, Value v, const ScopePtr& scope);
  friend struct LoopObj;
  Flow run_loop(const Stmt& s, const ScopePtr& scope, const Value& iterable, int depth0);

  void eval_call_args(const CallSpec& spec, const ScopePtr& scope, CallArgs& out);
  Value eval_node(const Expr& e, const ScopePtr& scope);
  Value eval_binary(const Expr& e, const ScopePtr& scope);
  Value eval_compare(const Expr& e, const ScopePtr& scope);
  Value eval_call(const Expr& e, const ScopePtr& scope);

  int64_t loop_iterations_ = 0;
  const void* last_built_ = nullptr;
  std::vector<std::shared_ptr<FunctionObj>> functions_;
  std::vector<std::shared_ptr<DictObj>> namespaces_;
};

// Attribute and item access with jinja2's sandboxed getattr/getitem rules (attributes.cpp).
Value get_attr(const Value& obj, std::string_view name);
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Calls obj.name(args) for the safe methods of str, dict and list; false if no such method.
bool call_method(Context& ctx, const Value& obj, std::string_view name, CallArgs& args, Value& result);
// The items a for loop (or list()) sees: list items, dict keys, string characters.
std::vector<Value> iterate(const Value& v);

// Python operators (operators.cpp).
Value binary_op(Context& ctx, BinOp op, const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);
// printf-style `fmt % args` and str.format (format.cpp).
// With `escape` (a Markup format string), every argument that is not Markup is HTML-escaped as
// markupsafe does.
std::string percent_format(Context& ctx, const std::string& fmt, const Value& args,
                           bool escape = false);
std::string str_format(Context& ctx, const std::string& fmt, CallArgs& args, bool escape = false);

// The environment's globals: range, dict, namespace, cycler, joiner, raise_exception,
// strftime_now (globals.cpp).
const Value* find_global(std::string_view name);

// jinja2's `self`: self.name() renders the block `name` again (blocks.cpp).
Value template_reference(const std::vector<const Stmt*>& blocks);

// Parameter helpers for builtins.
Value arg_or(const CallArgs& args, size_t index, std::string_view name, const Value& fallback);

}  // namespace transformers::jinja
