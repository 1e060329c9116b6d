"""The line-API model table: what it draws, its cursor (keys, pages, mouse), scrolling that keeps
the cursor in view, header clicks and Enter, and a cursor that follows its row across a refilter."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from tui.table import ModelTable, fit

COLUMNS = ("model", "size", "verdict")
ROWS = [(f"m{i:02d}", (f"model-{i:02d}" + ("-with-a-very-long-name" if i == 3 else ""), f"{i}B",
                       "full GPU" if i % 2 else "partial"), "good" if i % 2 else "warn") for i in range(50)]


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []
        self.headers: list[int] = []

    def compose(self) -> ComposeResult:
        t = ModelTable(COLUMNS, (16, 5, 9), (False, True, False), id="t")
        t.tone_column = 2
        yield t

    def on_mount(self) -> None:
        t = self.query_one(ModelTable)
        t.set_rows(ROWS, sorted_column=0)
        t.focus()

    def on_model_table_selected(self, m: ModelTable.Selected) -> None:
        self.selected.append(m.row_id)

    def on_model_table_header_clicked(self, m: ModelTable.HeaderClicked) -> None:
        self.headers.append(m.column)


def _text(t: ModelTable, y: int) -> str:
    return t.render_line(y).text


def test_fit_cuts_with_an_ellipsis_and_aligns() -> None:
    assert fit("abcdef", 4, False) == "abc…" and fit("ab", 4, True) == "  ab" and fit("ab", 4, False) == "ab  "


def test_draws_header_rows_and_moves_the_cursor() -> None:
    async def run() -> None:
        app = Host()
        async with app.run_test(size=(40, 12)) as pilot:
            t = app.query_one(ModelTable)
            assert t.row_count == 50
            assert _text(t, 0).startswith("model ▼") and "size" in _text(t, 0)
            assert _text(t, 1).startswith("model-00") and "0B" in _text(t, 1) and "partial" in _text(t, 1)
            assert "model-03-with-a…" in _text(t, 4)  # cut to its column, not wrapped
            # the verdict cell carries its own colour: a good row's differs from a warning row's
            good = [s.style for s in t.render_line(2) if "full GPU" in s.text]
            warn = [s.style for s in t.render_line(3) if "partial" in s.text]
            assert good and warn and good[0] is not None and good[0].color != warn[0].color  # type: ignore[union-attr]
            await pilot.press("down", "down")
            assert t.cursor_row == 2
            await pilot.press("enter")
            await pilot.pause()
            assert app.selected == ["m02"]
            # the screen shows 11 rows under the header; paging keeps the cursor on screen
            await pilot.press("pagedown")
            await pilot.pause()
            top = int(t.scroll_offset.y)
            assert t.cursor_row == 2 + 11 and top <= t.cursor_row <= top + 10
            assert _text(t, t.cursor_row - top + 1).startswith(f"model-{t.cursor_row:02d}")
            await pilot.press("end")
            await pilot.pause()
            assert t.cursor_row == 49 and _text(t, 11).startswith("model-49")
            await pilot.press("home")
            await pilot.pause()
            assert t.cursor_row == 0 and int(t.scroll_offset.y) == 0
            await pilot.press("up")
            assert t.cursor_row == 0  # clamped
            # mouse: a click on the header asks for a sort; one on a row moves the cursor, a second opens it
            await pilot.click(ModelTable, offset=(18, 0))
            await pilot.click(ModelTable, offset=(2, 4))
            assert t.cursor_row == 3 and app.selected == ["m02"]
            await pilot.click(ModelTable, offset=(2, 4))
            await pilot.pause()
            assert app.headers == [1] and app.selected == ["m02", "m03"]
            # refiltered rows: the cursor stays on its row where it still shows, else goes to the top
            t.set_rows([r for r in ROWS if r[0] in ("m01", "m03", "m05")])
            assert t.cursor_row == 1 and t.row_count == 3 and _text(t, 4).strip() == ""
            t.set_rows([r for r in ROWS if r[0] == "m07"])
            assert t.cursor_row == 0
            t.set_rows([])
            assert t.row_count == 0
            await pilot.press("enter", "down")
            assert app.selected == ["m02", "m03"]

    asyncio.run(run())
