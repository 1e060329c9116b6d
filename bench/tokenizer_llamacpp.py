"""Chat-template token counts: our llama.cpp-style SentencePiece tokenizer
(catalog.sources.tokenizer) against real llama.cpp (llama-cpp-python, vocab_only) and, where
given, Hugging Face's tokenizer.json (the tokenizers library) and mistral-common's reference
chat encoder, on the prompts the sandbox renders from each template.

    python bench/tokenizer_llamacpp.py CASES.json [--json out.json]

CASES.json: a list of {"name", "gguf" (a vocab GGUF) | "spm" (a tokenizer.model, with "folder" for
its tokenizer_config.json) | "tokenizer_json" alone (with "add_space_prefix"), "config" (a
config.json, for the last two), "template" (a Jinja file, or a data/templates key), "bos", "eos",
"tokenizer_json"? (also counted with the tokenizers library), "mistral_common"? (a Mistral
tokenizer file: also counted with mistral-common's reference chat encoder), "quicktok"? (a BPE
vocabulary: also counted with that quicktok encoding alone, as a spec without its GGUF is)}. The tokenizer files are
read from where they lie (a llama.cpp checkout, the llama-cpp-python sdist, a Hub snapshot), never
copied into this repo. Needs llama-cpp-python (a bench venv: it builds llama.cpp, ~6 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from catalog.sources.templates import measure  # noqa: E402
from catalog.sources.templates import sandbox as templates  # noqa: E402
from catalog.sources.vocab import added_tokens as _added_tokens  # noqa: E402
from catalog.sources.vocab import gguf_vocab  # noqa: E402

CONVERSATIONS = {
    "one user turn, generation prompt": ([("user", measure.SAMPLE_USER[0])], True),
    "user, assistant, user": ([("user", measure.SAMPLE_USER[0]), ("assistant", measure.SAMPLE_ASSISTANT),
                               ("user", measure.SAMPLE_USER[1])], False),
    "user, assistant": ([("user", measure.SAMPLE_USER[0]), ("assistant", measure.SAMPLE_ASSISTANT)], False),
}


def _template(ref: str) -> str:
    if os.path.isfile(ref):
        return Path(ref).read_text()
    return json.loads((HERE.parent / "data" / "templates" / f"{ref}.json").read_text())["template"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--json")
    args = ap.parse_args()
    from llama_cpp import Llama

    rows = []
    tmp = Path(tempfile.mkdtemp())
    for case in json.loads(Path(args.cases).read_text()):
        path = case.get("gguf")
        if not path:
            from synth_gguf import vocab_gguf

            src = Path(case.get("spm") or case["tokenizer_json"])  # a SentencePiece-style tokenizer.json: Gemma's
            path = str(vocab_gguf(src, tmp, Path(case["config"]), case.get("add_space_prefix"),
                                  _added_tokens(case["folder"]) if case.get("spm") else None, case.get("model_name")))
        ours = gguf_vocab(path)
        assert ours is not None, f"{path}: not a vocabulary the product tokenizes"
        quick = None
        if case.get("quicktok"):  # also quicktok's encoding alone, what a spec without its GGUF counts with
            import quicktok

            quick = quicktok.get_encoding(case["quicktok"])
        real = Llama(model_path=path, vocab_only=True, verbose=False)
        hf = None
        if case.get("tokenizer_json"):
            from tokenizers import Tokenizer

            hf = Tokenizer.from_file(case["tokenizer_json"])
        src = _template(case["template"])
        for label, (turns, gen) in CONVERSATIONS.items():
            msgs = [{"role": r, "content": c} for r, c in turns]
            text = templates.render_here(src, msgs, case.get("bos", ""), case.get("eos", ""), gen).text
            assert text is not None, (case["name"], label)
            want = real.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            got = ours.encode(text)
            row = {"case": case["name"], "conversation": label, "llama.cpp": len(want), "ours": len(got),
                   "same_ids": got == want, "text": text}
            if quick is not None:
                row["quicktok"] = len(quick.encode(text, allowed_special="all"))
            if hf is not None:
                row["tokenizer.json"] = len(hf.encode(text, add_special_tokens=False).ids)
            if case.get("mistral_common"):
                from mistral_common.protocol.instruct.messages import AssistantMessage, UserMessage
                from mistral_common.protocol.instruct.request import InstructRequest
                from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

                # the instruct encoder itself: the request validator refuses a conversation ending
                # with the assistant's turn
                mt = MistralTokenizer.from_file(case["mistral_common"])
                cls = {"user": UserMessage, "assistant": AssistantMessage}
                req = InstructRequest(messages=[cls[r](content=c) for r, c in turns])
                row["mistral_common"] = len(mt.instruct_tokenizer.encode_instruct(req).tokens)
            rows.append(row)
    cols = ["case", "conversation", "llama.cpp", "ours", "same_ids", "quicktok", "tokenizer.json", "mistral_common"]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r.get(c, "")) for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
