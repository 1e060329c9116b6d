"""What a chat template costs a conversation, as a value, and which template a runtime applies (pure).

The sources measure a template when they resolve a model (the Jinja template in a sandbox, Ollama's
Go template layer in process, counted with the model's tokenizer where one is at hand) and hand the
result here; the core only reads it.
"""


from typing import Any

from catalog.core.record import Record


class TemplateCost(Record):
    """The tokens one chat template adds: a fixed prefix, each user turn and reply, the generation prompt,
    and a typical conversation; or why it was not measured."""

    present: bool | None = None
    safe: bool | None = None  # None: not measured (no text at hand); False: the sandbox stopped it
    unsafe: str | None = None  # why the sandbox stopped it
    error: str | None = None  # the template's own failure (raise_exception, a missing variable)
    counted_with: str | None = None  # the tokenizer; None once `safe` is set: it rendered nothing
    system_prompt_tokens: int | None = None  # BOS and the default system prompt
    per_user_turn_tokens: int | None = None
    per_assistant_turn_tokens: int | None = None
    per_turn_tokens: int | None = None  # one exchange: a user turn and a reply
    generation_prompt_tokens: int | None = None
    turns: int | None = None  # exchanges in the typical conversation
    overhead_tokens: int | None = None  # what the typical conversation adds
    origin: str | None = None  # "Ollama template layer" or "GGUF header", where the source says
    template_key: str | None = None  # the catalog's recorded template (data/templates/KEY.json)
    note: str | None = None  # what the catalog says of the template
    template_source: Any = None  # where the catalog's template text was read
    variants: tuple[str, ...] = ()  # named variants a GGUF carries (tool_use, rag): the default one applies
    default_system_prompt: str | None = None  # an Ollama system layer's text

    @property
    def measured(self) -> bool:
        return self.counted_with is not None


class ChatTemplate(Record):
    """A model's chat templates: whether one ships, and what each kind costs where it was measured."""

    present: bool | None = None
    jinja: TemplateCost | None = None  # the template llama.cpp (--jinja) and LM Studio apply
    ollama: TemplateCost | None = None  # the Go template layer Ollama applies instead


def applied(t: ChatTemplate, runtime: str) -> TemplateCost:
    """The template `runtime` applies: Ollama its own Go layer where the model has one, the others the Jinja
    template (a model known only by its Go layer is measured by it for every runtime)."""
    first, second = (t.ollama, t.jinja) if runtime == "ollama" else (t.jinja, t.ollama)
    return first or second or TemplateCost(present=t.present)


def needs(t_jinja: bool, t_go: bool, runtimes: tuple[str, ...]) -> tuple[bool, bool]:
    """Which of a model's templates (Jinja, Go layer) the `runtimes` apply, and so must be measured."""
    go = t_go and ("ollama" in runtimes or not t_jinja)
    jinja = t_jinja and (any(r != "ollama" for r in runtimes) or not t_go)
    return jinja, go


_RECORD_KEYS = ("system_prompt_tokens", "per_user_turn_tokens", "per_assistant_turn_tokens", "per_turn_tokens",
                "generation_prompt_tokens")


def record(cost: TemplateCost) -> dict[str, Any]:
    """A measured cost as data/templates/*.json store it (`overhead`)."""
    out: dict[str, Any] = {"present": cost.present, "safe": cost.safe}
    if not cost.measured:
        return {**out, "unsafe": cost.unsafe, "error": cost.error}
    out["counted_with"] = cost.counted_with
    out.update((k, getattr(cost, k)) for k in _RECORD_KEYS if getattr(cost, k) is not None)
    if cost.turns is not None:
        out["typical_conversation"] = {"turns": cost.turns, "overhead_tokens": cost.overhead_tokens}
        out["overhead_tokens"] = cost.overhead_tokens
    return out


def from_record(doc: dict[str, Any], **about: Any) -> TemplateCost:
    """A stored `record` as a cost, with what the catalog says of it (`about`: origin, template_key, ...)."""
    typical = doc.get("typical_conversation") or {}
    cost = TemplateCost(
        present=doc.get("present"), safe=doc.get("safe"), unsafe=doc.get("unsafe"), error=doc.get("error"),
        counted_with=doc.get("counted_with"), system_prompt_tokens=doc.get("system_prompt_tokens"),
        per_user_turn_tokens=doc.get("per_user_turn_tokens"),
        per_assistant_turn_tokens=doc.get("per_assistant_turn_tokens"), per_turn_tokens=doc.get("per_turn_tokens"),
        generation_prompt_tokens=doc.get("generation_prompt_tokens"),
        turns=typical.get("turns"), overhead_tokens=doc.get("overhead_tokens"))
    return cost._replace(**about)
