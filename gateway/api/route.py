"""``POST /v1/route``: a dry run of a chat-completions body — the decision, the route and the exact upstream
request of every step, without generating; for an agent trajectory, its step (``step``), the decision of
every model call in it (``steps``) and, when an episode applies, what its thinking budget does to this step
(``episode``: what is left, bounded / run without thinking / refused), read without spending anything."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.chat import parse_chat
from gateway.episodes import agent_inputs
from gateway.errors import BadRequest
from gateway.pipeline.door import Call
from gateway.pipeline.plan import (
    AgentInputs,
    EpisodeBudgetSpent,
    budget_label,
    decide_call,
    plan_call,
    step_view,
)
from gateway.pipeline.prologue import gateway_state, read_body
from gateway.protocol import parse_json_object
from gateway.state import GatewayState
from router.decide import Caps
from router.decision import Decision
from router.routing import NoPoolForEffort, Target, pools_for

router = APIRouter()


def decision_report(
    state: GatewayState,
    body: dict[str, Any],
    header: str | None,
    caps: Caps | None = None,
    agent: AgentInputs | None = None,
) -> dict[str, Any]:
    """The plan of ``body``: effort, budget, source, reason, scores, the pool that would serve it (first
    healthy one of the model's list), every render note (``warnings``), and per step of the failover chain
    the exact first request the gateway would send (``upstream``). ``agent``: the step policy, episode and
    what it has left (the episode budget then bounds the plan as it would bound the real step)."""
    call = parse_chat(body)
    target = state.target(call.model)
    refused = False
    try:
        plan = plan_call(state, call, target, header, caps, agent)
    except EpisodeBudgetSpent:  # the step would be refused: show the decision it would have had
        assert agent is not None
        refused = True
        plan = plan_call(state, call, target, header, caps, replace(agent, left=None))
    decision = plan.decision
    assert decision is not None
    try:
        names = pools_for(target, decision.effort)
    except NoPoolForEffort as exc:  # plan_call raised it already; kept for the type checker
        raise BadRequest(str(exc), param="model", code="effort_not_supported") from None
    pools = [state.pools[n] for n in names]
    chosen = next((p for p in pools if p.any_healthy()), pools[0])
    return {
        "model": call.model,
        "effort": decision.effort.value,
        "budget": decision.budget,
        "budget_label": budget_label(decision.budget),
        "source": decision.source.value,
        "reason": decision.reason,
        "scores": decision.scores,
        "capped": decision.capped,
        "backend": chosen.name,
        "backend_model": chosen.spec.model,
        "plan": list(names),
        "shed": plan.shed,
        "warnings": plan.warnings,
        "upstream": [step_view(step, call.path) for step in plan.steps],
        "step": step_report(decision),
        "steps": trajectory_report(state, call, target, header, caps, agent),
        "episode": episode_report(decision, agent, refused=refused),
    }


def episode_report(decision: Decision, agent: AgentInputs | None, *, refused: bool) -> dict[str, Any] | None:
    """The request's episode and what its thinking budget does to this step (``effect``): ``none``,
    ``bounded`` (the step's budget lowered to what is left), ``no_thinking`` or ``refuse`` (the episode is
    spent, by ``on_spent``), or ``unknown`` (the episode store is unusable; the real step runs unbounded when
    the policy fails open). ``left`` is what the episode has left before this step (nothing is charged)."""
    if agent is None or agent.episode is None:
        return None
    episodes = agent.policy.episodes
    if refused:
        effect = "refuse"
    elif episodes.budget is not None and agent.left is None:
        effect = "unknown"
    else:
        effect = decision.episode_effect or "none"
    return {
        "id": agent.episode.id,
        "source": agent.episode.source,
        "budget": episodes.budget,
        "left": agent.left,
        "on_spent": episodes.on_spent,
        "effect": effect,
    }


def step_report(decision: Decision) -> dict[str, Any] | None:
    """The agent step of a decision: kind, why, the state it was read from, and the task's own effort."""
    view = decision.step
    if view is None:
        return None
    s = view.state
    return {
        "kind": view.kind.value,
        "reason": view.reason,
        "index": s.step,
        "tool_calls": s.tool_calls,
        "results": [r.value for r in s.results],
        "repeats": s.repeats,
        "tools_offered": s.tools_offered,
        "task_effort": decision.task_effort.value if decision.task_effort is not None else None,
    }


def trajectory_report(
    state: GatewayState,
    call: Call,
    target: Target,
    header: str | None,
    caps: Caps | None,
    agent: AgentInputs | None = None,
) -> list[dict[str, Any]]:
    """The decision of every model call of the trajectory in ``call``: each prefix of the messages that an
    assistant turn answered, then the whole body (the next call). The earlier calls are shown as they would
    be decided without an episode budget (what they spent is already in the episode's account); the next
    call with it, like the report's own decision."""
    messages = call.body["messages"]
    cuts = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant" and i]
    out = []
    policy = AgentInputs(agent.policy) if agent is not None else None  # the tenant's step policy, no episode
    for end in [*cuts, len(messages)]:
        body = {**call.body, "messages": messages[:end]}
        last = end == len(messages)
        try:
            decision = decide_call(
                state, replace(call, body=body), target, header, caps, agent if last else policy
            )
        except EpisodeBudgetSpent:
            decision = decide_call(state, replace(call, body=body), target, header, caps, policy)
        out.append(
            {
                "messages": end,
                "effort": decision.effort.value,
                "budget": decision.budget,
                "source": decision.source.value,
                "reason": decision.reason,
                "step": step_report(decision),
            }
        )
    return out


@router.post("/v1/route")
async def route(request: Request) -> Response:
    state = gateway_state(request)
    principal = state.keys.authenticate(request.headers.get("authorization"))
    body = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    model = body.get("model")
    if isinstance(model, str):
        target = state.target(model, principal.policy.models)
        principal.check_model(target.name, target.virtual)
    # the episode and what it has left are read, never charged; a failing store only makes `left` unknown
    agent = await agent_inputs(
        request.app.state.shared.episodes,
        principal.policy.agent or state.policy.agent,
        parse_chat(body),
        request.headers.get("x-thinkgate-episode"),
        fail_closed=False,
    )
    header = request.headers.get("x-thinkgate-effort")
    report = decision_report(state, body, header, principal.caps, agent)
    return Response(orjson.dumps(report), media_type="application/json")
