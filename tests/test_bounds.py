"""Bad numbers at the edges (issue 22): every number read from a config.json, a GGUF, a cache entry or the
command line is checked where it enters; each bad one is one line on stderr and exit 2, never exit 1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gguf
import pytest

CONFIGS = Path(__file__).parent / "data" / "configs"


def _config() -> dict:
    cfg = json.loads((CONFIGS / "llama32_1b.json").read_text())
    return dict(cfg.get("config", cfg))


def _one_line_exit_2(result: tuple[int, str, str]) -> str:
    code, _, err = result
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("catalog: error: "), err
    return err


@pytest.mark.parametrize(("key", "raw"), [("hidden_size", "1e400"), ("max_position_embeddings", "1e400"),
                                          ("num_hidden_layers", "NaN"), ("num_attention_heads", "-Infinity"),
                                          ("num_hidden_layers", "-4"), ("hidden_size", "\"wide\""),
                                          ("intermediate_size", "1e30")])
def test_a_config_number_out_of_range_is_exit_2(tmp_path: Path, cli, key: str, raw: str) -> None:  # type: ignore[no-untyped-def]
    cfg = _config()
    text = json.dumps(cfg).replace(f"{json.dumps(key)}: {json.dumps(cfg[key])}", f"{json.dumps(key)}: {raw}")
    assert text != json.dumps(cfg)
    path = tmp_path / "config.json"
    path.write_text(text)
    _one_line_exit_2(cli("check", str(path), "--offline", "--vram", "12"))


def test_deeply_nested_json_is_exit_2_not_a_crash(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_config())[:-1] + ', "x": ' + "[" * 200000 + "]" * 200000 + "}")
    assert "not valid JSON" in _one_line_exit_2(cli("check", str(path), "--offline"))


def test_a_zero_sliding_window_period_means_every_layer_slides() -> None:
    """A GGUF's attention.sliding_window_pattern of 0 is llama.cpp's "every layer" (llama_hparams::set_swa_pattern:
    n_pattern == 0), not a division by zero."""
    from catalog.core.arch_gguf import from_gguf_metadata

    meta = {"general.architecture": "gemma3", "gemma3.block_count": 4, "gemma3.embedding_length": 256,
            "gemma3.attention.head_count": 4, "gemma3.attention.sliding_window": 1024,
            "gemma3.attention.sliding_window_pattern": 0, "gemma3.vocab_size": 32000, "gemma3.context_length": 8192}
    assert from_gguf_metadata(meta, []).swa_layers == (True, True, True, True)


def test_a_gguf_shape_key_that_is_not_a_count_is_exit_2(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_float32("llama.block_count", math.inf)
    w.add_uint32("llama.embedding_length", 2048)
    w.add_uint32("llama.attention.head_count", 32)
    w.add_uint32("llama.context_length", 4096)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    _one_line_exit_2(cli("check", str(path), "--offline"))


@pytest.mark.parametrize("args", [["--vram", "nan"], ["--vram", "inf"], ["--vram", "1e309"], ["--vram", "-3"],
                                  ["--ram", "0"], ["--ram", "nan"], ["--ram-bw", "inf"], ["--min-tps", "nan"],
                                  ["--kv-type", "q3"], ["-np", "0"], ["-ngl", "-1"]])
def test_bad_check_options_are_one_line_exit_2(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    _one_line_exit_2(cli("check", "llama3.1:8b", "--offline", *args))


def test_no_gpu_is_still_a_budget_of_zero(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("check", "llama3.1:8b", "--offline", "--vram", "0", "--ram", "32", "--json")
    assert code == 11 and json.loads(out)["quants"], err


@pytest.mark.parametrize("args", [["--link-gbps", "0"], ["--link-gbps", "nan"], ["--link-ms", "-1"],
                                  ["--host", "b:RTX 3090x99999999999999999999"], ["--host", "b:RTX 3090,0"]])
def test_bad_plan_options_are_one_line_exit_2(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    _one_line_exit_2(cli("plan", "llama3.1:8b", "--host", "a:RTX 3090", "--offline", *args))


def test_bad_search_count_is_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    for bad in ("nan", "inf", "-8B", "0"):
        _one_line_exit_2(cli("search", "--max-params", bad))


def test_debug_keeps_the_exit_code_and_the_line(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("check", "no-such-model-anywhere:1b", "--offline", "--debug")
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("catalog: error: ")


def test_a_deeply_nested_cache_entry_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.sources import cache

    monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path))
    path = Path(cache.put("hub", "owner/name", {"x": 1}))
    path.write_text("[" * 200000 + "]" * 200000)
    assert cache.get("hub", "owner/name") is None
    assert cache.keys("hub") == []


class _Trickle:
    """A hostile loopback server: /trickle sends its body a byte every 0.2 s, /pieces answers any Range with 100
    bytes, /loop redirects to itself, /stall never answers."""

    def __enter__(self) -> str:
        import threading
        import time
        from http.server import BaseHTTPRequestHandler

        from hub_server import QuietServer as _QuietServer

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/loop":  # redirects to itself for ever
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/stall":  # accepts, then says nothing
                    time.sleep(30)
                    return
                if self.path == "/trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    for _ in range(1000):
                        try:
                            self.wfile.write(b"x")
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(0.2)
                    return
                start = int(self.headers.get("Range", "bytes=0-").split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{start + 99}/100000000")
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b"\0" * 100)

        self.httpd = _QuietServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_trickling_body_is_cut_off_at_the_request_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timeout bounds the whole answer, not each read: 1 byte every 0.2 s with a 1 s timeout ends in ~1 s."""
    import time

    from catalog.errors import RemoteUnavailable
    from catalog.sources.http import client, fetch_capped

    monkeypatch.setenv("LLM_CATALOG_HTTP_TIMEOUT", "1")
    with _Trickle() as url, client() as c:
        t0 = time.monotonic()
        with pytest.raises(RemoteUnavailable, match="in full within 1 s"):
            fetch_capped(c, url + "/trickle", 1 << 20)
        assert time.monotonic() - t0 < 3


def test_a_server_answering_ranges_in_small_pieces_is_given_up_on() -> None:
    """100 bytes an answer: the window the reader asks for doubles from 1 MiB each time whatever came back, so
    it passes the 64 MiB header limit after seven requests and stops with one clear error."""
    from catalog.errors import BadModelFile
    from catalog.sources.gguf_remote import RangeReader
    from catalog.sources.http import client

    with _Trickle() as url, client() as c:
        r = RangeReader(c, url + "/pieces")
        with pytest.raises(BadModelFile, match="read limit"):
            for _ in range(1000):
                r._fetch(len(r.buf) + 1)
        assert r.requests <= 8


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="FIFOs are POSIX")
def test_devices_fifos_and_symlinks_to_them_are_refused_not_read(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A FIFO never blocks, /dev/zero is never read: a config, a GGUF, a tokenizer_config.json, a cache entry and
    a hosts file that are not regular files are refused (or, for the optional ones, ignored) at once."""
    import os
    import time

    from catalog.sources import cache

    os.mkfifo(tmp_path / "m.gguf")
    os.symlink("/dev/zero", tmp_path / "config.json")
    os.mkfifo(tmp_path / "hosts.toml")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(_config()))
    os.symlink("/dev/zero", folder / "tokenizer_config.json")
    t0 = time.monotonic()
    _one_line_exit_2(cli("check", str(tmp_path / "m.gguf"), "--offline"))
    _one_line_exit_2(cli("check", str(tmp_path / "config.json"), "--offline"))
    _one_line_exit_2(cli("plan", "llama3.1:8b", "--hosts-file", str(tmp_path / "hosts.toml"), "--offline"))
    _one_line_exit_2(cli("plan", "llama3.1:8b", "--hosts-file", "/dev/zero", "--offline"))
    code, out, err = cli("check", str(folder), "--offline", "--vram", "12", "--json")
    assert code == 0 and json.loads(out)["quants"], err  # the template is unknown, the answer still comes out
    os.environ["LLM_CATALOG_CACHE_DIR"] = str(tmp_path / "cache")
    try:
        path = Path(cache.put("hub", "a/b@main", {"v": 1}))
        path.unlink()
        os.symlink("/dev/zero", path)
        assert cache.get("hub", "a/b@main") is None and cache.keys("hub") == []
    finally:
        del os.environ["LLM_CATALOG_CACHE_DIR"]
    assert time.monotonic() - t0 < 10


def test_export_into_a_file_is_exit_2(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "a-file"
    target.write_text("x")
    assert "is a file, not a folder" in _one_line_exit_2(cli("export", "--out", str(target)))


def test_a_vocabulary_of_millions_of_special_tokens_is_not_counted_with() -> None:
    """Each special token is searched for in every text counted: four million of them made one template count
    take minutes (issue 22); past MAX_SPECIAL the vocabulary is not used and the template stays unmeasured."""
    import time

    from catalog.sources.vocab import CONTROL, MAX_SPECIAL, vocab_from_metadata

    n = MAX_SPECIAL + 1
    meta = {"tokenizer.ggml.tokens": [f"<c{i}>" for i in range(n)], "tokenizer.ggml.token_type": [CONTROL] * n,
            "tokenizer.ggml.model": "llama"}
    t0 = time.monotonic()
    assert vocab_from_metadata(meta) is None
    assert time.monotonic() - t0 < 1
    few = {**meta, "tokenizer.ggml.tokens": meta["tokenizer.ggml.tokens"][:1000],
           "tokenizer.ggml.token_type": [CONTROL] * 1000}
    assert vocab_from_metadata(few) is not None


def test_a_vocabulary_of_millions_of_tokens_is_never_held(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Four million token strings took 500 MiB to hold (issue 22): past MAX_VOCAB a GGUF's vocabulary is not read
    for counting at all, and metadata holding one is not used."""
    from gguf_files import write_small_llama

    from catalog.sources import tokenizer, vocab

    meta = {"tokenizer.ggml.tokens": [f"t{i}" for i in range(1001)], "tokenizer.ggml.model": "llama"}
    assert vocab.vocab_from_metadata(meta) is not None
    monkeypatch.setattr(vocab, "MAX_VOCAB", 1000)
    assert vocab.vocab_from_metadata(meta) is None

    path = write_small_llama(tmp_path / "m.gguf", n_vocab=1001, chat_template="{{ messages[0]['content'] }}")
    from catalog.sources.local import load_gguf

    spec, _ = load_gguf(str(path))
    read: list[str] = []
    monkeypatch.setattr(tokenizer, "gguf_vocab", lambda p: read.append(p))
    monkeypatch.setattr(tokenizer, "MAX_VOCAB", 1000)
    tokenizer.counter_for(spec)
    assert read == []
    monkeypatch.setattr(tokenizer, "MAX_VOCAB", 1001)
    tokenizer.counter_for(spec)
    assert read == [str(path)]


@pytest.mark.parametrize("path", ["/loop", "/stall"])
def test_redirect_loops_and_silent_servers_are_one_error_within_the_timeout(monkeypatch: pytest.MonkeyPatch,
                                                                            path: str) -> None:
    import time

    from catalog.errors import RemoteUnavailable
    from catalog.sources.http import client, fetch_capped

    monkeypatch.setenv("LLM_CATALOG_HTTP_TIMEOUT", "1")
    with _Trickle() as url, client() as c:
        t0 = time.monotonic()
        with pytest.raises(RemoteUnavailable):
            fetch_capped(c, url + path, 1 << 20)
        assert time.monotonic() - t0 < 3
