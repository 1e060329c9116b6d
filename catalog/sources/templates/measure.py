"""What a chat template adds to a conversation, measured once when a model is resolved.

A source that finds a template (a GGUF header, a tokenizer_config.json, an Ollama template layer)
hands its text here as a `TemplateText`; `measure` renders the conversations it needs (Jinja in
the sandbox, an Ollama Go layer in process), counts them with the model's tokenizer where one is
at hand (catalog.sources.tokenizer), else with the documented estimate, and returns the spec with
its `ChatTemplate`: typed costs the core reads and never re-measures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from catalog.core.memo import MISS, Memo
from catalog.core.model import ChatTemplate, ModelSpec, TemplateCost, templates_to_measure
from catalog.core.record import Record

if TYPE_CHECKING:  # the sandbox (subprocess) is imported only when a template is rendered
    from catalog.sources.templates.sandbox import Rendered

SAMPLE_USER = ("What is the capital of France?", "And of Italy?")
SAMPLE_ASSISTANT = "The capital of France is Paris."
TYPICAL_TURNS = 5  # user/assistant exchanges in the "typical conversation" the overhead is stated for
ESTIMATE_LABEL = "estimate (special tokens 1, other text 4 bytes per token)"
OLLAMA_LAYER = "Ollama template layer"
# a special token is one token: <|im_start|>, <|eot_id|>, <start_of_turn>, [INST], </s> ...
_SPECIAL = (r"<\|[^|<>\s]{1,48}\|>|<\uff5c[^\uff5c<>]{1,48}\uff5c>|<(?:start|end)_of_turn>|\[/?INST\]"
            r"|\[/?SYSTEM_PROMPT\]|</?s>|<bos>|<eos>|</?think>")


class TemplateText(Record):
    """A model's chat templates as a source found them, to be measured."""

    present: bool | None = None
    jinja: str | None = None  # the Jinja template (None: none, or too long to keep)
    bos_token: str | None = None
    eos_token: str | None = None
    bos_token_id: int | None = None  # a GGUF names its BOS/EOS by id: its vocabulary spells them
    eos_token_id: int | None = None
    ollama: str | None = None  # an Ollama model's Go template layer
    ollama_system: str | None = None  # its system layer: the default system message
    variants: tuple[str, ...] = ()
    jinja_origin: str | None = None  # where the Jinja template lives, said where the source says it


def estimate_tokens(text: str) -> int:
    """The documented fallback: each special-token spelling counts 1, the rest one token per 4 bytes
    (rounded up per stretch). Against the real tokenizers of the 13 templates counted both ways
    (bench/template_overhead.py) a 5-turn overhead comes out between 59 % under (Zephyr, whose
    `<|user|>` is five plain tokens in Mistral's vocabulary) and 100 % over (Phi-3, whose special
    tokens swallow the newline after them); 9-22 % over for Llama 3, Qwen and gpt-oss."""
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
    from catalog.sources.templates.sandbox import Rendered

    try:
        return Rendered(go(source, messages, system_layer))
    except GoTemplateUnsafe as exc:
        return Rendered(None, unsafe=str(exc)[:200])
    except GoTemplateError as exc:
        return Rendered(None, error=str(exc)[:200])


_USER1 = {"role": "user", "content": SAMPLE_USER[0]}
_REPLY1 = {"role": "assistant", "content": SAMPLE_ASSISTANT}
_USER2 = {"role": "user", "content": SAMPLE_USER[1]}
# one, pair, two, and one with the generation prompt (an Ollama layer always appends it: no fourth)
_CONVERSATIONS: list[tuple[list[dict[str, Any]], bool]] = [
    ([_USER1], False), ([_USER1, _REPLY1], False), ([_USER1, _REPLY1, _USER2], False), ([_USER1], True)]


def overhead(source: str, bos_token: str = "", eos_token: str = "", count: Callable[[str], int] | None = None,
             ollama_system: str | None = None, go: bool = False) -> TemplateCost:
    """Tokens a template adds: its fixed prefix (BOS, a default system prompt), each user and
    assistant turn's wrapping, the generation prompt, and a typical conversation's total.

    Args:
        source: the Jinja template, or with `go` an Ollama template layer, the model's system layer
            `ollama_system` as its default system message (Ollama always appends its generation prompt:
            there it is counted in the reply's share, and the typical conversation is the same
            prefix + 5 x (user + reply) + generation prompt, from conversations ending with a question).
        count: text -> tokens, the model's real tokenizer; `estimate_tokens` when None.
    """
    from catalog.sources.templates.sandbox import render_many

    counter = count or estimate_tokens
    label = ESTIMATE_LABEL if counter is estimate_tokens else "the model's tokenizer"
    rendered = [render_ollama(source, m, ollama_system) for m, _ in _CONVERSATIONS[:3]] if go \
        else _rendered(source, bos_token, eos_token, render_many)

    def tokens(i: int) -> int | Rendered:
        r = rendered[i]
        if r.text is None:
            return r
        if counter is estimate_tokens:
            # the estimate rounds per stretch of text: count the markup without the contents, then add
            # the contents as the subtraction below expects them
            text = r.text
            for m in _CONVERSATIONS[i][0]:
                text = text.replace(m["content"], "\x00", 1)
            return counter(text.replace("\x00", "")) + sum(counter(m["content"]) for m in _CONVERSATIONS[i][0])
        return int(counter(r.text))

    one = tokens(0)
    if not isinstance(one, int):
        return TemplateCost(present=True, safe=one.unsafe is None, unsafe=one.unsafe, error=one.error)
    pair, two = tokens(1), tokens(2)
    if go and isinstance(two, int):
        return _go_cost(rendered[2].text or "", one, two, counter, label)
    cost = TemplateCost(present=True, safe=True, counted_with=label)
    if not (isinstance(pair, int) and isinstance(two, int)):
        return cost
    u1, u2, a1 = SAMPLE_USER[0], SAMPLE_USER[1], SAMPLE_ASSISTANT
    assistant_turn = pair - one - counter(a1)
    user_turn = two - pair - counter(u2)
    prefix = one - counter(u1) - user_turn
    cost = cost._replace(system_prompt_tokens=max(0, prefix), per_user_turn_tokens=user_turn,
                         per_assistant_turn_tokens=assistant_turn, per_turn_tokens=user_turn + assistant_turn)
    gen = tokens(3)
    if isinstance(gen, int):
        total = max(0, prefix) + TYPICAL_TURNS * (user_turn + assistant_turn) + (gen - one)
        cost = cost._replace(generation_prompt_tokens=gen - one, turns=TYPICAL_TURNS, overhead_tokens=total)
    return cost


# the sample conversations as a Jinja template rendered them, by (template, BOS, EOS), this process: a TUI or export
# listing hundreds of fine-tunes of a few families renders each distinct template once, not once a repo (the counts
# still follow each repo's tokenizer); bounded, oldest out
_RENDERED = Memo(256)


def _rendered(source: str, bos_token: str, eos_token: str, render: Callable[..., list[Any]]) -> list[Any]:
    hit = _RENDERED.get((), (source, bos_token, eos_token))
    if hit is MISS:
        hit = _RENDERED.put((), (source, bos_token, eos_token), render(source, _CONVERSATIONS, bos_token, eos_token))
    return hit  # type: ignore[no-any-return]


def _go_cost(text: str, one: int, two: int, count: Callable[[str], int], label: str) -> TemplateCost:
    """An Ollama layer always ends with the generation prompt and often renders a turn by its position
    ($last), so only conversations that end with a user turn are compared: one exchange costs `two - one`
    less the contents; the reply's share is the text between the first question and its answer; the first
    question's cost, less one exchange, is the fixed prefix."""
    u1, u2, a1 = SAMPLE_USER[0], SAMPLE_USER[1], SAMPLE_ASSISTANT
    at = text.find(u1) + len(u1)
    reply = count(text[at:text.find(a1, at)]) if text.find(a1, at) > at else 0
    exchange = two - one - count(a1) - count(u2)
    fixed = one - count(u1)
    total = fixed + (TYPICAL_TURNS - 1) * exchange + reply
    return TemplateCost(present=True, safe=True, counted_with=label, system_prompt_tokens=max(0, fixed - exchange),
                        per_user_turn_tokens=exchange - reply, per_assistant_turn_tokens=reply,
                        per_turn_tokens=exchange, generation_prompt_tokens=0, turns=TYPICAL_TURNS,
                        overhead_tokens=total)


def measure(spec: ModelSpec, text: TemplateText, runtimes: tuple[str, ...]) -> ModelSpec:
    """`spec` with what its templates cost: each kind (Jinja, Go layer) that one of `runtimes` applies and
    whose text is at hand, rendered and counted (or as an earlier run measured the same texts with the same
    tokenizer and code); the others left unmeasured."""
    want_jinja, want_go = templates_to_measure(text.jinja is not None, text.ollama is not None, runtimes)
    key = _cache_key(spec, text, want_jinja, want_go) if (want_jinja or want_go) else None
    cached = _cached(key) if key else None
    if cached is not None:
        return spec._replace(template=ChatTemplate(text.present, *cached))
    measured = _measure(spec, text, want_jinja, want_go)
    if key:
        _remember(key, measured)
    return spec._replace(template=ChatTemplate(text.present, *measured))


def _measure(spec: ModelSpec, text: TemplateText, want_jinja: bool, want_go: bool
             ) -> tuple[TemplateCost | None, TemplateCost | None]:
    """The Jinja and Go costs of `text`, rendered in the sandbox and counted (the expensive part)."""
    from catalog.sources.tokenizer import counter_for

    about: dict[str, Any] = {"variants": text.variants, "default_system_prompt": text.ollama_system[:2000]
                             if text.ollama_system else None}
    jinja = go = None
    if want_jinja or want_go:
        found = counter_for(spec)
        count = found.count if found else None
        if want_jinja and text.jinja is not None:
            special = {}
            for k, tid in (("bos", text.bos_token_id), ("eos", text.eos_token_id)):
                spelled = getattr(text, f"{k}_token")
                if spelled is None and found is not None and tid is not None:
                    spelled = found.text_of(tid)
                special[k] = str(spelled or "")
            jinja = overhead(text.jinja, special["bos"], special["eos"], count)
            jinja = _labelled(jinja, found.label if found else None)._replace(origin=text.jinja_origin, **about)
        if want_go and text.ollama is not None:
            go = overhead(text.ollama, count=count, ollama_system=text.ollama_system, go=True)
            go = _labelled(go, found.label if found else None)._replace(origin=OLLAMA_LAYER, **about)
    unmeasured = TemplateCost(present=text.present, **about)
    if text.ollama is not None and text.jinja is None and go is None:
        go = unmeasured._replace(origin=OLLAMA_LAYER)
    if jinja is None and go is None:
        jinja = unmeasured._replace(origin=text.jinja_origin)
    return jinja, go


# measured costs on disk (catalog.sources.cache, kind "template-cost"), keyed by everything a measurement reads:
# the template texts and special tokens, which runtimes' kinds are measured, the tokenizer's inputs and the source
# of the measuring code; a warm check, the TUI and an export then never start the sandbox for a template seen before
KIND = "template-cost"
_MEASURING_CODE = ("templates/measure.py", "templates/sandbox.py", "templates/gotemplate.py", "templates/goparse.py",
                   "tokenizer.py", "vocab.py")


def _cache_key(spec: ModelSpec, text: TemplateText, want_jinja: bool, want_go: bool) -> str:
    import os

    from catalog.sources.derived import digest_of, hash_text
    from catalog.sources.tokenizer import tokenizer_inputs

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = digest_of(tuple(os.path.join(here, p) for p in _MEASURING_CODE))
    doc = json.dumps([code, list(text), want_jinja, want_go, tokenizer_inputs(spec)], default=str)
    return hash_text(doc)


def _cached(key: str) -> tuple[TemplateCost | None, TemplateCost | None] | None:
    from catalog.sources import cache

    hit = cache.get(KIND, key)
    if hit is None:
        return None
    try:
        return tuple(_cost(hit.doc.get(k)) for k in ("jinja", "go"))  # type: ignore[return-value]
    except (TypeError, ValueError):
        return None  # an entry of another shape is a miss


def _cost(raw: Any) -> TemplateCost | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - set(TemplateCost._fields):
        raise ValueError("not a template cost")
    for f in ("system_prompt_tokens", "per_user_turn_tokens", "per_assistant_turn_tokens", "per_turn_tokens",
              "generation_prompt_tokens", "turns", "overhead_tokens"):
        if raw.get(f) is not None and type(raw[f]) is not int:
            raise ValueError(f)
    return TemplateCost(**{**raw, "variants": tuple(str(v) for v in raw.get("variants") or ())})


def _remember(key: str, costs: tuple[TemplateCost | None, TemplateCost | None]) -> None:
    from catalog.sources import cache

    cache.put(KIND, key, {k: (c._asdict() if c is not None else None) for k, c in zip(("jinja", "go"), costs,
                                                                                       strict=True)})


def _labelled(cost: TemplateCost, label: str | None) -> TemplateCost:
    """The cost with the tokenizer that counted it named (when it rendered and a real one counted)."""
    return cost._replace(counted_with=label) if label and cost.measured else cost
