"""One ``POST /v1/responses``: the parsed request, its chain, and the writers of its answer.

:meth:`Turn.open` loads the ``previous_response_id`` chain of a parsed request (earlier input and output
items come before the new input in the internal chat body). :meth:`Turn.answer` writes a non-streamed
chat completion as a Response; :class:`TurnStream` writes the streamed chunks as typed events. Both leave
the final Response on the turn, and :meth:`Turn.settle` stores it (``store`` is true by default); the
pipeline awaits it *before* the last bytes go out, so a client that chains the next turn at once finds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.responses.events import ResponseStream, encode
from gateway.responses.items import TurnIds, chat_messages
from gateway.responses.keeping import Keeping
from gateway.responses.output import Event
from gateway.responses.request import ResponsesRequest
from gateway.responses.result import Frame, response_from_completion
from gateway.responses.store import Chain, StoredResponse, load_chain
from router.episodes import Episode, chain_episode, from_metadata


def episode_from(request: ResponsesRequest) -> Episode | None:
    """An explicit episode id in the request's ``metadata`` (``episode_id`` or ``thinkgate_episode``)."""
    return from_metadata(request.metadata)


def _now() -> int:
    return int(time.time())


@dataclass(slots=True)
class Turn:
    request: ResponsesRequest
    response_id: str
    created_at: int
    owner: str | None
    chain: Chain | None
    keeping: Keeping
    ids: TurnIds
    final: dict[str, Any] | None = None  # the Response to store, once written

    @classmethod
    async def open(cls, request: ResponsesRequest, ids: TurnIds, owner: str | None, keeping: Keeping) -> Turn:
        """Load the chain of a parsed request (404 when it is gone, 503 when the store is down)."""
        chain = None
        previous = request.previous_response_id
        if previous is not None:
            chain = await keeping.read("responses_chain", lambda store: load_chain(store, previous, owner))
        return cls(request, ids.response_id, _now(), owner, chain, keeping, ids)

    @property
    def episode(self) -> Episode | None:
        """The agent episode this request names: ``metadata.episode_id``, else its chain's (the task of the
        chain's first turn); ``None`` for a new chain, whose chat body's task hash is then the episode."""
        found = episode_from(self.request)
        if found is not None or self.chain is None:
            return found
        first = self.chain.records[0]
        return chain_episode(chat_messages(first.input_items, first.response.get("instructions")))

    def chat_body(self) -> dict[str, Any]:
        """The internal chat-completions body: the chain's items, then this request's input."""
        return self.request.chat_body(self.chain.items() if self.chain is not None else [])

    def frame(self, model: str) -> Frame:
        effort = self.request.effort
        return Frame(self.response_id, self.created_at, model, effort, self.request)

    async def settle(self) -> None:
        """Store the final Response when the request asked for it (the default)."""
        if not self.request.store or self.final is None:
            return
        ancestors = self.chain.ancestors if self.chain is not None else ()
        record = StoredResponse(self.response_id, self.owner, ancestors, self.request.items, self.final)
        await self.keeping.save(record)

    def answer(self, completion: dict[str, Any]) -> bytes:
        """The JSON body for a non-streamed chat completion."""
        model = str(completion.get("model") or self.request.model)
        self.final = response_from_completion(self.frame(model), completion, self.ids, now=_now())
        return orjson.dumps(self.final)

    def stream(self) -> TurnStream:
        return TurnStream(self)


class TurnStream:
    """Batches of chat chunks in, SSE bytes of typed events out. ``response.created`` goes out with the first
    batch (it names the served model, which the first chunk carries)."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self._stream: ResponseStream | None = None

    def _open(self, model: str) -> tuple[ResponseStream, list[Event]]:
        if self._stream is not None:
            return self._stream, []
        self._stream = ResponseStream(self.turn.frame(model), self.turn.ids)
        return self._stream, self._stream.start()

    def chunks(self, batch: list[dict[str, Any]]) -> bytes:
        if not batch:
            return b""
        stream, events = self._open(str(batch[0].get("model") or self.turn.request.model))
        for chunk in batch:
            events += stream.chunk(chunk)
        return b"".join([encode(e) for e in events])

    def failed(self, message: str, code: str) -> bytes:
        stream, events = self._open(self.turn.request.model)
        events += stream.fail(message, "server_error")
        return b"".join([encode(e) for e in events])

    def end(self) -> bytes:
        """The closing events; after a failure, nothing more (``response.failed`` was the last event)."""
        stream, events = self._open(self.turn.request.model)
        if stream.final is not None:
            return b""
        events += stream.end(now=_now())
        self.turn.final = stream.final
        return b"".join([encode(e) for e in events])
