"""Remote GGUF headers over HTTP Range against a loopback server serving real GGUF files."""

from __future__ import annotations

import struct
from pathlib import Path

import httpx
import pytest
from gguf_files import write_small_llama
from hub_server import HubServer

from catalog.errors import BadModelFile, GatedModel, ModelNotFound, RemoteUnavailable
from catalog.sources import gguf_remote
from catalog.sources.gguf_reader import parse


def _local_header(path: Path) -> object:
    data = path.read_bytes()
    return parse(lambda off, n: data[off:off + n], len(data))


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    small = write_small_llama(tmp_path / "small.gguf")
    big = write_small_llama(tmp_path / "big.gguf", n_vocab=200_000, n_embd=32, n_layer=1)
    with HubServer() as hub:
        hub.add("me/tiny-GGUF", {}, {"small.gguf": small.read_bytes(), "big.gguf": big.read_bytes(),
                                     "junk.gguf": b"NOTAGGUF" * 100})
        hub.add("org/gated-GGUF", {}, {"small.gguf": small.read_bytes()}, gated=True)
        yield hub, small, big


def _url(hub: HubServer, repo: str, f: str) -> str:
    return f"{hub.url}/{repo}/resolve/main/{f}"


def test_header_equals_the_local_parse_and_reads_only_the_header(served) -> None:  # type: ignore[no-untyped-def]
    hub, small, big = served
    with httpx.Client() as c:
        h, reader = gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "big.gguf"))
    local = _local_header(big)
    assert h == local
    assert reader.size == big.stat().st_size
    # a 200k-token vocabulary makes a ~3 MiB header: windows of 1, 2, 4 MiB, never the tensor data
    assert reader.requests <= 3
    assert reader.downloaded < h.data_offset + (4 << 20)
    assert all("bytes=" in e["headers"].get("Range", "") for e in hub.requests_to("big.gguf"))


def test_small_file_takes_one_request(served) -> None:  # type: ignore[no-untyped-def]
    hub, small, _ = served
    with httpx.Client() as c:
        h, reader = gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "small.gguf"))
    assert reader.requests == 1
    assert h == _local_header(small)


def test_server_that_ignores_range_is_read_only_as_far_as_needed(served) -> None:  # type: ignore[no-untyped-def]
    hub, _, big = served
    hub.ignore_range = True
    with httpx.Client() as c:
        h, reader = gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "big.gguf"))
    assert h == _local_header(big)
    assert len(reader.buf) < h.data_offset + (4 << 20) < big.stat().st_size + (4 << 20)


def test_read_cap_stops_a_huge_header(served) -> None:  # type: ignore[no-untyped-def]
    hub, _, _ = served
    with httpx.Client() as c, pytest.raises(BadModelFile, match="read limit"):
        gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "big.gguf"), max_total=2 << 20)


def test_not_a_gguf_and_truncated(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub, small, _ = served
    data = small.read_bytes()
    hub.add("me/cut-GGUF", {}, {"cut.gguf": data[: len(data) // 50], "past.gguf": data[:-64]})
    with httpx.Client() as c:
        with pytest.raises(BadModelFile, match="bad magic"):
            gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "junk.gguf"))
        with pytest.raises(BadModelFile, match="truncated|past"):
            gguf_remote.read_header(c, _url(hub, "me/cut-GGUF", "cut.gguf"))
        with pytest.raises(BadModelFile, match="past the end"):
            gguf_remote.read_header(c, _url(hub, "me/cut-GGUF", "past.gguf"))


def test_hostile_header_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    hub, _, _ = served
    hostile = b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1)  # 2^40 tensors
    hub.add("me/evil-GGUF", {}, {"evil.gguf": hostile + b"\0" * 64})
    with httpx.Client() as c, pytest.raises(BadModelFile, match="tensor count"):
        gguf_remote.read_header(c, _url(hub, "me/evil-GGUF", "evil.gguf"))


def test_http_failures_map_to_our_errors(served) -> None:  # type: ignore[no-untyped-def]
    hub, _, _ = served
    with httpx.Client() as c:
        with pytest.raises(GatedModel):
            gguf_remote.read_header(c, _url(hub, "org/gated-GGUF", "small.gguf"))
        with pytest.raises(ModelNotFound):
            gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "absent.gguf"))
        hub.status_for["/me/tiny-GGUF/resolve"] = 500
        with pytest.raises(RemoteUnavailable, match="HTTP 500"):
            gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "small.gguf"))
    with httpx.Client() as c, pytest.raises(RemoteUnavailable, match="ConnectError"):
        gguf_remote.read_header(c, "http://127.0.0.1:9/x.gguf")


def test_rate_limits_are_waited_out_then_reported(served) -> None:  # type: ignore[no-untyped-def]
    hub, small, _ = served
    hub.fail_next["/me/tiny-GGUF/resolve"] = [429, 503]
    with httpx.Client() as c:
        h, reader = gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "small.gguf"))
    assert h == _local_header(small) and reader.requests == 3
    hub.fail_next["/me/tiny-GGUF/resolve"] = [429, 429, 429]
    with httpx.Client() as c, pytest.raises(RemoteUnavailable, match="HTTP 429"):
        gguf_remote.read_header(c, _url(hub, "me/tiny-GGUF", "small.gguf"))


def test_split_names() -> None:
    from catalog.core.ggml import split_parts, split_stem

    assert split_parts("Q4_K_M/Llama-3.1-70B-Q4_K_M-00001-of-00002.gguf") == (1, 2)
    assert split_parts("model-Q4_K_M.gguf") is None
    assert split_stem("Q4_K_M/Llama-3.1-70B-Q4_K_M-00002-of-00002.gguf") == "Q4_K_M/Llama-3.1-70B-Q4_K_M"
    assert split_stem("model-Q4_K_M.gguf") == "model-Q4_K_M.gguf"
