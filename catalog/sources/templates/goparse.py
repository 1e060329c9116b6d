"""Ollama's Go templates, parsed: the lexer and parser of the text/template subset Ollama's templates use.

A template becomes a list of nodes (text, actions, if/range/with blocks, each with its pipelines),
which catalog.sources.templates.gotemplate executes. Bounded: MAX_DEPTH nesting. Errors are
GoTemplateError, and GoTemplateUnsafe past a bound.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64


class GoTemplateError(Exception):
    """The template does not parse, uses what is not supported, or failed while it ran."""


class GoTemplateUnsafe(GoTemplateError):
    """The template ran past a bound (steps, output, nesting, the size of a value)."""


# --- lexing --------------------------------------------------------------------------------------------------------

_TRIM_WS = (" ", "\t", "\r", "\n")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<chr>'(?:[^'\\]|\\.)')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<closechain>\)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<punct>[()|,])
""", re.X)


def _tokens(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise GoTemplateError(f"cannot lex {src[pos:pos + 20]!r}")
        pos = m.end()
        kind, text = m.lastgroup or "", m.group()
        if kind == "ws":
            continue
        if kind == "punct":
            kind = {"(": "open", ")": "close", "|": "pipe", ",": "comma"}[text]
        out.append((kind, text))
    return out


def _split(src: str) -> list[tuple[str, str]]:
    """Text and action pieces, with `{{-`/`-}}` trimming applied to the neighbouring text. Linear in the
    source: each `{{` is matched to the next `}}` with str.find (a lazy regex rescans the rest of the
    template for every `{{` that has no `}}`: a 32 KB layer of `{{` took a minute)."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    while (start := src.find("{{", pos)) >= 0:
        end = src.find("}}", start + 2)
        if end < 0:
            raise GoTemplateError("unclosed action")
        body = src[start + 2:end]
        left = body[:1] == "-" and body[1:2] in _TRIM_WS  # Go: '-' and an ASCII space
        if left:
            body = body[2:]
        right = body[-1:] == "-" and body[-2:-1] in _TRIM_WS
        if right:
            body = body[:-2]
        text = src[pos:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if left:
            text = text.rstrip(" \t\r\n")
        if text:
            pieces.append(("text", text))
        if not (body.strip().startswith("/*") and body.strip().endswith("*/")):
            pieces.append(("action", body))
        trim_next = right
        pos = end + 2
    text = src[pos:]
    if trim_next:
        text = text.lstrip(" \t\r\n")
    if text:
        pieces.append(("text", text))
    return pieces


# --- parsing -------------------------------------------------------------------------------------------------------
# nodes: ("text", s) | ("action", pipe) | ("if"|"with", pipe, list, else_list) | ("range", pipe, list, else_list)
#        | ("break",) | ("continue",); pipe: (decl_vars, is_assign, [command]); command: [arg];
#        arg: ("str"|"num"|"bool"|"nil", value) | ("field", [names]) | ("var", name, [names])
#             | ("func", name) | ("pipe", pipe, [names])


def _declaration(toks: list[tuple[str, str]]) -> tuple[list[str], bool, int]:
    """A pipeline's leading `$x :=`, `$x =` or `$i, $x :=`: the variables, whether it assigns (rather than
    declares), and where the pipeline itself starts (0 when there is none)."""
    j = 0
    names = []
    while j < len(toks) and toks[j][0] == "var" and "." not in toks[j][1]:
        names.append(toks[j][1])
        if j + 1 < len(toks) and toks[j + 1][0] == "comma":
            j += 2
            continue
        break
    if names and j + 1 < len(toks) and toks[j + 1][0] in ("decl", "assign"):
        return names, toks[j + 1][0] == "assign", j + 2
    return [], False, 0


def _operand(kind: str, text: str) -> tuple[Any, ...]:
    """One operand token as the evaluator's node: a constant, a variable or field chain, or a function name."""
    try:
        if kind == "str":
            return ("str", json.loads(text))
        if kind == "chr":
            return ("num", ord(json.loads('"' + text[1:-1] + '"')))
    except (ValueError, TypeError):  # an escape Go has and JSON lacks (\q, \x41) is refused, not a crash
        raise GoTemplateError(f"unsupported escape in {text[:20]!r}") from None
    if kind == "raw":
        return ("str", text[1:-1])
    if kind == "num":
        return ("num", float(text) if "." in text else int(text))
    if kind == "var":
        name, *rest = text.split(".")
        return ("var", name, rest)
    if kind == "field":
        return ("field", [] if text == "." else text.split(".")[1:])
    if kind == "ident":
        if text in ("true", "false"):
            return ("bool", text == "true")
        return ("nil", None) if text == "nil" else ("func", text)
    raise GoTemplateError(f"unexpected {text!r}")


def _parse_pipe(toks: list[tuple[str, str]]) -> tuple[list[str], bool, list[list[Any]]]:
    decl, assign, i = _declaration(toks)
    cmds: list[list[Any]] = []
    args: list[Any] = []
    while i < len(toks):
        kind, text = toks[i]
        if kind == "pipe":
            if not args:
                raise GoTemplateError("missing command before |")
            cmds.append(args)
            args = []
            i += 1
            continue
        if kind == "open":
            depth, k = 1, i + 1
            while k < len(toks) and depth:
                depth += {"open": 1, "close": -1, "closechain": -1}.get(toks[k][0], 0)
                k += 1
            if depth:
                raise GoTemplateError("unclosed (")
            inner = _parse_pipe(toks[i + 1:k - 1])
            chain = toks[k - 1][1].split(".")[1:] if toks[k - 1][0] == "closechain" else []
            args.append(("pipe", inner, chain))
            i = k
            continue
        args.append(_operand(kind, text))
        i += 1
    if args:
        cmds.append(args)
    if not cmds:
        raise GoTemplateError("empty pipeline")
    return decl, assign, cmds


def parse(src: str) -> list[Any]:
    """The template's node list.

    Raises:
        GoTemplateError: a syntax error, or a construct this subset does not render (define, template, block).
    """
    root: list[Any] = []
    stack: list[tuple[list[Any], list[Any]]] = []  # (open node, the list it sits in)
    cur = root
    for kind, body in _split(src):
        if kind == "text":
            cur.append(("text", body))
            continue
        toks = _tokens(body)
        if not toks:
            raise GoTemplateError("empty action")
        if sum(k == "open" for k, _ in toks) > MAX_DEPTH:  # parentheses recurse in the pipeline parser
            raise GoTemplateUnsafe(f"nested more than {MAX_DEPTH} parentheses in one action")
        head = toks[0][1] if toks[0][0] == "ident" else ""
        if head in ("if", "with", "range"):
            node: list[Any] = [head, _parse_pipe(toks[1:]), [], None, True]  # last: closed by its own end
            cur.append(node)
            stack.append((node, cur))
            if len(stack) > MAX_DEPTH:  # rendering recurses once a level: no real template nests this deep
                raise GoTemplateUnsafe(f"nested more than {MAX_DEPTH} blocks deep")
            cur = node[2]
        elif head == "else":
            if not stack or stack[-1][0][3] is not None:
                raise GoTemplateError("unexpected else")
            node = stack[-1][0]
            node[3] = []
            if len(toks) > 1 and toks[1][1] in ("if", "with"):  # else if: a nested node closed by the same end
                inner: list[Any] = [toks[1][1], _parse_pipe(toks[2:]), [], None, False]
                node[3].append(inner)
                stack.append((inner, node[3]))
                if len(stack) > MAX_DEPTH:
                    raise GoTemplateUnsafe(f"nested more than {MAX_DEPTH} blocks deep")
                cur = inner[2]
            else:
                cur = node[3]
        elif head == "end":
            while stack and not stack[-1][0][4]:
                stack.pop()
            if not stack:
                raise GoTemplateError("unexpected end")
            cur = stack.pop()[1]
        elif head in ("break", "continue"):
            cur.append((head,))
        elif head in ("define", "template", "block"):
            raise GoTemplateError(f"{head} is not supported")
        else:
            cur.append(("action", _parse_pipe(toks)))
    if stack:
        raise GoTemplateError("missing end")
    return root


# --- evaluation ----------------------------------------------------------------------------------------------------
