"""Ollama's chat templates: Go text/template, rendered the way Ollama renders them.

An Ollama model's template layer is a Go template (template/*.gotmpl in Ollama's repo, or the
layer a registry manifest names). Ollama (template/template.go) parses it with
`missingkey=zero` and its funcs (`json`, `currentDate`, `yesterdayDate`, `toTypeScriptType`);
a template that names `.Messages` is executed once with {System (the system messages joined),
Messages (consecutive same-role messages merged), Tools, Response "", Think ...}; an older one
(`.System` / `.Prompt` / `.Response`) is executed once per user/assistant exchange and a last
time cut just after its first `.Response`. The server puts the model's system layer in front of
a conversation that has no system message (server/routes.go).

This module implements the subset of text/template those templates use: text with `{{- -}}`
trimming and comments, `if`/`else if`/`else`, `range` (with `$i, $x :=`, over lists and maps,
`break`/`continue`), `with`, variables (`:=`, `=`, `$`), field chains, parentheses, pipelines,
and the builtins `and or not eq ne lt le gt ge len index slice print printf println html
urlquery js` plus Ollama's funcs. It is safe by construction (it only reads the dicts and lists
it is given; no attribute of a Python object is reachable) and bounded: MAX_STEPS evaluation
steps and MAX_OUTPUT characters, past which rendering stops with `GoTemplateError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from catalog.sources.templates.goparse import MAX_DEPTH, GoTemplateError, GoTemplateUnsafe, parse

__all__ = ["GoTemplateError", "GoTemplateUnsafe", "execute", "parse", "render_ollama"]

MAX_STEPS = 200_000
MAX_OUTPUT = 256 * 1024


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _truth(v: Any) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    if isinstance(v, (str, list, tuple, dict)):
        return len(v) > 0
    return True


def _fmt(v: Any) -> str:
    if v is None:
        return "<no value>"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_fmt(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def sub(m: re.Match[str]) -> str:
        verb = m.group(1)
        if verb == "%":
            return "%"
        try:
            a = next(it)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        if verb == "q":
            return json.dumps(str(a), ensure_ascii=False)
        if verb == "d":
            return str(int(a))
        return _fmt(a)

    return re.sub(r"%([svdq%])", sub, fmt)


def _field(v: Any, names: list[str]) -> Any:
    for n in names:
        v = v.get(n) if isinstance(v, dict) else None
    return v


SHORT_CIRCUIT = ("and", "or")  # evaluated in _Run.call, argument by argument
FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda a: not _truth(a),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "len": lambda a: len(a) if a is not None else 0,
    "index": lambda a, *ks: _index(a, ks),
    "slice": lambda a, *ix: a[ix[0] if ix else 0:ix[1] if len(ix) > 1 else None],
    "print": lambda *a: "".join(_fmt(x) for x in a),
    "println": lambda *a: " ".join(_fmt(x) for x in a) + "\n",
    "printf": _printf,
    "html": lambda *a: "".join(_fmt(x) for x in a).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    .replace('"', "&#34;").replace("'", "&#39;"),
    "urlquery": lambda *a: quote_plus("".join(_fmt(x) for x in a)),
    "js": lambda *a: json.dumps("".join(_fmt(x) for x in a))[1:-1],
    # Ollama's (template/template.go)
    "json": lambda a: json.dumps(a, separators=(",", ":"), ensure_ascii=False),
    "currentDate": lambda *a: "2024-07-26",  # a fixed date: the overhead must not change with the day
    "yesterdayDate": lambda *a: "2024-07-25",
    "toTypeScriptType": lambda a: "any",
}


def _index(a: Any, keys: tuple[Any, ...]) -> Any:
    for k in keys:
        a = a.get(k) if isinstance(a, dict) else a[k]
    return a


class _Run:
    def __init__(self, data: Any) -> None:
        self.root = data
        self.steps = 0
        self.out: list[str] = []
        self.size = 0
        self.depth = 0

    def emit(self, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_OUTPUT:
            raise GoTemplateUnsafe(f"output larger than {MAX_OUTPUT} characters")
        self.out.append(s)

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise GoTemplateUnsafe(f"more than {MAX_STEPS} steps")

    def lookup(self, scopes: list[dict[str, Any]], name: str) -> Any:
        if name == "$":
            return self.root
        for s in reversed(scopes):
            if name in s:
                return s[name]
        raise GoTemplateError(f"undefined variable {name}")

    def arg(self, a: Any, dot: Any, scopes: list[dict[str, Any]], final: Any = None, has_final: bool = False) -> Any:
        kind = a[0]
        if kind in ("str", "num", "bool", "nil"):
            return a[1]
        if kind == "field":
            return _field(dot, a[1])
        if kind == "var":
            return _field(self.lookup(scopes, a[1]), a[2])
        if kind == "pipe":
            return _field(self.pipe(a[1], dot, scopes, declare=False), a[2])
        if kind == "func":
            return self.call(a[1], [], dot, scopes, final, has_final)
        raise GoTemplateError(f"bad argument {a!r}")

    def call(self, name: str, args: list[Any], dot: Any, scopes: list[dict[str, Any]], final: Any,
             has_final: bool) -> Any:
        if name not in FUNCS and name not in SHORT_CIRCUIT:
            raise GoTemplateError(f'function "{name}" not defined')
        self.tick()
        if name in SHORT_CIRCUIT:  # the deciding value returned
            result: Any = None
            thunks = [lambda x=x: self.arg(x, dot, scopes) for x in args] + ([lambda: final] if has_final else [])
            if not thunks:
                raise GoTemplateError(f"{name}: no arguments")
            for th in thunks:
                result = th()
                if (name == "and") != _truth(result):
                    return result
            return result
        vals = [self.arg(x, dot, scopes) for x in args] + ([final] if has_final else [])
        if any(isinstance(v, str) and len(v) > MAX_OUTPUT for v in vals):
            raise GoTemplateUnsafe(f"a value larger than {MAX_OUTPUT} characters")
        try:
            out = FUNCS[name](*vals)
        except (TypeError, IndexError, KeyError, ValueError, AttributeError) as exc:
            raise GoTemplateError(f"{name}: {type(exc).__name__}") from None
        if isinstance(out, str) and len(out) > MAX_OUTPUT:
            raise GoTemplateUnsafe(f"a value larger than {MAX_OUTPUT} characters")
        return out

    def command(self, cmd: list[Any], dot: Any, scopes: list[dict[str, Any]], final: Any, has_final: bool) -> Any:
        if cmd[0][0] == "func":
            return self.call(cmd[0][1], cmd[1:], dot, scopes, final, has_final)
        if len(cmd) > 1 or has_final:
            raise GoTemplateError("a value cannot take arguments")
        return self.arg(cmd[0], dot, scopes)

    def pipe(self, p: Any, dot: Any, scopes: list[dict[str, Any]], declare: bool = True) -> Any:
        decl, assign, cmds = p
        value: Any = None
        for i, cmd in enumerate(cmds):
            value = self.command(cmd, dot, scopes, value, i > 0)
        if decl and declare:
            name = decl[-1]
            if assign:
                for s in reversed(scopes):
                    if name in s:
                        s[name] = value
                        break
                else:
                    raise GoTemplateError(f"undefined variable {name}")
            else:
                scopes[-1][name] = value
        return value

    def run(self, nodes: list[Any], dot: Any, scopes: list[dict[str, Any]]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GoTemplateUnsafe("nested too deeply")
        try:
            for n in nodes:
                self.tick()
                kind = n[0]
                if kind == "text":
                    self.emit(n[1])
                elif kind == "action":
                    v = self.pipe(n[1], dot, scopes)
                    if not n[1][0]:  # a declaration or assignment prints nothing
                        self.emit(_fmt(v))
                elif kind in ("if", "with"):
                    scope: dict[str, Any] = {}
                    v = self.pipe(n[1], dot, scopes + [scope])
                    if _truth(v):
                        self.run(n[2], v if kind == "with" else dot, scopes + [scope])
                    elif n[3] is not None:
                        self.run(n[3], dot, scopes + [scope])
                elif kind == "range":
                    self.range(n, dot, scopes)
                elif kind == "break":
                    raise _Break()
                elif kind == "continue":
                    raise _Continue()
        finally:
            self.depth -= 1

    def range(self, n: Any, dot: Any, scopes: list[dict[str, Any]]) -> None:
        decl, _, cmds = n[1]
        seq = self.pipe((None, False, cmds), dot, scopes, declare=False)
        if isinstance(seq, dict):
            items = [(k, seq[k]) for k in sorted(seq)]
        elif isinstance(seq, (list, tuple)):
            items = list(enumerate(seq))
        elif isinstance(seq, int) and not isinstance(seq, bool):
            items = [(i, i) for i in range(min(seq, MAX_STEPS))]
        elif seq is None:
            items = []
        else:
            raise GoTemplateError(f"range can't iterate over {type(seq).__name__}")
        if not items:
            if n[3] is not None:
                self.run(n[3], dot, scopes)
            return
        for k, v in items:
            scope: dict[str, Any] = {}
            if len(decl or []) == 1:
                scope[decl[0]] = v
            elif len(decl or []) == 2:
                scope[decl[0]], scope[decl[1]] = k, v
            try:
                self.run(n[2], v, scopes + [scope])
            except _Continue:
                continue
            except _Break:
                break


def execute(nodes: list[Any], data: dict[str, Any]) -> str:
    """Render parsed nodes with `data` as dot (and `$`).

    Raises:
        GoTemplateError: an undefined function or variable, a bad call, or a bound exceeded.
    """
    r = _Run(data)
    try:
        r.run(nodes, data, [{}])
    except (_Break, _Continue):
        raise GoTemplateError("break or continue outside range") from None
    except RecursionError:
        raise GoTemplateUnsafe("nested too deeply") from None
    return "".join(r.out)


# --- Ollama's Execute ----------------------------------------------------------------------------------------------

def _identifiers(nodes: list[Any]) -> set[str]:
    """Lower-cased field and variable names (Ollama's Template.Vars)."""
    names: set[str] = set()

    def pipe(p: Any) -> None:
        for cmd in p[2]:
            for a in cmd:
                if a[0] == "field":
                    names.update(x.lower() for x in a[1])
                elif a[0] == "var":
                    names.update(x.lower() for x in [a[1], *a[2]])
                elif a[0] == "pipe":
                    pipe(a[1])
                    names.update(x.lower() for x in a[2])

    def walk(ns: list[Any]) -> None:
        for n in ns:
            if n[0] == "action":
                pipe(n[1])
            elif n[0] in ("if", "with", "range"):
                pipe(n[1])
                walk(n[2])
                walk(n[3] or [])

    walk(nodes)
    return names


_RESPONSE: tuple[Any, ...] = ("action", ([], False, [[("field", ["Response"])]]))


def _cut_after_response(nodes: list[Any]) -> list[Any]:
    """Ollama's deleteNode: keep the tree up to its first `.Response` field, drop all after it."""
    cut = [False]

    def pipe_has(p: Any) -> bool:
        hit = False
        for cmd in p[2]:
            for a in cmd:
                if cut[0]:
                    return hit
                if a[0] == "field" and "Response" in a[1]:
                    cut[0] = hit = True
                elif a[0] == "pipe":
                    hit = pipe_has(a[1]) or hit
        return hit

    def walk(ns: list[Any]) -> list[Any]:
        out = []
        for n in ns:
            if cut[0]:
                break
            if n[0] == "action":
                pipe_has(n[1])
                out.append(n)
            elif n[0] in ("if", "with", "range"):
                pipe_has(n[1])
                body = walk(n[2]) if not cut[0] else []
                other = walk(n[3]) if n[3] is not None and not cut[0] else ([] if n[3] is not None else None)
                out.append([n[0], n[1], body, other, n[4]])
            else:
                out.append(n)
        return out

    return walk(nodes)


def render_ollama(source: str, messages: list[dict[str, str]], system_layer: str | None = None) -> str:
    """The prompt Ollama builds from a template layer, the model's system layer and a conversation
    (roles "system", "user", "assistant"), with no tools and thinking unset.

    Raises:
        GoTemplateError: see parse and execute.
    """
    nodes = parse(source)
    names = _identifiers(nodes)
    if "messages" not in names and "response" not in names:
        nodes = nodes + [_RESPONSE]  # Ollama's Parse appends {{ .Response }}
    msgs = [dict(m) for m in messages]
    if system_layer and (not msgs or msgs[0]["role"] != "system"):
        msgs.insert(0, {"role": "system", "content": system_layer})
    system = "\n\n".join(m["content"] for m in msgs if m["role"] == "system")
    collated: list[dict[str, str]] = []
    for m in msgs:  # collate: consecutive messages of one role merge
        if collated and collated[-1]["role"] == m["role"] and m["role"] != "tool":
            collated[-1]["content"] += "\n\n" + m["content"]
        else:
            collated.append(dict(m))
    base = {"Think": False, "ThinkLevel": "", "IsThinkSet": False}
    if "messages" in names:
        return execute(nodes, {**base, "System": system, "Tools": None, "Response": "", "Messages": [
            {"Role": m["role"], "Content": m["content"], "Thinking": "", "Images": None, "ToolCalls": None,
             "ToolName": "", "ToolCallID": ""} for m in collated]})
    out: list[str] = []
    state = {"System": "", "Prompt": "", "Response": ""}

    def flush() -> None:
        out.append(execute(nodes, {**base, **state}))
        state.update(System="", Prompt="", Response="")

    for m in collated:
        if m["role"] == "system":
            if state["Prompt"] or state["Response"]:
                flush()
            state["System"] = m["content"]
        elif m["role"] == "user":
            if state["Response"]:
                flush()
            state["Prompt"] = m["content"]
        elif m["role"] == "assistant":
            state["Response"] = m["content"]
    out.append(execute(_cut_after_response(nodes), {**base, **state}))
    return "".join(out)
