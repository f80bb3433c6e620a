"""Request handling of the simulator: validation as vLLM does it, generation, timing, faults, accounting.

Release-dependent request handling goes through `compat` with the `VersionProfile` of `config.vllm_version`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Send

from simulator import responses as shapes
from simulator.compat import adapt_chat_body, adapt_completion_body, filter_history
from simulator.config import SimConfig
from simulator.engine import Engine
from simulator.faults import Fault, FaultInjector
from simulator.generation import Generation, GenerationRequest, generate
from simulator.metrics import SimMetrics
from simulator.prompting import render_chat_prompt
from simulator.protocol import (
    ChatRequest,
    CompletionRequest,
    SimError,
    TokenizeRequest,
    decode_body,
    validate_body,
)
from simulator.stats import SimStats
from simulator.tokenizer import ChatTemplateError, SimTokenizer
from simulator.toolcalls import call_text, planned_calls, planned_calls_from_prompt
from simulator.transport import Dropped, Outcome, WatchedResponse
from simulator.versions import VersionProfile

#: how many request bodies and cancellation times the simulator remembers
RECENT = 64

_DROP_AFTER_CHUNKS = 3


@dataclass(frozen=True)
class Job:
    """One accepted generation request, ready to be timed and written out."""

    env: shapes.Envelope
    prompt_ids: list[int]
    gens: list[Generation]
    stream: bool
    include_usage: bool
    fault: Fault
    slow_first_byte_s: float
    arrived: float
    chat: bool
    include_reasoning: bool = True
    return_token_ids: bool = False
    #: Content goes through vLLM's hermes tool parser (tools offered, tool_choice auto or absent).
    parse_tools: bool = False


class SimServing:
    """Everything one simulated vLLM server holds; the FastAPI routes delegate here."""

    def __init__(self, config: SimConfig, tokenizer: SimTokenizer) -> None:
        self.config = config
        self.profile = VersionProfile.for_version(config.vllm_version)
        self.tokenizer = tokenizer
        self.metrics = SimMetrics(config.model)
        self.engine = Engine(config, self.metrics)
        self.faults = FaultInjector(config.faults(), config.seed)
        self.stats = SimStats()
        self.created = int(time.time())
        #: the JSON bodies of the latest generation requests, and the wall-clock times of the latest
        #: cancellations (``GET /sim/requests``, ``GET /sim/cancellations``: tests and benchmarks)
        self.recent_bodies: deque[bytes] = deque(maxlen=RECENT)
        self.cancelled_at: deque[float] = deque(maxlen=RECENT)

    # ---- validation shared by chat and completions -------------------------------------------

    def parse_chat(self, raw: bytes) -> ChatRequest:
        """Decode and validate a chat body as the simulated release would (raises `SimError`)."""
        return validate_body(ChatRequest, adapt_chat_body(self.profile, decode_body(raw)))

    def parse_completion(self, raw: bytes) -> CompletionRequest:
        """Decode and validate a completion body as the simulated release would (raises `SimError`)."""
        return validate_body(CompletionRequest, adapt_completion_body(self.profile, decode_body(raw)))

    def check_model(self, model: str | None) -> None:
        if model is not None and model != self.config.model:
            raise SimError(404, f"The model `{model}` does not exist.", param="model")

    def _max_tokens(self, requested: int | None, prompt_len: int) -> int:
        limit = self.config.max_model_len
        if requested is not None and requested > limit:
            raise SimError(
                400, f"max_tokens={requested} cannot be greater than max_model_len={limit}", "max_tokens"
            )
        if prompt_len >= limit:
            raise SimError(
                400,
                f"This model's maximum context length is {limit} tokens. However, your request has "
                f"{prompt_len} input tokens. Please reduce the length of the input messages.",
                "messages",
            )
        if requested is None:
            return limit - prompt_len
        if prompt_len + requested > limit:
            raise SimError(
                400,
                f"'max_tokens' or 'max_completion_tokens' is too large: {requested}. This model's maximum "
                f"context length is {limit} tokens and your request has {prompt_len} input tokens "
                f"({requested} > {limit} - {prompt_len}).",
                "max_tokens",
            )
        return requested

    def _generate(
        self,
        prompt_ids: list[int],
        thinks: bool,
        req: ChatRequest | CompletionRequest,
        max_tokens: int,
        answer_text: str | None = None,
    ) -> list[Generation]:
        cfg = self.config
        return [
            generate(
                self.tokenizer,
                GenerationRequest(
                    prompt_ids=prompt_ids,
                    thinks=thinks,
                    seed=cfg.seed,
                    reasoning_words=cfg.reasoning_words,
                    answer_words=cfg.answer_words,
                    max_tokens=max_tokens,
                    thinking_token_budget=req.thinking_token_budget,
                    stop=req.stop_strings(),
                    choice_index=i,
                    request_seed=req.seed,
                    answer_text=answer_text,
                ),
            )
            for i in range(req.n)
        ]

    # ---- endpoints ------------------------------------------------------------------------------

    def prepare_chat(self, req: ChatRequest, arrived: float) -> Job:
        self.check_model(req.model)
        try:
            prompt = render_chat_prompt(
                self.tokenizer,
                self.config.mode,
                filter_history(self.profile.history_chat, req.messages),
                tools=req.tools,
                add_generation_prompt=req.add_generation_prompt and not req.continue_final_message,
                continue_final_message=req.continue_final_message,
                template_kwargs=req.chat_template_kwargs,
                reasoning_effort=req.reasoning_effort if self.profile.effort_sets_thinking else None,
            )
        except ChatTemplateError as exc:
            raise SimError(400, str(exc), "messages") from exc
        prompt_ids = self.tokenizer.encode(prompt.text)
        max_tokens = self._max_tokens(req.token_limit(), len(prompt_ids))
        calls = planned_calls(req.messages, req.tools, req.tool_choice)
        gens = self._generate(prompt_ids, prompt.thinks, req, max_tokens, call_text(calls) if calls else None)
        job = self._job(req, prompt_ids, gens, arrived, chat=True, include_reasoning=req.include_reasoning)
        if req.tools and req.tool_choice in (None, "auto"):
            job = dataclasses.replace(job, parse_tools=True)
        return job

    def prepare_completion(self, req: CompletionRequest, arrived: float) -> Job:
        self.check_model(req.model)
        if isinstance(req.prompt, str):
            prompt_ids = self.tokenizer.encode(req.prompt)
        else:
            prompt_ids = self.validated_ids(req.prompt)
        if not prompt_ids:
            raise SimError(400, "Prompt cannot be empty", "prompt")
        max_tokens = self._max_tokens(req.max_tokens if req.max_tokens is not None else 16, len(prompt_ids))
        text = req.prompt if isinstance(req.prompt, str) else self.tokenizer.decode(prompt_ids, False)
        calls = planned_calls_from_prompt(text)
        answer = call_text(calls) if calls else None
        gens = self._generate(prompt_ids, self.config.mode != "instruct", req, max_tokens, answer)
        return self._job(req, prompt_ids, gens, arrived, chat=False, return_token_ids=req.return_token_ids)

    def _job(
        self,
        req: ChatRequest | CompletionRequest,
        prompt_ids: list[int],
        gens: list[Generation],
        arrived: float,
        *,
        chat: bool,
        include_reasoning: bool = True,
        return_token_ids: bool = False,
    ) -> Job:
        prefix = "chatcmpl-" if chat else "cmpl-"
        return Job(
            env=shapes.Envelope(prefix + uuid.uuid4().hex, int(time.time()), self.config.model),
            prompt_ids=prompt_ids,
            gens=gens,
            stream=req.stream,
            include_usage=req.include_usage(),
            fault=self.faults.next(),
            slow_first_byte_s=self.faults.settings.slow_first_byte_ms / 1000,
            arrived=arrived,
            chat=chat,
            include_reasoning=include_reasoning,
            return_token_ids=return_token_ids,
        )

    def validated_ids(self, ids: Sequence[int]) -> list[int]:
        for token in ids:
            if not 0 <= token < self.tokenizer.vocab_size:
                raise SimError(400, f"Token id {token} is out of vocabulary", "prompt")
        return list(ids)

    def tokenize(self, req: TokenizeRequest) -> dict[str, Any]:
        self.check_model(req.model)
        if req.messages is not None:
            try:
                text = render_chat_prompt(
                    self.tokenizer,
                    self.config.mode,
                    filter_history(self.profile.history_tokenize, req.messages),
                    tools=req.tools,
                    add_generation_prompt=req.add_generation_prompt and not req.continue_final_message,
                    continue_final_message=req.continue_final_message,
                    template_kwargs=req.chat_template_kwargs,
                ).text
            except ChatTemplateError as exc:
                raise SimError(400, str(exc), "messages") from exc
        else:
            text = req.prompt or ""
        ids = self.tokenizer.encode(text)
        strs = [self.tokenizer.token_str(t) for t in ids] if req.return_token_strs else None
        return {
            "count": len(ids),
            "max_model_len": self.config.max_model_len,
            "tokens": ids,
            "token_strs": strs,
        }

    def models(self) -> dict[str, Any]:
        card = {
            "id": self.config.model,
            "object": "model",
            "created": self.created,
            "owned_by": "vllm",
            "root": self.config.model,
            "parent": None,
            "max_model_len": self.config.max_model_len,
            "permission": [],
        }
        return {"object": "list", "data": [card]}

    # ---- timing and writing ---------------------------------------------------------------------

    def error_fault_body(self) -> dict[str, Any]:
        return SimError(500, "Simulated engine failure (error_rate fault)").body()

    def respond(self, job: Job) -> WatchedResponse:
        """The response object that times, writes and accounts for `job`."""
        return WatchedResponse(self._producer(job), self._on_done(job))

    def _producer(self, job: Job) -> Callable[[Send], Any]:
        async def produce(send: Send) -> None:
            if job.slow_first_byte_s > 0:
                await asyncio.sleep(job.slow_first_byte_s)
            if job.fault is Fault.HANG:
                await asyncio.Event().wait()
            if job.stream:
                await self._write_stream(job, send)
            else:
                await self._write_body(job, send)

        return produce

    async def _steps_with_ttft(self, job: Job) -> AsyncGenerator[int, None]:
        lengths = [len(g.token_ids) for g in job.gens]
        async with aclosing(self.engine.steps(len(job.prompt_ids), lengths)) as steps:
            async for step in steps:
                if step == 0:
                    self.metrics.ttft.observe(time.monotonic() - job.arrived)
                yield step

    async def _write_body(self, job: Job, send: Send) -> None:
        async with aclosing(self._steps_with_ttft(job)) as steps:
            async for _ in steps:
                pass
        if job.chat:
            body = shapes.chat_body(
                job.env,
                job.gens,
                len(job.prompt_ids),
                job.include_reasoning,
                self.profile,
                parse_tools=job.parse_tools,
            )
        else:
            body = shapes.completion_body(job.env, job.gens, job.prompt_ids, job.return_token_ids)
        data = orjson.dumps(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if job.fault is Fault.DROP:
            raise Dropped()
        await send({"type": "http.response.body", "body": data, "more_body": False})

    async def _write_stream(self, job: Job, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
        sent = 0

        async def emit(chunk: bytes) -> None:
            nonlocal sent
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += 1
            if job.fault is Fault.DROP and sent >= _DROP_AFTER_CHUNKS:
                raise Dropped()

        started = False
        tools = [shapes.ToolStream(g, i) for i, g in enumerate(job.gens)] if job.parse_tools else None
        async with aclosing(self._steps_with_ttft(job)) as steps:
            async for step in steps:
                if not started:
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    started = True
                    if job.chat:
                        for i in range(len(job.gens)):
                            await emit(shapes.chat_role_chunk(job.env, i))
                for i, gen in enumerate(job.gens):
                    if step >= len(gen.token_ids):
                        continue
                    if job.chat:
                        chunk = shapes.chat_token_chunk(
                            job.env,
                            i,
                            gen,
                            step,
                            job.include_reasoning,
                            self.profile,
                            tools[i] if tools is not None else None,
                        )
                    else:
                        ids = job.prompt_ids if job.return_token_ids else None
                        chunk = shapes.completion_token_chunk(job.env, i, gen, step, ids)
                    if chunk is not None:
                        await emit(chunk)
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
        if job.fault is Fault.DROP:
            raise Dropped()
        if job.include_usage:
            obj = "chat.completion.chunk" if job.chat else "text_completion"
            details = job.chat and self.profile.reasoning_tokens_details
            await emit(shapes.usage_chunk(job.env, obj, len(job.prompt_ids), job.gens, details))
        await send({"type": "http.response.body", "body": shapes.DONE, "more_body": False})

    def _on_done(self, job: Job) -> Callable[[Outcome], None]:
        def done(outcome: Outcome) -> None:
            stats = self.stats
            stats.in_flight -= 1
            if outcome is Outcome.COMPLETED:
                stats.completed += 1
                self.metrics.finished(job.gens[0].finish_reason if job.gens else "stop")
                self.metrics.prompt_tokens_child.inc(len(job.prompt_ids))
                self.metrics.e2e.observe(time.monotonic() - job.arrived)
            elif outcome is Outcome.CANCELLED:
                stats.cancelled += 1
                self.cancelled_at.append(time.time())
                self.metrics.finished("abort")
            elif outcome is Outcome.DROPPED:
                stats.dropped += 1
                self.metrics.finished("abort")
            else:
                stats.failed += 1
                self.metrics.finished("error")

        return done
