"""Our llama.cpp-style SentencePiece tokenizer (catalog.sources.vocab.Vocab) against
llama.cpp's own tokenizer test vectors: models/ggml-vocab-*.gguf with their .inp (texts) and .out
(the token ids llama.cpp's test-tokenizer-0 wrote) files.

    python bench/tokenizer_vectors.py LLAMA_CPP/models [--json out.json]

The vocabulary files ship in llama.cpp's repository and in the llama-cpp-python sdist
(vendor/llama.cpp/models); they are read from there, never copied into this repo. Only the
SentencePiece ("llama") vocabularies, and the byte-level BPE ones whose base vocabulary and
pre-tokenizer a quicktok encoding has (llama-bpe, qwen2), are ours to check; the others are
listed as skipped.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from catalog.sources.vocab import gguf_vocab  # noqa: E402

SEP = "\n__ggml_vocab_test__\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    for path in sorted(glob.glob(os.path.join(args.models, "ggml-vocab-*.gguf"))):
        name = os.path.basename(path)[len("ggml-vocab-"):-len(".gguf")]
        if not os.path.exists(path + ".inp"):
            rows.append({"vocab": name, "status": "no test vectors"})
            continue
        t = time.perf_counter()
        vocab = gguf_vocab(path)
        load_s = time.perf_counter() - t
        if vocab is None:
            rows.append({"vocab": name, "status": "skipped (neither SentencePiece nor a quicktok BPE vocabulary)"})
            continue
        texts = open(path + ".inp", encoding="utf-8").read().split(SEP)
        expect = open(path + ".out", encoding="utf-8").read().split("\n")
        ok = bad = 0
        t = time.perf_counter()
        first_bad = None
        for text, line in zip(texts, expect, strict=False):
            want = [int(x) for x in line.split()]
            # test-tokenizer-0 tokenizes with add_special=false, parse_special=false
            got = vocab.encode(text, parse_special=False)
            if got == want:
                ok += 1
            else:
                bad += 1
                first_bad = first_bad or {"text": text[:80], "want": want[:16], "got": got[:16]}
        rows.append({"vocab": name, "kind": "quicktok BPE" if vocab.bpe else "SentencePiece",
                     "tokens": len(vocab.tokens), "cases": ok + bad, "match": ok, "mismatch": bad,
                     "load_s": round(load_s, 3), "encode_ms": round((time.perf_counter() - t) * 1000, 1),
                     **({"first_mismatch": first_bad} if first_bad else {})})
    print(f"{'vocab':<16} {'tokens':>7} {'cases':>6} {'match':>6} {'load s':>7} {'encode ms':>10}")
    for r in rows:
        if "cases" in r:
            print(f"{r['vocab']:<16} {r['tokens']:>7} {r['cases']:>6} {r['match']:>6} {r['load_s']:>7} {r['encode_ms']:>10}")
        else:
            print(f"{r['vocab']:<16} {r['status']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
