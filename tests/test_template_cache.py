"""What a chat template costs is measured once (issue 23): the same template text, special tokens, tokenizer and
measuring code answer from the cache without starting the sandbox; anything else is measured again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import catalog
from catalog.sources import cache
from catalog.sources.templates import measure, sandbox

TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _gguf(tmp_path: Path, template: str) -> Path:
    from gguf_files import write_small_llama

    return write_small_llama(tmp_path / "m.gguf", chat_template=template)


def _no_sandbox(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []

    def refuse(source: str, *args: object, **kw: object) -> object:
        started.append(source)
        raise AssertionError("the sandbox started for a template measured before")

    monkeypatch.setattr(sandbox, "render_many", refuse)
    return started


def test_a_template_seen_before_is_answered_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _gguf(tmp_path, TEMPLATE)
    first = catalog.resolve(str(path)).template.jinja
    assert first is not None and first.safe and first.per_turn_tokens
    assert cache.keys(measure.KIND)
    started = _no_sandbox(monkeypatch)
    again = catalog.resolve(str(path)).template.jinja
    assert again == first and started == []


def test_another_template_or_tokenizer_is_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _gguf(tmp_path, TEMPLATE)
    catalog.resolve(str(path))
    started = _no_sandbox(monkeypatch)
    (tmp_path / "b").mkdir()
    changed = _gguf(tmp_path / "b", TEMPLATE + "{{ '' }}")
    with pytest.raises(AssertionError, match="sandbox started"):
        catalog.resolve(str(changed))
    assert len(started) == 1
    monkeypatch.undo()
    # the same template beside another vocabulary (a rewritten file: another size and time) is not a hit either
    # (rendered again once this process's own memo of renders is cleared: the disk cache answers nothing)
    measure._RENDERED.clear()
    started = _no_sandbox(monkeypatch)
    from gguf_files import write_small_llama

    write_small_llama(path, chat_template=TEMPLATE, n_vocab=400)
    with pytest.raises(AssertionError, match="sandbox started"):
        catalog.resolve(str(path))


def test_one_process_renders_a_template_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of fine-tunes share a few templates: a second repo with the same template text is counted with its
    own tokenizer but not rendered again."""
    a = catalog.resolve(str(_gguf(tmp_path, TEMPLATE)))
    (tmp_path / "b").mkdir()
    from gguf_files import write_small_llama

    other = write_small_llama(tmp_path / "b" / "m.gguf", chat_template=TEMPLATE, n_vocab=320)
    started = _no_sandbox(monkeypatch)
    b = catalog.resolve(str(other))
    assert started == [] and b.template.jinja is not None and b.template.jinja.measured
    assert a.template.jinja is not None and b.template.jinja.per_turn_tokens == a.template.jinja.per_turn_tokens


def test_a_wrong_entry_is_a_miss(tmp_path: Path) -> None:
    path = _gguf(tmp_path, TEMPLATE)
    first = catalog.resolve(str(path)).template.jinja
    (key,) = cache.keys(measure.KIND)
    entry = cache._path(measure.KIND, key)
    wrapper = json.loads(Path(entry).read_text())
    wrapper["doc"]["jinja"]["per_turn_tokens"] = "many"
    Path(entry).write_text(json.dumps(wrapper))
    assert catalog.resolve(str(path)).template.jinja == first  # measured again, and stored right
    assert json.loads(Path(entry).read_text())["doc"]["jinja"]["per_turn_tokens"] == first.per_turn_tokens
