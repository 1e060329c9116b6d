"""The real tokenizers behind chat-template counts: llama.cpp's SentencePiece tokenization of a
vocabulary (catalog.sources.vocab.Vocab), checked against token counts and ids that real
llama.cpp produced (recorded by bench/template_overhead.py and bench/tokenizer_llamacpp.py with
llama-cpp-python 0.3.36), on real vocabularies: Mistral's tokenizer files as the mistral-common
package ships them (byte-identical to Mistral-7B-Instruct-v0.3's tokenizer.model.v3 and to
Mistral-7B-v0.1's / Mixtral's tokenizer.model, by sha256), written into GGUF files with the gguf
package, into model folders, and into a tokenizer.json with the tokenizers library."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from pathlib import Path

import pytest
from synth_gguf import spm_vocab, write

import catalog
from catalog.sources.bundled import entries
from catalog.sources.gguf_reader import ArrayInfo, parse
from catalog.sources.templates import measure
from catalog.sources.templates import sandbox as templates
from catalog.sources.vocab import Vocab, gguf_vocab, sentencepiece_vocab

ROOT = Path(__file__).resolve().parent.parent
DOCS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "data" / "templates").glob("*.json")}
_spec = importlib.util.find_spec("mistral_common")
MC_DATA = Path(_spec.submodule_search_locations[0]) / "data" if _spec and _spec.submodule_search_locations else None


def _by_sha(sha: str) -> bytes | None:
    for f in sorted(MC_DATA.iterdir()) if MC_DATA else ():
        data = f.read_bytes()
        if hashlib.sha256(data).hexdigest() == sha:
            return data
    return None


def _vocab_of(doc: dict) -> Vocab | None:
    v = doc["vocabulary"]
    data = _by_sha(v["sha256"])
    if data is None:
        return None
    added = {int(k): (t, bool(s)) for k, (t, s) in (v.get("added_tokens") or {}).items()}
    return sentencepiece_vocab(data, added)


# the docs whose vocabulary ships in mistral-common: Mistral v0.3, Zephyr (Mistral v0.1), Dolphin (+ ChatML tokens)
IN_CI = ["mistral-v0.3", "zephyr", "dolphin-2.5-mixtral"]


def test_mistral_common_ships_the_vocabularies_the_recorded_counts_were_made_with() -> None:
    for key in IN_CI:
        assert _by_sha(DOCS[key]["vocabulary"]["sha256"]) is not None, key


@pytest.mark.parametrize("key", IN_CI)
def test_our_tokenizer_gives_llama_cpps_recorded_count_for_every_rendered_text(key: str) -> None:
    doc = DOCS[key]
    vocab = _vocab_of(doc)
    assert vocab is not None
    counts = doc["llama_cpp_counts"]
    assert len(counts) >= 6  # three conversations, the generation prompt (may equal the first), three contents
    assert {t: vocab.count(t) for t in counts} == counts


def test_llama_cpps_token_ids_for_a_mistral_v03_exchange() -> None:
    doc = DOCS["mistral-v0.3"]
    vocab = _vocab_of(doc)
    assert vocab is not None
    msgs = [{"role": "user", "content": measure.SAMPLE_USER[0]},
            {"role": "assistant", "content": measure.SAMPLE_ASSISTANT},
            {"role": "user", "content": measure.SAMPLE_USER[1]}]
    text = templates.render_here(doc["template"], msgs, "<s>", "</s>", False).text
    assert text == ("<s>[INST] What is the capital of France?[/INST] The capital of France is Paris.</s>"
                    "[INST] And of Italy?[/INST]")
    # what llama-cpp-python 0.3.36's tokenize(add_bos=False, special=True) returned for this text
    # (bench/tokenizer_llamacpp.py): 29473 is the lone '\u2581' llama.cpp puts after each special token
    assert vocab.encode(text) == [1, 3, 29473, 2592, 1117, 1040, 6333, 1070, 5611, 29572, 4, 29473, 1183, 6333, 1070,
                                  5611, 1117, 6233, 29491, 2, 3, 29473, 1783, 1070, 11596, 29572, 4]


def test_mistrals_reference_encoder_counts_no_space_after_special_tokens() -> None:
    """mistral-common's own chat encoder (the reference for Mistral's models) and llama.cpp differ by
    that '\u2581' after [INST] and [/INST]: the reason the stored overhead says which it counted."""
    from mistral_common.protocol.instruct.messages import AssistantMessage, UserMessage
    from mistral_common.protocol.instruct.request import InstructRequest
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    doc = DOCS["mistral-v0.3"]
    name = next(f.name for f in MC_DATA.iterdir() if hashlib.sha256(f.read_bytes()).hexdigest()
                == doc["vocabulary"]["sha256"]) if MC_DATA else ""
    mt = MistralTokenizer.from_file(str(MC_DATA / name))
    req = InstructRequest(messages=[UserMessage(content=measure.SAMPLE_USER[0]),
                                    AssistantMessage(content=measure.SAMPLE_ASSISTANT),
                                    UserMessage(content=measure.SAMPLE_USER[1])])
    reference = mt.instruct_tokenizer.encode_instruct(req).tokens
    ours = _vocab_of(doc).encode(templates.render_here(doc["template"], [
        {"role": "user", "content": measure.SAMPLE_USER[0]},
        {"role": "assistant", "content": measure.SAMPLE_ASSISTANT},
        {"role": "user", "content": measure.SAMPLE_USER[1]}], "<s>", "</s>", False).text or "")
    assert len(reference) == 24 and len(ours) == 27
    assert [t for t in ours if t != 29473] == reference


def _mistral_gguf(tmp_path: Path, template: str) -> Path:
    entry = next(e for e in entries() if e["id"] == "mistral-7b-instruct-v0.3")
    vocab = spm_vocab(_by_sha(DOCS["mistral-v0.3"]["vocabulary"]["sha256"]) or b"")
    out = tmp_path / "Mistral-7B-Instruct-v0.3-Q4_K_M.gguf"
    write(entry["config"], "Q4_K_M", out, chat_template=template, vocab=vocab)
    return out


def test_a_gguf_keeps_its_vocabulary_only_when_asked(tmp_path: Path) -> None:
    path = _mistral_gguf(tmp_path, DOCS["mistral-v0.3"]["template"])
    with open(path, "rb") as f:
        def read(o: int, n: int) -> bytes:
            f.seek(o)
            return f.read(n)
        plain = parse(read).metadata
        kept = parse(read, keep=frozenset({"tokenizer.ggml.tokens"})).metadata
    assert isinstance(plain["tokenizer.ggml.tokens"], ArrayInfo) and plain["tokenizer.ggml.tokens"].length == 32768
    assert kept["tokenizer.ggml.tokens"][:5] == ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]
    assert isinstance(kept["tokenizer.ggml.scores"], ArrayInfo)  # only the keys asked for
    vocab = gguf_vocab(str(path))
    assert vocab is not None and len(vocab.tokens) == 32768 and vocab.add_space_prefix


def test_check_of_a_gguf_counts_its_template_with_its_own_vocabulary(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = DOCS["mistral-v0.3"]
    path = _mistral_gguf(tmp_path, doc["template"])
    code, out, err = cli("check", str(path), "--gpu", "RTX 3060", "--offline", "--json", "--ram", "24")
    assert code == 0, err
    ct = json.loads(out)["model"]["chat_template"]
    assert "the GGUF's vocabulary, tokenized as llama.cpp does" in ct["counted_with"]
    # the BOS the template renders is the GGUF's token 1, '<s>': spelled from the vocabulary
    stored = doc["overhead"]
    assert {k: ct[k] for k in ("system_prompt_tokens", "per_user_turn_tokens", "per_assistant_turn_tokens",
                               "generation_prompt_tokens", "overhead_tokens")} == \
        {k: stored[k] for k in ("system_prompt_tokens", "per_user_turn_tokens", "per_assistant_turn_tokens",
                                "generation_prompt_tokens", "overhead_tokens")}
    assert "bos_token_id" not in ct and "source" not in ct


def test_check_of_a_model_folder_reads_its_template_and_counts_with_its_tokenizer_model(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A ChatML fine-tune's folder (Dolphin 2.5 Mixtral: Mixtral's tokenizer.model plus <|im_end|> and
    <|im_start|> in tokenizer_config.json, whose template injects a 163-token default system prompt)."""
    doc = DOCS["dolphin-2.5-mixtral"]
    folder = tmp_path / "dolphin-2.5-mixtral-8x7b"
    folder.mkdir()
    config = dict(next(e for e in entries() if e["id"] == "mixtral-8x7b-instruct-v0.1")["config"], vocab_size=32002)
    (folder / "config.json").write_text(json.dumps(config))
    added = {k: {"content": t, "special": s, "lstrip": False, "rstrip": False, "normalized": False,
                 "single_word": False} for k, (t, s) in doc["vocabulary"]["added_tokens"].items()}
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": doc["bos_token"], "eos_token": doc["eos_token"], "chat_template": doc["template"],
        "added_tokens_decoder": added}))
    (folder / "tokenizer.model").write_bytes(_by_sha(doc["vocabulary"]["sha256"]) or b"")
    code, out, err = cli("check", str(folder), "--gpu", "RTX 3060", "--offline", "--json", "--ram", "24")
    assert code == 10, err  # Mixtral 8x7B runs partly offloaded on a 12 GB card
    ct = json.loads(out)["model"]["chat_template"]
    assert ct["present"] and "tokenizer.model, tokenized as llama.cpp does" in ct["counted_with"]
    assert ct["system_prompt_tokens"] == doc["overhead"]["system_prompt_tokens"] == 163
    assert ct["overhead_tokens"] == doc["overhead"]["overhead_tokens"]
    # without the tokenizer files: the documented estimate, and it says so
    (folder / "tokenizer.model").unlink()
    code, out, _ = cli("check", str(folder), "--gpu", "RTX 3060", "--offline", "--json", "--ram", "24")
    assert code == 10 and "estimate" in json.loads(out)["model"]["chat_template"]["counted_with"]


def _online_hub(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the Hub adapters at a loopback HubServer, online, with caches under tmp_path."""
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)


def _hf_tokenizer_json(v: Vocab) -> str:
    """A tokenizer.json built the way transformers converts Mistral v0.3's tokenizer.model (a BPE whose
    merges follow the SentencePiece scores, Metaspace prefix on the first word only)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    normal = {t: i for i, t in enumerate(v.tokens) if v.kinds[i] == 1}
    merges = sorted(((-v.scores[i], i, p[:k], p[k:]) for p, i in normal.items() for k in range(1, len(p))
                     if p[:k] in normal and p[k:] in normal))
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(v.tokens)}, merges=[(a, b) for *_, a, b in merges],
                               unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for i, t in enumerate(v.tokens) if v.kinds[i] == 3])
    return str(tok.to_str())


def test_a_folders_tokenizer_json_is_counted_with_the_tokenizers_library(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Counted by the tokenizers library, that tokenizer.json gives the count of mistral-common's
    reference encoder (24 for the exchange), not llama.cpp's (27)."""
    doc = DOCS["mistral-v0.3"]
    v = _vocab_of(doc)
    assert v is not None
    folder = tmp_path / "Mistral-7B-Instruct-v0.3"
    folder.mkdir()
    (folder / "tokenizer.json").write_text(_hf_tokenizer_json(v))
    entry = next(e for e in entries() if e["id"] == "mistral-7b-instruct-v0.3")
    (folder / "config.json").write_text(json.dumps(entry["config"]))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "chat_template": doc["template"]}))
    code, out, err = cli("check", str(folder), "--gpu", "RTX 3060", "--offline", "--json", "--ram", "24")
    assert code == 0, err
    ct = json.loads(out)["model"]["chat_template"]
    assert "tokenizer.json, via the tokenizers library" in ct["counted_with"]
    # Hugging Face's count: [INST] and [/INST] cost 1 token each, no '\u2581' after them
    assert (ct["per_user_turn_tokens"], ct["per_assistant_turn_tokens"]) == (2, 1)


def test_a_hub_repos_tokenizer_json_is_fetched_once_and_counted(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from hub_server import HubServer

    import hardware
    from catalog.sources import hub
    from catalog.sources.hub.files import MAX_TOKENIZER_BYTES

    doc = DOCS["mistral-v0.3"]
    v = _vocab_of(doc)
    assert v is not None
    entry = next(e for e in entries() if e["id"] == "mistral-7b-instruct-v0.3")
    files = {"config.json": json.dumps(entry["config"]).encode(),
             "tokenizer_config.json": json.dumps({"bos_token": "<s>", "eos_token": "</s>",
                                                  "chat_template": doc["template"]}).encode(),
             "tokenizer.json": _hf_tokenizer_json(v).encode()}
    with HubServer() as srv:
        srv.add("test-org/Mistral-Instruct", {"tags": ["mistral", "conversational"]}, files)
        srv.add("test-org/Huge-Tokenizer", {"tags": ["mistral", "conversational"]},
                {**files, "tokenizer.json": b" " * (MAX_TOKENIZER_BYTES + 1)})
        _online_hub(srv.url, tmp_path, monkeypatch)
        spec = catalog.resolve("test-org/Mistral-Instruct")
        ct = catalog.document(catalog.check(spec, catalog.CheckRequest(),
                                            hardware.budget(12, 32)))["model"]["chat_template"]
        assert "test-org/Mistral-Instruct's tokenizer.json from the Hub" in ct["counted_with"]
        assert (ct["per_user_turn_tokens"], ct["per_assistant_turn_tokens"]) == (2, 1)
        assert len(srv.requests_to("/tokenizer.json")) == 1
        again, _ = hub.load("test-org/Mistral-Instruct", offline=True)  # from the cache, no request
        assert again.provenance.tokenizer_json == spec.provenance.tokenizer_json is not None
        assert len(srv.requests_to("/tokenizer.json")) == 1
        # newer transformers releases save the template as chat_template.jinja: it is read, and wins
        srv.add("test-org/Jinja-Template", {"tags": ["mistral", "conversational"]},
                {**files, "tokenizer_config.json": json.dumps({"bos_token": "<s>", "eos_token": "</s>"}).encode(),
                 "chat_template.jinja": doc["template"].encode()})
        jinja = catalog.resolve("test-org/Jinja-Template")
        ct = catalog.document(catalog.check(jinja, catalog.CheckRequest(),
                                            hardware.budget(12, 32)))["model"]["chat_template"]
        assert ct["safe"] and (ct["per_user_turn_tokens"], ct["per_assistant_turn_tokens"]) == (2, 1)
        big, _ = hub.load("test-org/Huge-Tokenizer")
        assert big.provenance.tokenizer_json is None  # larger than the cap: not even asked for
        assert not any(r["path"].endswith("Huge-Tokenizer/resolve/" + (big.provenance.revision or "main")
                                          + "/tokenizer.json") for r in srv.log)


def test_phi3_special_tokens_eat_the_whitespace_after_them_as_llama_cpp_sets_by_name() -> None:
    tokens = ["<unk>", "<s>", "</s>", "\u2581", "\n", "<0x0A>", "\u2581Hi", "<|user|>", "<|end|>", "<|endoftext|>",
              "Hi"]
    types = [2, 3, 3, 1, 1, 6, 1, 3, 3, 3, 1]
    text = "<|user|>\nHi<|end|>\n<|endoftext|>\n"
    phi = Vocab(tokens, [0.0] * len(tokens), types, True, model_name="Phi3")
    other = Vocab(tokens, [0.0] * len(tokens), types, True, model_name="Mistral")
    # Phi-3: <|user|> and <|end|> rstrip, <|endoftext|> does not
    assert phi.encode(text) == [7, 6, 8, 9, 3, 4]
    assert other.encode(text) == [7, 3, 4, 10, 8, 3, 4, 9, 3, 4]
    assert phi.encode("") == [] and phi.encode("<s>") == [1]


def test_sentencepiece_bpe_merges_by_score_and_falls_back_to_bytes() -> None:
    tokens = ["<unk>", "<0xC3>", "<0xA9>", "a", "b", "c", "ab", "bc", "\u2581", "\u2581a"]
    scores = [0, 0, 0, 0, 0, 0, -2.0, -1.0, 0, -3.0]
    types = [2, 6, 6, 1, 1, 1, 1, 1, 1, 1]
    v = Vocab(tokens, scores, types, add_space_prefix=False)
    assert v.encode("abc") == [3, 7]  # 'bc' scores higher than 'ab'
    assert v.encode("\u00e9") == [1, 2]  # not in the vocabulary: its UTF-8 bytes
    assert Vocab(tokens, scores, types, add_space_prefix=True).encode("abc") == [9, 7]


def _proto_piece(piece: str, score: float, kind: int) -> bytes:
    body = b"\x0a" + bytes([len(piece.encode())]) + piece.encode() + b"\x15" + struct.pack("<f", score) \
        + b"\x18" + bytes([kind])
    return b"\x0a" + bytes([len(body)]) + body


def test_a_sentencepiece_model_file_is_read_without_protobuf_and_a_broken_one_is_refused() -> None:
    trainer_bpe = b"\x12\x02\x18\x02"  # TrainerSpec { model_type: BPE }
    normalizer = b"\x1a\x02\x18\x00"  # NormalizerSpec { add_dummy_prefix: false }
    data = _proto_piece("<unk>", 0.0, 2) + _proto_piece("a", -1.5, 1) + trainer_bpe + normalizer
    v = sentencepiece_vocab(data, {2: ("<|im_start|>", True)})
    assert v is not None and v.tokens == ["<unk>", "a", "<|im_start|>"] and v.scores[1] == -1.5
    assert v.kinds == [2, 1, 3] and not v.add_space_prefix
    assert sentencepiece_vocab(_proto_piece("a", 0.0, 1) + b"\x12\x02\x18\x01") is None  # a Unigram model
    with pytest.raises(ValueError):
        sentencepiece_vocab(b"\x0a\xff\xff\xff")  # a length running past the end


def test_a_broken_tokenizer_file_falls_back_to_the_estimate(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "m"
    folder.mkdir()
    entry = next(e for e in entries() if e["id"] == "mistral-7b-instruct-v0.3")
    (folder / "config.json").write_text(json.dumps(entry["config"]))
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": DOCS["mistral-v0.3"]["template"]}))
    (folder / "tokenizer.json").write_text("{not json")
    (folder / "tokenizer.model").write_bytes(b"\x0a\xff\xff\xff garbage")
    code, out, err = cli("check", str(folder), "--gpu", "RTX 3060", "--offline", "--json", "--ram", "24")
    assert code == 0 and "Traceback" not in err
    assert "estimate" in json.loads(out)["model"]["chat_template"]["counted_with"]


def test_a_repos_tokenizer_is_found_in_the_hugging_face_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import catalog
    from catalog.sources.tokenizer import counter_for

    spec = catalog.resolve("mistral-7b-instruct-v0.3")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert counter_for(spec) is None  # nothing cached, no bundled encoding for a 32768-token Mistral
    snap = tmp_path / "models--mistralai--Mistral-7B-Instruct-v0.3" / "snapshots" / "0d4b76e1"
    snap.mkdir(parents=True)
    (snap / "tokenizer.model").write_bytes(_by_sha(DOCS["mistral-v0.3"]["vocabulary"]["sha256"]) or b"")
    found = counter_for(spec)
    assert found is not None and "mistralai/Mistral-7B-Instruct-v0.3's cached tokenizer.model" in found.label
    text = next(iter(DOCS["mistral-v0.3"]["llama_cpp_counts"]))
    assert found.count(text) == DOCS["mistral-v0.3"]["llama_cpp_counts"][text]


def _byte_level() -> dict[int, str]:
    """GPT-2's bytes_to_unicode: how a GGUF spells a byte-level BPE token's bytes."""
    from catalog.sources.vocab import byte_decoder

    return {b: c for c, b in byte_decoder().items()}


def test_a_byte_level_bpe_gguf_with_a_fine_tunes_added_tokens_counts_as_llama_cpp_did() -> None:
    """DeepSeek-R1-Distill-Qwen: Qwen2.5's BPE (the real vocabulary, as quicktok bundles it, spelled
    the way a GGUF stores byte-level tokens) with <\uff5cUser\uff5c>, <\uff5cAssistant\uff5c>, <think> ...
    at 151643-151664. Counted as llama.cpp did when the doc was recorded (on llama.cpp's own Qwen2
    vocabulary with these tokens), which quicktok alone would not: it spells <\uff5cUser\uff5c> in pieces."""
    import quicktok

    from catalog.sources.vocab import vocab_from_metadata

    doc = DOCS["deepseek-r1-distill"]
    enc = quicktok.get_encoding("qwen3")
    added = {int(k): (t, s) for k, (t, s) in doc["vocabulary"]["added_tokens"].items()}
    spell = _byte_level()
    tokens = ["".join(spell[b] for b in enc.decode_single_token_bytes(i)) if i < 151643 else f"[PAD{i}]"
              for i in range(151936)]
    types = [1] * len(tokens)
    for i, (t, s) in added.items():
        tokens[i], types[i] = t, 3 if s else 4
    meta = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "deepseek-r1-qwen",
            "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.token_type": types}
    vocab = vocab_from_metadata(meta)
    assert vocab is not None and vocab.bpe is not None
    counts = doc["llama_cpp_counts"]
    assert {t: vocab.count(t) for t in counts} == counts
    user = next(t for t in counts if "\uff5cUser\uff5c" in t)
    assert len(enc.encode_ordinary(user)) > counts[user]  # what counting without the added tokens gives
    # another pre-tokenizer, or a vocabulary that is not quicktok's: no claim to be the real tokenizer
    assert vocab_from_metadata({**meta, "tokenizer.ggml.pre": "tekken"}) is None
    assert vocab_from_metadata({**meta, "tokenizer.ggml.tokens": tokens[:1000][::-1] + tokens[1000:]}) is None


def test_a_hub_ggufs_vocabulary_is_kept_from_its_header_and_counts_the_template(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GGUF repo on the Hub: the header is read by Range anyway, and its vocabulary (Mistral v0.3's,
    real) is kept in a cache file of its own, so the template is counted as llama.cpp would count it,
    online and then offline."""
    from hub_server import HubServer

    import hardware
    from catalog.sources import hub

    doc = DOCS["mistral-v0.3"]
    tiny = {"architectures": ["MistralForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
            "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "vocab_size": 32768,
            "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 1000000.0}
    gguf = tmp_path / "Mistral-Tiny-Instruct-Q8_0.gguf"
    write(tiny, "Q8_0", gguf, chat_template=doc["template"],
          vocab=spm_vocab(_by_sha(doc["vocabulary"]["sha256"]) or b""))
    with HubServer() as srv:
        srv.add("test-org/Mistral-Tiny-Instruct-GGUF", {
            "tags": ["gguf", "conversational"], "gguf": {"total": 1, "architecture": "llama", "context_length": 4096},
        }, {gguf.name: gguf.read_bytes()})
        _online_hub(srv.url, tmp_path, monkeypatch)
        spec, _ = hub.load("test-org/Mistral-Tiny-Instruct-GGUF")
        assert spec.tokenizer == "llama" and Path(spec.provenance.gguf_vocab or "").is_file()
        cached = (tmp_path / "cache" / "gguf").glob("*.json")
        assert all(p.stat().st_size < 200_000 for p in cached)  # the header's entry stays small
        for offline in (False, True):
            spec = catalog.resolve("test-org/Mistral-Tiny-Instruct-GGUF", offline=offline, runtimes=("llama.cpp",))
            res = catalog.check(spec, catalog.CheckRequest(runtime="llama.cpp"), hardware.budget(12, 32))
            ct = catalog.document(res)["model"]["chat_template"]
            assert "the GGUF's vocabulary, read from the Hub" in ct["counted_with"]
            stored = doc["overhead"]
            assert (ct["system_prompt_tokens"], ct["per_user_turn_tokens"], ct["per_assistant_turn_tokens"],
                    ct["overhead_tokens"]) == (stored["system_prompt_tokens"], stored["per_user_turn_tokens"],
                                               stored["per_assistant_turn_tokens"], stored["overhead_tokens"])


def test_a_folders_chat_template_jinja_wins_over_tokenizer_config(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Newer transformers releases save the template as chat_template.jinja beside tokenizer_config.json,
    and load that one: so does a folder check."""
    doc = DOCS["mistral-v0.3"]
    folder = tmp_path / "m"
    folder.mkdir()
    entry = next(e for e in entries() if e["id"] == "mistral-7b-instruct-v0.3")
    (folder / "config.json").write_text(json.dumps(entry["config"]))
    (folder / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>",
                                                              "chat_template": "{{ bos_token }}"}))
    (folder / "chat_template.jinja").write_text(doc["template"])
    (folder / "tokenizer.model").write_bytes(_by_sha(doc["vocabulary"]["sha256"]) or b"")
    code, out, err = cli("check", str(folder), "--gpu", "RTX 3060", "--offline", "--json", "--ram", "24")
    assert code == 0, err
    ct = json.loads(out)["model"]["chat_template"]
    assert ct["overhead_tokens"] == doc["overhead"]["overhead_tokens"] and ct["per_user_turn_tokens"] == 3
    # no tokenizer_config.json and no template file: nothing is claimed about a template
    for f in ("tokenizer_config.json", "chat_template.jinja"):
        (folder / f).unlink()
    code, out, _ = cli("check", str(folder), "--gpu", "RTX 3060", "--offline", "--json", "--ram", "24")
    assert json.loads(out)["model"]["chat_template"]["present"] is None


def test_a_repos_file_is_found_in_the_newest_snapshot_of_the_hf_cache(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The Hugging Face cache is searched by path (no huggingface_hub import): the file of the newest snapshot
    that has it; a repo or file the cache lacks is None."""
    import os

    from catalog.sources.tokenizer import hf_cache_file

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    snaps = tmp_path / "models--org--m" / "snapshots"
    for i, sha in enumerate(("a" * 40, "b" * 40)):
        (snaps / sha).mkdir(parents=True)
        (snaps / sha / "tokenizer.json").write_text("{}")
        os.utime(snaps / sha / "tokenizer.json", (1000 + i, 1000 + i))
    (snaps / ("c" * 40)).mkdir()  # a snapshot without the file
    assert hf_cache_file("org/m", "tokenizer.json") == str(snaps / ("b" * 40) / "tokenizer.json")
    assert hf_cache_file("org/m", "config.json") is None
    assert hf_cache_file("org/other", "tokenizer.json") is None
