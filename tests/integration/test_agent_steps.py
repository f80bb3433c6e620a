"""Agent steps and episode budgets through the gateway on the simulator: every step kind gets its effort and
says so in headers and metrics; an episode's thinking budget bounds its steps (memory, and Redis shared by
two gateway processes); a spent episode runs without thinking or is refused, by policy."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.openapi.models import RouteReport
from router.agent import StepKind
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import gateway_process, run_gateway
from tests.redis_server import redis_server

TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("run_tests", "grep", "search")
]
TASK = "Find why the cache eviction in server/lru.py leaks memory under concurrent writes and fix it."


def policy(sim: str, extra: str = "") -> str:
    return f"""\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim-h, endpoints: ["{sim}"], budget: native}}
models:
  auto: {{effort: classify, thinking: [h], instruct: [h]}}
  deep: {{effort: high, thinking: [h], instruct: [h]}}
  deep-only: {{effort: high, thinking: [h]}}
budgets: {{minimal: 16, low: 32, medium: 64, high: 128}}
{extra}"""


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with run_sim(SimConfig(model="sim-h", reasoning_words=400, max_model_len=8192)) as s:
        yield s.url


def call(name: str, args: dict[str, Any], cid: str) -> dict[str, Any]:
    fn = {"name": name, "arguments": json.dumps(args)}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": cid, "type": "function", "function": fn}],
    }


def result(text: str, cid: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": cid, "content": text}


LOOP = [m for i in range(3) for m in (call("grep", {"q": "evict"}, f"g{i}"), result("lru.py:88", f"g{i}"))]
TRAJECTORIES = {
    StepKind.PLAN: [],
    StepKind.ACT: [call("grep", {"q": "evict"}, "a"), result("lru.py:88: def evict(self):", "a")],
    StepKind.RECOVER: [
        call("run_tests", {}, "t"),
        result("FAILED tests/test_lru.py::test_evict\n1 failed", "t"),
    ],
    StepKind.STUCK: LOOP,
    StepKind.ANSWER: [call("run_tests", {}, "t"), result("12 passed in 0.3s", "t")],
}


def post(url: str, messages: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    body = {"model": "deep", "messages": [{"role": "user", "content": TASK}, *messages], "tools": TOOLS}
    headers = extra.pop("headers", {})
    return httpx.post(url + "/v1/chat/completions", json={**body, **extra}, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def gateway(sim: str) -> Iterator[str]:
    # a fixed-effort model whose decisions the step policy may move, so each kind's effort is exact
    extra = "agent: {sources: [virtual-model, classifier, policy]}\n"
    with run_gateway(policy(sim, extra)) as url:
        yield url


@pytest.mark.parametrize(
    ("kind", "effort", "index"),
    [
        pytest.param(StepKind.PLAN, "high", 0, id="plan-task-effort"),
        pytest.param(StepKind.ACT, "low", 1, id="act-at-most-low"),
        pytest.param(StepKind.RECOVER, "xhigh", 1, id="recover-one-up"),
        pytest.param(StepKind.STUCK, "xhigh", 3, id="stuck-first-time-up"),
        pytest.param(StepKind.ANSWER, "high", 1, id="answer-task-effort"),
    ],
)
def test_each_step_kind(gateway: str, kind: StepKind, effort: str, index: int) -> None:
    resp = post(gateway, TRAJECTORIES[kind])
    assert resp.status_code == 200, resp.text
    h = resp.headers
    assert (h["x-thinkgate-step"], h["x-thinkgate-effort"], h["x-thinkgate-step-index"]) == (
        kind.value,
        effort,
        str(index),
    )
    assert h["x-thinkgate-episode"].startswith("t-")  # the hash of the task (no explicit id)
    metrics = httpx.get(gateway + "/metrics", timeout=10).text
    assert f'thinkgate_agent_steps_total{{effort="{effort}",kind="{kind.value}"}}' in metrics


def test_stuck_then_stops_thinking_and_plain_chat_is_untouched(gateway: str) -> None:
    more = [*LOOP, call("grep", {"q": "evict"}, "g9"), result("lru.py:88", "g9")]
    resp = post(gateway, more)
    assert (resp.headers["x-thinkgate-step"], resp.headers["x-thinkgate-effort"]) == ("stuck", "none")
    assert resp.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    # a model without an instruct pool cannot turn thinking off: a thinking budget of 0 instead
    only = post(gateway, more, model="deep-only")
    assert (only.headers["x-thinkgate-effort"], only.headers["x-thinkgate-budget"]) == ("minimal", "0")
    assert only.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    plain = httpx.post(
        gateway + "/v1/chat/completions",
        json={"model": "deep", "messages": [{"role": "user", "content": TASK}]},
        timeout=30,
    )
    assert plain.headers["x-thinkgate-effort"] == "high"
    assert "x-thinkgate-step" not in plain.headers and "x-thinkgate-episode" not in plain.headers


def test_a_repeated_cycle_is_stuck(gateway: str) -> None:
    cycle = [
        m
        for i in range(2)
        for m in (
            call("grep", {"q": "evict"}, f"g{i}"),
            result("lru.py:88", f"g{i}"),
            call("run_tests", {}, f"t{i}"),
            result("1 failed", f"t{i}"),
        )
    ]
    resp = post(gateway, cycle)
    assert (resp.headers["x-thinkgate-step"], resp.headers["x-thinkgate-effort"]) == ("stuck", "xhigh")
    report = httpx.post(
        gateway + "/v1/route",
        json={"model": "deep", "messages": [{"role": "user", "content": TASK}, *cycle], "tools": TOOLS},
        timeout=30,
    ).json()
    assert "cycle of 2 steps grep(…) → run_tests(…) repeated 2 times" in report["step"]["reason"]


def test_route_explains_the_step(gateway: str) -> None:
    body = {"model": "deep", "messages": [{"role": "user", "content": TASK}, *TRAJECTORIES[StepKind.RECOVER]]}
    report = httpx.post(gateway + "/v1/route", json={**body, "tools": TOOLS}, timeout=30).json()
    assert report["step"]["kind"] == "recover" and report["effort"] == "xhigh"
    assert report["step"]["results"] == ["failing_tests"] and report["step"]["task_effort"] == "high"
    assert [s["step"]["kind"] for s in report["steps"]] == ["plan", "recover"]
    assert [s["effort"] for s in report["steps"]] == ["high", "xhigh"]


def episode_policy(sim: str, on_spent: str, state: str = "") -> str:
    return policy(sim, f"agent:\n  episodes: {{budget: 300, on_spent: {on_spent}}}\n{state}")


def run_episode(
    urls: list[str], episode: str, steps: int, after: Callable[[list[httpx.Response]], None] | None = None
) -> list[httpx.Response]:
    """``steps`` requests of one episode (explicit id), alternating over ``urls``; each asks for high.
    ``after`` runs after each step (e.g. to wait until its background accounting has landed)."""
    out: list[httpx.Response] = []
    for i in range(steps):
        msgs = TRAJECTORIES[StepKind.ACT] * i
        out.append(post(urls[i % len(urls)], msgs, headers={"x-thinkgate-episode": episode}, model="deep"))
        if after is not None:
            after(out)
    return out


def thinking_of(resp: httpx.Response) -> int:
    return int(resp.json()["usage"]["completion_tokens_details"]["reasoning_tokens"])


def test_episode_budget_in_memory(sim: str) -> None:
    with run_gateway(episode_policy(sim, "no_thinking")) as url:
        resps = run_episode([url], "run-1", 5)
    lefts = [int(r.headers["x-thinkgate-episode-thinking-left"]) for r in resps]
    assert lefts[0] == 300
    spent = [thinking_of(r) for r in resps]
    assert all(s <= left for s, left in zip(spent, lefts, strict=True))  # each step gets at most what is left
    assert lefts == [max(300 - sum(spent[:i]), 0) for i in range(5)]
    assert resps[-1].headers["x-thinkgate-effort"] == "none" and spent[-1] == 0
    assert all(r.headers["x-thinkgate-episode"] == "run-1" for r in resps)


def test_spent_episode_refused_by_policy(sim: str) -> None:
    with run_gateway(episode_policy(sim, "refuse")) as url:
        resps = run_episode([url], "run-2", 5)
        metrics = httpx.get(url + "/metrics", timeout=10).text
    refused = [r for r in resps if r.status_code == 429]
    assert refused and resps[-1] in refused and resps[0].status_code == 200
    assert all(r.json()["error"]["code"] == "episode_budget_spent" for r in refused)
    assert f'thinkgate_episode_budget_spent_total{{action="refused"}} {len(refused)}.0' in metrics


def test_episode_budget_shared_by_two_gateway_processes(sim: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        server = stack.enter_context(redis_server())
        cfg = tmp_path / "policy.yaml"
        state = f'state: {{redis_url: "{server.url}", prefix: eps, timeout: 2.0}}\n'
        cfg.write_text(episode_policy(sim, "no_thinking", state))
        urls = [stack.enter_context(gateway_process(cfg)) for _ in range(2)]

        def landed(done: list[httpx.Response]) -> None:
            # accounting runs after the response: let it land before the other process reads the episode
            assert _wait_spent(server.url, "shared-run", sum(thinking_of(r) for r in done))

        resps = run_episode(urls, "shared-run", 5, landed)
    lefts = [int(r.headers["x-thinkgate-episode-thinking-left"]) for r in resps]
    spent = [thinking_of(r) for r in resps]
    assert lefts == [max(300 - sum(spent[:i]), 0) for i in range(5)]
    assert lefts[-1] == 0 and resps[-1].headers["x-thinkgate-effort"] == "none"


def _wait_spent(url: str, episode: str, total: int) -> bool:
    import redis

    from tests.harness import wait_until

    client = redis.Redis.from_url(url)
    try:
        return wait_until(lambda: int(client.get(f"eps:ep:{{{episode}}}") or 0) == total, timeout=10)
    finally:
        client.close()


@pytest.fixture(scope="module")
def budgeted(sim: str) -> Iterator[str]:
    """A gateway with an episode budget of 300 thinking tokens (steps of ``deep`` get up to 128)."""
    with run_gateway(episode_policy(sim, "no_thinking")) as url:
        yield url


INSTRUCTIONS = "You are a careful coding agent."
R_TOOLS = [{"type": "function", "name": "grep", "parameters": {"type": "object"}}]
M_TOOLS = [{"name": "grep", "input_schema": {"type": "object"}}]


def responses(url: str, **body: Any) -> httpx.Response:
    headers = body.pop("headers", {})
    body = {"model": "deep", "instructions": INSTRUCTIONS, "tools": R_TOOLS, **body}
    resp = httpx.post(url + "/v1/responses", json=body, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp


def messages(url: str, msgs: list[dict[str, Any]], **body: Any) -> httpx.Response:
    headers = body.pop("headers", {})
    body = {"model": "deep", "max_tokens": 400, "system": INSTRUCTIONS, "tools": M_TOOLS, **body}
    resp = httpx.post(url + "/v1/messages", json={**body, "messages": msgs}, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp


def left(resp: httpx.Response) -> int:
    return int(resp.headers["x-thinkgate-episode-thinking-left"])


def same_episode(steps: list[httpx.Response]) -> str:
    """The one episode of ``steps``; each step had less thinking left than the one before."""
    ids = {r.headers["x-thinkgate-episode"] for r in steps}
    assert len(ids) == 1, ids
    lefts = [left(r) for r in steps]
    assert lefts[0] == 300 and all(a > b for a, b in itertools.pairwise(lefts)), lefts
    return ids.pop()


def test_responses_full_input_replay_and_chain_are_one_episode(budgeted: str) -> None:
    """A client that resends the whole conversation (no ``previous_response_id``) stays in the episode of
    its task (instructions + first user turn), and a chain continuing the first turn is the same episode."""
    task = f"{TASK} (replayed) call:grep"  # the simulator's trigger of a tool call
    first = responses(budgeted, input=task)
    call = next(item for item in first.json()["output"] if item["type"] == "function_call")
    replay = [
        {"role": "user", "content": [{"type": "input_text", "text": task}]},
        {"type": "function_call", "call_id": call["call_id"], "name": call["name"], "arguments": "{}"},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "lru.py:88: def evict"},
    ]
    second = responses(budgeted, input=replay)
    assert second.headers["x-thinkgate-step"] == "act"
    chained = responses(
        budgeted,
        input=[{"type": "function_call_output", "call_id": call["call_id"], "output": "lru.py:88"}],
        previous_response_id=first.json()["id"],
    )
    episode = same_episode([first, second, chained])
    assert episode.startswith("t-")
    other = responses(
        budgeted, input=task, instructions="You are a poet."
    )  # another system prompt: a new task
    assert other.headers["x-thinkgate-episode"] != episode and left(other) == 300


def test_responses_metadata_and_header_name_the_episode(budgeted: str) -> None:
    meta = responses(budgeted, input=TASK, metadata={"episode_id": "resp-run-1"})
    assert meta.headers["x-thinkgate-episode"] == "resp-run-1"
    chained = responses(budgeted, input="go on", previous_response_id=meta.json()["id"])
    assert chained.headers["x-thinkgate-episode"] != "resp-run-1"  # metadata is not inherited (OpenAI's rule)
    named = responses(budgeted, input="go on", headers={"x-thinkgate-episode": "resp-run-1"})
    assert named.headers["x-thinkgate-episode"] == "resp-run-1" and left(named) < 300


def test_messages_steps_of_one_task_are_one_episode(budgeted: str) -> None:
    task = f"{TASK} (messages) call:grep"
    first = messages(budgeted, [{"role": "user", "content": task}])
    use = next(b for b in first.json()["content"] if b["type"] == "tool_use")
    step = [
        {"role": "user", "content": task},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "lru.py"}]},
    ]
    second = messages(budgeted, step)
    third = messages(
        budgeted,
        [
            *step,
            {"role": "assistant", "content": [{**use, "id": "toolu_2"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "ok"}]},
        ],
    )
    assert [r.headers["x-thinkgate-step"] for r in (first, second, third)] == ["plan", "act", "act"]
    assert same_episode([first, second, third]).startswith("t-")


def test_messages_metadata_and_header_name_the_episode(budgeted: str) -> None:
    msgs = [{"role": "user", "content": TASK}]
    user = messages(budgeted, msgs, metadata={"user_id": "u-7"})
    assert user.headers["x-thinkgate-episode"].startswith("t-")  # a user id is not an episode
    meta = messages(budgeted, msgs, metadata={"user_id": "u-7", "episode_id": "msg-run-1"})
    assert meta.headers["x-thinkgate-episode"] == "msg-run-1" and left(meta) == 300
    named = messages(budgeted, msgs, headers={"x-thinkgate-episode": "msg-run-1"})
    assert named.headers["x-thinkgate-episode"] == "msg-run-1" and left(named) < 300


def test_route_shows_the_episode_budget_without_spending_it(budgeted: str) -> None:
    """``/v1/route`` reads what the episode has left and shows what it does to the next step (bounded, no
    thinking); a dry run charges nothing and counts nothing."""
    episode = {"x-thinkgate-episode": "route-run"}
    body = {"model": "deep", "messages": [{"role": "user", "content": TASK}], "tools": TOOLS}

    def route() -> dict[str, Any]:
        resp = httpx.post(budgeted + "/v1/route", json=body, headers=episode, timeout=30)
        assert resp.status_code == 200, resp.text
        report: dict[str, Any] = resp.json()
        assert report["steps"][-1]["effort"] == report["effort"]
        RouteReport.model_validate(report)  # the published schema of the report
        return report

    fresh = route()
    assert fresh["episode"] == {
        "id": "route-run",
        "source": "header",
        "budget": 300,
        "left": 300,
        "on_spent": "no_thinking",
        "effect": "none",
    }
    assert (fresh["effort"], fresh["budget"]) == ("high", 128)
    assert route()["episode"]["left"] == 300  # the dry run charged nothing
    resps = run_episode([budgeted], "route-run", 2)
    spent = sum(thinking_of(r) for r in resps)
    assert 128 < spent < 300
    later = route()
    assert later["episode"]["left"] == 300 - spent and later["episode"]["effect"] == "bounded"
    assert later["budget"] == 300 - spent
    resps += run_episode([budgeted], "route-run", 2)
    spent = sum(thinking_of(r) for r in resps)
    assert spent == 300
    done = route()
    assert (done["episode"]["left"], done["episode"]["effect"], done["effort"]) == (0, "no_thinking", "none")
    metrics = httpx.get(budgeted + "/metrics", timeout=10).text
    counted = [
        line for line in metrics.splitlines() if line.startswith("thinkgate_episode_budget_spent_total")
    ]
    # the real steps after the budget ran out are counted; the dry runs are not
    no_thinking = sum(1 for r in resps if r.headers["x-thinkgate-effort"] == "none")
    assert counted == [f'thinkgate_episode_budget_spent_total{{action="no_thinking"}} {no_thinking}.0']
