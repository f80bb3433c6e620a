"""Effort shedding (hysteresis, floor, sources) and the failover chain of a target (router.routing, pure;
the metrics are recorded by the pipeline: gateway.pipeline.serve.record_plan)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.backends.pool import Pool
from gateway.metrics import GatewayMetrics
from gateway.pipeline.plan import Plan
from gateway.pipeline.serve import record_plan
from gateway.settings import Settings
from gateway.state import GatewayState, session_of
from router.decision import Decision, Source
from router.effort import Effort
from router.policy import PoolShedding, parse_policy
from router.routing import failover_chain, failover_steps, shed
from router.shedding import PoolLoad, ShedLevel, next_level, shed_effort

SPEC = PoolShedding(
    engage={"queue_per_endpoint": 4, "kv_usage": 0.9},
    disengage={"queue_per_endpoint": 1, "kv_usage": 0.5},
    dwell_seconds=10,
    max_steps=2,
)
HOT = PoolLoad(queue_per_endpoint=5, kv_usage=0.2)
KV_HOT = PoolLoad(queue_per_endpoint=0, kv_usage=0.95)
WARM = PoolLoad(queue_per_endpoint=2, kv_usage=0.2)  # between the thresholds: hold
COOL = PoolLoad(queue_per_endpoint=0.5, kv_usage=0.3)


def run(samples: list[tuple[float, PoolLoad | None]]) -> list[int]:
    level = ShedLevel()
    out = []
    for now, load in samples:
        level = next_level(level, load, now, SPEC)
        out.append(level.steps)
    return out


@pytest.mark.parametrize(
    ("samples", "steps"),
    [
        pytest.param([(0, COOL), (1, WARM), (2, None)], [0, 0, 0], id="never-engages"),
        pytest.param([(0, HOT)], [1], id="engages-at-once"),
        pytest.param([(0, KV_HOT)], [1], id="kv-alone-engages"),
        pytest.param(
            [(0, HOT), (5, HOT), (10, HOT), (11, HOT), (30, HOT)], [1, 1, 2, 2, 2], id="dwell-and-max"
        ),
        pytest.param([(0, HOT), (10, WARM), (30, WARM)], [1, 1, 1], id="holds-between-thresholds"),
        pytest.param(
            [(0, HOT), (3, COOL), (10, COOL), (12, HOT), (20, HOT)], [1, 1, 0, 0, 1], id="hysteresis"
        ),
        pytest.param(
            [(0, HOT), (10, HOT), (20, COOL), (30, COOL), (40, COOL)],
            [1, 2, 1, 0, 0],
            id="steps-down-one-by-one",
        ),
        pytest.param([(0, HOT), (20, None), (40, None)], [1, 1, 1], id="no-data-holds"),
    ],
)
def test_controller(samples: list[tuple[float, PoolLoad | None]], steps: list[int]) -> None:
    assert run(samples) == steps


def test_disengage_must_not_exceed_engage() -> None:
    with pytest.raises(ValidationError, match=r"disengage\.kv_usage must not exceed"):
        PoolShedding(disengage={"queue_per_endpoint": 1, "kv_usage": 0.95})


@pytest.mark.parametrize(
    ("effort", "steps", "floor", "expected"),
    [
        (Effort.HIGH, 1, Effort.LOW, Effort.MEDIUM),
        (Effort.HIGH, 2, Effort.LOW, Effort.LOW),
        (Effort.HIGH, 5, Effort.LOW, Effort.LOW),
        (Effort.LOW, 1, Effort.LOW, Effort.LOW),
        (Effort.MINIMAL, 1, Effort.LOW, Effort.MINIMAL),  # below the floor already: untouched
        (Effort.LOW, 2, Effort.NONE, Effort.NONE),
        (Effort.MAX, 1, Effort.NONE, Effort.XHIGH),
        (Effort.NONE, 3, Effort.NONE, Effort.NONE),
        (Effort.HIGH, 0, Effort.NONE, Effort.HIGH),
    ],
)
def test_shed_effort(effort: Effort, steps: int, floor: Effort, expected: Effort) -> None:
    assert shed_effort(effort, steps, floor) is expected


def state(**policy: Any) -> GatewayState:
    backends = {
        "t": {
            "family": "qwen3-thinking-2507",
            "mode": "thinking",
            "model": "mt",
            "endpoints": ["http://127.0.0.1:1"],
        },
        "i": {
            "family": "qwen3-instruct-2507",
            "mode": "instruct",
            "model": "mi",
            "endpoints": ["http://127.0.0.1:2"],
        },
        "h": {"family": "qwen3", "mode": "hybrid", "model": "mh", "endpoints": ["http://127.0.0.1:3"]},
    }
    models = {
        "split": {"thinking": ["t", "h"], "instruct": ["i", "h"]},
        "pair": {"thinking": ["t"], "instruct": ["i"]},
        "deep": {"effort": "high", "thinking": ["t"]},
    }
    p = parse_policy({"version": 1, "backends": backends, "models": models, **policy})

    pools = {name: Pool.build(name, spec) for name, spec in p.backends.items()}
    return GatewayState(settings=Settings(), policy=p, metrics=GatewayMetrics(), pools=pools)


def decision(effort: Effort, source: Source = Source.CLASSIFIER, budget: int | None = 16384) -> Decision:
    return Decision(effort=effort, budget=budget, source=source, reason="r")


@pytest.mark.parametrize(
    ("model", "effort", "policy", "chain"),
    [
        pytest.param("split", Effort.HIGH, {}, [("t", "high"), ("h", "high")], id="thinking-then-hybrid"),
        pytest.param(
            "split", Effort.NONE, {}, [("i", "none"), ("h", "none"), ("t", "minimal")], id="instruct-chain"
        ),
        pytest.param(
            "split",
            Effort.NONE,
            {"failover": {"instruct_to_thinking": False}},
            [("i", "none"), ("h", "none")],
            id="instruct-to-thinking-off",
        ),
        pytest.param("pair", Effort.NONE, {}, [("i", "none"), ("t", "minimal")], id="pair-instruct"),
        pytest.param("pair", Effort.LOW, {}, [("t", "low")], id="pair-thinking-no-degrade"),
        pytest.param(
            "pair",
            Effort.LOW,
            {"failover": {"thinking_to_instruct": True}},
            [("t", "low"), ("i", "none")],
            id="pair-thinking-degrades",
        ),
    ],
)
def test_failover_chain(
    model: str, effort: Effort, policy: dict[str, Any], chain: list[tuple[str, str]]
) -> None:
    s = state(**policy)
    d = decision(effort, budget=0 if effort is Effort.NONE else 1024)
    steps = failover_steps(s.policy, s.target(model), d, s.health())
    assert [(st.pool, st.decision.effort.value) for st in steps] == chain
    minimal = [st for st in steps if st.decision.effort is Effort.MINIMAL]
    assert all(st.decision.budget == 512 for st in minimal)


def test_failover_chain_of_the_served_pool() -> None:
    """``x-thinkgate-failover`` (and ``thinkgate_failovers_total``, asserted in the integration tests) come
    from this chain; none when the first pool of the plan answered."""
    plan = ["t", "h"]
    assert failover_chain(plan, "t") is None
    assert "->".join(failover_chain(plan, "h") or []) == "t->h"


@pytest.mark.parametrize(
    ("source", "steps", "policy", "model", "expected"),
    [
        pytest.param(Source.CLASSIFIER, 0, {}, "split", None, id="not-shedding"),
        pytest.param(Source.CLASSIFIER, 1, {}, "split", "high->medium", id="one-step"),
        pytest.param(Source.POLICY, 2, {}, "split", "high->low", id="two-steps"),
        pytest.param(Source.CLASSIFIER, 6, {}, "split", "high->low", id="floor-low"),
        pytest.param(Source.EXPLICIT, 1, {}, "split", None, id="explicit-honoured"),
        pytest.param(Source.VIRTUAL_MODEL, 1, {}, "deep", None, id="virtual-model-honoured"),
        pytest.param(
            Source.EXPLICIT,
            1,
            {"shedding": {"sources": ["explicit"]}},
            "split",
            "high->medium",
            id="explicit-shed",
        ),
        pytest.param(
            Source.CLASSIFIER, 6, {"shedding": {"floor": "none"}}, "split", "high->none", id="floor-none"
        ),
        pytest.param(
            Source.VIRTUAL_MODEL,
            6,
            {"shedding": {"floor": "none", "sources": ["virtual-model"]}},
            "deep",
            "high->minimal",
            id="floor-none-without-instruct-pool",
        ),
    ],
)
def test_apply_shedding(
    source: Source, steps: int, policy: dict[str, Any], model: str, expected: str | None
) -> None:
    s = state(**policy)
    s.pools["t"].shed = ShedLevel(steps, 0.0)
    before = decision(Effort.HIGH, source)
    after, text = shed(s.policy, s.target(model), before, s.health())
    record_plan(s.metrics, Plan(after, text, ()), "chat")
    assert text == expected
    if expected is None:
        assert after is before
    else:
        lowered = Effort(expected.split("->")[1])
        assert after.effort is lowered and after.source is Source.SHED
        assert after.budget == s.policy.budgets.for_effort(lowered)
        assert (
            f'thinkgate_shed_total{{from_effort="high",to_effort="{lowered.value}"}} 1.0'.encode()
            in s.metrics.render()
        )


def test_shedding_follows_the_pool_the_request_would_use() -> None:
    s = state()
    s.pools["h"].shed = ShedLevel(1, 0.0)
    assert shed(s.policy, s.target("split"), decision(Effort.HIGH), s.health())[1] is None  # t first, calm
    s.pools["t"].record_probe(s.pools["t"].endpoints[0], False)  # t is down: requests go to h
    assert shed(s.policy, s.target("split"), decision(Effort.HIGH), s.health())[1] == "high->medium"


def test_explicit_budget_is_kept_if_smaller() -> None:
    s = state(shedding={"sources": ["explicit"]})
    s.pools["t"].shed = ShedLevel(1, 0.0)
    before = decision(Effort.HIGH, Source.EXPLICIT, budget=3000)
    after, _ = shed(s.policy, s.target("split"), before, s.health())
    assert after.effort is Effort.MEDIUM and after.budget == 3000


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        ("abc", {"user": "u"}, "abc"),
        (None, {"user": "u"}, "u"),
        (None, {"user": 3}, None),
        (None, {}, None),
        ("", {"user": ""}, None),
    ],
)
def test_session_of(header: str | None, body: dict[str, Any], expected: str | None) -> None:
    assert session_of(header, body) == expected
