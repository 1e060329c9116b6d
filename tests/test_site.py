"""The reference site (examples/site/build.py) in a real browser (issue 24): headless Debian Chromium, driven by
Selenium, opens pages built from an export, picks a GPU, checks the verdict shown against `catalog check`, clicks
a copy button and follows a glossary link. Skipped only where Chromium or its driver is not installed (.ci/run
installs both)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
MODELS = ("llama-3.1-8b-instruct", "llama-3.1-8b", "qwen3-30b-a3b")

pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="Debian's chromium and chromium-driver are not installed "
                                       "(apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("site")
    env = {**os.environ, "XDG_CACHE_HOME": str(base / "cache"), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", "import sys; from catalog.cli.export import export; "
                    f"export(sys.argv[1], only={MODELS!r})", str(base / "export")], check=True, env=env, cwd=ROOT,
                   timeout=300)
    subprocess.run([sys.executable, str(ROOT / "examples" / "site" / "build.py"), str(base / "export"),
                    str(base / "out")], check=True, env=env, timeout=120, capture_output=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(base / "out")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _wait(driver: object, predicate: object, timeout: float = 10) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(predicate)


def test_pick_a_gpu_copy_a_command_follow_a_glossary_link(site: str, browser, cli) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{site}/models/llama-3.1-8b-instruct.html")
    _wait(browser, lambda d: d.find_element(By.ID, "gpu").get_attribute("data-ready") == "1")
    picker = Select(browser.find_element(By.ID, "gpu"))
    labels = [o.text for o in picker.options]
    assert "12 GB NVIDIA (RTX 3060)" in labels  # read from hardware.json in the browser
    picker.select_by_visible_text("12 GB NVIDIA (RTX 3060)")
    shown_quant = browser.find_element(By.ID, "verdict-quant").text
    shown = browser.find_element(By.ID, "verdict").get_attribute("data-verdict")

    code, out, _ = cli("check", "llama-3.1-8b-instruct", "--gpu", "RTX 3060 12GB", "--ram", "32", "--offline",
                       "--json")
    want = json.loads(out)
    row = next(r for r in want["quants"] if r["quant"] == want["recommended"])
    assert (shown_quant, shown) == (want["recommended"], row["verdict"])
    assert browser.find_element(By.ID, "cmd-ollama").text == row["commands"]["ollama"]

    picker.select_by_visible_text("8 GB NVIDIA (RTX 4060)")  # another GPU, its own answer on the same page
    code, out, _ = cli("check", "llama-3.1-8b-instruct", "--gpu", "RTX 4060", "--ram", "32", "--offline", "--json")
    small = json.loads(out)
    small_row = next(r for r in small["quants"] if r["quant"] == small["recommended"])
    assert browser.find_element(By.ID, "verdict-quant").text == small["recommended"]
    assert browser.find_element(By.ID, "verdict").get_attribute("data-verdict") == small_row["verdict"]

    browser.find_element(By.CSS_SELECTOR, "button[data-copy='cmd-llama_cpp']").click()
    command = browser.find_element(By.ID, "cmd-llama_cpp").text
    _wait(browser, lambda d: d.find_element(By.ID, "copied").text == f"Copied: {command}")
    assert command.startswith("llama-server ")

    browser.find_element(By.LINK_TEXT, "Aligned model (instruct, chat)").click()
    _wait(browser, lambda d: d.title.startswith("Aligned model"))
    assert "supervised fine-tuning" in browser.find_element(By.CLASS_NAME, "definition").text
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#models a")]
    assert any(h.endswith("/models/llama-3.1-8b-instruct.html") for h in links)
    shots = os.environ.get("SITE_SCREENSHOTS")
    if shots:
        browser.save_screenshot(str(Path(shots) / "glossary-term.png"))


def test_the_index_follows_the_picked_gpu_and_the_glossary_links_pairs(site: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{site}/index.html")
    _wait(browser, lambda d: d.find_element(By.ID, "gpu").get_attribute("data-ready") == "1")
    Select(browser.find_element(By.ID, "gpu")).select_by_visible_text("80 GB NVIDIA (H100 SXM5)")
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-id='qwen3-30b-a3b']")
    assert row.find_element(By.CLASS_NAME, "best-verdict").text == "runs on the GPU"
    browser.get(f"{site}/glossary/base-model.html")
    pair = browser.find_element(By.CSS_SELECTOR, "#pairs li").text
    assert "Llama 3.1 8B" in pair and "Instruct" in pair
    browser.get(f"{site}/glossary/kv-cache.html")
    assert "GiB" in browser.find_element(By.CSS_SELECTOR, "table.example").text
    shots = os.environ.get("SITE_SCREENSHOTS")
    if shots:
        browser.get(f"{site}/models/llama-3.1-8b-instruct.html")
        _wait(browser, lambda d: d.find_element(By.ID, "gpu").get_attribute("data-ready") == "1")
        Select(browser.find_element(By.ID, "gpu")).select_by_visible_text("12 GB NVIDIA (RTX 3060)")
        browser.save_screenshot(str(Path(shots) / "model-page.png"))
