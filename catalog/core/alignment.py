"""Base, aligned or de-aligned, from evidence (pure).

Each signal is an `Evidence` item with its source. Name tokens such as
Instruct/Chat/-it or an SFT/DPO/RLHF marker point to an aligned model;
abliterated/uncensored point to a de-aligned one; an explicit base marker
(`-base`, `-text`, GGUF general.finetune absent on a base repo) to a base
model. A chat template alone proves nothing: base repos ship them too, so it
is recorded as evidence with no weight. Curated catalog entries carry their
own verdicts and evidence, read from the model cards.
"""


import re
from typing import Any, Literal, get_args

from catalog.core.record import Record

Kind = Literal["base", "aligned", "de-aligned"]
KINDS: tuple[Kind, ...] = get_args(Kind)


class Evidence(Record):
    """One signal and where it was read."""

    signal: str
    value: str
    source: str


class Alignment(Record):
    """The verdict, the tuning methods the evidence names, a confidence, and the evidence."""

    kind: Kind
    methods: tuple[str, ...]
    confidence: float
    evidence: tuple[Evidence, ...]


# patterns are compiled on first use: a catalog look-up never needs them
_DEALIGNED = r"(abliterat|uncensor|unalign|decensor|heretic)"
_ALIGNED = r"(?:^|(?<=[-_./ ]))(instruct|chat|it|sft|dpo|rlhf|orpo|kto|grpo|assistant)(?=$|[-_./ \d])"
_BASE = r"(?:^|[-_./ ])(base|text|pretrain(?:ed)?)(?:$|[-_./ ])"
_METHODS = {"sft": "SFT", "dpo": "DPO", "rlhf": "RLHF", "orpo": "ORPO", "kto": "KTO", "grpo": "GRPO"}


def classify(name: str, source: str, finetune: str | None = None, has_template: bool | None = None) -> Alignment:
    """Classify a model from its name (and GGUF general.finetune, if any).

    Args:
        name: a repo id, file name or model name.
        source: where the name was read (recorded in the evidence).
        finetune: GGUF `general.finetune`, if present.
        has_template: whether a chat template ships with it (recorded, never decisive).
    """
    ev: list[Evidence] = []
    methods: list[str] = []
    text = f"{name} {finetune or ''}"
    if has_template is not None:
        ev.append(Evidence("chat_template", "present" if has_template else "absent", source))
    if m := re.search(_DEALIGNED, text, re.I):
        ev.append(Evidence("name_token", m.group(1), source))
        return Alignment("de-aligned", (), 0.8, tuple(ev))
    for m in re.finditer(_ALIGNED, text, re.I):
        tok = m.group(1).lower()
        ev.append(Evidence("name_token", m.group(1), source))
        if tok in _METHODS and _METHODS[tok] not in methods:
            methods.append(_METHODS[tok])
    if any(e.signal == "name_token" for e in ev):
        return Alignment("aligned", tuple(methods), 0.75, tuple(ev))
    if m := re.search(_BASE, text, re.I):
        ev.append(Evidence("name_token", m.group(1), source))
        return Alignment("base", (), 0.7, tuple(ev))
    ev.append(Evidence("name_token", "none of Instruct/Chat/-it/SFT/DPO/RLHF", source))
    return Alignment("base", (), 0.4, tuple(ev))


def from_catalog(entry_alignment: dict[str, Any]) -> Alignment:
    """A curated catalog verdict (kind, methods, evidence read from model cards)."""
    ev = tuple(Evidence(str(e.get("signal", "")), str(e.get("value", "")), str(e.get("source", "")))
               for e in entry_alignment.get("evidence", ()))
    kind = entry_alignment.get("kind", "base")
    if kind not in KINDS:
        raise ValueError(f"alignment kind {kind!r} is not one of {', '.join(KINDS)}")
    return Alignment(kind, tuple(entry_alignment.get("methods", ())), float(entry_alignment.get("confidence", 0.9)), ev)


# --- classification of a Hugging Face repo from all its metadata -------------------------------------------------

# dataset names that are preference data (pairs ranked by people or models): they suggest DPO/RLHF-style
# tuning, but name no method, so they add weight and no method
_PREF_DATA = r"(dpo|preference|ultrafeedback|hh-rlhf|helpsteer|nectar|orca_dpo|orca-dpo|capybara-dpo|pairs|rlhf|pref)"
_SFT_DATA = (r"(ultrachat|openhermes|slimorca|openorca|sharegpt|tulu-3-sft|alpaca|dolly|oasst|no_robots|evol_instruct|"
             r"magpie|smoltalk|airoboros|dolphin|wizardlm|instruct|chat|sft)")
# fine-tune families that publish chat models without "instruct" or "chat" in the name
_CHAT_FAMILIES = (r"(?:^|[-_/ ])(zephyr|hermes|openhermes|openchat|starling|tulu|neural-chat|vicuna|wizardlm|dolphin|"
                  r"orca)")
_CARD_BASE = (r"(this (?:repo|repository|model) (?:contains|is) (?:the |an? )?"
              r"(?:base|pretrained|pre-trained)\b"
              r"|we do not recommend using base language models|is a (?:pretrained|pre-trained) base model"
              r"|training stage: pretraining(?! (?:&|and) post)"
              r"|(?:has|have) not been (?:instruction[- ]tuned|fine[- ]tuned|aligned)|\bbase (?:language )?model\b"
              r"(?: is| was)? (?:not|without)|raw,? pretrained)")
_CARD_ALIGNED = (r"(this (?:repo|repository|model) (?:contains|is) (?:the |an? )?(?:\S+ )?"
                 r"(?:instruct|instruction[- ]tuned|chat|fine[- ]tuned (?:for|on) (?:chat|instruction|dialog)|aligned"
                 r"|assistant)"
                 r"|(?:is|are) (?:an? |the )?(?:instruction[- ]tuned|chat|assistant|aligned) (?:version|model|variant)"
                 r"|fine[- ]tuned (?:version )?(?:of|from) \S+ (?:on|using|with) .{0,60}"
                 r"(?:instruction|chat|dialog|preference)"
                 r"|trained (?:with|using|via) (?:direct preference optimization|dpo|rlhf|reinforcement learning from)"
                 r"|(?:dpo|rlhf|sft)[- ]tuned|post-trained"
                 # Qwen's cards: "Training Stage: Pretraining & Post-training" (the base cards say "Pretraining")
                 r"|training stage: pretraining (?:&|and) post-training"
                 # a tune of a tuned model, or on instruction/chat data
                 r"|fine-?tun(?:ed|ing) (?:\S+ )?(?:over|on top of|on|of|from) (?:the )?\S*(?:instruct|chat|-it)\b"
                 r"|fine-?tuned on an? .{0,40}(?:orca|instruction|chat|dialog|conversation)[- ]?(?:style )?data)")
_CARD_DEALIGNED = r"(uncensored|abliterat|refusal direction|orthogonali[sz]ed|removed (?:the )?(?:alignment|refusals))"
_CARD_METHODS = (
    (r"supervised fine-?tuning|\bSFT\b", "SFT"),
    (r"reinforcement learning (?:from|with) human feedback|\bRLHF\b", "RLHF"),
    (r"direct preference optimi[sz]ation|\bDPO\b", "DPO"),
    (r"\bRLAIF\b|reinforcement learning from ai feedback", "RLAIF"),
    (r"\bPPO\b|proximal policy optimi[sz]ation", "PPO"),
    (r"\bGRPO\b", "GRPO"),
    (r"\bORPO\b", "ORPO"),
    (r"\bKTO\b", "KTO"),
    (r"\bRLVR\b|reinforcement learning with verifiable rewards", "RLVR"),
)
_FINETUNE_ALIGNED = r"^(instruct|chat|it|sft|dpo|rlhf|assistant|.*-(?:instruct|chat|it))$"


def _lineage(rec: dict[str, Any]) -> tuple[str | None, str | None]:
    """(relation, original repo) from the card's base_model or the Hub's base_model:<relation>:<id> tags."""
    for tag in rec.get("tags") or ():
        parts = str(tag).split(":", 2)
        if len(parts) == 3 and parts[0] == "base_model" and parts[1] in ("quantized", "finetune", "merge", "adapter"):
            return parts[1], parts[2]
    card = rec.get("card") or {}
    base = card.get("base_model")
    if isinstance(base, list) and len(base) == 1:
        base = base[0]
    if isinstance(base, str) and base:
        rel = card.get("base_model_relation")
        if rel is None and re.search(r"gguf|awq|gptq|exl2|mlx|bnb|4bit|8bit", str(rec.get("repo", "")), re.I):
            rel = "quantized"
        return (str(rel) if rel else "finetune"), base
    return None, None


def lineage(rec: dict[str, Any]) -> tuple[str | None, str | None]:
    """Public form of `_lineage`: the repo a record derives from, and how (quantized, finetune, merge, adapter)."""
    return _lineage(rec)


class _Tally:
    """The evidence read so far, the methods it names, its weight (aligned > 0 > base) and whether it
    shows a de-aligned model."""

    def __init__(self) -> None:
        self.ev: list[Evidence] = []
        self.methods: list[str] = []
        self.score = 0.0
        self.dealigned = False

    def add(self, signal: str, value: str, source: str, weight: float = 0.0) -> None:
        self.ev.append(Evidence(signal, value[:300], source))
        self.score += weight

    def method(self, m: str) -> None:
        if m not in self.methods:
            self.methods.append(m)


def _name_signals(t: _Tally, repo: str, gguf: dict[str, Any]) -> None:
    """The repo's name and its GGUF file's own general.* words."""
    name = repo.split("/")[-1]
    if m := re.search(_DEALIGNED, f"{name} {gguf.get('general.name') or ''}", re.I):
        t.add("name_token", m.group(1), repo)
        t.dealigned = True
    for m in re.finditer(_ALIGNED, name, re.I):
        tok = m.group(1).lower()
        t.add("name_token", m.group(1), repo, 3.0)
        if tok in _METHODS:
            t.method(_METHODS[tok])
    if m := re.search(_CHAT_FAMILIES, name, re.I):
        t.add("name_family", f"{m.group(1)} (a chat fine-tune series)", repo, 2.0)
    if m := re.search(_BASE + r"|(?:^|[-_.])(pt)(?:$|[-_.])", name, re.I):
        t.add("name_token", m.group(1) or m.group(2), repo, -3.0)
    lineage_name = gguf.get("general.base_model.0.repo_url") or gguf.get("general.base_model.0.name")
    if isinstance(lineage_name, str) and lineage_name:
        t.add("gguf_base_model", f"general.base_model.0 = {lineage_name}", f"GGUF header of {repo}")
    finetune = gguf.get("general.finetune")
    if isinstance(finetune, str) and finetune:
        w = 3.0 if re.search(_FINETUNE_ALIGNED, finetune, re.I) else (-3.0 if finetune.lower() == "base" else 0.0)
        t.add("gguf_finetune", f"general.finetune = {finetune}", f"GGUF header of {repo}", w)


def _tag_signals(t: _Tally, rec: dict[str, Any], src_tags: str) -> None:
    """The Hub's tags and pipeline."""
    for tag in rec.get("tags") or ():
        low = str(tag).lower()
        if low == "conversational":
            t.add("tag", "conversational (set whenever a chat template ships; proves nothing)", src_tags)
        elif re.fullmatch(r"(abliterated|uncensored)", low):
            t.add("tag", low, src_tags)
            t.dealigned = True
        elif low in ("dpo", "rlhf", "sft", "orpo", "kto", "grpo", "ppo"):
            t.add("tag", low, src_tags, 2.0)
            t.method(low.upper())
        elif low in ("instruct", "chat", "finetuned", "instruction-tuned", "assistant"):
            t.add("tag", low, src_tags, 1.5)
        elif low in ("base", "pretrained", "base-model"):
            t.add("tag", low, src_tags, -1.5)
    if rec.get("pipeline_tag"):
        t.add("pipeline_tag", str(rec["pipeline_tag"]), src_tags)


def _card_signals(t: _Tally, rec: dict[str, Any], src_card: str) -> list[str]:
    """The card's datasets and statements; returns the methods the card names (they count only once the
    repo is aligned: a card's method names describe the aligned variants)."""
    datasets = (rec.get("card") or {}).get("datasets") or []
    if isinstance(datasets, str):
        datasets = [datasets]
    for d in datasets[:20]:
        d = str(d)
        if re.search(_PREF_DATA, d, re.I):
            t.add("dataset", f"{d} (preference data)", src_card, 2.0)
            for tok, meth in (("dpo", "DPO"), ("rlhf", "RLHF")):
                if tok in d.lower():
                    t.method(meth)
        elif re.search(_SFT_DATA, d, re.I):
            t.add("dataset", f"{d} (instruction/chat data)", src_card, 1.5)
    card_methods: list[str] = []
    for sentence in rec.get("card_statements") or ():
        s = str(sentence)
        if re.search(_CARD_DEALIGNED, s, re.I):
            t.add("model_card", s, src_card)
            t.dealigned = True
        elif re.search(_CARD_BASE, s, re.I):
            t.add("model_card", s, src_card, -4.0)
        elif re.search(_CARD_ALIGNED, s, re.I):
            t.add("model_card", s, src_card, 4.0)
        found = [meth for pat, meth in _CARD_METHODS if re.search(pat, s, re.I)]
        if found:
            if not any(e.value == s[:300] for e in t.ev):
                t.add("model_card", s, src_card)
            card_methods.extend(m for m in found if m not in card_methods)
    return card_methods


def classify_record(rec: dict[str, Any], original: "Alignment | None" = None) -> Alignment:
    """Classify a Hugging Face repo from its metadata, weighing every signal and recording each one.

    Args:
        rec: the repo's record: `repo`, `tags`, `pipeline_tag`, `card` (the card's metadata),
            `card_statements` (sentences read from the card), `chat_template` (bool or None),
            `gguf` (GGUF general.* keys of a file of the repo).
        original: the classification of the repo this one quantizes, when it was read.
    Returns:
        kind, the methods the evidence names, a confidence and the evidence with its sources.
    """
    repo = str(rec.get("repo") or "")
    src_tags, src_card = f"hub tags of {repo}", f"model card of {repo}"
    relation, base_repo = _lineage(rec)
    if relation == "quantized" and original is not None:
        # a quantization is the model it quantizes: its verdict, with the evidence read from the original
        ev = [*original.evidence, Evidence("base_model", f"quantized from {base_repo}", src_tags)]
        if m := re.search(_DEALIGNED, repo.split("/")[-1], re.I):
            ev.append(Evidence("name_token", m.group(1), repo))
            return Alignment("de-aligned", original.methods, max(original.confidence, 0.8), tuple(ev))
        return Alignment(original.kind, original.methods, original.confidence, tuple(ev))
    t = _Tally()
    _name_signals(t, repo, rec.get("gguf") or {})
    _tag_signals(t, rec, src_tags)
    if relation and base_repo:
        # a fine-tune of any model is usually a chat/instruct tune; a merge or adapter says less
        t.add("base_model", f"{relation} of {base_repo}", src_card, 1.0 if relation == "finetune" else 0.0)
    card_methods = _card_signals(t, rec, src_card)
    if rec.get("chat_template") is not None:
        t.add("chat_template", "present" if rec["chat_template"] else "absent", f"tokenizer files of {repo}")
    if t.dealigned:
        return Alignment("de-aligned", tuple(t.methods), 0.85, tuple(t.ev))
    if t.score > 0:
        t.methods.extend(m for m in card_methods if m not in t.methods)
        return Alignment("aligned", tuple(t.methods), min(0.95, 0.55 + 0.05 * t.score), tuple(t.ev))
    if t.score == 0:
        t.ev.append(Evidence("none", "no signal of instruction or preference tuning", repo))
    return Alignment("base", (), min(0.95, 0.5 + 0.05 * -t.score) if t.score < 0 else 0.4, tuple(t.ev))
