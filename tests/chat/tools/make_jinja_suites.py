#!/usr/bin/python3
"""Builds tests/chat/data/jinja_suites.json: the template cases of jinja2's own test suite
(pallets/jinja, tests/test_*.py) and of minja's tests (google/minja, tests/test-syntax.cpp and
its chat contexts), each rendered by Python jinja2 in Hugging Face's chat-template environment.

The expected outputs come only from Python jinja2 (never from our engine): every case is
rendered with the environment of ../shared/tools/render_chat.py (ImmutableSandboxedEnvironment
with trim_blocks, lstrip_blocks, loopcontrols, {% generation %}, HF's tojson, raise_exception,
strftime_now), whatever environment the original test used.

How the cases are found:
- jinja2: each test module is *run* (a tiny stand-in for pytest: fixtures `env` and the module's
  own, parametrize, raises) with Environment.from_string and Template.render recording every
  template source and every render's variables. Nothing the tests assert matters here.
- minja: the `render("template", bindings, options)` calls of tests/test-syntax.cpp are read from
  the C++ source (string literals and nlohmann::json initializer lists), and the template of
  tests_files/*.jinja is rendered with tests/contexts/*.json.

A case is kept only if it is deterministic and representable: its variables survive a JSON round
trip (no Python objects, no NaN), the two renders agree, it does not use `random`, the output
holds no object address, its environment had the default syntax, no loader-only tags
(include/import/extends, which the sandbox we implement does not have), no extension beyond
loopcontrols, and no filter, test or global the test added. Duplicates (same template and
variables) are kept once.

usage: /usr/bin/python3 tests/chat/tools/make_jinja_suites.py --jinja GIT_DIR --minja GIT_DIR
           [--jinja-ref 3.1.6] [--shared ../shared] [--out tests/chat/data/jinja_suites.json]
GIT_DIR: a clone's git directory (e.g. /path/jinja/.git, or a bare mirror). --jinja-ref defaults to
the tag of the installed jinja2, so the tests match the library that renders them.
"""
import argparse
import contextlib
import importlib.util
import inspect
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import types

import jinja2
from jinja2 import Environment
from jinja2.environment import Template

LOADER_TAG = re.compile(r"\{%-?\+?\s*(include|import|from|extends)\b")
RANDOM_USE = re.compile(r"\brandom\b")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}|object at ")


def git_show(git_dir, ref, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{ref}:{path}"], check=True,
                          capture_output=True).stdout


def git_ls(git_dir, ref, folder):
    out = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", ref, folder + "/"],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def git_commit(git_dir, ref):
    return subprocess.run(["git", "--git-dir", git_dir, "rev-parse", ref + "^{commit}"], check=True,
                          capture_output=True, text=True).stdout.strip()


# ---------------------------------------------------------------- HF's environment, the reference

def hf_compile(shared):
    sys.path.insert(0, os.path.join(shared, "tools"))
    from render_chat import compile_template  # noqa: E402 - the reference renderer of ../shared
    return compile_template


def error_record(e, phase):
    mro = [c.__name__ for c in type(e).__mro__ if c not in (object, BaseException, Exception)]
    return {"ok": False, "phase": phase, "error_class": type(e).__name__, "error_mro": mro,
            "error": str(e)}


def render_reference(compile_template, source, variables):
    try:
        tmpl = compile_template(source)
    except Exception as e:  # noqa: BLE001 - a compile failure is an expected outcome
        return error_record(e, "compile")
    try:
        return {"ok": True, "text": tmpl.render(**variables)}
    except RecursionError:
        return None  # Python's stack depth, not a language outcome
    except Exception as e:  # noqa: BLE001
        return error_record(e, "render")


# ---------------------------------------------------------------- jinja2's tests, run and recorded

class Skip(Exception):
    pass


def make_pytest_stub():
    """Just enough of pytest for jinja2's test modules to import and run."""
    pt = types.ModuleType("pytest")
    pt.fixtures = {}

    def fixture(*args, **kwargs):
        def register(fn):
            pt.fixtures[fn.__name__] = (fn, kwargs.get("params"))
            return fn
        return register(args[0]) if args and callable(args[0]) else register

    class Raises:
        def __init__(self, exc, *args, **kwargs):
            self.exc = exc

        def __enter__(self):
            return self

        def __exit__(self, typ, value, tb):
            self.value = value
            return typ is not None and issubclass(typ, self.exc)

    def raises(exc, *args, **kwargs):
        if args and callable(args[0]):
            with Raises(exc):
                args[0](*args[1:], **kwargs)
            return None
        return Raises(exc)

    class Mark:
        def __getattr__(self, name):
            if name == "parametrize":
                def parametrize(names, values, **kwargs):
                    if isinstance(names, str):
                        names = [n.strip() for n in names.split(",") if n.strip()]
                    def deco(fn):
                        fn.__dict__.setdefault("_params", []).append((list(names), list(values)))
                        return fn
                    return deco
                return parametrize
            if name in ("skip", "skipif", "xfail"):
                def skipper(*args, **kwargs):
                    def deco(fn):
                        fn._skip = True
                        return fn
                    return deco(args[0]) if args and callable(args[0]) and not kwargs else deco
                return skipper
            return lambda *a, **k: (a[0] if a and callable(a[0]) else (lambda fn: fn))

    def param(*values, **kwargs):
        return values

    def importorskip(name, *a, **k):
        try:
            return __import__(name)
        except ImportError:
            raise Skip(name)

    def skip(*a, **k):
        raise Skip("skip")

    pt.fixture, pt.raises, pt.mark, pt.param = fixture, raises, Mark(), param
    pt.importorskip, pt.skip, pt.fail = importorskip, skip, lambda *a, **k: None
    pt.warns = pt.deprecated_call = lambda *a, **k: contextlib.nullcontext()
    pt.approx = lambda v, *a, **k: v
    return pt


class Recorder:
    """Patches jinja2 so that every from_string and render is recorded."""

    def __init__(self):
        self.current = None  # the test's id
        self.seen = []  # (test id, source, variables or None)
        default = Environment()
        self.default_filters, self.default_tests = set(default.filters), set(default.tests)
        self.default_globals = set(default.globals)

    def env_is_plain(self, env):
        syntax = ("block_start_string", "block_end_string", "variable_start_string",
                  "variable_end_string", "comment_start_string", "comment_end_string")
        default = Environment()
        if any(getattr(env, k) != getattr(default, k) for k in syntax):
            return False
        if env.line_statement_prefix or env.line_comment_prefix:
            return False
        if any(not n.endswith("LoopControlExtension") for n in env.extensions):
            return False
        return (set(env.filters) <= self.default_filters and set(env.tests) <= self.default_tests
                and set(env.globals) <= self.default_globals)

    def install(self):
        recorder = self
        original_from_string = Environment.from_string
        original_render = Template.render

        def from_string(env, source, *args, **kwargs):
            try:
                tmpl = original_from_string(env, source, *args, **kwargs)
            except Exception:
                if recorder.current and recorder.env_is_plain(env):
                    recorder.seen.append((recorder.current, source, {}))
                raise
            tmpl._suite_source = source if isinstance(source, str) else None
            tmpl._suite_env = env
            return tmpl

        def render(tmpl, *args, **kwargs):
            source = getattr(tmpl, "_suite_source", None)
            if recorder.current and source is not None and recorder.env_is_plain(tmpl._suite_env):
                try:
                    variables = dict(*args, **kwargs)
                except Exception:  # noqa: BLE001
                    variables = None
                recorder.seen.append((recorder.current, source, variables))
            return original_render(tmpl, *args, **kwargs)

        Environment.from_string = from_string
        Template.render = render


def resolve_fixture(pt, name, module, cache):
    if name in cache:
        return cache[name]
    if name == "env":
        value = Environment()
    elif name in pt.fixtures:
        fn, params = pt.fixtures[name]
        if params:
            raise Skip(name)  # parametrised fixtures (async runners) are not template cases
        args = [resolve_fixture(pt, p, module, cache) for p in inspect.signature(fn).parameters]
        value = fn(*args)
        if inspect.isgenerator(value):
            value = next(value)
    else:
        raise Skip(name)
    cache[name] = value
    return value


def expand_params(fn):
    groups = getattr(fn, "_params", [])
    if not groups:
        yield {}
        return
    choices = []
    for names, values in groups:
        rows = []
        for v in values:
            v = v if len(names) > 1 else (v[0] if isinstance(v, tuple) and len(v) == 1 else v,)
            rows.append(dict(zip(names, v)))
        choices.append(rows)
    for combo in itertools.product(*choices):
        merged = {}
        for part in combo:
            merged.update(part)
        yield merged


def run_test(pt, recorder, module, owner, fn, test_id):
    if getattr(fn, "_skip", False) or inspect.iscoroutinefunction(fn):
        return
    for i, params in enumerate(expand_params(fn)):
        recorder.current = test_id + (f"[{i}]" if params else "")
        try:
            cache = {}
            names = [p for p in inspect.signature(fn).parameters if p != "self"]
            args = [params[n] if n in params else resolve_fixture(pt, n, module, cache) for n in names]
            target = fn.__get__(owner()) if owner else fn
            target(*args)
        except Skip:
            pass
        except BaseException:  # noqa: BLE001 - assertions fail where 3.1.x differs; recorded anyway
            pass
        finally:
            recorder.current = None


def collect_jinja(git_dir, ref, work):
    pt = make_pytest_stub()
    sys.modules["pytest"] = pt
    recorder = Recorder()
    recorder.install()
    folder = os.path.join(work, "jinja_tests")
    os.makedirs(folder)
    sys.path.insert(0, folder)
    files = sorted(f for f in git_ls(git_dir, ref, "tests") if os.path.basename(f).startswith("test_"))
    for path in files:
        name = os.path.basename(path)[:-3]
        if name in ("test_async", "test_async_filters", "test_loader", "test_bytecode_cache", "test_pickle"):
            continue  # async runners, loaders and caches: no stand-alone template cases
        with open(os.path.join(folder, name + ".py"), "wb") as f:
            f.write(git_show(git_dir, ref, path))
        pt.fixtures = {}
        spec = importlib.util.spec_from_file_location(name, os.path.join(folder, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except BaseException as e:  # noqa: BLE001
            print(f"skip module {name}: {e!r}", file=sys.stderr)
            continue
        for attr, obj in list(vars(module).items()):
            if inspect.isclass(obj) and attr.startswith("Test"):
                for m, fn in list(vars(obj).items()):
                    if m.startswith("test") and callable(fn):
                        run_test(pt, recorder, module, obj, fn, f"{name}.py::{attr}::{m}")
            elif attr.startswith("test") and inspect.isfunction(obj):
                run_test(pt, recorder, module, None, obj, f"{name}.py::{attr}")
    return recorder.seen


# ---------------------------------------------------------------- minja's tests, read from C++

class CppReader:
    """Reads C++ string literals and nlohmann::json initializer lists from a source text."""

    ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}

    def __init__(self, text, pos):
        self.s, self.i = text, pos

    def ws(self):
        while True:
            while self.i < len(self.s) and self.s[self.i].isspace():
                self.i += 1
            if self.s.startswith("//", self.i):
                self.i = self.s.index("\n", self.i)
            else:
                return

    def peek(self, text):
        self.ws()
        return self.s.startswith(text, self.i)

    def eat(self, text):
        if not self.peek(text):
            raise ValueError(f"expected {text!r} at {self.s[self.i:self.i + 40]!r}")
        self.i += len(text)

    def one_literal(self):
        self.ws()
        if self.s.startswith('R"', self.i):
            open_paren = self.s.index("(", self.i)
            delim = self.s[self.i + 2:open_paren]
            end = self.s.index(")" + delim + '"', open_paren)
            self.i = end + len(delim) + 2
            return self.s[open_paren + 1:end]
        self.eat('"')
        out = []
        while self.s[self.i] != '"':
            c = self.s[self.i]
            if c == "\\":
                nxt = self.s[self.i + 1]
                if nxt == "u":
                    out.append(chr(int(self.s[self.i + 2:self.i + 6], 16)))
                    self.i += 6
                    continue
                out.append(self.ESCAPES[nxt])
                self.i += 2
                continue
            out.append(c)
            self.i += 1
        self.i += 1
        return "".join(out)

    def string(self):
        parts = [self.one_literal()]
        while self.peek('"') or self.peek('R"'):
            parts.append(self.one_literal())
        return "".join(parts)

    def json_value(self):
        """nlohmann::json from an initializer list: pairs with string keys make an object."""
        if self.peek("json::parse("):
            self.eat("json::parse(")
            v = json.loads(self.string())
            self.eat(")")
            return v
        for word, value in (("json::array()", []), ("json::object()", {}), ("true", True),
                            ("false", False), ("nullptr", None)):
            if self.peek(word):
                self.eat(word)
                return value
        for call in ("json::array(", "json("):
            if self.peek(call):
                self.eat(call)
                v = self.json_value()
                self.eat(")")
                return v if call == "json(" or isinstance(v, list) else [v]
        if False:
            v = self.json_value()
            self.eat(")")
            return v
        if self.peek('"') or self.peek('R"'):
            return self.string()
        if self.peek("{"):
            self.eat("{")
            items = []
            while not self.peek("}"):
                items.append(self.json_value())
                if self.peek(","):
                    self.eat(",")
            self.eat("}")
            if items and all(isinstance(x, list) and len(x) == 2 and isinstance(x[0], str) for x in items):
                return {k: v for k, v in items}
            return items
        m = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?").match(self.s, self.i)
        if not m:
            raise ValueError(f"unknown json at {self.s[self.i:self.i + 40]!r}")
        self.i = m.end()
        return json.loads(m.group(0))


def collect_minja(git_dir, ref):
    text = git_show(git_dir, ref, "tests/test-syntax.cpp").decode()
    seen = []
    for n, m in enumerate(re.finditer(r"(?<![\w>.])render\(", text)):
        reader = CppReader(text, m.end())
        if not (reader.peek('"') or reader.peek('R"')):
            continue  # the helper's own definition
        try:
            source = reader.string()
            reader.eat(",")
            bindings = reader.json_value()
        except (ValueError, KeyError) as e:
            print(f"minja: cannot read render call at offset {m.start()}: {e}", file=sys.stderr)
            continue
        line = text.count("\n", 0, m.start()) + 1
        seen.append((f"test-syntax.cpp:{line}", source, bindings if bindings != [] else {}))
    contexts = sorted(f for f in git_ls(git_dir, ref, "tests/contexts") if f.endswith(".json"))
    for tpl in sorted(f for f in git_ls(git_dir, ref, "tests_files") if f.endswith(".jinja")):
        source = git_show(git_dir, ref, tpl).decode()
        for ctx in contexts:
            variables = json.loads(git_show(git_dir, ref, ctx))
            seen.append((f"{os.path.basename(tpl)}+{os.path.basename(ctx)}", source, variables))
    return seen


# ---------------------------------------------------------------- cases

def json_round_trip(variables):
    try:
        return json.loads(json.dumps(variables, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return None


def candidates(suite, seen):
    """The representable cases, once each: [id, source, variables]."""
    out, keys, per_test = [], set(), {}
    for test_id, source, variables in seen:
        if variables is None or LOADER_TAG.search(source) or RANDOM_USE.search(source):
            continue
        variables = json_round_trip(variables)
        if variables is None:
            continue
        key = json.dumps([source, variables], sort_keys=True)
        if key in keys:
            continue
        keys.add(key)
        n = per_test.get(test_id, 0)
        per_test[test_id] = n + 1
        out.append([f"{suite}/{test_id}#{n}", source, variables])
    return out


def render_all(todo, shared):
    """Runs in a fresh process: jinja2's test modules patch global state (the sandbox's
    rules among it), so the reference renders must not share their interpreter."""
    compile_template = hf_compile(shared)
    sys.setrecursionlimit(3000)
    cases = []
    for case_id, source, variables in todo:
        first = render_reference(compile_template, source, variables)
        if first is None or first != render_reference(compile_template, source, variables):
            continue
        if ADDRESS.search(first.get("text", "") + first.get("error", "")):
            continue
        cases.append({"id": case_id, "template": source, "variables": variables, **first})
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jinja", required=True, help="git directory of pallets/jinja")
    ap.add_argument("--jinja-ref", default=jinja2.__version__)
    ap.add_argument("--minja", required=True, help="git directory of google/minja")
    ap.add_argument("--minja-ref", default="HEAD")
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", "..", ".."))
    ap.add_argument("--shared", default=os.path.join(root, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "chat", "data", "jinja_suites.json"))
    ap.add_argument("--render", help=argparse.SUPPRESS)  # internal: the fresh rendering process
    a = ap.parse_args()
    if a.render:
        with open(a.render, encoding="utf-8") as f:
            todo = json.load(f)
        json.dump(render_all(todo, a.shared), sys.stdout, ensure_ascii=False)
        return
    minja_seen = collect_minja(a.minja, a.minja_ref)
    with tempfile.TemporaryDirectory() as work:
        jinja_seen = collect_jinja(a.jinja, a.jinja_ref, work)
        todo = candidates("jinja2", jinja_seen) + candidates("minja", minja_seen)
        todo_file = os.path.join(work, "todo.json")
        with open(todo_file, "w", encoding="utf-8") as f:
            json.dump(todo, f)
        rendered = subprocess.run([sys.executable, os.path.abspath(__file__), "--jinja", a.jinja, "--minja", a.minja,
                                   "--shared", a.shared, "--render", todo_file],
                                  check=True, capture_output=True, text=True).stdout
    cases = json.loads(rendered)
    out = {
        "generator": "tests/chat/tools/make_jinja_suites.py",
        "jinja2_version": jinja2.__version__,
        "sources": {"pallets/jinja": git_commit(a.jinja, a.jinja_ref),
                    "google/minja": git_commit(a.minja, a.minja_ref)},
        "cases": cases,
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for suite in ("jinja2", "minja"):
        n = sum(c["id"].startswith(suite + "/") for c in cases)
        print(f"{suite}: {n} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
