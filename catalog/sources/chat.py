"""Send the probe's prompts to a chat endpoint: Ollama's `/api/chat` or an OpenAI-compatible
`/v1/chat/completions` (llama-server, LM Studio, vLLM, Ollama's own `/v1`).

Only the endpoint the user names (or a local Ollama) is contacted; a non-loopback address must be
given explicitly with `--endpoint`, never picked up from the environment.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlparse

from catalog.core.probe import CONTROL, DECLINE, Reply, classify
from catalog.errors import RemoteUnavailable, UsageError

MAX_TOKENS = 160


def is_local(url: str) -> bool:
    """Whether `url` points at this machine (loopback, or localhost)."""
    host = urlparse(url).hostname or ""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def detect_api(c: Any, base: str) -> str:
    """"openai" for a base ending in /v1, else "ollama" when `/api/version` answers, else "openai"."""
    if urlparse(base).path.rstrip("/").endswith("/v1"):
        return "openai"
    try:
        r = c.get(f"{base}/api/version")
        if r.status_code == 200 and "version" in r.json():
            return "ollama"
    except Exception:  # noqa: BLE001 - not Ollama; try the OpenAI shape
        pass
    return "openai"


def _ask(c: Any, base: str, api: str, model: str, prompt: str) -> str:
    messages = [{"role": "user", "content": prompt}]
    try:
        if api == "ollama":
            r = c.post(f"{base}/api/chat", json={"model": model, "messages": messages, "stream": False,
                                                 "options": {"temperature": 0, "num_predict": MAX_TOKENS}})
        else:
            url = f"{base}/chat/completions" if base.rstrip("/").endswith("/v1") else f"{base}/v1/chat/completions"
            r = c.post(url, json={"model": model, "messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS})
    except Exception as exc:  # noqa: BLE001 - refused connection, timeout
        raise RemoteUnavailable(f"{base}: the chat endpoint did not answer ({type(exc).__name__})") from None
    if r.status_code != 200:
        raise RemoteUnavailable(f"{base}: the chat endpoint answered HTTP {r.status_code}", status=r.status_code)
    try:
        doc = r.json()
        if api == "ollama":
            return str(doc["message"]["content"])
        return str(doc["choices"][0]["message"]["content"] or "")
    except (ValueError, KeyError, IndexError, TypeError):
        raise RemoteUnavailable(f"{base}: the chat endpoint's answer is not a chat completion") from None


def run(base: str, model: str, api: str = "auto", client: Any = None) -> tuple[str, list[Reply]]:
    """Send every probe prompt; return the API used and the classified replies."""
    from catalog.sources.http import client as make_client

    base = base.rstrip("/")
    if urlparse(base).scheme not in ("http", "https"):
        raise UsageError(f"{base!r} is not an http(s) URL")
    c = client or make_client(120.0)
    try:
        api = detect_api(c, base) if api == "auto" else api
        out = []
        for which, prompts in (("decline", DECLINE), ("control", CONTROL)):
            for pid, prompt in prompts:
                text = _ask(c, base, api, model, prompt)
                refused, rules = classify(text)
                out.append(Reply(which, pid, prompt, text[:600], refused, rules))
        return api, out
    finally:
        if client is None:
            c.close()
