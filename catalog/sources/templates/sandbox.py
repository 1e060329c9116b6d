"""Chat templates are untrusted code: render one in a sandbox, with bounds on time, memory and output.

A template comes from a model repo (tokenizer_config.json, a GGUF's tokenizer.chat_template), so
anyone can write one. It is rendered in Jinja2's ImmutableSandboxedEnvironment (no attribute walks
to `__globals__`, `__subclasses__` and friends, no mutation of the objects handed in), with the
helpers the runtimes provide (`raise_exception`, `strftime_now`, `bos_token`, `eos_token`,
`add_generation_prompt`; no tools), and:

- operators and methods that build huge values (`'x' * 10**9`, `'x'.ljust(10**9)`, `2 ** 10**9`,
  the `center`/`indent`/`wordwrap` filters with huge widths) are refused;
- the output stops at MAX_OUTPUT characters;
- the render runs in a child process with an address-space and CPU limit and a wall-clock
  timeout (`render`), so a loop that never yields or a string that doubles in a loop costs at
  most MAX_SECONDS and MAX_MEMORY; where no child can be used, `render_here` bounds time with a
  trace deadline.

A template that trips any of these is reported as unsafe, with the reason; nothing else fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, NamedTuple

MAX_OUTPUT = 256 * 1024  # characters
MAX_SECONDS = 2.0
MAX_MEMORY = 1 << 30  # address space of the rendering child, bytes
MAX_SIZE_ARG = 100_000  # largest repeat count, width or padding a template may ask for


class Rendered(NamedTuple):
    """The prompt text a template produced, or why it produced none."""

    text: str | None
    error: str | None = None  # the template's own failure (raise_exception, a bad variable)
    unsafe: str | None = None  # why the sandbox stopped it


class _Unsafe(Exception):
    pass


def _sandbox(deadline: float | None) -> Any:
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def _check_size(value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE_ARG:
            raise SecurityError(f"a size of {value} is larger than the sandbox allows")

    class Sandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**":
                _check_size(right)
                if isinstance(left, int) and abs(left) > 2 and isinstance(right, int) and right > 64:
                    raise SecurityError("an exponent that large is refused")
            if operator == "*" and (isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple))):
                n = right if isinstance(left, (str, list, tuple)) else left
                seq = left if isinstance(left, (str, list, tuple)) else right
                if isinstance(n, int) and n * max(1, len(seq)) > MAX_OUTPUT:
                    raise SecurityError("a repetition larger than the output limit is refused")
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            if deadline is not None and time.monotonic() > deadline:
                raise SecurityError("the template ran past its time limit")
            for a in (*args, *kwargs.values()):
                _check_size(a)
            return super().call(__context, __obj, *args, **kwargs)

    env = Sandbox(trim_blocks=True, lstrip_blocks=True, autoescape=False)
    for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice"):
        original = env.filters[name]

        def bounded(*a: Any, __f: Any = original, **k: Any) -> Any:
            for v in (*a[1:], *k.values()):
                _check_size(v)
            return __f(*a, **k)

        env.filters[name] = bounded

    def raise_exception(message: str) -> None:
        raise _TemplateError(str(message))

    env.globals.update(raise_exception=raise_exception)
    return env, SecurityError


class _TemplateError(Exception):
    pass


def render_here(source: str, messages: list[dict[str, Any]], bos_token: str = "", eos_token: str = "",
                add_generation_prompt: bool = True, date: str = "26 Jul 2024", max_seconds: float = MAX_SECONDS
                ) -> Rendered:
    """Render in this process: the sandbox, the output cap and a trace deadline (no memory bound)."""
    deadline = time.monotonic() + max_seconds
    env, security_error = _sandbox(deadline)

    def strftime_now(fmt: str) -> str:
        # a fixed date: the overhead must not change with the day it is measured
        return time.strftime(str(fmt)[:64], time.strptime(date, "%d %b %Y"))

    env.globals["strftime_now"] = strftime_now

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise _Unsafe("the template ran past its time limit")
        return tracer

    old = sys.gettrace()
    try:
        try:
            template = env.from_string(source)
        except Exception as exc:  # noqa: BLE001 - a syntax error is the template's fault, reported
            return Rendered(None, error=f"does not parse: {type(exc).__name__}: {str(exc)[:200]}")
        out: list[str] = []
        size = 0
        sys.settrace(tracer)
        for chunk in template.generate(messages=messages, bos_token=bos_token, eos_token=eos_token,
                                       add_generation_prompt=add_generation_prompt, tools=None):
            out.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                return Rendered(None, unsafe=f"output larger than {MAX_OUTPUT} characters")
        return Rendered("".join(out))
    except _Unsafe as exc:
        return Rendered(None, unsafe=str(exc))
    except security_error as exc:
        return Rendered(None, unsafe=f"sandbox: {str(exc)[:200]}")
    except _TemplateError as exc:
        return Rendered(None, error=f"raise_exception: {str(exc)[:200]}")
    except RecursionError:
        return Rendered(None, unsafe="recursion too deep")
    except MemoryError:
        return Rendered(None, unsafe="ran out of memory")
    except Exception as exc:  # noqa: BLE001 - any other failure is the template's, and reported
        return Rendered(None, error=f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        sys.settrace(old)


def render(source: str, messages: list[dict[str, Any]], bos_token: str = "", eos_token: str = "",
           add_generation_prompt: bool = True, max_seconds: float = MAX_SECONDS) -> Rendered:
    """Render in a child process whose memory and CPU are capped (falls back to `render_here`
    where `resource` limits do not exist)."""
    return render_many(source, [(messages, add_generation_prompt)], bos_token, eos_token, max_seconds)[0]


def render_many(source: str, jobs: list[tuple[list[dict[str, Any]], bool]], bos_token: str = "",
                eos_token: str = "", max_seconds: float = MAX_SECONDS) -> list[Rendered]:
    """Several conversations rendered by one template in one capped child (one process start, not
    one per conversation); the time limit holds for each render, the memory limit for them all."""
    try:
        import resource  # noqa: F401 - POSIX only
    except ImportError:
        return [render_here(source, m, bos_token, eos_token, g, max_seconds=max_seconds) for m, g in jobs]
    job = json.dumps({"source": source, "jobs": [[m, g] for m, g in jobs], "bos": bos_token, "eos": eos_token,
                      "seconds": max_seconds, "memory": MAX_MEMORY})
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME", "LANG", "LC_ALL")}
    try:
        p = subprocess.run([sys.executable, "-I", "-c", _CHILD], input=job, capture_output=True, text=True,
                           timeout=max_seconds * len(jobs) + 5, env=env,
                           cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    except subprocess.TimeoutExpired:
        return [Rendered(None, unsafe="the template ran past its time limit")] * len(jobs)
    if p.returncode != 0 or not p.stdout.strip():
        why = "ran out of memory" if "MemoryError" in p.stderr else f"the renderer died (exit {p.returncode})"
        return [Rendered(None, unsafe=why)] * len(jobs)
    docs = json.loads(p.stdout)
    return [Rendered(d.get("text"), d.get("error"), d.get("unsafe")) for d in docs]


# the child: cap memory and CPU, then render_here each job; -I (isolated) keeps the user's site and env out
_CHILD = """
import json, resource, sys
job = json.loads(sys.stdin.read())
limit = int(job["memory"])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
cpu = int(job["seconds"] * len(job["jobs"])) + 2
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
sys.path.insert(0, ".")
from catalog.sources.templates.sandbox import render_here
out = []
for messages, gen in job["jobs"]:
    r = render_here(job["source"], messages, job["bos"], job["eos"], gen, max_seconds=job["seconds"])
    out.append(r._asdict())
    if r.unsafe:  # a hostile template: the other conversations would only cost more time
        out.extend([r._asdict()] * (len(job["jobs"]) - len(out)))
        break
sys.stdout.write(json.dumps(out))
"""


# --- what a template adds to a conversation --------------------------------------------------------------------

SAMPLE_USER = ("What is the capital of France?", "And of Italy?")
SAMPLE_ASSISTANT = "The capital of France is Paris."
TYPICAL_TURNS = 5  # user/assistant exchanges in the "typical conversation" the overhead is stated for
# a special token is one token: <|im_start|>, <|eot_id|>, <start_of_turn>, [INST], </s> ...
_SPECIAL = (r"<\|[^|<>\s]{1,48}\|>|<\uff5c[^\uff5c<>]{1,48}\uff5c>|<(?:start|end)_of_turn>|\[/?INST\]"
            r"|\[/?SYSTEM_PROMPT\]|</?s>|<bos>|<eos>|</?think>")


def estimate_tokens(text: str) -> int:
    """The documented fallback: each special-token spelling counts 1, the rest one token per 4 bytes
    (rounded up per stretch). Against the real tokenizers of the 13 templates counted both ways
    (bench/template_overhead.py) a 5-turn overhead comes out between 59 % under (Zephyr, whose
    `<|user|>` is five plain tokens in Mistral's vocabulary) and 100 % over (Phi-3, whose special
    tokens swallow the newline after them); 9-22 % over for Llama 3, Qwen and gpt-oss."""
    import re

    n = 0
    pos = 0
    for m in re.finditer(_SPECIAL, text):
        chunk = text[pos:m.start()]
        n += -(-len(chunk.encode("utf-8")) // 4) + 1
        pos = m.end()
    return n + -(-len(text[pos:].encode("utf-8")) // 4)


def render_ollama(source: str, messages: list[dict[str, Any]], system_layer: str | None = None) -> Rendered:
    """Render an Ollama template layer (Go text/template) as Ollama does (catalog.sources.templates.gotemplate):
    bounded by construction, so it runs in this process."""
    from catalog.sources.templates.gotemplate import GoTemplateError, GoTemplateUnsafe
    from catalog.sources.templates.gotemplate import render_ollama as go

    try:
        return Rendered(go(source, messages, system_layer))
    except GoTemplateUnsafe as exc:
        return Rendered(None, unsafe=str(exc)[:200])
    except GoTemplateError as exc:
        return Rendered(None, error=str(exc)[:200])


def overhead(source: str, bos_token: str = "", eos_token: str = "", count: Any = None,
             ollama_system: str | None = None, go: bool = False) -> dict[str, Any]:
    """Tokens a template adds: its fixed prefix (BOS, a default system prompt), each user and
    assistant turn's wrapping, the generation prompt, and a typical conversation's total.

    Args:
        source: the Jinja template, or with `go` an Ollama template layer, the model's system layer
            `ollama_system` as its default system message (Ollama always appends its generation prompt:
            there it is counted in the reply's share, and the typical conversation is the same
            prefix + 5 x (user + reply) + generation prompt, from conversations ending with a question).
        count: text -> tokens, the model's real tokenizer; `estimate_tokens` when None.
    """
    count = count or estimate_tokens
    counted_with = "estimate (special tokens 1, other text 4 bytes per token)" if count is estimate_tokens \
        else "the model's tokenizer"
    u1, u2 = SAMPLE_USER
    a1 = SAMPLE_ASSISTANT

    user1, reply1, user2 = ({"role": "user", "content": u1}, {"role": "assistant", "content": a1},
                            {"role": "user", "content": u2})
    # one, pair, two, and one with the generation prompt (an Ollama layer always appends it: no fourth)
    convs = [([user1], False), ([user1, reply1], False), ([user1, reply1, user2], False), ([user1], True)]
    rendered = [render_ollama(source, m, ollama_system) for m, _ in convs[:3]] if go \
        else render_many(source, convs, bos_token, eos_token)

    def tokens(i: int) -> int | Rendered:
        r = rendered[i]
        if r.text is None:
            return r
        if count is estimate_tokens:
            # the estimate rounds per stretch of text: count the markup without the contents, then add
            # the contents as the subtraction below expects them
            text = r.text
            for m in convs[i][0]:
                text = text.replace(m["content"], "\x00", 1)
            return count(text.replace("\x00", "")) + sum(count(m["content"]) for m in convs[i][0])
        return int(count(r.text))

    one = tokens(0)
    if not isinstance(one, int):
        return {"present": True, "safe": one.unsafe is None, "unsafe": one.unsafe, "error": one.error}
    pair, two = tokens(1), tokens(2)
    gen = tokens(3) if not go else one
    out: dict[str, Any] = {"present": True, "safe": True, "counted_with": counted_with}
    if go and isinstance(two, int):
        # An Ollama layer always ends with the generation prompt and often renders a turn by its position
        # ($last), so only conversations that end with a user turn are compared: one exchange costs
        # `two - one` less the contents; the reply's share is the text between the first question and its
        # answer; the first question's cost, less one exchange, is the fixed prefix.
        text = rendered[2].text or ""
        at = text.find(u1) + len(u1)
        reply = count(text[at:text.find(a1, at)]) if text.find(a1, at) > at else 0
        exchange = two - one - count(a1) - count(u2)
        fixed = one - count(u1)
        out.update(system_prompt_tokens=max(0, fixed - exchange), per_user_turn_tokens=exchange - reply,
                   per_assistant_turn_tokens=reply, per_turn_tokens=exchange, generation_prompt_tokens=0,
                   typical_conversation={"turns": TYPICAL_TURNS,
                                         "overhead_tokens": fixed + (TYPICAL_TURNS - 1) * exchange + reply})
        out["overhead_tokens"] = out["typical_conversation"]["overhead_tokens"]
        return out
    if isinstance(pair, int) and isinstance(two, int):
        assistant_turn = pair - one - count(a1)
        user_turn = two - pair - count(u2)
        prefix = one - count(u1) - user_turn
        out.update(system_prompt_tokens=max(0, prefix), per_user_turn_tokens=user_turn,
                   per_assistant_turn_tokens=assistant_turn,
                   per_turn_tokens=user_turn + assistant_turn)
        if isinstance(gen, int):
            out["generation_prompt_tokens"] = gen - one
            out["typical_conversation"] = {
                "turns": TYPICAL_TURNS,
                "overhead_tokens": max(0, prefix) + TYPICAL_TURNS * (user_turn + assistant_turn) + (gen - one)}
            out["overhead_tokens"] = out["typical_conversation"]["overhead_tokens"]
    return out
