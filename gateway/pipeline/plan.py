"""The plan of one request: the decision (once), the route (:func:`router.routing.route`, pure), and the
exact upstream request of every step. ``/v1/route`` shows a plan without running it (a dry run)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import orjson

from gateway.backends.pool import Pool
from gateway.errors import BadRequest, GatewayError
from gateway.metrics import GatewayMetrics
from gateway.pipeline.door import Call
from gateway.proxy.forcing import TOKENIZE_PATH, prompt_payload
from gateway.render import Rendered, render_chat
from gateway.state import GatewayState
from router.agent import StepView, read_agent_state
from router.decide import Caps, decide, level_for_budget
from router.decision import Decision
from router.effort import Effort
from router.episodes import Episode, EpisodeSpent, apply_episode
from router.records import record
from router.routing import NoPoolForEffort, Target, route
from router.signals import SignalConflict, SignalError
from router.steps import AgentPolicy

#: labels of a request that is passed through without a decision (raw ``/v1/completions``)
PASSTHROUGH = "passthrough"


@record
class Step:
    """One pool of the plan with what it would be sent: ``rendered`` for a decided request (``None`` for a
    pass-through), ``body`` the exact bytes of its native request (unused by a forcing step)."""

    pool: Pool
    decision: Decision | None
    rendered: Rendered | None
    body: bytes

    @property
    def forcing(self) -> bool:
        """The gateway enforces this step's thinking budget itself (budget forcing)."""
        r = self.rendered
        return r is not None and r.thinking and r.forcing_budget is not None

    @property
    def notes(self) -> tuple[str, ...]:
        """What the render changed or could not do (``x-thinkgate-warnings``)."""
        return () if self.rendered is None else self.rendered.notes


@record
class Plan:
    """The decided, routed and rendered request. ``decision`` is ``None`` for a pass-through."""

    decision: Decision | None
    shed: str | None
    steps: tuple[Step, ...]
    agent: AgentInputs | None = None
    decided_in: float = 0.0  # seconds the decision took (thinkgate_decision_duration_seconds)

    # Effort and Source are StrEnums: a member is the string of its value (as a header, a metric label, in
    # JSON), and reading ``.value`` runs two Python-level calls (~0.3 us; these are read ~6 times a request)

    @property
    def effort(self) -> str:
        return PASSTHROUGH if self.decision is None else self.decision.effort

    @property
    def source(self) -> str:
        return PASSTHROUGH if self.decision is None else self.decision.source

    @property
    def pools(self) -> list[str]:
        return [step.pool.name for step in self.steps]

    @property
    def warnings(self) -> list[str]:
        """Every render note of the plan, in step order, each once."""
        return list(dict.fromkeys(note for step in self.steps for note in step.notes))


class EpisodeBudgetSpent(GatewayError):
    """The episode's thinking budget is spent and ``agent.episodes.on_spent`` is ``refuse``."""

    status = 429
    type = "rate_limit_error"
    code = "episode_budget_spent"


@record
class AgentInputs:
    """What the decision needs for agent steps: the step policy in force (the tenant's or the top-level
    one), the request's episode, and the thinking tokens that episode has left (``None``: not accounted —
    no episode budget, or the store is unusable and the policy fails open)."""

    policy: AgentPolicy
    episode: Episode | None = None
    left: int | None = None


def agent_step(body: dict[str, Any], policy: AgentPolicy) -> StepView:
    """The agent step of a chat body (pure; see :mod:`router.agent`)."""
    state = read_agent_state(body.get("messages"), body.get("tools"), body.get("tool_choice"))
    return policy.step(state)


def budget_label(budget: int | None) -> str:
    return "unlimited" if budget is None else str(budget)


def decision_headers(decision: Decision, rid: str) -> dict[str, str]:
    """``x-request-id`` and the decision: ``x-thinkgate-effort``, ``-budget``, ``-source``, ``-capped``."""
    headers = {
        "x-request-id": rid,
        "x-thinkgate-effort": decision.effort,  # StrEnum members are their value (see Plan.effort)
        "x-thinkgate-budget": budget_label(decision.budget),
        "x-thinkgate-source": decision.source,
    }
    if decision.capped:
        headers["x-thinkgate-capped"] = "true"
    return headers


def decide_call(
    state: GatewayState,
    call: Call,
    target: Target,
    header: str | None,
    caps: Caps | None,
    agent: AgentInputs | None = None,
) -> Decision:
    """The effort decision for a chat call (signals, virtual model, classifier, agent step, caps, episode
    budget), its metrics observed at once (:func:`observe_decision`)."""
    decision, seconds = timed_decision(state, call, target, header, caps, agent)
    observe_decision(state.metrics, decision, seconds)
    return decision


def timed_decision(
    state: GatewayState,
    call: Call,
    target: Target,
    header: str | None,
    caps: Caps | None,
    agent: AgentInputs | None = None,
) -> tuple[Decision, float]:
    """:func:`decide_call` without the metrics: the decision and the seconds it took."""
    body = call.body
    messages = body["messages"]
    tools = bool(body.get("tools"))
    policy = agent.policy if agent is not None else state.policy.agent
    began = time.perf_counter()
    try:
        decision = decide(
            body,
            model=call.model,
            header_effort=header,
            fixed_effort=target.fixed_effort,
            allow_client_effort=target.allow_client_effort,
            budgets=state.policy.budgets,
            classify=lambda: state.classify(messages, tools),
            on_classifier_error=state.policy.classifier.on_error,
            caps=caps,
            agent=policy,
            step=agent_step(body, policy),
        )
        if agent is not None and agent.episode is not None:
            budgets = state.policy.budgets
            decision = apply_episode(
                decision, agent.left, policy.episodes, lambda b: level_for_budget(b, budgets)
            )
        decision = _without_instruct_pool(decision, target)
    except EpisodeSpent as exc:  # counted by the serving path (a /v1/route dry run counts nothing)
        raise EpisodeBudgetSpent(str(exc)) from None
    except SignalConflict as exc:
        raise BadRequest(str(exc), param=exc.param, code="conflicting_thinking_signals") from None
    except SignalError as exc:
        raise BadRequest(str(exc), param=exc.param, code="invalid_thinking_signal") from None
    return decision, time.perf_counter() - began


def observe_decision(metrics: GatewayMetrics, decision: Decision, seconds: float) -> None:
    """A decision's metrics: ``thinkgate_decision_duration_seconds`` and, when the classifier answered,
    ``thinkgate_classifier_p_think``."""
    metrics.observe(metrics.decision_seconds, (), seconds)
    p_think = decision.scores.get("p_think")
    if p_think is not None:
        metrics.observe(metrics.classifier_p_think, (), p_think)


def _without_instruct_pool(decision: Decision, target: Target) -> Decision:
    """A step the agent policy or an episode budget took down to ``none`` on a model without an instruct pool
    runs at ``minimal`` with a thinking budget of 0 (the template's think block closes at once) instead."""
    task = decision.task_effort
    if decision.effort.thinks or target.instruct or decision.capped or task is None or not task.thinks:
        return decision
    reason = f"{decision.reason}; model {target.name!r} has no instruct pool: thinking budget 0 instead"
    return replace(decision, effort=Effort.MINIMAL, budget=0, reason=reason)


def _passthrough_body(call: Call, pool: Pool) -> bytes:
    out = dict(call.body)
    out["model"] = pool.spec.model
    if call.stream:
        opts = dict(out.get("stream_options") or {})
        opts["include_usage"] = True  # the gateway needs usage for metrics and quotas
        out["stream_options"] = opts
    return orjson.dumps(out)


def plan_call(
    state: GatewayState,
    call: Call,
    target: Target,
    header: str | None,
    caps: Caps | None,
    agent: AgentInputs | None = None,
    *,
    observe: bool = True,
) -> Plan:
    """Decide, route and render ``call``; raises a 4xx :class:`gateway.errors.GatewayError` on bad input.
    ``observe=False``: the decision's metrics are left to the caller (:attr:`Plan.decided_in`; the serving
    path observes them with the plan's other metrics after the answer's last byte, ``serve.record_plan``:
    two histogram updates less before the upstream write), except for a decision that ends in a 4xx here."""
    if not call.decided:
        names = target.instruct or target.thinking
        steps = [Step(state.pools[n], None, None, _passthrough_body(call, state.pools[n])) for n in names]
        return Plan(None, None, tuple(steps))
    decided, seconds = timed_decision(state, call, target, header, caps, agent)
    if observe:
        observe_decision(state.metrics, decided, seconds)
    try:
        try:
            routed = route(state.policy, target, decided, state.health())
        except NoPoolForEffort as exc:
            raise BadRequest(str(exc), param="model", code="effort_not_supported") from None
        rendered = []
        for routed_step in routed.steps:
            pool = state.pools[routed_step.pool]
            r = render_chat(pool, call.body, routed_step.decision, stream=call.stream)
            rendered.append(Step(pool, routed_step.decision, r, r.body))
    except GatewayError:
        if not observe:  # a decision that ends in a 4xx here is observed all the same
            observe_decision(state.metrics, decided, seconds)
        raise
    return Plan(routed.decision, routed.shed, tuple(rendered), agent, seconds)


def step_view(step: Step, path: str) -> dict[str, Any]:
    """One ``upstream`` entry of ``/v1/route``: the pool, how its budget is enforced, the path and exact JSON
    body of the first request the gateway would send it, and the render's notes."""
    spec = step.pool.spec
    if step.forcing:
        assert step.rendered is not None
        path = TOKENIZE_PATH  # budget forcing starts by rendering the prompt with the backend's template
        first = prompt_payload(step.rendered.payload)
    else:
        first = orjson.loads(step.body)
    return {
        "backend": step.pool.name,
        "mode": spec.mode,
        "budget_mode": "forcing" if step.forcing else "native",
        "path": path,
        "body": first,
        "warnings": list(step.notes),
    }
