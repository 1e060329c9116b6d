"""Adapters that turn the outside world (bundled data, local files, remote hubs) into core values.

The two switches every source reads live here, where importing them costs nothing: `offline_env()`
(`HF_HUB_OFFLINE` asks for no network; the sources then answer from the cache) and `hub_endpoint()`
(`HF_ENDPOINT`, a mirror or a test server, else huggingface.co).
"""

import os

HUB_ENDPOINT = "https://huggingface.co"


def offline_env() -> bool:
    """Whether `HF_HUB_OFFLINE` asks for no network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_endpoint() -> str:
    """The Hub's base URL: `HF_ENDPOINT` (a mirror, a test server) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT).rstrip("/")
