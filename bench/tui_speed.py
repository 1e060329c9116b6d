"""`catalog tui` with 500+ models: time to first paint and per-keystroke filter latency.

The 164 catalog entries are repeated under new ids until there are N (default 656), as the
catalog plus a cache of looked-up repos would be. Hardware: a named RTX 3060 profile.
- first paint: from `App.run_test` entering to the first rows on screen (the worker's first batch);
- all rows: until every model is estimated (the worker fills the table as it goes);
- keystroke: one character typed into the search box. Four measures: until the frame with the new
  rows was composed, until the last frame the keystroke produced was (Textual redraws the scroll
  bar's thumb one tick later), both what a user waits for (the headless driver composes every
  frame and skips only the terminal write), the process's CPU time, and the pilot's round trip
  (which includes the harness's own idle waits: compare with a key bound to nothing).

Usage: python bench/tui_speed.py [N]   (writes bench/out/tui.json)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import write_json  # noqa: E402

import hardware  # noqa: E402
from catalog.sources.bundled import all_specs  # noqa: E402
from tui.app import CatalogApp  # noqa: E402
from tui.table import ModelTable  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 656
    base = all_specs()
    specs = [s._replace(id=f"{s.id}~{i // len(base)}" if i >= len(base) else s.id) for i, s in
             zip(range(n), (base * (n // len(base) + 1)), strict=False)]

    async def run() -> dict:
        app = CatalogApp(hardware.profile(["RTX 3060"], 24), specs)
        frames: list[float] = []
        display = app._display

        def composed(screen, renderable):  # type: ignore[no-untyped-def]
            frames.append(time.perf_counter())
            return display(screen, renderable)

        app._display = composed  # type: ignore[method-assign]
        drawn: list[float] = []  # when the table drew a line (it draws only in a frame's composition)
        draw_line = ModelTable.render_line

        def render_line(self, y):  # type: ignore[no-untyped-def]
            drawn.append(time.perf_counter())
            return draw_line(self, y)

        ModelTable.render_line = render_line  # type: ignore[method-assign]

        async def press(key: str) -> tuple[float, float, float, float]:
            frames.clear()
            drawn.clear()
            k0, c0 = time.perf_counter(), time.process_time()
            await pilot.press(key)
            trip, cpu = time.perf_counter() - k0, time.process_time() - c0
            # the frame with the new rows: the first one composed after the table last drew a line
            rows = next((f for f in frames if drawn and f >= drawn[-1]), k0)
            return (frames[-1] - k0 if frames else 0.0), cpu, trip, rows - k0

        t0 = time.perf_counter()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.query_one("#models")
            while table.row_count == 0:
                await pilot.pause(0.005)
            first = time.perf_counter() - t0
            while app.loading:
                await pilot.pause(0.02)
            full = time.perf_counter() - t0
            await pilot.pause(0.2)
            idle = [await press("f12") for _ in range(8)]  # bound to nothing: the harness's own cost
            await pilot.press("slash")
            keys = [await press(ch if ch != " " else "space") for ch in "llama 3.1 in"]
            work = []
            for _ in range(12):  # the app's own work for a keystroke: filter, sort, hand the rows over
                w0 = time.perf_counter()
                app.refresh_table()
                work.append(time.perf_counter() - w0)
            shown = len(app.matches)
            await pilot.press("q")

        def ms(xs: list[float], f=statistics.median) -> float:  # type: ignore[no-untyped-def]
            return round(1e3 * f(xs), 1)

        return {"models": n, "first_paint_s": round(first, 3), "all_rows_s": round(full, 3),
                "keystroke_rows_frame_median_ms": ms([k[3] for k in keys]),
                "keystroke_rows_frame_max_ms": ms([k[3] for k in keys], max),
                "keystroke_frame_median_ms": ms([k[0] for k in keys]), "keystroke_frame_max_ms": ms([k[0] for k in keys], max),
                "keystroke_cpu_median_ms": ms([k[1] for k in keys]), "keystroke_cpu_max_ms": ms([k[1] for k in keys], max),
                "keystroke_pilot_median_ms": ms([k[2] for k in keys]), "keystroke_pilot_max_ms": ms([k[2] for k in keys], max),
                "noop_key_pilot_median_ms": ms([k[2] for k in idle]), "noop_key_cpu_median_ms": ms([k[1] for k in idle]),
                "filter_work_median_ms": ms(work), "filter_work_max_ms": ms(work, max), "rows_after_filter": shown}

    r = asyncio.run(run())
    print(f"{r['models']} models: first paint {r['first_paint_s']:.2f} s, all rows {r['all_rows_s']:.2f} s; "
          f"{r['rows_after_filter']} rows after 'llama 3.1 in'")
    print(" per keystroke            median ms   max ms")
    for label, key in (("key -> rows on screen", "keystroke_rows_frame"), ("key -> last frame", "keystroke_frame"), ("CPU time", "keystroke_cpu"),
                       ("pilot round trip", "keystroke_pilot"), ("filter + hand-over", "filter_work")):
        print(f" {label:<24} {r[key + '_median_ms']:>9} {r[key + '_max_ms']:>8}")
    print(f" a key bound to nothing: pilot {r['noop_key_pilot_median_ms']} ms, CPU {r['noop_key_cpu_median_ms']} ms")
    print(f"wrote {write_json('tui.json', r)}")


if __name__ == "__main__":
    main()
