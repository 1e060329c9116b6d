"""The Textual UI, driven by its pilot: start, filter, toggle fits, cycle kind and KV type, open a
model's detail, copy a command, quit; the rows are `catalog.summarize`'s, so a row equals `check`."""

from __future__ import annotations

import asyncio

import hardware
from catalog.sources.bundled import entries, to_spec
from tui.app import CatalogApp, DetailScreen, Summaries

IDS = ("llama-3.1-8b-instruct", "llama-3.1-8b", "qwen2.5-7b-instruct", "qwen2.5-72b-instruct",
       "meta-llama-3.1-8b-instruct-abliterated", "smollm2-360m-instruct")


def _app() -> CatalogApp:
    specs = [to_spec(e) for e in entries() if e["id"] in IDS]
    return CatalogApp(hardware.profile(["RTX 3060"], 24), specs)


async def _loaded(app: CatalogApp, pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(400):
        if not app.loading:
            return
        await pilot.pause(0.02)
    raise AssertionError("estimates never finished")


def test_browse_filter_detail_copy_quit() -> None:
    async def run() -> None:
        app = _app()
        async with app.run_test(size=(150, 40)) as pilot:
            await _loaded(app, pilot)
            table = app.query_one("#models")
            assert table.row_count == len(IDS)
            assert app.focused is table  # a key acts at once, not typed into the hidden search box
            # the rows are catalog.summarize's: the same verdict `check` gives
            r = app.rows["qwen2.5-72b-instruct"]
            assert r.verdict != "full_gpu" and app.rows["smollm2-360m-instruct"].verdict == "full_gpu"
            await pilot.press("slash", *"qwen")
            assert app.text == "qwen", app.text
            assert table.row_count == 2 and all("qwen" in x.spec.id for x in app.shown_rows())
            await pilot.press("escape")
            assert table.row_count == len(IDS) and app.text == ""
            await pilot.press("f")
            assert {x.verdict for x in app.shown_rows()} == {"full_gpu"} and table.row_count < len(IDS)
            await pilot.press("f", "a")  # fits off; kind: base
            assert [x.spec.id for x in app.shown_rows()] == ["llama-3.1-8b"]
            assert "kind base" in str(app.query_one("#status").render())  # every active filter is shown
            await pilot.press("a", "a")  # de-aligned
            assert [x.spec.id for x in app.shown_rows()] == ["meta-llama-3.1-8b-instruct-abliterated"]
            await pilot.press("a")  # all again
            # a click on the "params" header sorts by parameters, smallest first
            await pilot.click("#models", offset=(63, 0))
            assert app.sort_i == 5
            sizes = [x.spec.parameters for x in app.shown_rows()]
            assert sizes == sorted(sizes) and app.matches[0].spec.id == "smollm2-360m-instruct"
            table.focus()
            await pilot.press("home", "down", "enter")  # the second row's detail, not the first's
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen) and app.screen.row.spec.id == app.matches[1].spec.id
            await pilot.press("escape")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            detail = app.screen
            await pilot.press("2")
            assert detail.rec is not None and app.last_copied == detail.rec.commands.llama_cpp
            assert app.last_copied.startswith("llama-server")
            await pilot.press("escape")
            assert not isinstance(app.screen, DetailScreen)
            await pilot.press("t")  # KV q8_0: every row estimated again
            await _loaded(app, pilot)
            assert {x.result.options.kv_type for x in app.rows.values()} == {"q8_0"}
            await pilot.press("q")
        assert app.return_code == 0  # `q` quit the app (None: it never exited)

    asyncio.run(run())


def test_progress_while_estimating_and_an_empty_catalog() -> None:
    async def run() -> None:
        app = _app()
        async with app.run_test(size=(150, 40)) as pilot:
            await _loaded(app, pilot)
            status = app.query_one("#status")
            row = next(iter(app.rows.values()))
            # a batch from the worker of the current settings: the status line counts what is done
            app.generation += 1
            app.on_summaries(Summaries([row], app.generation, 3, 10))
            assert app.loading and "estimating 3 of 10" in str(status.render())
            app.on_summaries(Summaries([row], app.generation - 1, 10, 10))  # an older setting's: dropped
            assert app.loading
            app.on_summaries(Summaries([row], app.generation, 10, 10))
            assert not app.loading and "(ready)" in str(status.render())
        empty = CatalogApp(hardware.profile(["RTX 3060"], 24), [])
        async with empty.run_test(size=(100, 20)) as pilot:
            await _loaded(empty, pilot)
            assert empty.query_one("#models").row_count == 0 and "0 of 0 models" in str(
                empty.query_one("#status").render())

    asyncio.run(run())


def test_detail_shows_evidence_text_as_text() -> None:
    """Evidence quotes model cards and templates: "[/INST]" is text in the detail, not markup."""
    async def run() -> None:
        app = _app()
        async with app.run_test(size=(150, 40)) as pilot:
            await _loaded(app, pilot)
            row = app.rows["llama-3.1-8b-instruct"]
            al = row.result.alignment
            ev = (al.evidence[0]._replace(value="wraps turns in [INST] ... [/INST]"), *al.evidence[1:])
            app.push_screen(DetailScreen(row, row.result._replace(alignment=al._replace(evidence=ev))))
            await pilot.pause()
            head = str(app.screen.query_one("#detail-head").render())
            assert "[INST] ... [/INST]" in head, head

    asyncio.run(run())


def test_at_80x24_the_columns_that_matter_show_and_the_list_explains_itself() -> None:
    """An 80x24 terminal shows each model's quantization, how it runs and its speed; the cursor starts on the
    first row; j/k/g/G move it; fits-only without a GPU says why the list is empty; a new context clears the
    old estimates instead of showing them as current."""
    async def run() -> None:
        app = _app()
        async with app.run_test(size=(80, 24)) as pilot:
            await _loaded(app, pilot)
            table = app.query_one("#models")
            header = "".join(seg.text for seg in table.render_line(0))
            assert all(col in header for col in ("model", "quant", "fit", "tok/s")), header
            assert table.cursor_row == 0
            await pilot.press("j", "j", "k")
            assert table.cursor_row == 1
            await pilot.press("G")
            assert table.cursor_row == table.row_count - 1
            await pilot.press("g")
            assert table.cursor_row == 0
            app.action_cycle_context()  # what `c` does: another context, every row estimated again
            assert app.generation == 1 and app.loading and not app.rows and table.row_count == 0
            await _loaded(app, pilot)
            assert {x.result.options.context for x in app.rows.values()} == {4096}
            table.focus()
            await pilot.press("g", "enter")
            await pilot.pause()
            detail = app.screen
            assert isinstance(detail, DetailScreen)
            commands = detail.query_one("#commands")
            longest = max(len(line) for line in str(commands.render()).splitlines())
            assert longest > 80 and commands.size.width >= longest  # one line a command, scrolled, not wrapped
            ev = detail.row.result.alignment.evidence[0]
            assert ev.value in str(detail.query_one("#detail-head").render())  # the whole quote, wrapped
            await pilot.press("escape")
        none = CatalogApp(hardware.budget(None, 16), [r for r in app._specs or []])
        async with none.run_test(size=(80, 24)) as pilot:
            await _loaded(none, pilot)
            await pilot.press("f")
            assert none.query_one("#models").row_count == 0
            assert "fits only needs a GPU" in str(none.query_one("#status").render())

    asyncio.run(run())
