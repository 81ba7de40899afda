// The syntax tree of a compiled template: expressions and statements as jinja2.nodes has them.
// One struct per family with the fields each kind uses; the tree is immutable after parsing,
// so a compiled template can be rendered from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transformers/chat/value.h"

namespace transformers::jinja {

class Context;
using FilterFn = Value (*)(Context&, const Value& input, CallArgs& args);
using TestFn = bool (*)(Context&, const Value& input, CallArgs& args);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind : uint8_t {
  Const,    // value
  Name,     // name
  List,     // items
  Tuple,    // items
  Dict,     // items: key, value, key, value, ...
  GetAttr,  // items[0] . name
  GetItem,  // items[0] [ items[1] ]
  Slice,    // items[0] [ items[1] : items[2] : items[3] ] (null = omitted)
  Call,     // items[0] ( call )
  Filter,   // items[0] | name ( call ); items[0] is null inside {% filter %} / {% set %} blocks
  Test,     // items[0] is name ( call )
  Neg,
  Pos,
  Not,
  Binary,   // items[0] op items[1]
  And,
  Or,
  Compare,  // items[0] cmp_ops[i] items[i+1] ...
  Cond,     // items[1] if items[0] else items[2] (null: undefined)
  Concat,   // items joined with ~
};

enum class BinOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CmpOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct CallSpec {
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args;    // *args
  ExprPtr dyn_kwargs;  // **kwargs
};

struct Expr {
  ExprKind kind;
  int line = 0;
  int column = 0;
  Value value;
  std::string name;
  BinOp bin_op = BinOp::Add;
  std::vector<ExprPtr> items;
  std::vector<CmpOp> cmp_ops;
  CallSpec call;
  FilterFn filter = nullptr;  // resolved at parse time; null: unknown (fails when evaluated)
  TestFn test = nullptr;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind : uint8_t {
  Data,         // text
  Output,       // {{ exprs[0] }}
  If,           // exprs[i] -> branches[i]; else_body
  For,          // target in exprs[0] (if exprs[1]) body / else_body; recursive
  Set,          // target = exprs[0]
  SetBlock,     // target = body rendered, filtered through exprs[0] (Filter chain) if any
  Macro,        // name(params = defaults) body
  CallBlock,    // exprs[0] (a Call) with caller(params) = body
  FilterBlock,  // body filtered through exprs[0]
  With,         // targets = exprs, body
  Break,
  Continue,
  Generation,  // {% generation %} body {% endgeneration %}: the assistant span
  Block,       // {% block name [scoped] [required] %} body: rendered in place, and by self.name()
  AutoEscape,  // {% autoescape exprs[0] %} body: output escapes non-Markup values while it is true
};

// An assignment target: a name, a flat tuple of names, or namespace.attr.
struct Target {
  std::vector<std::string> names;
  bool is_tuple = false;
  std::string ns_attr;  // non-empty: names[0].ns_attr
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  int column = 0;
  std::string text;
  std::vector<ExprPtr> exprs;
  std::vector<Body> branches;
  Body body;
  Body else_body;
  Target target;
  std::vector<Target> targets;  // With
  bool recursive = false;
  // Macro / CallBlock signature.
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  bool uses_caller = false;
  bool uses_varargs = false;
  bool uses_kwargs = false;
  // Block: sees the enclosing scope (else only the template's top level); required blocks fail.
  bool scoped = false;
  bool required = false;
};

// A parsed template.
struct Program {
  Body body;
  std::vector<const Stmt*> blocks;  // every {% block %}, for self.name()
};

}  // namespace transformers::jinja
