"""Chat templates are untrusted code: the sandbox renders real ones, and contains hostile ones
within a time and memory bound, reporting why."""

from __future__ import annotations

import time

import pytest

from catalog.sources.templates.sandbox import MAX_SECONDS, render, render_here

MESSAGES = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi"}]
# ChatML as Qwen2.5 and the Hermes fine-tunes ship it (tokenizer.chat_template without the tool branches)
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def test_a_real_template_renders() -> None:
    r = render(CHATML, MESSAGES)
    assert r.unsafe is None and r.error is None
    assert r.text == ("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                      "<|im_start|>assistant\n")
    assert render_here(CHATML, MESSAGES).text == r.text


def test_helpers_the_runtimes_provide() -> None:
    t = ("{{ bos_token }}{{ strftime_now('%d %b %Y') }}{% if messages[0]['role'] != 'user' %}"
         "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}")
    r = render(t, MESSAGES, bos_token="<s>")
    assert r.text is None and r.error is not None and "roles must alternate" in r.error and r.unsafe is None
    ok = render(t, MESSAGES[1:], bos_token="<s>")
    assert ok.text == "<s>26 Jul 2024"  # a fixed date: the overhead does not change with the day


HOSTILE = [
    ("attribute walk", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("globals walk", "{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
    ("joiner globals", "{{ joiner.__init__.__globals__.__builtins__.__import__('os').system('true') }}"),
    ("huge repeat", "{{ 'x' * 1000000000 }}"),
    ("huge pad", "{{ 'a'.ljust(1000000000) }}"),
    ("huge filter", "{{ 'a' | center(1000000000) }}"),
    ("huge power", "{{ 7 ** 100000000 }}"),
    ("silent loop", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
    ("output flood", "{% for i in range(100000) %}{{ 'xxxxxxxxxx' }}{% endfor %}"),
    ("doubling", "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
                 "{{ ns.s | length }}"),
    ("recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
]


@pytest.mark.parametrize(("label", "source"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_templates_are_contained(label: str, source: str) -> None:
    t0 = time.monotonic()
    r = render(source, MESSAGES)
    elapsed = time.monotonic() - t0
    assert r.text is None and r.unsafe and r.error is None, (label, r)
    assert elapsed < MAX_SECONDS + 6, (label, elapsed)  # the time bound (plus the child's start-up)


# Qwen2.5's template without its tool branches: a default system prompt when the user gives none
QWEN = ("{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
        "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
        "helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if message.role != "
        "'system' %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}"
        "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


def test_overhead_separates_the_default_system_prompt_from_each_turn() -> None:
    from catalog.sources.templates.measure import TYPICAL_TURNS, estimate_tokens, overhead

    plain, qwen = overhead(CHATML), overhead(QWEN)
    assert plain.system_prompt_tokens == 0 and qwen.system_prompt_tokens > 15
    # "<|im_start|>system\nYou are Qwen, ... assistant.<|im_end|>\n" is the whole difference
    injected = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    assert qwen.system_prompt_tokens == estimate_tokens(injected)
    assert qwen.per_turn_tokens == plain.per_turn_tokens > 0
    assert qwen.overhead_tokens == (qwen.system_prompt_tokens + TYPICAL_TURNS * qwen.per_turn_tokens
                                       + qwen.generation_prompt_tokens)
    exact = overhead(QWEN, count=lambda text: len(text))  # any tokenizer plugs in: here, one per character
    assert exact.counted_with == "the model's tokenizer" and exact.system_prompt_tokens == len(injected)


def test_a_hostile_template_is_reported_and_the_rest_of_the_answer_comes_out(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    from gguf_files import write_small_llama

    path = write_small_llama(tmp_path / "evil.gguf", chat_template=HOSTILE[1][1])
    code, out, err = cli("check", str(path), "--vram", "8", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"]["chat_template"]["safe"] is False and "unsafe" in doc["model"]["chat_template"]["unsafe"]
    assert doc["quants"] and doc["quants"][0]["memory"]["template_bytes"] == 0


def test_content_tokens_size_the_context_with_the_templates_overhead(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    from gguf_files import write_small_llama

    chat = write_small_llama(tmp_path / "chat.gguf", chat_template=QWEN)
    base = write_small_llama(tmp_path / "base.gguf")
    docs = {}
    for name, path in (("chat", chat), ("base", base)):
        code, out, err = cli("check", str(path), "--vram", "8", "--content-tokens", "1000", "--json")
        assert code == 0, err
        docs[name] = json.loads(out)
    over = docs["chat"]["model"]["chat_template"]["overhead_tokens"]
    assert over > 0 and docs["chat"]["options"]["context"] == 1000 + over
    assert docs["base"]["options"]["context"] == 1000 and docs["base"]["model"]["chat_template"]["present"] is False
    mem_chat, mem_base = docs["chat"]["quants"][0]["memory"], docs["base"]["quants"][0]["memory"]
    assert mem_chat["template_bytes"] > 0 == mem_base["template_bytes"]
    assert mem_chat["kv_cache_bytes"] >= mem_base["kv_cache_bytes"]  # the aligned model needs more for the same content


def test_named_template_variants_are_listed_and_the_default_is_measured() -> None:
    from catalog.sources.local import template_text

    meta = {"tokenizer.chat_template": CHATML, "tokenizer.chat_template.tool_use": "{{ tools }}",
            "tokenizer.chat_template.rag": "{{ documents }}"}
    text = template_text(CHATML, meta)
    assert text.present is True and text.variants == ("rag", "tool_use") and text.jinja == CHATML
    assert template_text(None, {}).present is False
