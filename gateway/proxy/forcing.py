"""Budget forcing by the gateway (Qwen's two-pass recipe, PROTOCOLS.md §2.7), for backends whose vLLM cannot
enforce ``thinking_token_budget`` itself (or pools configured ``budget: forcing``).

1. Render the chat prompt to token ids with the backend's own template (``POST /tokenize``).
2. Generate up to the budget with ``POST /v1/completions`` (``return_token_ids``).
3. If thinking did not end by itself, append the family's early-stop text (which closes the think block).
4. Continue generation for the answer within what is left of ``max_tokens``.
The client sees one chat completion (or one SSE stream); reasoning is split out with the family's tags and
counted in tokens (the backend's own ids), usage adds up across the passes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.backends.client import UpstreamFailure, UpstreamResponse
from gateway.backends.pool import Endpoint, Pool
from gateway.errors import BadRequest
from gateway.proxy.normalize import upstream_exception
from gateway.proxy.sse import SSEParser, load_json
from templates.family import Family
from templates.forcing import next_forcing_step, think_tags_for
from templates.reasoning import ThinkStreamSplitter, split_reasoning
from templates.render import offers_tools
from templates.toolcalls import StreamParser, extract

#: Sampling fields copied from the chat body to the completions passes.
SAMPLING_FIELDS = (
    "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty",
    "seed", "stop", "stop_token_ids", "logit_bias", "ignore_eos",
)  # fmt: skip


TOKENIZE_PATH = "/tokenize"


def prompt_payload(body: dict[str, Any]) -> dict[str, Any]:
    """The first request of a forced run: render the rendered chat body's prompt with the backend's own
    template (``POST /tokenize``)."""
    payload: dict[str, Any] = {
        "model": body["model"],
        "messages": body["messages"],
        "add_generation_prompt": True,
        "chat_template_kwargs": body.get("chat_template_kwargs") or {},
    }
    if body.get("tools"):
        payload["tools"] = body["tools"]
    return payload


@dataclass(slots=True)
class Pass:
    """One completions pass: text, token ids, finish reason."""

    text: str = ""
    ids: list[int] = field(default_factory=list)
    finish: str | None = None


@dataclass(slots=True)
class ForcedResult:
    reasoning: str | None
    content: str | None
    finish: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    budget_hit: bool


class ForcingSession:
    """The sequence of calls of one forced request, all on one endpoint."""

    def __init__(
        self, pool: Pool, endpoint: Endpoint, family: Family, body: dict[str, Any], rid: str
    ) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.family = family
        self.tags = think_tags_for(family)
        self.body = body
        self.headers = {"content-type": "application/json", "x-request-id": rid}
        self.sampling = {k: body[k] for k in SAMPLING_FIELDS if body.get(k) is not None}
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        self.max_total: int | None = limit if isinstance(limit, int) else None

    async def _post_json(self, path: str, payload: dict[str, Any]) -> Any:
        resp = await self.pool.client.request(
            "POST", self.endpoint.url + path, body=orjson.dumps(payload), headers=self.headers
        )
        try:
            raw = await resp.read()
        finally:
            resp.close()
        if resp.status >= 400:
            raise upstream_exception(resp.status, raw, self.pool.name)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise UpstreamFailure("protocol", f"{path} answered with a body that is not JSON") from None

    async def prompt_ids(self) -> list[int]:
        data = await self._post_json(TOKENIZE_PATH, prompt_payload(self.body))
        tokens = list(data["tokens"])
        context = data.get("max_model_len")
        if isinstance(context, int) and context > len(tokens):
            # /v1/completions defaults max_tokens to 16: without a client limit, use what the context allows
            room = context - len(tokens)
            self.max_total = room if self.max_total is None else min(self.max_total, room)
        return tokens

    async def text_ids(self, text: str) -> list[int]:
        data = await self._post_json(
            "/tokenize", {"model": self.body["model"], "prompt": text, "add_special_tokens": False}
        )
        return list(data["tokens"])

    def _completion_payload(self, prompt: list[int], max_tokens: int | None, stream: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.body["model"],
            "prompt": prompt,
            "return_token_ids": True,
            **self.sampling,
        }
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if stream:
            payload["stream"] = True
        return payload

    async def complete(self, prompt: list[int], max_tokens: int | None) -> Pass:
        data = await self._post_json("/v1/completions", self._completion_payload(prompt, max_tokens, False))
        choice = data["choices"][0]
        ids = choice.get("token_ids")
        text = choice.get("text") or ""
        return Pass(
            text, list(ids) if ids is not None else await self.text_ids(text), choice.get("finish_reason")
        )

    async def open_stream(self, prompt: list[int], max_tokens: int | None) -> UpstreamResponse:
        """Start a streamed completion pass: the response once its headers say 200 (else the error)."""
        resp = await self.pool.client.request(
            "POST",
            self.endpoint.url + "/v1/completions",
            body=orjson.dumps(self._completion_payload(prompt, max_tokens, True)),
            headers=self.headers,
        )
        if resp.status >= 400:
            try:
                raw = await resp.read()
            finally:
                resp.close()
            raise upstream_exception(resp.status, raw, self.pool.name)
        return resp

    async def read_stream(self, resp: UpstreamResponse, out: Pass) -> AsyncIterator[str]:
        """Yield the text deltas of an opened pass; fill ``out`` with the whole pass; close ``resp``."""
        try:
            parser = SSEParser()
            have_ids = True
            while raw := await resp.receive():  # not chunks(): it is left at [DONE] (see receive())
                for event in parser.feed(raw):
                    if event.data == b"[DONE]":
                        resp.done_reading()  # its connection may be reused
                        if not have_ids:
                            out.ids = await self.text_ids(out.text)
                        return
                    chunk = load_json(event.data)
                    if "error" in chunk and not chunk.get("choices"):
                        raise UpstreamFailure("upstream_event", str(chunk["error"]))
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("text") or ""
                        ids = choice.get("token_ids")
                        if ids is None:
                            have_ids = False
                        else:
                            out.ids.extend(ids)
                        out.finish = choice.get("finish_reason") or out.finish
                        if delta:
                            out.text += delta
                            yield delta
            raise UpstreamFailure("protocol", "upstream closed the completion stream before [DONE]")
        finally:
            resp.close()

    async def complete_stream(
        self, prompt: list[int], max_tokens: int | None, out: Pass
    ) -> AsyncIterator[str]:
        """Yield text deltas; fill ``out`` with the whole pass."""
        resp = await self.open_stream(prompt, max_tokens)
        async for delta in self.read_stream(resp, out):
            yield delta


def _remaining(session: ForcingSession, used: int) -> int | None:
    return None if session.max_total is None else max(0, session.max_total - used)


async def _count_reasoning(session: ForcingSession, ids: list[int], reasoning: str | None) -> int:
    """Reasoning tokens: the ids before the end tag, without a leading start tag (the backend's tokenizer)."""
    start = await session.text_ids(session.tags.start)
    end = await session.text_ids(session.tags.end)
    if len(start) == 1 and len(end) == 1:
        first = 1 if ids[:1] == start else 0
        cut = ids.index(end[0]) if end[0] in ids else len(ids)
        return max(0, cut - first)
    return len(await session.text_ids(reasoning)) if reasoning else 0


class ForcedRun:
    """Runs the passes; :meth:`events` yields text pieces in order, then :attr:`result` is filled."""

    def __init__(self, session: ForcingSession, budget: int) -> None:
        self.session = session
        self.budget = budget
        self.result: ForcedResult | None = None
        self.prompt: list[int] = []
        self._first: Pass | None = None  # the first pass, when not streamed
        self._opened: UpstreamResponse | None = None  # the first pass's stream, not read yet

    @property
    def _first_max(self) -> int:
        s = self.session
        allowance = self.budget + (0 if s.family.opens_think else 1)  # the model's own "<think>" is free
        return allowance if s.max_total is None else min(allowance, s.max_total)

    async def start(self, stream: bool) -> None:
        """What may still be retried on another endpoint (nothing has reached the client): tokenize the
        prompt, then run the first pass (not streamed) or receive its response headers (streamed)."""
        self.prompt = await self.session.prompt_ids()
        if stream:
            self._opened = await self.session.open_stream(self.prompt, self._first_max)
        else:
            self._first = await self.session.complete(self.prompt, self._first_max)

    def close(self) -> None:
        """Release a first-pass stream that was opened but never read (idempotent)."""
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    async def events(self, stream: bool) -> AsyncIterator[str]:
        """The text pieces of every pass in order; :meth:`start` must have run with the same ``stream``."""
        s = self.session
        one = Pass()
        if stream:
            opened, self._opened = self._opened, None
            if opened is None:
                raise RuntimeError("ForcedRun.events(stream=True) before start(stream=True)")
            async for delta in s.read_stream(opened, one):
                yield delta
        else:
            if self._first is None:
                raise RuntimeError("ForcedRun.events(stream=False) before start(stream=False)")
            one = self._first
            yield one.text
        thinking_so_far = max(0, len(one.ids) - (0 if s.family.opens_think else 1))
        step = next_forcing_step(
            s.tags,
            one.text,
            thinking_tokens=thinking_so_far,
            budget=self.budget,
            stopped=one.finish == "stop",
        )
        injected: list[int] = []
        if step.append_text:
            injected = await s.text_ids(step.append_text)
            yield step.append_text
        used = len(one.ids) + len(injected)
        two = Pass()
        left = _remaining(s, used)
        if (
            step.continue_generation
            and (left is None or left > 0)
            and (one.finish == "length" or step.append_text)
        ):
            prompt = self.prompt + one.ids + injected
            if stream:
                async for delta in s.complete_stream(prompt, left, two):
                    yield delta
            else:
                two = await s.complete(prompt, left)
                yield two.text
        text = one.text + step.append_text + two.text
        split = split_reasoning(
            text, thinking=True, opens_think=s.family.opens_think, start=s.tags.start, end=s.tags.end
        )
        ids = one.ids + injected + two.ids
        finish = two.finish or one.finish or "stop"
        if not step.continue_generation or (left is not None and left == 0 and not two.ids):
            finish = "length" if one.finish == "length" or left == 0 else finish
        self.result = ForcedResult(
            reasoning=split.reasoning,
            content=split.content,
            finish=finish,
            prompt_tokens=len(self.prompt),
            completion_tokens=len(ids),
            reasoning_tokens=await _count_reasoning(s, ids, split.reasoning),
            budget_hit=step.budget_exhausted,
        )


def usage_of(result: ForcedResult) -> dict[str, Any]:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": result.reasoning_tokens},
    }


def parses_tools(family: Family, body: dict[str, Any]) -> bool:
    """The forced answer's text is parsed for tool calls: the request offers tools (``tool_choice`` not
    ``none``) and the family's tool-call syntax is known (vLLM's tool parser never sees a forced run)."""
    return family.tool_call_format == "hermes" and offers_tools(body)


def completion_body(result: ForcedResult, model: str, exclude: bool, tools: bool = False) -> dict[str, Any]:
    """The chat completion of a forced run; with ``tools``, calls in the answer become ``tool_calls`` as
    vLLM's hermes parser would report them (content before the first call, finish reason ``tool_calls``)."""
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    content, calls = result.content, list[dict[str, Any]]()
    if tools and content:
        content, calls = extract(content, cid)
    finish = "tool_calls" if calls and result.finish == "stop" else result.finish
    message: dict[str, Any] = {"role": "assistant", "content": content, "tool_calls": calls}
    if not exclude:
        message["reasoning"] = result.reasoning
        message["reasoning_content"] = result.reasoning
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage_of(result),
    }


async def forced_chunks(
    run: ForcedRun, *, model: str, exclude: bool, want_usage: bool, tools: bool = False
) -> AsyncIterator[list[dict[str, Any]]]:
    """A forced run as chat-completion chunk batches: role, reasoning and content deltas, finish, optional
    usage. With ``tools`` the content goes through the streaming hermes parse (tool-call deltas as vLLM
    sends them). Upstream failures propagate (the pipeline writes them in band)."""
    s = run.session
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }  # fmt: skip

    splitter = ThinkStreamSplitter(
        thinking=True, opens_think=s.family.opens_think, start=s.tags.start, end=s.tags.end
    )

    parser = StreamParser(cid) if tools else None
    answer = ""

    def pieces(reasoning: str, content: str) -> list[dict[str, Any]]:
        nonlocal answer
        out = []
        if reasoning and not exclude:
            out.append(chunk({"reasoning": reasoning, "reasoning_content": reasoning}))
        if content and parser is not None:
            answer += content
            text, calls = parser.feed(answer)
            delta: dict[str, Any] = {"content": text} if text else {}
            if calls:
                delta["tool_calls"] = calls
            if delta:
                out.append(chunk(delta))
        elif content:
            out.append(chunk({"content": content}))
        return out

    yield [chunk({"role": "assistant", "content": ""})]
    async for text in run.events(stream=True):
        batch = pieces(*splitter.feed(text))
        if batch:
            yield batch
    last = pieces(*splitter.finish())
    assert run.result is not None
    finish = run.result.finish
    if parser is not None and parser.called and finish == "stop":
        finish = "tool_calls"
    last.append(chunk({}, finish))
    if want_usage:
        last.append({
            "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": usage_of(run.result),
        })  # fmt: skip
    yield last


def check_forcing_request(body: dict[str, Any]) -> None:
    """What budget forcing cannot do, said up front instead of done wrong."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise BadRequest(
            "n > 1 is not supported where the gateway enforces the thinking budget (budget forcing)",
            param="n",
            code="unsupported_with_budget_forcing",
        )
