"""`catalog tui`: browse the embedded catalog against the detected (or named) hardware.

A client of the library: the models come from `catalog.search` (with the Hub repos looked up
before), each row from `catalog.summarize` (what `catalog search --fits` uses), the filter is
`catalog.search`'s own `matches`: no rule lives here. Estimates run in a worker thread and fill the
table as they come; changing the context or KV type re-runs them.
"""

from __future__ import annotations

import gc
import time
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

import catalog
from catalog import ModelSpec, Summary
from catalog.cli.render import gib
from catalog.core.alignment import KINDS as ALIGNMENT_KINDS
from catalog.core.model import estimate_note
from catalog.core.options import KV_CHOICES
from catalog.core.results import COMMAND_LABELS, CheckResult
from hardware import Hardware
from tui.table import ModelTable

KINDS: tuple[str | None, ...] = (None, *ALIGNMENT_KINDS)
CONTEXTS = (None, 4096, 8192, 32768, 131072)  # None: the runtime's default
KV_TYPES = KV_CHOICES
FIRST_BATCH, LATER_BATCH = 16, 128  # rows a message from the estimating worker carries
# by priority, left to right: an 80-column terminal shows the model, its quantization, how it runs and its
# speed first (the family, last, scrolls in)
COLUMNS = ("model", "quant", "fit", "tok/s", "GPU GiB", "params", "kind", "family")
WIDTHS = (28, 8, 9, 5, 7, 6, 10, 14)
RIGHT = (False, False, False, True, True, True, False, False)
TONE = {"fits": "good", "tight": "good", "partial": "warn", "cpu only": "bad", "too slow": "bad", "won't run": "bad"}
SORT_KEYS = ("id", "best_quant", "fit", "tokens_per_second", "gpu_bytes", "parameters", "kind", "family")


def fit_of(r: Summary) -> str:
    """How the summary's recommended row runs (fits, tight, partial, cpu only, too slow, won't run)."""
    return r.fit


def cells(r: Summary) -> tuple[str, ...]:
    """One summary row as the table's cells."""
    tps = r.tokens_per_second
    return (r.spec.name, r.best_quant or "-", fit_of(r), "-" if tps is None else f"{tps:.0f}", gib(r.gpu_bytes),
            f"{r.spec.parameters / 1e9:.1f}B", r.kind or "?", r.spec.family)


def _sort_value(r: Summary, key: str) -> Any:
    if key == "fit":
        return FIT_ORDER.index(fit_of(r))
    return getattr(r.spec, key) if key in ("id", "family", "parameters") else getattr(r, key)


FIT_ORDER = ("fits", "tight", "partial", "cpu only", "too slow", "won't run")


class Summaries(Message):
    """A batch of estimated rows from the worker (`generation` drops batches of older settings)."""

    def __init__(self, rows: list[Summary], generation: int, done: int, total: int) -> None:
        super().__init__()
        self.rows, self.generation, self.done, self.total = rows, generation, done, total


class DetailScreen(Screen[None]):
    """One model: every quantization against the GPU, the alignment evidence, the template's cost,
    the three commands (1, 2, 3 copy them)."""

    DEFAULT_CSS = """
    #commands-box { height: auto; max-height: 10; overflow-x: auto; overflow-y: auto; }
    #commands { width: auto; text-wrap: nowrap; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        *(Binding(str(i), f"copy('{key}')", f"copy {label}") for i, (label, key) in enumerate(COMMAND_LABELS, 1)),
    ]

    def __init__(self, row: Summary, check: CheckResult | None = None) -> None:
        super().__init__()
        self.row = row
        self.check = check or row.result  # the whole check, commands included: made now, for this one line
        self.rec = self.check.recommended_row or (self.check.rows[0] if self.check.rows else None)

    def compose(self) -> ComposeResult:
        c, spec, al = self.check, self.check.spec, self.check.alignment
        budget = c.gpu_budget_bytes or 1
        # names and evidence quote cards and templates ("[INST]"): substituted as text, never markup
        lines = [Content.from_markup("[b]$name[/b]  $rest", name=spec.name,
                                     rest=f"{spec.arch.arch}, {spec.parameters / 1e9:.2f} B parameters, "
                                          f"{al.kind} (confidence {round(al.confidence, 2)})"),
                 Content(f"context {c.options.context} ({c.options.context_source}), KV {c.options.kv_type}")]
        if c.recommended:
            lines.append(Content(f"recommended {c.recommended}: {c.recommended_why}"))
        note = estimate_note(spec)
        if note:
            lines.append(Content(f"note: {note}"))
        for ev in al.evidence[:4]:
            # whole, wrapped at the screen's edge: a cut quote or source proves nothing
            lines.append(Content.from_markup("  evidence: $signal: $value  [dim]($source)[/dim]", signal=ev.signal,
                                             value=ev.value, source=ev.source))
        ct = c.template
        if ct.overhead_tokens is not None:
            lines.append(Content(f"  chat template: system prompt {ct.system_prompt_tokens} tokens, "
                                 f"{ct.per_turn_tokens} per exchange, {ct.overhead_tokens} for a 5-turn chat"))
        yield Static(Content("\n").join(lines), id="detail-head")
        table: DataTable[str] = DataTable(id="quants", cursor_type="row", zebra_stripes=True)
        vision = any(q.memory.projector_bytes for q in c.rows)
        table.add_columns("quant", "GPU GiB", "weights █ KV ▓ template ▪ compute ▒ overhead ░ "
                          + ("vision · " if vision else "") + "(30 = budget)", "fit", "layers")
        for q in c.rows:
            mem = q.memory
            tmpl = min(mem.template_bytes or 0, mem.kv_cache_gpu_bytes)
            parts = [mem.weights_gpu_bytes, mem.kv_cache_gpu_bytes - tmpl, tmpl, mem.compute_bytes, mem.overhead_bytes,
                     mem.projector_bytes]
            bar = "".join(ch * max(0, round(30 * p / budget)) for ch, p in zip("█▓▪▒░·", parts, strict=True))[:40]
            table.add_row(q.quant + ("*" if q.quant == c.recommended else ""), gib(mem.gpu_bytes),
                          bar, q.fit, f"{q.gpu_layers}/{q.total_layers}")
        yield table
        cmds = self.rec.commands._asdict() if self.rec else {}
        shown = [f"[{i}] {label}: {cmds.get(key) or '-'}" for i, (label, key) in enumerate(COMMAND_LABELS, 1)]
        if cmds.get("ollama_server_env"):
            shown.insert(1, f"    Ollama service environment: {cmds['ollama_server_env']}")
        if cmds.get("note"):
            shown.append(f"    {cmds['note']}")
        if cmds.get("file_source"):
            shown.append(f"    file listed at: {cmds['file_source']}")
        with ScrollableContainer(id="commands-box"):  # one line a command, scrolled sideways, never broken
            yield Static("\n".join(shown), id="commands", markup=False)
        yield Static("", id="copied")
        yield Footer()

    def action_copy(self, key: str) -> None:
        text = (self.rec.commands._asdict().get(key) if self.rec else "") or ""
        self.app.copy_to_clipboard(text)  # OSC 52: terminals that do not support it ignore it
        self.query_one("#copied", Static).update(
            f"copied the {key} command (if your terminal allows OSC 52 clipboard access)")
        self.app.last_copied = text  # type: ignore[attr-defined]


class CatalogApp(App[None]):
    """The catalog, filtered and sorted, each model estimated against `hardware`."""

    CSS = """
    #hw { height: auto; padding: 0 1; background: $boost; }
    #search { display: none; }
    #search.shown { display: block; }
    #status { height: 1; padding: 0 1; color: $text-muted; }
    """
    AUTO_FOCUS = "#models"  # keys act at once; the search box takes them only after `/`
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "search"),
        Binding("escape", "clear", "clear", show=False),
        Binding("f", "toggle_fits", "fits only"),
        Binding("a", "cycle_kind", "alignment kind"),
        Binding("c", "cycle_context", "context"),
        Binding("t", "cycle_kv", "KV type"),
        Binding("s", "cycle_sort", "sort"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, hardware: Hardware, specs: list[ModelSpec] | None = None) -> None:
        super().__init__()
        self.hardware = hardware
        self._specs = specs
        self.rows: dict[str, Summary] = {}
        self._cells: dict[str, tuple[str, ...]] = {}
        self.text = ""
        self.fits_only = False
        self.kind_i = 0
        self.ctx_i = 0
        self.kv_i = 0
        self.sort_i = 0
        self.generation = 0
        self.loading = True
        self.last_copied = ""
        self.matches: list[Summary] = []
        self.progress = (0, 0)  # models estimated, of how many (for the current settings)
        self._painted = 0.0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="hw")
            yield Input(placeholder="filter by name, family or kind", id="search")
            table = ModelTable(COLUMNS, WIDTHS, RIGHT, id="models")
            table.tone_column = COLUMNS.index("fit")
            yield table
            yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._header()
        self.estimate_all()

    def on_unmount(self) -> None:
        gc.unfreeze()

    # -- estimates, off the UI thread ---------------------------------------------------------------------------
    def request(self) -> catalog.CheckRequest:
        return catalog.CheckRequest(ctx=CONTEXTS[self.ctx_i], kv_type=KV_TYPES[self.kv_i])

    @work(thread=True, exclusive=True)
    def estimate_all(self) -> None:
        generation = self.generation
        specs = self._specs if self._specs is not None else catalog.search(cached=True)
        req = self.request()
        batch: list[Summary] = []
        if not specs:
            self.post_message(Summaries([], generation, 0, 0))
        # the first rows go out at once (the first paint), the rest in large batches: each message wakes the UI
        # thread, and handing the GIL to and fro for small ones tripled the time to estimate 656 rows (6.7 s)
        size = FIRST_BATCH
        for i, spec in enumerate(specs):
            batch.append(catalog.summarize(spec, req, self.hardware))
            if len(batch) == size or i == len(specs) - 1:
                self.post_message(Summaries(batch, generation, i + 1, len(specs)))
                batch, size = [], LATER_BATCH

    def on_summaries(self, msg: Summaries) -> None:
        if msg.generation != self.generation:
            return
        for r in msg.rows:
            self.rows[r.spec.id] = r
            self._cells[r.spec.id] = cells(r)  # formatted once per estimate, reused by every filter
        self.loading = msg.done < msg.total
        self.progress = (msg.done, msg.total)
        now = time.monotonic()
        if not self.loading or not self._painted or now - self._painted > 0.25:  # repaint at most 4 times a second
            self._painted = now
            self.refresh_table()
            if not self.loading:
                # the estimates are long-lived: out of the collector's sight, a keystroke never waits on a
                # full collection of them (bench: the worst keystroke 90 ms -> under 60 ms)
                gc.freeze()
        else:
            self._status()  # the count moves with every batch; the table at most 4 times a second

    # -- the table ----------------------------------------------------------------------------------------------
    def shown_rows(self) -> list[Summary]:
        kind = KINDS[self.kind_i]
        out = [r for r in self.rows.values() if catalog.matches(r.spec, self.text, kind)
               and (not self.fits_only or r.verdict == "full_gpu")]
        key = SORT_KEYS[self.sort_i]
        if key in ("parameters", "gpu_bytes", "tokens_per_second", "fit"):
            return sorted(out, key=lambda r: (_sort_value(r, key) is None, _sort_value(r, key) or 0))
        return sorted(out, key=lambda r: str(_sort_value(r, key) or ""))

    def refresh_table(self) -> None:
        """Show every matching row (the table draws only the visible lines, so this is cheap)."""
        self.matches = self.shown_rows()
        self.query_one("#models", ModelTable).set_rows([(r.spec.id, self._cells[r.spec.id], TONE.get(fit_of(r)))
                                                       for r in self.matches], self.sort_i)
        self._status()

    def _status(self) -> None:
        state = f"estimating {self.progress[0]} of {self.progress[1]}..." if self.loading else "ready"
        kind = KINDS[self.kind_i]
        filters = [f"filter '{self.text}'"] * bool(self.text) + [f"kind {kind}"] * bool(kind) + \
            ["fits only"] * self.fits_only
        why = ""
        if not self.matches and not self.loading:
            why = (" - fits only needs a GPU: none was detected or named (--gpu NAME or --vram GIB)"
                   if self.fits_only and not self.hardware.gpus else
                   " - nothing fits entirely on the GPU: press f to show every model" if self.fits_only else
                   " - nothing matches: Escape clears the filter" if self.text or kind else "")
        self.query_one("#status", Static).update(
            f"{len(self.matches)} of {len(self.rows)} models match ({state}); sorted by {COLUMNS[self.sort_i]}"
            + "".join(f"; {f}" for f in filters) + why)

    def _header(self) -> None:
        hw = self.hardware
        gpus = ", ".join(f"{g.name} ({g.memory_total_bytes / 2**30:.0f} GiB)" for g in hw.gpus) or "no GPU"
        ctx = CONTEXTS[self.ctx_i] or "runtime default"
        self.query_one("#hw", Static).update(
            f"{gpus}; RAM {(hw.ram_total_bytes or 0) / 2**30:.0f} GiB  |  context {ctx}, KV {KV_TYPES[self.kv_i]}, "
            "Ollama's defaults")

    # -- keys ---------------------------------------------------------------------------------------------------
    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("shown")
        box.focus()

    def action_clear(self) -> None:
        box = self.query_one("#search", Input)
        box.value = ""
        box.remove_class("shown")
        self.text = ""
        self.query_one("#models", ModelTable).focus()
        self.refresh_table()

    @on(Input.Changed, "#search")
    def _filter(self, event: Input.Changed) -> None:
        if event.value.startswith("/"):  # the key that opened the box reaches it too
            event.input.value = event.value[1:]
            return
        self.text = event.value.strip().lower()
        self.refresh_table()

    @on(Input.Submitted, "#search")
    def _done(self) -> None:
        self.query_one("#models", ModelTable).focus()

    def action_toggle_fits(self) -> None:
        self.fits_only = not self.fits_only
        self.refresh_table()

    def action_cycle_kind(self) -> None:
        self.kind_i = (self.kind_i + 1) % len(KINDS)
        self.refresh_table()

    def action_cycle_sort(self) -> None:
        self.sort_i = (self.sort_i + 1) % len(COLUMNS)
        self.refresh_table()

    def _reestimate(self) -> None:
        gc.unfreeze()  # the old estimates become garbage: let the collector have them
        self.generation += 1
        self.loading = True
        self.rows.clear()  # rows of the old settings never stand as if they were the new ones
        self._cells.clear()
        self.progress = (0, self.progress[1])
        self.refresh_table()
        self._header()
        self.estimate_all()

    def action_cycle_context(self) -> None:
        self.ctx_i = (self.ctx_i + 1) % len(CONTEXTS)
        self._reestimate()

    def action_cycle_kv(self) -> None:
        self.kv_i = (self.kv_i + 1) % len(KV_TYPES)
        self._reestimate()

    @on(ModelTable.HeaderClicked, "#models")
    def _sort_by_header(self, event: ModelTable.HeaderClicked) -> None:
        self.sort_i = event.column
        self.refresh_table()

    @on(ModelTable.Selected, "#models")
    def _open(self, event: ModelTable.Selected) -> None:
        row = self.rows.get(event.row_id)
        if row is not None:
            self.push_screen(DetailScreen(row))
