"""The upstream HTTP seam: one pooled aiohttp session per backend pool, with explicit timeouts.

aiohttp was chosen over httpx by measurement (``benchmarks/upstream_client.py``; LiteLLM reports the same
direction). Connect and first-byte timeouts apply while waiting for response headers, the idle timeout between
two body chunks, the total timeout to the whole exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from router.policy import Timeouts


class UpstreamFailure(Exception):
    """Talking to an endpoint failed.

    ``kind`` is a metric label: connect, timeout, idle, protocol, probe.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(slots=True)
class UpstreamResponse:
    """An open upstream response; the caller must :meth:`close` it (the relay does, in ``finally``)."""

    status: int
    headers: dict[str, str]
    _resp: aiohttp.ClientResponse
    _idle: float

    async def read(self) -> bytes:
        try:
            async with asyncio.timeout(self._idle):
                return await self._resp.read()
        except TimeoutError:
            raise UpstreamFailure("idle", f"upstream sent no data for {self._idle:g}s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("protocol", f"upstream connection failed while reading: {exc}") from None

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; :class:`UpstreamFailure` on idle timeout or a dropped connection."""
        content = self._resp.content
        while True:
            try:
                async with asyncio.timeout(self._idle):
                    chunk = await content.readany()
            except TimeoutError:
                raise UpstreamFailure("idle", f"upstream stream idle for {self._idle:g}s") from None
            except aiohttp.ClientError as exc:
                raise UpstreamFailure("protocol", f"upstream connection dropped: {exc}") from None
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        """Close now: an unfinished response closes its connection, so the backend sees the cancellation."""
        self._resp.close()


class UpstreamClient:
    """A pooled client for one backend pool. Create in the app's lifespan, close on shutdown."""

    def __init__(self, timeouts: Timeouts, max_connections: int) -> None:
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=self._max_connections, keepalive_timeout=30
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeouts.total, connect=self._timeouts.connect),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient used before start()")
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        first_byte: float | None = None,
    ) -> UpstreamResponse:
        """Send a request and wait for the response headers (connect + first-byte timeouts)."""
        wait = first_byte if first_byte is not None else self._timeouts.first_byte
        try:
            async with asyncio.timeout(self._timeouts.connect + wait):
                resp = await self.session.request(method, url, data=body, headers=headers)
        except TimeoutError:
            raise UpstreamFailure("timeout", f"no response from {url} within {wait:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamFailure("connect", f"cannot connect to {url}: {exc.os_error}") from None
        except aiohttp.ServerDisconnectedError:
            raise UpstreamFailure("protocol", f"{url} closed the connection before answering") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("protocol", f"request to {url} failed: {exc}") from None
        return UpstreamResponse(resp.status, dict(resp.headers), resp, self._timeouts.idle)

    async def get_json(self, url: str, *, timeout: float = 2.0) -> Any:
        """Small GET helper for /version, /health and /metrics probes."""
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None

    async def get_status(self, url: str, *, timeout: float = 2.0) -> int:
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url) as resp:
                    await resp.read()
                    return resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None

    async def get_text(self, url: str, *, timeout: float = 2.0) -> str:
        """GET a small text body (``/metrics``); :class:`UpstreamFailure` on any failure or non-200."""
        try:
            async with asyncio.timeout(timeout):
                async with self.session.get(url) as resp:
                    resp.raise_for_status()
                    return await resp.text(errors="replace")
        except (TimeoutError, aiohttp.ClientError, UnicodeDecodeError) as exc:
            raise UpstreamFailure("probe", f"GET {url} failed: {exc}") from None
