"""The forcing opener: a budget-forcing run (:mod:`gateway.proxy.forcing`) on one endpoint, for pools whose
vLLM cannot enforce ``thinking_token_budget`` (or that are configured ``budget: forcing``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from gateway.backends.client import UpstreamFailure
from gateway.backends.pool import Lease
from gateway.errors import UpstreamError
from gateway.pipeline.door import Call
from gateway.pipeline.exchange import Usage
from gateway.pipeline.plan import Step
from gateway.proxy.forcing import (
    ForcedRun,
    ForcingSession,
    check_forcing_request,
    completion_body,
    forced_chunks,
    parses_tools,
)
from gateway.tokens import ReasoningCounter
from templates.registry import get_family


@dataclass(slots=True)
class ForcedExchange:
    """A started forced run: the prompt is tokenized and the first pass answered (or its stream opened)."""

    step: Step
    lease: Lease
    run: ForcedRun
    call: Call
    exclude: bool
    budget_mode: str = "forcing"

    async def answer(self) -> dict[str, Any]:
        try:
            async for _ in self.run.events(stream=False):
                pass
        finally:
            self.close()
        result = self.run.result
        assert result is not None
        tools = parses_tools(self.run.session.family, self.call.body)
        return completion_body(result, self.step.pool.spec.model, self.exclude, tools)

    async def chunks(self) -> AsyncGenerator[list[dict[str, Any]], None]:
        model = self.step.pool.spec.model
        try:
            async for batch in forced_chunks(
                self.run,
                model=model,
                exclude=self.exclude,
                want_usage=self.call.want_usage,
                tools=parses_tools(self.run.session.family, self.call.body),
            ):
                yield batch
        except UpstreamError as exc:  # a later pass answered with an error status
            raise UpstreamFailure("status", exc.message) from None

    def finished(self) -> bool:
        return False  # a forced stream ends in the relay of its last pass: not known at a batch

    def usage(self) -> Usage | None:
        r = self.run.result
        if r is None:
            return None
        return Usage(r.prompt_tokens, r.completion_tokens, r.reasoning_tokens, r.budget_hit)

    def reports_budget_hit(self) -> bool:
        return self.run.result is not None

    def close(self) -> None:
        self.run.close()
        self.lease.release()


async def open_forced(
    step: Step,
    lease: Lease,
    call: Call,
    request_id: str,
    counter: ReasoningCounter | None,
    waiting: Callable[[], None] | None = None,
) -> ForcedExchange:
    """Tokenize and run (or open) the first pass: what may still be retried on another endpoint. (The
    forced run counts reasoning with the backend's own token ids: ``counter`` is not needed; it waits on
    several upstream requests, so the dispatcher calls ``waiting`` before it instead: not passed here.)"""
    rendered = step.rendered
    assert rendered is not None and rendered.forcing_budget is not None
    check_forcing_request(call.body)
    family = get_family(step.pool.spec.family)
    session = ForcingSession(step.pool, lease.endpoint, family, rendered.payload, request_id)
    run = ForcedRun(session, rendered.forcing_budget)
    try:
        await run.start(call.stream)
    except BaseException:
        run.close()
        raise
    exclude = step.decision is not None and step.decision.exclude_reasoning
    return ForcedExchange(step, lease, run, call, exclude)
