"""SVG snapshots of `catalog tui` at a fixed 120x32 terminal (pytest-textual-snapshot): the
catalog table, a filter with "fits only", and a model's detail screen. A change in what the
screens show fails here; `pytest --snapshot-update` records the new look after a deliberate one.

Textual's SVG output changes between its releases, so the test extra pins the Textual these
were recorded with."""

from __future__ import annotations

from typing import Any

import pytest

import hardware
from catalog.sources.bundled import entries, to_spec
from tui.app import CatalogApp

IDS = ("llama-3.1-8b-instruct", "llama-3.1-8b", "qwen2.5-7b-instruct", "qwen2.5-72b-instruct",
       "meta-llama-3.1-8b-instruct-abliterated", "smollm2-360m-instruct", "mistral-7b-instruct-v0.3",
       "gemma-2-9b-it")
SIZE = (120, 32)


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The look must not depend on the environment the suite runs in (NO_COLOR, Textual's own knobs)."""
    for var in ("NO_COLOR", "TEXTUAL_COLOR_SYSTEM", "TEXTUAL_THEME", "TEXTUAL_ANIMATIONS", "TEXTUAL_FPS"):
        monkeypatch.delenv(var, raising=False)


def _app() -> CatalogApp:
    specs = [to_spec(e) for e in entries() if e["id"] in IDS]
    return CatalogApp(hardware.profile(["RTX 3060"], 24), specs)


async def _loaded(pilot: Any) -> None:
    for _ in range(500):
        if not pilot.app.loading:
            break
        await pilot.pause(0.02)
    await pilot.pause()


def test_table(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_loaded)


def test_filter_and_fits_only(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("slash", *"llama", "enter", "f")

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_detail(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("slash", *"qwen2.5 7b", "enter", "home", "enter")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)
