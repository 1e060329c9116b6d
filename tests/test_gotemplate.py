"""Ollama's Go templates rendered as Ollama renders them (catalog.sources.templates.gotemplate), checked against
Ollama's own expected prompts (its template/testdata, recorded in tests/data/ollama_templates.json),
its legacy .System/.Prompt/.Response path, and hostile templates that must stop within bounds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from catalog.sources.templates import gotemplate, measure
from catalog.sources.templates.gotemplate import GoTemplateError, GoTemplateUnsafe, render_ollama

DOC = json.loads((Path(__file__).parent / "data" / "ollama_templates.json").read_text())
CASES = [(name, conv) for name, t in sorted(DOC["templates"].items()) for conv in sorted(t["expected"])]


def _msgs(pairs: list[list[str]]) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in pairs]


@pytest.mark.parametrize(("name", "conv"), CASES, ids=[f"{n}/{c}" for n, c in CASES])
def test_ollamas_templates_render_ollamas_expected_prompts(name: str, conv: str) -> None:
    t = DOC["templates"][name]
    got = render_ollama(t["template"], _msgs(DOC["conversations"][conv]))
    if name in DOC["trailing_space_removed"] and got.endswith(" "):  # as Ollama's own test does
        got = got[:-1]
    assert got == t["expected"][conv]


def test_every_recorded_template_is_checked() -> None:
    assert len(DOC["templates"]) >= 20 and len(CASES) >= 60


@pytest.mark.parametrize("case", DOC["legacy"], ids=[c["name"] for c in DOC["legacy"]])
def test_legacy_system_prompt_response_templates_and_messages_templates_agree(case: dict) -> None:
    for label, src in case["templates"].items():
        assert render_ollama(src, _msgs(case["messages"])) == case["expected"], label


def test_the_model_system_layer_is_the_default_system_message() -> None:
    chatml = DOC["templates"]["chatml.gotmpl"]["template"]
    got = render_ollama(chatml, [{"role": "user", "content": "Hi"}], system_layer="Be brief.")
    assert got == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    # a conversation with its own system message keeps it, and the layer is not added
    got = render_ollama(chatml, [{"role": "system", "content": "Own."}, {"role": "user", "content": "Hi"}],
                        system_layer="Be brief.")
    assert "Own." in got and "Be brief." not in got


def test_go_template_semantics_the_templates_rely_on() -> None:
    def r(src: str, **data: object) -> str:
        return gotemplate.execute(gotemplate.parse(src), dict(data))

    assert r('{{ $x := "a" }}{{ range .L }}{{ $x = printf "%s%s" $x . }}{{ end }}{{ $x }}', L=["b", "c"]) == "abc"
    assert r("{{ range $i, $v := .L }}{{ $i }}={{ $v }};{{ else }}none{{ end }}", L=[]) == "none"
    assert r("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", M={"b": 2, "a": 1}) == "a1b2"  # sorted keys
    assert r("{{ if and .A (not .B) }}y{{ else if .B }}b{{ else }}n{{ end }}", A=1, B=0) == "y"
    assert r("{{ or .A .B }}|{{ and .A .B }}", A="", B="z") == "z|"
    assert r("{{ len (slice .L 1) }} {{ index .L 0 }} {{ eq .S \"x\" \"y\" }}", L=[1, 2, 3], S="y") == "2 1 true"
    assert r("a  {{- /* a comment */ -}}  b") == "ab"
    assert r("a \n{{-\n.X\t-}}\n b", X="x") == "axb"  # trim markers take any ASCII space after/before the dash
    assert r("{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
             L=[1, 2, 3, 4, 5]) == "13"
    assert r("{{ .Missing }}|{{ with .W }}{{ .Name }}{{ end }}", W={"Name": "n"}) == "<no value>|n"
    assert r("{{ json .V }}", V={"a": [1, "x"]}) == '{"a":[1,"x"]}'
    assert r("{{ $.Top }}{{ range .L }}{{ $.Top }}{{ end }}", Top="t", L=[1]) == "tt"


@pytest.mark.parametrize(("src", "why"), [
    ("{{ range $i := 1000000000 }}{{ range $j := 1000000000 }}x{{ end }}{{ end }}", "steps"),
    ('{{ $x := "xxxxxxxxxxxxxxxx" }}{{ range 64 }}{{ $x = printf "%s%s" $x $x }}{{ end }}{{ $x }}', "larger"),
    ("{{ range 100000 }}" + "x" * 100 + "{{ end }}", "output"),
    ("{{ if 1 }}" * 100 + "x" + "{{ end }}" * 100, "nested"),
])
def test_hostile_go_templates_stop_within_bounds(src: str, why: str) -> None:
    start = time.monotonic()
    with pytest.raises(GoTemplateUnsafe, match=why):
        render_ollama(src, [{"role": "user", "content": "hi"}])
    assert time.monotonic() - start < 5
    r = measure.render_ollama(src, [{"role": "user", "content": "hi"}])
    assert r.text is None and r.unsafe


@pytest.mark.parametrize("src", ["{{ template \"x\" }}", "{{ if .A }}", "{{ end }}", "{{ call .F }}", "{{ .A",
                                 "{{ $undefined }}", "{{ else }}"])
def test_broken_or_unsupported_templates_are_errors_not_crashes(src: str) -> None:
    with pytest.raises(GoTemplateError):
        render_ollama(src, [{"role": "user", "content": "hi"}])
    r = measure.render_ollama(src, [])
    assert r.text is None and (r.error or r.unsafe)


def test_the_overhead_of_an_ollama_template_layer() -> None:
    """ChatML in Ollama: 'user\\n' + '<|im_end|>\\n' around each user turn, the same around replies,
    and the generation prompt '<|im_start|>assistant\\n' (always appended) counted in the prefix."""
    chatml = DOC["templates"]["chatml.gotmpl"]["template"]
    got = measure.overhead(chatml, go=True)
    assert got.safe and got.generation_prompt_tokens == 0
    plain = measure.overhead(chatml, go=True, ollama_system="You are a helpful assistant.")
    assert plain.system_prompt_tokens > got.system_prompt_tokens  # the system layer costs context
    assert plain.per_user_turn_tokens == got.per_user_turn_tokens > 0


@pytest.mark.parametrize("src", ["{{" * 131072, "{{ if .A }}" * 5000 + "x" + "{{ end }}" * 5000,
                                 "{{" + "(" * 5000 + ".A" + ")" * 5000 + "}}", '{{ "\\q" }}', "{{ '\\u' }}",
                                 "{{ 1e400 }}"])
def test_hostile_template_layers_parse_in_linear_time_and_fail_cleanly(src: str) -> None:
    """A 256 KiB layer of `{{` took minutes with a lazy regex; nesting recursed past Python's stack; Go escapes
    JSON lacks crashed the parser (issue 22): each is now a GoTemplateError within a second, and measuring it
    reports the template as unusable while the rest of the answer comes out."""
    start = time.monotonic()
    with pytest.raises(GoTemplateError):
        render_ollama(src, [{"role": "user", "content": "hi"}])
    assert time.monotonic() - start < 1
    r = measure.render_ollama(src, [{"role": "user", "content": "hi"}])
    assert r.text is None
