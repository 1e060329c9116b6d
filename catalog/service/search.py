"""`catalog.search` and `catalog.summarize`: the models a list shows, filtered one way for every face.

`catalog search` and the TUI both list the embedded catalog (the TUI adds the Hub repos looked up
before, from the cache), filter with `matches` and, against hardware, summarize each model by the
recommended row of its check.
"""

from __future__ import annotations

from catalog.core.memo import MISS, Memo
from catalog.core.model import ModelSpec
from catalog.core.options import CheckRequest, Runtime, Verdict
from catalog.core.record import Record
from catalog.core.results import CheckResult
from catalog.errors import CatalogError
from catalog.service.check import check
from hardware import Hardware


class Summary(Record):
    """One model's line in a list (the TUI, `search --fits`): its recommended row on this hardware. `result`, the
    whole check with its commands, is made when first read (a list of hundreds shows the lines, and opens one)."""

    spec: ModelSpec
    kind: str | None
    best_quant: str | None
    verdict: Verdict
    gpu_bytes: int | None
    tokens_per_second: float | None
    fit: str  # the recommended row's fit (fits, tight, partial, cpu only, too slow), "won't run" without one
    request: CheckRequest
    hardware: Hardware

    @property
    def result(self) -> CheckResult:
        """The whole check this line summarizes, commands included (made once, then kept)."""
        hit = _RESULTS.get((self.spec, self.request, self.hardware))
        if hit is MISS:
            hit = _RESULTS.put((self.spec, self.request, self.hardware), (),
                               check(self.spec, self.request, self.hardware))
        return hit  # type: ignore[no-any-return]


# the whole checks of the lines opened (a TUI's detail screen, a test), by the objects they were made from
_RESULTS = Memo(256)


def _described(words: list[str], kind: str | None, family: str | None, m_id: str, m_name: str, m_family: str,
               m_kind: str | None, m_repo: str | None) -> bool:
    """The filter on what describes a model: every word in its id, name, family, kind or repo; its kind; its
    family (any case)."""
    hay = f"{m_id} {m_name} {m_family} {m_kind or ''} {m_repo or ''}".lower()
    if any(word not in hay for word in words):
        return False
    if kind and m_kind != kind:
        return False
    return not family or family.lower() == m_family.lower()


def matches(spec: ModelSpec, text: str = "", kind: str | None = None, family: str | None = None,
            max_params: float | None = None) -> bool:
    """Whether a model passes the filters: every word of `text` somewhere in its id, name, family, kind or
    repo; its alignment kind; its family (any case); at most `max_params` parameters as models are named (a
    model sold as 8B may hold up to PARAMS_SLACK more: `--max-params 8B` keeps Llama 3.1 8B's 8.03 B)."""
    spec_kind = spec.alignment.kind if spec.alignment else None
    return (_described(text.lower().split(), kind, family, spec.id, spec.name, spec.family, spec_kind, spec.hf_repo)
            and (max_params is None or spec.parameters <= max_params * (1 + PARAMS_SLACK)))


# how far a model's real count passes the size in its name: Llama 3.1 8B 8.03 B, Qwen2.5 0.5B 0.49 B, Gemma 2 2B
# 2.61 B (sold as 2B: past this, it stays out of --max-params 2B)
PARAMS_SLACK = 0.05


def catalog_specs(text: str = "", kind: str | None = None, family: str | None = None) -> list[ModelSpec]:
    """The embedded catalog's models whose description passes the filter (each entry is read into a spec only
    then: a search names a few of 164)."""
    from catalog.sources.bundled import all_specs, entries

    words = text.lower().split()
    return all_specs([e for e in entries()
                      if _described(words, kind, family, e["id"], e["name"], e["family"],
                                    (e.get("alignment") or {}).get("kind"), e.get("hf_repo"))])


def cached_specs(runtimes: tuple[Runtime, ...] = ("ollama",)) -> list[ModelSpec]:
    """The Hub repos looked up before, from the cache, offline (those the catalog holds are its own rows)."""
    from catalog.service.resolve import resolve
    from catalog.sources import cache

    known = {s.id for s in catalog_specs()}
    out = []
    for key in cache.keys("hub"):
        try:
            spec = resolve(key.rpartition("@")[0], offline=True, runtimes=runtimes)
        except CatalogError:
            continue  # a cached record without a usable model (a README-only repo)
        if spec.id not in known:
            out.append(spec)
    return out


def search(text: str = "", *, kind: str | None = None, family: str | None = None,
           max_params: float | None = None, cached: bool = False) -> list[ModelSpec]:
    """The catalog's models (and with `cached` the Hub repos looked up before) that pass `matches`."""
    specs = catalog_specs(text, kind, family) + (cached_specs() if cached else [])
    return [s for s in specs if matches(s, text, kind, family, max_params)]


def summarize(spec: ModelSpec, request: CheckRequest, hw: Hardware) -> Summary:
    """One model's line in a list: its recommended quantization on this hardware, with that row's GPU bytes,
    verdict, speed and fit (its layouts from the cache where an earlier run left them); the whole check is made
    when the line's `result` is read."""
    from catalog.sources import derived

    derived.warm((spec,))
    res = check(spec, request, hw, commands=False)
    best = res.recommended_row
    return Summary(spec, spec.alignment.kind if spec.alignment else None, best.quant if best else None,
                   best.verdict if best else "no_fit", best.memory.gpu_bytes if best else None,
                   best.tokens_per_second if best else None, best.fit if best else "won't run", request, hw)


def smaller_that_runs(spec: ModelSpec, request: CheckRequest, hw: Hardware, usable: bool = False) -> Summary | None:
    """The largest model of the same family and alignment kind, smaller than `spec`, that runs on `hw` (what a
    check that runs nothing suggests instead; with `usable`, one that also reaches the usable speed, what a
    check whose best runs too slowly suggests beside it); None if the catalog has none."""
    kind = spec.alignment.kind if spec.alignment else None
    siblings = sorted((s for s in catalog_specs(family=spec.family, kind=kind)
                       if s.parameters < spec.parameters and s.id != spec.id), key=lambda s: -s.parameters)
    for s in siblings:
        line = summarize(s, request._replace(quants=()), hw)
        if line.verdict != "no_fit" and not (usable and line.fit == "too slow"):
            return line
    return None


def smaller_for(result: CheckResult, request: CheckRequest) -> Summary | None:
    """The smaller model a check names beside its answer: where nothing runs, the family's largest smaller model
    that runs; where the best runs too slowly or below QUALITY_FLOOR_BPW, one that runs at a usable speed; else
    None (the CLI's table and its JSON's `smaller_model` both ask here)."""
    from catalog.core.ranking import below_floor, bits_per_weight

    spec, rec = result.spec, result.recommended_row
    weak = rec is None or rec.fit == "too slow" or below_floor(bits_per_weight(rec.file_bytes, spec.parameters))
    return smaller_that_runs(spec, request, result.hardware, usable=rec is not None) if weak else None
