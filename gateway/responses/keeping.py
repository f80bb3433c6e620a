"""Calls to the response store from the request path: metered, and never a 500.

A read that the store cannot answer is a 503 (the chain cannot be continued without it); a write that fails
is counted and logged, and the response still goes to the client (it was generated; only a later
``previous_response_id`` naming it will miss).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.limits import StateUnavailable
from gateway.metrics import GatewayMetrics
from gateway.responses.store import ResponseStore, StoredResponse
from gateway.store.base import StoreError

log = logging.getLogger("thinkgate.responses")
T = TypeVar("T")


class Keeping:
    """The response store with the error policy above; ``op`` labels ``thinkgate_redis_errors_total``."""

    def __init__(self, store: ResponseStore, metrics: GatewayMetrics) -> None:
        self.store = store
        self.metrics = metrics

    async def read(self, op: str, call: Callable[[ResponseStore], Awaitable[T]]) -> T:
        try:
            return await call(self.store)
        except StoreError as exc:
            self.metrics.redis_errors.labels(op).inc()
            raise StateUnavailable(
                f"stored responses are unavailable ({exc}); retry shortly", headers={"retry-after": "1"}
            ) from None

    async def save(self, record: StoredResponse) -> bool:
        try:
            await self.store.put(record)
        except StoreError as exc:
            self.metrics.redis_errors.labels("responses_put").inc()
            log.warning("response %s not stored: %s", record.id, exc)
            return False
        return True
