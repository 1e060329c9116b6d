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
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

import catalog
from catalog import ModelSpec, Summary
from catalog.cli.render import VERDICT_TEXT, gib
from catalog.core.alignment import KINDS as ALIGNMENT_KINDS
from catalog.core.options import KV_CHOICES
from catalog.core.results import COMMAND_LABELS
from hardware import Hardware
from tui.table import ModelTable

KINDS: tuple[str | None, ...] = (None, *ALIGNMENT_KINDS)
CONTEXTS = (None, 4096, 8192, 32768, 131072)  # None: the runtime's default
KV_TYPES = KV_CHOICES
COLUMNS = ("model", "family", "params", "kind", "best quant", "GPU GiB", "verdict", "tok/s")
WIDTHS = (44, 14, 7, 10, 10, 7, 9, 5)
RIGHT = (False, False, True, False, False, True, False, True)
TONE = {"full_gpu": "good", "partial": "warn", "cpu_only": "bad", "no_fit": "bad"}
SORT_KEYS = ("id", "family", "parameters", "kind", "best_quant", "gpu_bytes", "verdict", "tokens_per_second")


def cells(r: Summary) -> tuple[str, ...]:
    """One summary row as the table's cells."""
    tps = r.tokens_per_second
    return (r.spec.name, r.spec.family, f"{r.spec.parameters / 1e9:.1f}B", r.kind or "?", r.best_quant or "-",
            gib(r.gpu_bytes), VERDICT_TEXT.get(r.verdict, r.verdict), "-" if tps is None else f"{tps:.0f}")


def _sort_value(r: Summary, key: str) -> Any:
    return getattr(r.spec, key) if key in ("id", "family", "parameters") else getattr(r, key)


class Summaries(Message):
    """A batch of estimated rows from the worker (`generation` drops batches of older settings)."""

    def __init__(self, rows: list[Summary], generation: int, done: int, total: int) -> None:
        super().__init__()
        self.rows, self.generation, self.done, self.total = rows, generation, done, total


class DetailScreen(Screen[None]):
    """One model: every quantization against the GPU, the alignment evidence, the template's cost,
    the three commands (1, 2, 3 copy them)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        *(Binding(str(i), f"copy('{key}')", f"copy {label}") for i, (label, key) in enumerate(COMMAND_LABELS, 1)),
    ]

    def __init__(self, row: Summary) -> None:
        super().__init__()
        self.row = row
        self.check = row.result
        self.rec = self.check.recommended_row or (self.check.rows[0] if self.check.rows else None)

    def compose(self) -> ComposeResult:
        c, spec, al = self.check, self.check.spec, self.check.alignment
        budget = c.gpu_budget_bytes or 1
        # names and evidence quote cards and templates ("[INST]"): substituted as text, never markup
        lines = [Content.from_markup("[b]$name[/b]  $rest", name=spec.name,
                                     rest=f"{spec.arch.arch}, {spec.parameters / 1e9:.2f} B parameters, "
                                          f"{al.kind} (confidence {round(al.confidence, 2)})"),
                 Content(f"context {c.options.context} ({c.options.context_source}), KV {c.options.kv_type}")]
        for ev in al.evidence[:4]:
            lines.append(Content.from_markup("  evidence: $signal: $value  [dim]($source)[/dim]", signal=ev.signal,
                                             value=ev.value[:90], source=ev.source[:60]))
        ct = c.template
        if ct.overhead_tokens is not None:
            lines.append(Content(f"  chat template: system prompt {ct.system_prompt_tokens} tokens, "
                                 f"{ct.per_turn_tokens} per exchange, {ct.overhead_tokens} for a 5-turn chat"))
        yield Static(Content("\n").join(lines), id="detail-head")
        table: DataTable[str] = DataTable(id="quants", cursor_type="row", zebra_stripes=True)
        table.add_columns("quant", "GPU GiB", "weights █ KV ▓ template ▪ compute ▒ overhead ░ (30 = budget)",
                          "verdict", "layers")
        for q in c.rows:
            mem = q.memory
            tmpl = min(mem.template_bytes or 0, mem.kv_cache_gpu_bytes)
            parts = [mem.weights_gpu_bytes, mem.kv_cache_gpu_bytes - tmpl, tmpl, mem.compute_bytes, mem.overhead_bytes]
            bar = "".join(ch * max(0, round(30 * p / budget)) for ch, p in zip("█▓▪▒░", parts, strict=True))[:40]
            table.add_row(q.quant + ("*" if q.quant == c.recommended else ""), gib(mem.gpu_bytes),
                          bar, VERDICT_TEXT[q.verdict], f"{q.gpu_layers}/{q.total_layers}")
        yield table
        cmds = self.rec.commands._asdict() if self.rec else {}
        shown = [f"[{i}] {label}: {cmds.get(key) or '-'}" for i, (label, key) in enumerate(COMMAND_LABELS, 1)]
        if cmds.get("ollama_server_env"):
            shown.insert(1, f"    Ollama service environment: {cmds['ollama_server_env']}")
        if cmds.get("note"):
            shown.append(f"    {cmds['note']}")
        if cmds.get("file_source"):
            shown.append(f"    file listed at: {cmds['file_source']}")
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
        Binding("k", "cycle_kind", "kind"),
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
            table.tone_column = COLUMNS.index("verdict")
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
        for i, spec in enumerate(specs):
            batch.append(catalog.summarize(spec, req, self.hardware))
            if len(batch) == 16 or i == len(specs) - 1:
                self.post_message(Summaries(batch, generation, i + 1, len(specs)))
                batch = []

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
        if key in ("parameters", "gpu_bytes", "tokens_per_second"):
            return sorted(out, key=lambda r: (_sort_value(r, key) is None, _sort_value(r, key) or 0))
        return sorted(out, key=lambda r: str(_sort_value(r, key) or ""))

    def refresh_table(self) -> None:
        """Show every matching row (the table draws only the visible lines, so this is cheap)."""
        self.matches = self.shown_rows()
        self.query_one("#models", ModelTable).set_rows([(r.spec.id, self._cells[r.spec.id], TONE.get(r.verdict))
                                                       for r in self.matches], self.sort_i)
        self._status()

    def _status(self) -> None:
        state = f"estimating {self.progress[0]} of {self.progress[1]}..." if self.loading else "ready"
        self.query_one("#status", Static).update(
            f"{len(self.matches)} of {len(self.rows)} models match ({state}); sorted by {COLUMNS[self.sort_i]}"
            + (f"; filter '{self.text}'" if self.text else "") + ("; fits only" if self.fits_only else ""))

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
