"""The front-door seam: a front door is a parser into the internal request and writers out of the result.

The internal request (:class:`Call`) is an OpenAI chat-completions body plus the few facts the pipeline needs;
the internal result is a chat completion (a ``dict``, non-stream) or batches of chat-completion chunks
(stream), already normalised (reasoning under both names, usage filled in, ``reasoning.exclude`` applied). A
front door turns its own API's request into a :class:`Call` and writes that result in its own shape — JSON,
SSE events, and errors in its own envelope. :class:`OpenAIDoor` is the one for ``/v1/chat/completions`` and
``/v1/completions`` (the result already has their shape).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from starlette.responses import Response

from gateway.errors import GatewayError, error_envelope, error_response
from gateway.proxy.sse import DONE, encode_event
from router.episodes import Episode
from router.records import record

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.auth import Principal

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"


#: ``Call.resolve``: awaited by the prologue once the caller is authenticated; returns the complete Call.
Resolve = Callable[["Request", "Principal"], Awaitable["Call"]]


@record
class Call:
    """The internal request.

    ``body`` is an OpenAI chat-completions body (for ``decided=False``, a raw ``/v1/completions`` body that
    is passed through to the model's pools without a decision). ``want_usage``: the client gets the final
    usage chunk of a stream (the pipeline always asks the backend for it). ``context`` carries whatever the
    front door's writers need from its own request (the pipeline never reads it).

    Two optional hooks for a front door with state of its own (the Responses API's stored responses):
    ``resolve`` is awaited in the prologue right after the parse and the authentication (it may read a store,
    e.g. the turns of a ``previous_response_id`` chain, and returns the complete Call: the decision reads its
    body); ``settle`` is awaited after the writer made the last bytes of a successful answer (``answer`` or
    ``end``) and before they are sent (e.g. to store the response, so a client that names it at once finds
    it).
    ``episode``: an agent episode the front door found in its own request (its ``metadata.episode_id``, a
    Responses ``previous_response_id`` chain); the ``x-thinkgate-episode`` header and a chat body's
    ``metadata.episode_id`` still come first, the task hash is the fallback (:mod:`router.episodes`).
    """

    body: dict[str, Any]
    model: str
    stream: bool
    want_usage: bool = False
    path: str = CHAT_PATH
    decided: bool = True
    context: Any = None
    resolve: Resolve | None = None
    settle: Callable[[], Awaitable[None]] | None = None
    episode: Episode | None = None


class StreamWriter(Protocol):
    """Writes one streamed answer: batches of chat-completion chunks in, the front door's bytes out."""

    def chunks(self, batch: list[dict[str, Any]]) -> bytes:
        """The bytes for the chunks of one upstream read (may be empty)."""
        ...

    def failed(self, message: str, code: str) -> bytes:
        """The in-band error after the first byte (the stream then ends with :meth:`end`)."""
        ...

    def end(self) -> bytes:
        """The stream's last bytes."""
        ...


class FrontDoor(Protocol):
    """One public API in front of the pipeline."""

    @property
    def name(self) -> str:
        """Labels metrics (``endpoint``) and the access log: chat, completions, responses, messages."""
        ...

    def parse(self, body: dict[str, Any]) -> Call:
        """Validate the client's JSON object and translate it; raise a 4xx :class:`GatewayError`."""
        ...

    def answer(self, result: dict[str, Any], call: Call) -> bytes:
        """The JSON body of a non-streamed answer."""
        ...

    def stream(self, call: Call) -> StreamWriter:
        """A writer for one streamed answer."""
        ...

    def error(self, exc: GatewayError) -> Response:
        """``exc`` in the front door's error envelope (status and ``exc.headers`` kept)."""
        ...


class _OpenAIStream:
    """OpenAI SSE: one ``data:`` event per chunk, ``{"error": …}`` in band, ``data: [DONE]`` at the end."""

    __slots__ = ()

    def chunks(self, batch: list[dict[str, Any]]) -> bytes:
        return b"".join([encode_event(orjson.dumps(chunk)) for chunk in batch])

    def failed(self, message: str, code: str) -> bytes:
        return encode_event(orjson.dumps(error_envelope(message, 502, code=code, type="upstream_error")))

    def end(self) -> bytes:
        return DONE


_OPENAI_STREAM = _OpenAIStream()


@dataclass(frozen=True, slots=True)
class OpenAIDoor:
    """``/v1/chat/completions`` and ``/v1/completions``: the internal result is already their wire shape."""

    name: str
    parser: Callable[[dict[str, Any]], Call]

    def parse(self, body: dict[str, Any]) -> Call:
        return self.parser(body)

    def answer(self, result: dict[str, Any], call: Call) -> bytes:
        return orjson.dumps(result)

    def stream(self, call: Call) -> StreamWriter:
        return _OPENAI_STREAM

    def error(self, exc: GatewayError) -> Response:
        return error_response(
            exc.message, exc.status, param=exc.param, code=exc.code, type=exc.type, headers=exc.headers
        )
