"""What an opener hands the dispatcher: an :class:`Exchange` with one endpoint, response headers received.

Two openers make one: :mod:`gateway.pipeline.native` (one HTTP request to vLLM) and
:mod:`gateway.pipeline.forced` (a budget-forcing run of several passes on one endpoint). The pipeline reads an
exchange the same way whatever made it: :meth:`Exchange.answer` (non-stream) or :meth:`Exchange.chunks`
(stream), then :meth:`Exchange.usage`, and always :meth:`Exchange.close` (which gives back the lease).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol

from gateway.backends.pool import Lease
from router.records import record


@record
class Usage:
    """Tokens of one answer, and whether its thinking reached the budget."""

    prompt: int
    completion: int
    reasoning: int
    budget_hit: bool


class Exchange(Protocol):
    lease: Lease
    budget_mode: str  # "native" | "forcing"

    async def answer(self) -> dict[str, Any]:
        """The whole non-streamed answer as a normalised chat completion (raises on upstream failure)."""
        ...

    def chunks(self) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Batches of normalised chunks up to the end of the stream; ``UpstreamFailure`` mid-stream."""
        ...

    def finished(self) -> bool:
        """Whether the upstream answer has ended: no batch follows the one :meth:`chunks` just yielded."""
        ...

    def usage(self) -> Usage | None:
        """The usage once the answer is complete (``None`` while unknown)."""
        ...

    def reports_budget_hit(self) -> bool:
        """Whether ``x-thinkgate-budget-hit`` is meaningful for this exchange."""
        ...

    def close(self) -> None:
        """Close the upstream now (the backend sees the cancellation), release the lease; idempotent."""
        ...
