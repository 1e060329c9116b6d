"""`catalog probe` end to end against a real llama.cpp server (llama-cpp-python's OpenAI-compatible
server) on a synthetic GGUF: the real tensor table of SmolLM2-135M-Instruct, zero weights.

It checks the plumbing against a real runtime (model listing, /v1/chat/completions, the chat
template the server applies, timeouts), not a model's alignment: a zero-weight model answers
noise, which the rules must read as "not a refusal".

Needs llama-cpp-python[server] in a bench environment outside the repo (it builds llama.cpp
from source, ~6 min):
    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install "llama-cpp-python[server]"
Usage: python bench/probe_e2e.py [/tmp/bench-venv/bin/python]   (writes bench/out/probe_e2e.json)
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import write_json  # noqa: E402
from synth_gguf import write as write_synth  # noqa: E402

from catalog.sources.bundled import entries  # noqa: E402


def main() -> None:
    server_python = sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench-venv/bin/python"
    entry = next(e for e in entries() if e["id"] == "smollm2-135m-instruct")
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "smollm2-135m-f16.gguf"
        template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
        # F16: llama.cpp 0.3.x crashes (a GPF in its AMX repacked Q8_0 kernels) on all-zero Q8_0 weights
        write_synth(entry["config"], "F16", model, finetune="Instruct", chat_template=template)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        srv = subprocess.Popen([server_python, "-m", "llama_cpp.server", "--model", str(model), "--port", str(port),
                                "--n_ctx", "2048", "--model_alias", "smol"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        try:
            url = f"http://127.0.0.1:{port}/v1"
            deadline = time.monotonic() + 300  # loading repacks every tensor on CPU: tens of seconds
            while True:
                try:
                    urllib.request.urlopen(f"{url}/models", timeout=2).read()
                    break
                except OSError:
                    if srv.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the llama-cpp-python server did not start") from None
                    time.sleep(1)
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "catalog", "probe", "smol", "--endpoint", url, "--json"],
                               capture_output=True, text=True, cwd=ROOT, timeout=600)
            secs = time.perf_counter() - t0
        finally:
            srv.terminate()
            srv.wait(timeout=30)
    if r.returncode != 0:
        raise SystemExit(f"probe failed ({r.returncode}): {r.stderr.strip()}")
    doc = json.loads(r.stdout)
    print(f"llama-cpp-python server on a zero-weight SmolLM2-135M F16, {len(doc['replies'])} prompts in {secs:.1f} s")
    print(f"{'set':8} {'prompt':14} {'refused':8} reply")
    for rep in doc["replies"]:
        print(f"{rep['set']:8} {rep['id']:14} {str(rep['refused']):8} {rep['reply'][:50]!r}")
    print(f"api {doc['api']}, refusal rate {doc['refusal_rate']}, controls {doc['control_refusal_rate']}: "
          f"{doc['reading']}")
    path = write_json("probe_e2e.json", {"seconds": round(secs, 2), "api": doc["api"],
                                         "refusal_rate": doc["refusal_rate"],
                                         "control_refusal_rate": doc["control_refusal_rate"],
                                         "replies": [{k: r[k] for k in ("set", "id", "refused", "reply")}
                                                     for r in doc["replies"]]})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
