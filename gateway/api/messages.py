"""``POST /v1/messages`` (the Anthropic Messages front door of the pipeline) and its ``count_tokens``.

The door parses a Messages request into the internal chat request (:mod:`gateway.anthropic.translate`) and
writes the result as a ``Message`` or as Messages stream events; every error of these paths is in Anthropic's
envelope (:mod:`gateway.anthropic.errors`). One door is made per request: it carries the request's
``anthropic-beta`` choice, its id (the message id) and the gateway's thinking-block signer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from gateway.anthropic.errors import error_response
from gateway.anthropic.events import MessageStreamWriter
from gateway.anthropic.message import message_id, to_message
from gateway.anthropic.protocol import validate_count_tokens, validate_messages
from gateway.anthropic.signature import ThinkingSigner
from gateway.anthropic.translate import InvalidThinking, Translated, interleaved, to_chat
from gateway.backends.client import UpstreamFailure
from gateway.errors import GatewayError, UpstreamError
from gateway.pipeline.door import CHAT_PATH, Call
from gateway.pipeline.plan import plan_call
from gateway.pipeline.prologue import gateway_state, read_body, request_id
from gateway.pipeline.serve import serve
from gateway.protocol import parse_json_object
from gateway.proxy.forcing import TOKENIZE_PATH, prompt_payload
from router.episodes import from_metadata

MESSAGES_PATH = "/v1/messages"

#: Failure kinds of the upstream (gateway.backends.client) → the error type of the in-band event.
_STREAM_ERROR_TYPES = {"timeout": "timeout_error", "idle": "timeout_error"}


class MessagesStream:
    """The stream writer of one answer: ``message_start`` + ``ping`` before the first content, then the events
    of :class:`MessageStreamWriter`; after a failure only the ``error`` event."""

    __slots__ = ("_failed", "_started", "_writer")

    def __init__(self, writer: MessageStreamWriter) -> None:
        self._writer = writer
        self._started = False
        self._failed = False

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._writer.start()

    def chunks(self, batch: list[dict[str, Any]]) -> bytes:
        out = self._start()
        for chunk in batch:
            out += self._writer.chunk(chunk)
        return out

    def failed(self, message: str, code: str) -> bytes:
        self._failed = True
        return self._start() + self._writer.error(_STREAM_ERROR_TYPES.get(code, "api_error"), message)

    def end(self) -> bytes:
        if self._failed:
            return b""
        return self._start() + self._writer.finish()


@dataclass(frozen=True, slots=True)
class MessagesDoor:
    """The front door of ``POST /v1/messages`` for one request."""

    signer: ThinkingSigner
    on_invalid_thinking: InvalidThinking
    interleaved: bool
    request_id: str
    name: str = "messages"

    def translate(self, req: Any) -> Translated:
        return to_chat(
            req,
            signer=self.signer,
            on_invalid_thinking=self.on_invalid_thinking,
            interleaved=self.interleaved,
        )

    def parse(self, body: dict[str, Any]) -> Call:
        req = validate_messages(body)
        t = self.translate(req)
        # want_usage: the final usage chunk feeds message_delta's usage
        stream = bool(t.body["stream"])
        # no chain id in this API: the episode is the header, metadata.episode_id, else the task hash
        episode = from_metadata(req.metadata.model_dump() if req.metadata is not None else None)
        return Call(
            body=t.body,
            model=t.model,
            stream=stream,
            want_usage=True,
            path=CHAT_PATH,
            context=t,
            episode=episode,
        )

    def answer(self, result: dict[str, Any], call: Call) -> bytes:
        t: Translated = call.context
        msg_id = message_id(self.request_id)
        stops = t.stop_sequences
        return orjson.dumps(
            to_message(result, msg_id=msg_id, model=t.model, signer=self.signer, stop_sequences=stops)
        )

    def stream(self, call: Call) -> MessagesStream:
        t: Translated = call.context
        msg_id = message_id(self.request_id)
        writer = MessageStreamWriter(
            msg_id=msg_id, model=t.model, signer=self.signer, stop_sequences=t.stop_sequences
        )
        return MessagesStream(writer)

    def error(self, exc: GatewayError) -> Response:
        return error_response(exc.status, exc.message, headers=exc.headers, request_id=self.request_id)


def door_for(request: Request) -> MessagesDoor:
    state = gateway_state(request)
    return MessagesDoor(
        signer=state.signer,
        on_invalid_thinking=state.policy.messages.on_invalid_thinking,
        interleaved=interleaved(request.headers.get("anthropic-beta")),
        request_id=request_id(request),
    )


async def messages(request: Request) -> Response:
    return await serve(request, door_for(request))


def anthropic_error(exc: GatewayError) -> Response:
    """The Anthropic envelope for errors raised outside the door (unknown sub-path, 405, unexpected 500)."""
    return error_response(exc.status, exc.message, headers=exc.headers)


async def count_tokens(request: Request) -> Response:
    """``{"input_tokens": N}``: the prompt rendered exactly as the first healthy pool of the plan would get it
    (the decision's thinking switch included), counted by that backend's ``/tokenize``. No generation: rate
    limits and quotas are not charged."""
    door = door_for(request)
    try:
        return await _count(request, door)
    except GatewayError as exc:
        return door.error(exc)


async def _count(request: Request, door: MessagesDoor) -> Response:
    state = gateway_state(request)
    headers = request.headers
    principal = state.keys.authenticate(headers.get("authorization"), headers.get("x-api-key"))
    body = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    t = door.translate(validate_count_tokens(body))
    call = Call(body=t.body, model=t.model, stream=False)
    target = state.target(call.model, principal.policy.models)
    principal.check_model(target.name, target.virtual)
    plan = plan_call(state, call, target, headers.get("x-thinkgate-effort"), principal.caps)
    for step in plan.steps:
        assert step.rendered is not None
        payload = orjson.dumps({**prompt_payload(step.rendered.payload), "add_special_tokens": False})
        for endpoint in step.pool.candidates(set()):
            try:
                resp = await step.pool.client.request(
                    "POST",
                    endpoint.url + TOKENIZE_PATH,
                    body=payload,
                    headers={"content-type": "application/json"},
                )
                raw = await resp.read()
                resp.close()
            except UpstreamFailure:
                continue
            data = orjson.loads(raw) if resp.status == 200 else None
            if isinstance(data, dict) and isinstance(data.get("count"), int):
                return Response(orjson.dumps({"input_tokens": data["count"]}), media_type="application/json")
            if resp.status < 500:
                raise UpstreamError(
                    f"backend {step.pool.name!r} could not count the prompt (HTTP {resp.status})"
                )
    raise UpstreamError("no healthy endpoint could count the prompt", status=503, code="no_healthy_backend")
