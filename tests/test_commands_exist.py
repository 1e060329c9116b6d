"""Every command the catalog prints fetches a file or tag that exists: each `-hf REPO:QUANT`, `hf.co/REPO:QUANT`
and `lms get https://huggingface.co/REPO@QUANT` names a file in that repo's recorded list, each `ollama run
LIBRARY:TAG` a tag of the recorded library; a quantization with neither says so instead of guessing."""

from __future__ import annotations

import re

import pytest

import catalog
from catalog.core.arch import NOT_RUN
from catalog.sources.bundled import entries

HW = catalog.machine(["RTX 3090"], ram_gib=64)
HF = re.compile(r"(?:-hf |hf\.co/)([\w.-]+/[\w.-]+):([\w.]+)")
LMS = re.compile(r"lms get https://huggingface\.co/([\w.-]+/[\w.-]+)@([\w.]+)")
LMS_LOAD = re.compile(r"lms get https://huggingface\.co/([\w.-]+/[\w.-]+)@[\w.]+ -y && lms load (\S+)")
OLLAMA = re.compile(r"ollama run ([\w.-]+):([\w.-]+)")


def _in_order(pattern: str, text: str) -> bool:
    it = iter(text)
    return all(ch in it for ch in pattern)


def _listed(entry: dict, repo: str) -> set[str]:
    for r in entry.get("gguf_repos") or ():
        if r["repo"] == repo:
            return set(r.get("files") or {})
    return set()


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e["id"])
def test_every_printed_download_exists(entry: dict) -> None:
    spec = catalog.resolve(entry["id"], offline=True)
    result = catalog.check(spec, catalog.CheckRequest(), HW)
    tags = set((entry.get("ollama") or {}).get("tags") or {})
    library = (entry.get("ollama") or {}).get("library")
    for row in result.rows:
        cmds = row.commands
        for text in (cmds.llama_cpp, cmds.llama_cpp_cli, cmds.ollama, cmds.lm_studio):
            for repo, quant in HF.findall(text) + LMS.findall(text):
                assert quant == row.quant and quant in _listed(entry, repo), (row.quant, text)
            for lib, tag in OLLAMA.findall(text):
                if lib != "hf.co":
                    assert lib == library and tag in tags, (row.quant, text)
        for repo, key in LMS_LOAD.findall(cmds.lm_studio):
            # lms load matches fuzzily (letters in order, any case): the key LM Studio gives the download,
            # `publisher/name` or `name`, must contain ours
            assert _in_order(key, repo.lower()), (key, repo)
        if spec.arch.arch in NOT_RUN:  # no runtime loads it: no command at all, and the note says why
            assert not (cmds.ollama or cmds.lm_studio or cmds.llama_cpp) and "refuses it" in cmds.note, cmds
        elif not (cmds.ollama or cmds.lm_studio) or not cmds.llama_cpp or "convert_hf_to_gguf.py" in cmds.llama_cpp:
            assert cmds.note.startswith(f"no published GGUF file of {row.quant}"), (row.quant, cmds)
