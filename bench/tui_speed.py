"""`catalog tui` with 500+ models: time to first paint and per-keystroke filter latency.

The 164 catalog entries are repeated under new ids until there are N (default 656), as the
catalog plus a cache of looked-up repos would be. Hardware: a named RTX 3060 profile.
- first paint: from `App.run_test` entering to the first rows on screen (the worker's first batch);
- all rows: until every model is estimated (the worker fills the table as it goes);
- keystroke: one character typed into the search box, until the table has been rebuilt.

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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 656
    base = all_specs()
    specs = [s._replace(id=f"{s.id}~{i // len(base)}" if i >= len(base) else s.id) for i, s in
             zip(range(n), (base * (n // len(base) + 1)), strict=False)]

    async def run() -> dict:
        app = CatalogApp(hardware.profile(["RTX 3060"], 24), specs)
        t0 = time.perf_counter()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.query_one("#models")
            while table.row_count == 0:
                await pilot.pause(0.005)
            first = time.perf_counter() - t0
            while app.loading:
                await pilot.pause(0.02)
            full = time.perf_counter() - t0
            await pilot.press("slash")
            keys, work = [], []
            for ch in "llama 3.1 instruct"[:12]:
                k0 = time.perf_counter()
                await pilot.press(ch if ch != " " else "space")
                keys.append(time.perf_counter() - k0)
                # the app's own work for that keystroke: filter, sort, rebuild the table's first window
                w0 = time.perf_counter()
                app.refresh_table()
                work.append(time.perf_counter() - w0)
            shown = len(app.matches)
            await pilot.press("q")
        return {"models": n, "first_paint_s": round(first, 3), "all_rows_s": round(full, 3),
                "keystroke_median_ms": round(1e3 * statistics.median(keys), 1),
                "keystroke_max_ms": round(1e3 * max(keys), 1),
                "filter_work_median_ms": round(1e3 * statistics.median(work), 1),
                "filter_work_max_ms": round(1e3 * max(work), 1), "rows_after_filter": shown}

    r = asyncio.run(run())
    print(f"{r['models']} models: first paint {r['first_paint_s']:.2f} s, all rows {r['all_rows_s']:.2f} s, "
          f"keystroke (pilot round trip) median {r['keystroke_median_ms']} ms (max {r['keystroke_max_ms']} ms), "
          f"the app's filter work median {r['filter_work_median_ms']} ms (max {r['filter_work_max_ms']} ms), "
          f"{r['rows_after_filter']} rows after 'llama 3.1 in'")
    print(f"wrote {write_json('tui.json', r)}")


if __name__ == "__main__":
    main()
