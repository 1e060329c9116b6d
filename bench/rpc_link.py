"""Measure what llama.cpp's RPC decode sends over the network, against `catalog.core.plan_rpc.rpc_link_seconds`.

Each `ggml-rpc-server` (one CPU device each, on 127.0.0.1) sits behind a small TCP proxy, also on
127.0.0.1, that counts the bytes in each direction and can hold every chunk back for a fixed delay (a
link's one-way latency). `llama-completion --rpc` (a head without a GPU, as `catalog plan laptop:cpu`)
generates N tokens twice, N1 and N2; the difference between the two runs is the cost of N2 - N1 decoded
tokens alone (the prompt and the load cancel out). Two things are compared with the plan's link model:

- bytes a decoded token sends and receives, summed over the workers;
- legs: how much a token's time grows per millisecond of one-way delay, i.e. how many network legs lie
  on the token's critical path.

Usage: python bench/rpc_link.py BIN_DIR [--workers 2] [--delay-ms 20] [CONFIG]
Everything stays on the loopback interface, and every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from report import write_json  # noqa: E402
from synth_gguf import write  # noqa: E402

from catalog.core.arch import from_hf_config  # noqa: E402
from catalog.core.memory import CTX_PAD, pad  # noqa: E402
from catalog.core.plan_rpc import rpc_link_seconds  # noqa: E402

EVAL_RE = re.compile(r"eval time =\s+([\d.]+) ms /\s+(\d+) runs")


class Proxy:
    """127.0.0.1:listen -> 127.0.0.1:target, counting bytes each way, each chunk delayed by `delay_s`."""

    def __init__(self, target: int, delay_s: float) -> None:
        self.target, self.delay_s = target, delay_s
        self.up = self.down = 0  # head -> server, server -> head
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        import queue

        q: queue.Queue = queue.Queue()

        def sender() -> None:
            while True:
                item = q.get()
                if item is None:
                    break
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    dst.sendall(data)
                except OSError:
                    break

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        while not self.stop.is_set():
            try:
                data = src.recv(1 << 20)
            except OSError:
                break
            if not data:
                break
            if up:
                self.up += len(data)
            else:
                self.down += len(data)
            q.put((time.monotonic() + self.delay_s, data))
        q.put(None)
        t.join(timeout=5)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(bindir: Path, gguf: Path, workers: int, ctx: int, n_predict: int, delay_s: float) -> dict:
    ports = [free_port() for _ in range(workers)]
    servers = [subprocess.Popen([str(bindir / "ggml-rpc-server"), "--host", "127.0.0.1", "--port", str(p)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]
    proxies: list[Proxy] = []
    try:
        time.sleep(1.0)
        proxies = [Proxy(p, delay_s) for p in ports]
        cmd = [str(bindir / "llama-completion"), "-m", str(gguf), "--rpc",
               ",".join(f"127.0.0.1:{x.port}" for x in proxies), "-ngl", "all", "-c", str(ctx), "-fa", "on",
               "-n", str(n_predict), "-no-cnv", "-p", "hello", "-fit", "off", "-t", "2", "--temp", "0",
               "--ignore-eos", "-ts", ",".join(["1"] * workers)]
        before = [(x.up, x.down) for x in proxies]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        log = proc.stdout + proc.stderr
        evals = EVAL_RE.findall(log)
        # the second "eval time" line is the generation's (the first is the prompt's)
        ms, runs = (float(evals[-1][0]), int(evals[-1][1])) if evals else (0.0, 0)
        up = sum(x.up - b[0] for x, b in zip(proxies, before, strict=True))
        down = sum(x.down - b[1] for x, b in zip(proxies, before, strict=True))
        return {"rc": proc.returncode, "n_predict": n_predict, "eval_ms": ms, "eval_runs": runs, "up": up, "down": down}
    finally:
        for x in proxies:
            x.close()
        for s in servers:
            s.kill()
            s.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bindir", type=Path)
    ap.add_argument("config", nargs="?", default="llama32_1b.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--ctx", type=int, default=4096)
    args = ap.parse_args()
    cfg = json.loads((HERE / "configs" / args.config).read_text())
    cfg = cfg.get("config", cfg)
    a = from_hf_config(cfg)
    n1, n2 = 8, 40
    with tempfile.TemporaryDirectory() as tmp:
        gguf = Path(tmp) / "m.gguf"
        write(cfg, "Q4_K_M", gguf)
        runs = {(d, n): run(args.bindir, gguf, args.workers, args.ctx, n, d / 1e3)
                for d in (0.0, args.delay_ms) for n in (n1, n2)}
    tokens = n2 - n1
    bytes_tok = (runs[(0.0, n2)]["up"] + runs[(0.0, n2)]["down"] - runs[(0.0, n1)]["up"] - runs[(0.0, n1)]["down"]) \
        / tokens
    up_tok = (runs[(0.0, n2)]["up"] - runs[(0.0, n1)]["up"]) / tokens
    down_tok = (runs[(0.0, n2)]["down"] - runs[(0.0, n1)]["down"]) / tokens
    per_tok_ms = {d: runs[(d, n2)]["eval_ms"] / max(1, runs[(d, n2)]["eval_runs"]) for d in (0.0, args.delay_ms)}
    legs_measured = (per_tok_ms[args.delay_ms] - per_tok_ms[0.0]) / args.delay_ms
    # the plan's model for the same set-up: no GPU on the head, `workers` workers of one device each,
    # the mask over the cells in use (a short conversation: one 256-cell block)
    cells = pad(n2 + 8, CTX_PAD)
    model_s = rpc_link_seconds(a.n_embd, cells, args.workers, args.workers, 8.0, 0.0, logits=a.n_vocab)
    model_bytes = model_s * 8e9 / 8
    model_legs = rpc_link_seconds(a.n_embd, cells, args.workers, args.workers, 1e12, 1.0, logits=a.n_vocab) * 1e3
    doc = {"config": args.config, "workers": args.workers, "delay_ms": args.delay_ms, "runs": {
        f"{d}ms_{n}": r for (d, n), r in runs.items()},
        "measured": {"bytes_per_token": bytes_tok, "up_per_token": up_tok, "down_per_token": down_tok,
                     "ms_per_token": per_tok_ms, "legs": legs_measured},
        "model": {"bytes_per_token": model_bytes, "legs": model_legs}}
    print(f"{'':28} {'llama.cpp':>12} {'model':>12}")
    print(f"{'bytes a decoded token':28} {bytes_tok:12.0f} {model_bytes:12.0f}   (up {up_tok:.0f}, down {down_tok:.0f})")
    print(f"{'legs on its critical path':28} {legs_measured:12.2f} {model_legs:12.2f}")
    print(f"ms a token: {per_tok_ms}")
    print("wrote", write_json(f"rpc_link_{args.workers}w.json", doc))


if __name__ == "__main__":
    main()
