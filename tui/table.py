"""A read-only model table drawn through Textual's line API.

Textual's DataTable renders every visible cell through Rich (padding, wrapping, measuring): about
0.1 ms a cell, so rebuilding a 40-row, 8-column screen on each filter keystroke cost ~60-90 ms.
Here each visible line is one `Strip` of pre-formatted segments, so a keystroke's repaint is a
few milliseconds whatever the number of rows. It offers what the catalog needs: a fixed header
(click one to sort), a row cursor (arrows, j/k, page keys, home/end, g/G, mouse), Enter to open a row.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

ELLIPSIS = "…"


def fit(text: str, width: int, right: bool) -> str:
    """`text` in exactly `width` cells: cut with an ellipsis, padded on the side that aligns it."""
    if len(text) > width:
        return text[: max(0, width - 1)] + ELLIPSIS
    return text.rjust(width) if right else text.ljust(width)


class _FromTable(Message):
    """A message from a ModelTable; `control` is what `@on(..., "#id")` matches."""

    def __init__(self, table: ModelTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> ModelTable:
        return self.table


class ModelTable(ScrollView, can_focus=True):
    """Rows of plain strings, one (row id, cells) pair each; column widths fixed at construction."""

    DEFAULT_CSS = """
    ModelTable { height: 1fr; }
    ModelTable > .modeltable--header { text-style: bold; background: $panel; }
    ModelTable > .modeltable--cursor { background: $accent 60%; text-style: bold; }
    ModelTable > .modeltable--zebra { background: $boost; }
    ModelTable > .modeltable--good { color: $success; }
    ModelTable > .modeltable--warn { color: $warning; }
    ModelTable > .modeltable--bad { color: $error; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"modeltable--header", "modeltable--cursor", "modeltable--zebra",
                                             "modeltable--good", "modeltable--warn", "modeltable--bad"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "up", show=False),
        Binding("down", "move(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "jump(0)", "first", show=False),
        Binding("end", "jump(-1)", "last", show=False),
        Binding("j", "move(1)", "down", show=False),
        Binding("k", "move(-1)", "up", show=False),
        Binding("g", "jump(0)", "first", show=False),
        Binding("G", "jump(-1)", "last", show=False),
        Binding("enter", "select", "open"),
    ]
    cursor_row: reactive[int] = reactive(0, always_update=True)

    class Selected(_FromTable):
        """Enter (or a click on the cursor's row) on a row: `row_id`."""

        def __init__(self, table: ModelTable, row_id: str) -> None:
            super().__init__(table)
            self.row_id = row_id

    class HeaderClicked(_FromTable):
        """A click on a column's header: `column`, its index."""

        def __init__(self, table: ModelTable, column: int) -> None:
            super().__init__(table)
            self.column = column

    def __init__(self, columns: tuple[str, ...], widths: tuple[int, ...], right: tuple[bool, ...],
                 *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.columns, self.widths, self.right = columns, widths, right
        self.ids: list[str] = []
        self.cells: list[tuple[str, ...]] = []
        self.tones: list[str | None] = []  # "good" / "warn" / "bad" colours the tone column
        self.tone_column = -1
        self.sorted_column = -1
        self._lines: list[str] = []
        self.moved = False  # the user moved the cursor: new rows keep it on its model, else it stays on top
        self._starts = [sum(widths[:i]) + i for i in range(len(widths))]  # one space between columns
        self._width = sum(widths) + len(widths) - 1

    # -- data ---------------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.ids)

    def set_rows(self, rows: list[tuple[str, tuple[str, ...], str | None]], sorted_column: int = -1) -> None:
        """Replace every row (id, cells, tone); a cursor the user moved stays on the same id where it still
        shows, an untouched one on the first row (rows streaming in never carry it down the list)."""
        keep = self.ids[self.cursor_row] if self.moved and 0 <= self.cursor_row < len(self.ids) else None
        self.ids = [r[0] for r in rows]
        self.cells = [r[1] for r in rows]
        self.tones = [r[2] for r in rows]
        self.sorted_column = sorted_column
        self._lines = [" ".join(fit(c, w, ra) for c, w, ra in zip(cells, self.widths, self.right, strict=False))
                       for cells in self.cells]
        self.virtual_size = Size(self._width, len(self.ids) + 1)
        self.cursor_row = self.ids.index(keep) if keep in self.ids else 0
        self.refresh()

    # -- drawing --------------------------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"modeltable--{name}", partial=True)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            heads = [fit(h + (" ▼" if i == self.sorted_column else ""), w, ra)
                     for i, (h, w, ra) in enumerate(zip(self.columns, self.widths, self.right, strict=False))]
            return self._crop([Segment(" ".join(heads), base + self._style("header"))], scroll_x, width,
                              base + self._style("header"))
        i = scroll_y + y - 1
        if i >= len(self._lines):
            return Strip.blank(width, base)
        style = base
        if i == self.cursor_row and self.has_focus:
            style = base + self._style("cursor")
        elif i == self.cursor_row:
            style = base + self._style("zebra") + Style(underline=True)
        elif i % 2:
            style = base + self._style("zebra")
        line, tone, col = self._lines[i], self.tones[i], self.tone_column
        if tone and 0 <= col < len(self.widths):
            a, b = self._starts[col], self._starts[col] + self.widths[col]
            segs = [Segment(line[:a], style), Segment(line[a:b], style + self._style(tone)), Segment(line[b:], style)]
        else:
            segs = [Segment(line, style)]
        return self._crop(segs, scroll_x, width, style)

    def _crop(self, segs: list[Segment], scroll_x: int, width: int, style: Style) -> Strip:
        return Strip(segs, self._width).crop(scroll_x, scroll_x + width).extend_cell_length(width, style)

    # -- the cursor -----------------------------------------------------------------------------------------
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self.ids) - 1)) if self.ids else 0

    def watch_cursor_row(self, row: int) -> None:
        top = int(self.scroll_offset.y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row > top + self._page() - 1:
            self.scroll_to(y=row - self._page() + 1, animate=False)
        self.refresh()

    def action_move(self, step: int) -> None:
        self.moved = True
        self.cursor_row += step

    def action_page(self, step: int) -> None:
        self.moved = True
        self.cursor_row += step * self._page()

    def action_jump(self, where: int) -> None:
        self.moved = True
        self.cursor_row = len(self.ids) - 1 if where < 0 else 0

    def action_select(self) -> None:
        if self.ids:
            self.post_message(self.Selected(self, self.ids[self.cursor_row]))

    def on_click(self, event: events.Click) -> None:
        x = event.x + int(self.scroll_offset.x)
        if event.y == 0:
            for col, start in enumerate(self._starts):
                if start <= x < start + self.widths[col] + 1:
                    self.post_message(self.HeaderClicked(self, col))
                    return
            return
        row = int(self.scroll_offset.y) + event.y - 1
        if 0 <= row < len(self.ids):
            if row == self.cursor_row or event.chain > 1:
                self.post_message(self.Selected(self, self.ids[row]))
            self.moved = True
            self.cursor_row = row

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
