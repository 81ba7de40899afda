// {% block %} in a template rendered on its own (no inheritance): the body renders where it
// stands, in a scope of its own over the template's top level (or over the enclosing scope when
// `scoped`), and self.name() renders it again from the top level, as jinja2 does.
#include "transformers/chat/context.h"

namespace transformers::jinja {

namespace {

struct TemplateReference : ObjectObj {
  const std::vector<const Stmt*>* blocks = nullptr;

  Value get_attr(std::string_view name) const override {
    for (const Stmt* b : *blocks) {
      if (b->name != name) continue;
      return Value::function(b->name, [b](Context& ctx, CallArgs&) {
        return Value(ctx.render_block(*b, ctx.root_scope));
      });
    }
    return Value::undefined("'jinja2.runtime.TemplateReference object' has no attribute '" +
                            std::string(name) + "'");
  }
  std::string repr() const override { return "<TemplateReference None>"; }
};

}  // namespace

Value template_reference(const std::vector<const Stmt*>& blocks) {
  auto ref = std::make_shared<TemplateReference>();
  ref->blocks = &blocks;
  return Value(std::shared_ptr<ObjectObj>(std::move(ref)));
}

std::string Context::render_block(const Stmt& s, const ScopePtr& scope) {
  if (s.required) raise("TemplateRuntimeError", "Required block '" + s.name + "' not found.");
  auto inner = std::make_shared<Scope>();
  inner->parent = s.scoped ? scope : root_scope;
  return capture(s.body, inner);
}

Flow Context::exec_block(const Stmt& s, const ScopePtr& scope) {
  write(render_block(s, scope));
  return Flow::Normal;
}

}  // namespace transformers::jinja
