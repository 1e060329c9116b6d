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
from typing import Any

from catalog.core.record import Record

MAX_OUTPUT = 256 * 1024  # characters
MAX_SECONDS = 2.0
MAX_MEMORY = 1 << 30  # address space of the rendering child, bytes
MAX_SIZE_ARG = 100_000  # largest repeat count, width or padding a template may ask for


class Rendered(Record):
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
