"""An ASGI response that produces its body while watching for the client to go away.

Starlette's StreamingResponse notices a disconnect only when it next writes; tests need the simulator to
notice it promptly (during queueing, prefill or a hang), so a watcher task waits on `receive()` for
`http.disconnect` and cancels the producer. A producer that returns without completing the response
makes uvicorn close the connection abruptly: that is how drops are simulated.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class Outcome(enum.Enum):
    """How a generation response ended."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the client disconnected first
    DROPPED = "dropped"  # the simulator aborted the connection on purpose
    FAILED = "failed"  # the producer raised an unexpected error


class Dropped(Exception):
    """Raised by a producer to abort the connection mid-response (simulated fault)."""


Producer = Callable[[Send], Awaitable[None]]


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class WatchedResponse(Response):
    """Runs `produce(send)` and reports the `Outcome` to `on_done` exactly once."""

    def __init__(self, produce: Producer, on_done: Callable[[Outcome], None]) -> None:
        super().__init__()
        self._produce = produce
        self._on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outcome = Outcome.CANCELLED
        producer = asyncio.ensure_future(self._produce(send))
        watcher = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            done, _ = await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if producer in done:
                exc = producer.exception()
                if exc is None:
                    outcome = Outcome.COMPLETED
                elif isinstance(exc, Dropped):
                    outcome = Outcome.DROPPED  # returning unfinished makes uvicorn close the socket
                elif not isinstance(exc, OSError | ClientDisconnect):
                    outcome = Outcome.FAILED
                    raise exc
        finally:
            for task in (producer, watcher):
                task.cancel()
            await asyncio.gather(producer, watcher, return_exceptions=True)
            self._on_done(outcome)
