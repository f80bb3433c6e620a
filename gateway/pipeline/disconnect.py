"""Client disconnects cancel the upstream work, on every path.

:class:`DisconnectWatch` listens on the ASGI ``receive`` channel while a response is being produced (the body
has been read by then, so the next message is ``http.disconnect``). When the client goes, it cancels the
serving task at whatever it awaits — the backend's headers, a non-streamed body, a forced run's pass, a
stream's next event — and the exchange's ``close`` in the pipeline's ``finally`` closes the upstream
connection at once, which is how vLLM (and the simulator) learns to abort. The watch then swallows that
cancellation and says ``gone``; a cancellation from elsewhere (shutdown) goes on as usual.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from starlette.types import Message, Receive


class DisconnectWatch:
    """``async with DisconnectWatch(receive) as watch:`` — the block is cancelled if the client leaves.

    Set :attr:`closing` before the last ``send``: a disconnect after that point is the normal end of the
    exchange (servers report ``http.disconnect`` once the response is complete), not a client that left.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.gone = False
        self.gone_at: float | None = None  # perf_counter() when the disconnect was seen
        self.closing = False
        self._task: asyncio.Task[Any] | None = None
        self._listener: asyncio.Future[Message] | None = None

    def _heard(self, listener: asyncio.Future[Message]) -> None:
        if listener.cancelled() or listener.exception() is not None or self._task is None:
            return
        if listener.result()["type"] != "http.disconnect":  # another message: keep listening
            self._listen()
        elif not self.closing:
            self.gone = True
            self.gone_at = time.perf_counter()
            self._task.cancel()

    def _listen(self) -> None:
        self._listener = asyncio.ensure_future(self._receive())
        self._listener.add_done_callback(self._heard)

    async def __aenter__(self) -> DisconnectWatch:
        self._task = asyncio.current_task()
        self._listen()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self.closing = True
        if self._listener is not None:
            self._listener.cancel()
        if self.gone and self._task is not None:
            self._task.uncancel()
            return kind is asyncio.CancelledError
        return False
