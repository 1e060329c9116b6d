"""Base / aligned / de-aligned from Hub metadata: rules on their own, then a labelled set of real repos.

tests/data/hub_labelled.json holds real repos' card metadata and sentences, each with where it
was read; bench/classify.py rebuilds the Hub's tags from it and prints the confusion table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from classify import KINDS, LABELLED, classify_all

from catalog.core.alignment import classify_record

ENTRIES = json.loads(Path(LABELLED).read_text())


def _kind(**rec: object) -> str:
    return classify_record({"repo": "someone/model", **rec}).kind


def test_a_chat_template_or_the_conversational_tag_alone_proves_nothing() -> None:
    assert _kind(chat_template=True) == "base"
    assert _kind(tags=["conversational", "text-generation"], pipeline_tag="text-generation") == "base"
    a = classify_record({"repo": "x/y", "chat_template": True, "tags": ["conversational"]})
    assert {e.signal for e in a.evidence} >= {"chat_template", "tag"} and a.confidence <= 0.5


@pytest.mark.parametrize(("rec", "kind"), [
    ({"repo": "org/Model-7B-Instruct"}, "aligned"),
    ({"repo": "org/model-2b-it"}, "aligned"),
    ({"repo": "org/Model-7B-Base"}, "base"),
    ({"repo": "org/gemma-3-4b-pt"}, "base"),
    ({"repo": "org/Model-8B-Instruct-abliterated"}, "de-aligned"),
    ({"repo": "org/Model-7B", "card_statements": ["This repo contains the base 7B Model model."]}, "base"),
    ({"repo": "org/Model-7B", "card_statements": ["We do not recommend using base language models for "
                                                   "conversations."]}, "base"),
    ({"repo": "org/Model-7B", "card_statements": ["This repo contains the instruction-tuned 7B model."]}, "aligned"),
    ({"repo": "org/Model-7B", "card": {"datasets": ["HuggingFaceH4/ultrafeedback_binarized"]}}, "aligned"),
    ({"repo": "org/Model-7B", "card_statements": ["This model is uncensored."]}, "de-aligned"),
    ({"repo": "org/Model-7B", "gguf": {"general.finetune": "Instruct"}}, "aligned"),
    # Qwen's cards name the training stage: post-trained repos carry no Instruct token (Qwen3, QwQ)
    ({"repo": "org/Model-14B", "card_statements": ["Training Stage: Pretraining & Post-training"]}, "aligned"),
    ({"repo": "org/Model-14B", "card_statements": ["Training Stage: Pretraining"]}, "base"),
    # a tune of a tuned model is a tuned model
    ({"repo": "org/Storm-8B", "card_statements": ["We performed targeted fine-tuning over the Model-8B-Instruct "
                                                  "model."]}, "aligned"),
    ({"repo": "org/Beluga-7B", "card_statements": ["Beluga 7B is a Llama2 7B model finetuned on an Orca style "
                                                   "Dataset"]}, "aligned"),
])
def test_rules(rec: dict[str, object], kind: str) -> None:
    assert classify_record(rec).kind == kind


def test_card_methods_describe_the_aligned_variants_only() -> None:
    # Llama 3.1's card is shared by base and instruct repos; its method sentence must not make a base aligned
    s = ("The tuned versions use supervised fine-tuning (SFT) and reinforcement learning with human feedback "
         "(RLHF) to align with human preferences for helpfulness and safety.")
    base = classify_record({"repo": "meta-llama/Llama-3.1-8B", "card_statements": [s]})
    assert base.kind == "base" and base.methods == ()
    inst = classify_record({"repo": "meta-llama/Llama-3.1-8B-Instruct", "card_statements": [s]})
    assert inst.kind == "aligned" and set(inst.methods) == {"SFT", "RLHF"}


def test_a_quantization_takes_its_originals_verdict() -> None:
    orig = classify_record({"repo": "org/Model-7B", "card_statements": ["This repo contains the base 7B model."]})
    q = classify_record({"repo": "someone/Model-7B-GGUF", "tags": ["base_model:quantized:org/Model-7B"]}, orig)
    assert q.kind == "base" and any(e.signal == "base_model" for e in q.evidence)


# --- the labelled set ---------------------------------------------------------------------------------------------

def test_labelled_set_is_real_sourced_and_covers_the_traps() -> None:
    assert len(ENTRIES) >= 40
    assert len({e["repo"].lower() for e in ENTRIES}) == len(ENTRIES)
    for e in ENTRIES:
        assert e["label"] in KINDS, e["repo"]
        src = e["source"]
        assert src.get("repo") or src.get("url"), e["repo"]
        assert e.get("card") or e.get("card_quotes"), e["repo"]
    name_aligned = re.compile(r"instruct|chat|(?:^|[-_])it(?:$|[-_])|sft|dpo|rlhf", re.I)
    base_with_template = [e for e in ENTRIES if e["label"] == "base" and e.get("chat_template")]
    aligned_unnamed = [e for e in ENTRIES if e["label"] == "aligned"
                       and not name_aligned.search(e["repo"].split("/")[1])]
    quantized = [e for e in ENTRIES if "gguf" in e["repo"].lower()]
    assert len(base_with_template) >= 2, "base repos that ship a chat template"
    assert len(aligned_unnamed) >= 5, "aligned repos without instruct/chat in the name"
    assert any(e["label"] == "base" for e in quantized) and any(e["label"] != "base" for e in quantized)
    assert sum(e["label"] == "de-aligned" for e in ENTRIES) >= 3


def test_labelled_set_classification() -> None:
    results = classify_all(ENTRIES)
    wrong = [(e["repo"], e["label"], a.kind) for e, a in results if a.kind != e["label"]]
    sold_as_aligned = [w for w in wrong if w[1] == "base" and w[2] != "base"]
    assert sold_as_aligned == [], "a base model must never be sold as an instruct one"
    assert len(wrong) <= len(results) // 20, wrong  # at least 95 % right
    for e, a in results:
        # methods only where the evidence names them
        said = " ".join(ev.value for ev in a.evidence).lower()
        for m in a.methods:
            assert m.lower() in said or {"RLHF": "human feedback", "SFT": "supervised fine",
                                         "DPO": "direct preference"}.get(m, "\0") in said, (e["repo"], m)
