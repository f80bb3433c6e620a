"""Step awareness: agent state read from a trajectory, step kinds, the step policy and its place in decide."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from gateway.config import parse_policy_text
from gateway.demo_policy import demo_policy_yaml
from router.agent import AgentState, Outcome, StepKind, classify_result, read_agent_state, step_kind
from router.decide import Caps, decide
from router.decision import Source
from router.effort import Effort
from router.policy import Budgets
from router.steps import AgentPolicy, StepRule

TOOLS = [{"type": "function", "function": {"name": "run_tests", "parameters": {"type": "object"}}}]
GOOD = demo_policy_yaml("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")


def call(name: str, args: dict[str, Any], cid: str = "c1") -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        ],
    }


def result(text: str, cid: str = "c1") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": cid, "content": text}


USER = {"role": "user", "content": "Fix the failing date parser test in utils/dates.py"}


def kind_of(messages: list[dict[str, Any]], tools: Any = TOOLS, **kw: Any) -> StepKind:
    return step_kind(read_agent_state(messages, tools, kw.get("tool_choice")), stuck_after=3).kind


@pytest.mark.parametrize(
    ("messages", "tools", "kind"),
    [
        pytest.param([USER], None, StepKind.ANSWER, id="no-tools-plain-chat"),
        pytest.param([USER], TOOLS, StepKind.PLAN, id="first-step-with-tools"),
        pytest.param(
            [USER, call("read", {"p": "a"}), result("def parse(): ...")],
            TOOLS,
            StepKind.ACT,
            id="good-result",
        ),
        pytest.param(
            [USER, call("run_tests", {}), result("=== 2 failed, 5 passed in 0.3s ===")],
            TOOLS,
            StepKind.RECOVER,
            id="failing-tests",
        ),
        pytest.param(
            [USER, call("run", {}), result('Traceback (most recent call last):\n  File "x"\nKeyError: 3')],
            TOOLS,
            StepKind.RECOVER,
            id="exception",
        ),
        pytest.param(
            [USER, call("search", {"q": "x"}), result("[]")], TOOLS, StepKind.RECOVER, id="empty-result"
        ),
        pytest.param(
            [USER, call("sh", {"c": "ls"}), result("bash: foo: command not found")],
            TOOLS,
            StepKind.RECOVER,
            id="error",
        ),
        pytest.param(
            [
                USER,
                call("run_tests", {}),
                result("7 failed"),
                call("run_tests", {}),
                result("7 passed in 1s"),
            ],
            TOOLS,
            StepKind.ANSWER,
            id="checks-pass",
        ),
        pytest.param(
            [USER] + [m for _ in range(3) for m in (call("grep", {"q": "x", "n": 1}), result("a.py:1"))],
            TOOLS,
            StepKind.STUCK,
            id="same-call-three-times",
        ),
        pytest.param(
            [USER, call("read", {"p": "a"}), result("text")], [], StepKind.ANSWER, id="tools-withdrawn"
        ),
    ],
)
def test_step_kinds(messages: list[dict[str, Any]], tools: Any, kind: StepKind) -> None:
    assert kind_of(messages, tools) is kind


def test_tool_choice_none_is_an_answer_step() -> None:
    msgs = [USER, call("read", {"p": "a"}), result("text")]
    assert kind_of(msgs, tool_choice="none") is StepKind.ANSWER


def test_state_counts_steps_calls_and_repeats_after_the_last_user_turn() -> None:
    old = [{"role": "user", "content": "earlier task"}, call("grep", {"q": "x"}), result("a")]
    two_calls = {
        "role": "assistant",
        "content": "checking both",
        "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "grep", "arguments": '{"q": "x"}'}},
            {"id": "b", "type": "function", "function": {"name": "read", "arguments": "{}"}},
        ],
    }
    msgs = [
        *old,
        USER,
        two_calls,
        result("ok", "a"),
        result("", "b"),
        call("grep", {"q": "x"}),
        result("hit"),
    ]
    state = read_agent_state(msgs, TOOLS)
    assert (state.step, state.tool_calls, state.tools_offered) == (2, 3, 1)
    assert state.results == (Outcome.OK,)
    assert state.repeats == 1  # grep(q=x) again, but read() came in between: not a repeat in a row
    assert state.last_call == 'grep({"q":"x"})'


def test_identical_calls_compare_arguments_canonically() -> None:
    a = call("grep", {"q": "x", "n": 1})
    b = {
        **a,
        "tool_calls": [
            {**a["tool_calls"][0], "function": {"name": "grep", "arguments": '{"n":1,  "q":"x"}'}}
        ],
    }
    c = call("grep", {"q": "y", "n": 1})
    assert read_agent_state([USER, a, result("r"), b, result("r")], TOOLS).repeats == 2
    assert read_agent_state([USER, a, result("r"), c, result("r")], TOOLS).repeats == 1
    loop = [USER, a, result("r"), b, result("r")]
    assert read_agent_state([*loop[:1], a, result("r"), *loop[1:]], TOOLS).repeats == 3
    assert read_agent_state([USER, a, result("r"), c, result("r"), a, result("r")], TOOLS).repeats == 1


def test_running_the_tests_again_after_an_edit_is_not_a_loop() -> None:
    tests = call("run_tests", {})
    msgs = [USER, tests, result("1 failed")]
    for i in range(3):  # a different edit each time: progress, even while the same test keeps failing
        msgs += [call("edit", {"p": "a.py", "new": f"v{i}"}), result("ok"), tests, result("1 failed")]
    state = read_agent_state(msgs, TOOLS)
    assert (state.repeats, state.cycle) == (1, 0)
    assert kind_of(msgs) is StepKind.RECOVER


def _rounds(steps: list[tuple[str, str]], rounds: int) -> list[dict[str, Any]]:
    """``rounds`` rounds of a cycle of steps, each a call by name with its result text."""
    out: list[dict[str, Any]] = []
    for r in range(rounds):
        for i, (name, text) in enumerate(steps):
            cid = f"c{r}-{i}"
            out += [call(name, {"p": "a.py"}, cid), result(text, cid)]
    return out


A, B, C = ("read", "def parse(): ..."), ("edit", "ok"), ("run_tests", "1 failed")


@pytest.mark.parametrize(
    ("cycle", "rounds", "tail", "kind", "period"),
    [
        pytest.param([A, B], 2, [], StepKind.STUCK, 2, id="ABAB"),
        pytest.param([A, B], 2, [A], StepKind.STUCK, 2, id="ABABA"),
        pytest.param([A, B, C], 2, [], StepKind.STUCK, 3, id="ABCABC"),
        pytest.param([B, C], 2, [], StepKind.STUCK, 2, id="same-edit-same-failure"),
        pytest.param([A, B], 1, [A], StepKind.ACT, 0, id="ABA-one-round"),
        pytest.param([A, B, C], 1, [A, B], StepKind.ACT, 0, id="ABCAB-not-two-rounds"),
        pytest.param([B, C], 1, [B], StepKind.ACT, 0, id="BCB"),
        pytest.param([A, B, C], 1, [], StepKind.RECOVER, 0, id="ABC-once"),
    ],
)
def test_repeated_cycles_are_a_loop(
    cycle: list[tuple[str, str]], rounds: int, tail: list[tuple[str, str]], kind: StepKind, period: int
) -> None:
    msgs = [USER, *_rounds(cycle, rounds), *_rounds(tail, 1)]
    state = read_agent_state(msgs, TOOLS)
    assert state.cycle == period
    view = step_kind(state, stuck_after=3)
    assert view.kind is kind
    if kind is StepKind.STUCK:
        assert view.stuck_count == 1
        names = " → ".join(f"{name}(…)" for name, _ in (cycle * 2)[len(tail) : len(tail) + period])
        assert view.reason == f"cycle of {period} steps {names} repeated 2 times with the same results"


def test_a_cycle_needs_the_same_results() -> None:
    looping = [USER, *_rounds([A, C], 2)]
    assert kind_of(looping) is StepKind.STUCK
    progress = [*looping[:-1], result("2 passed, 1 failed", looping[-1]["tool_call_id"])]
    assert read_agent_state(progress, TOOLS).cycle == 0
    assert kind_of(progress) is StepKind.RECOVER  # the failure changed: not the same cycle


def test_a_persisting_cycle_escalates_then_stops_thinking() -> None:
    three = [USER, *_rounds([A, B], 3)]
    view = step_kind(read_agent_state(three, TOOLS), stuck_after=3)
    assert (view.kind, view.stuck_count) == (StepKind.STUCK, 2)
    assert run(three, Effort.MEDIUM).effort is Effort.NONE  # stuck_then after stuck_escalations (1)
    assert run([USER, *_rounds([A, B], 2)], Effort.MEDIUM).effort is Effort.HIGH
    lenient = AgentPolicy(stuck_cycles=3)
    assert lenient.step(read_agent_state([USER, *_rounds([A, B], 2)], TOOLS)).kind is StepKind.ACT
    assert lenient.step(read_agent_state(three, TOOLS)).kind is StepKind.STUCK


def test_steps_without_calls_or_one_repeated_step_are_not_cycles() -> None:
    chat = {"role": "assistant", "content": "thinking out loud"}
    msgs = [USER, chat, call("read", {"p": "a.py"}), result(A[1]), chat, call("read", {"p": "a.py"}, "x")]
    assert read_agent_state([*msgs, result(A[1], "x")], TOOLS).cycle == 0
    same = [USER, *_rounds([A], 4)]  # one step repeated: the identical-repeat rule, not a cycle
    state = read_agent_state(same, TOOLS)
    assert (state.cycle, state.repeats) == (0, 4)
    assert "same call read(…) made 4 times" in step_kind(state, stuck_after=3).reason


def test_anthropic_shaped_tool_results_are_not_user_turns() -> None:
    msgs = [
        USER,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "sh", "input": {"c": "make"}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "make: ***", "is_error": True}
            ],
        },
    ]
    state = read_agent_state(msgs, TOOLS)
    assert (state.step, state.tool_calls, state.results) == (1, 1, (Outcome.ERROR,))
    assert step_kind(state, stuck_after=3).kind is StepKind.RECOVER


def test_qwen_wrapped_tool_response_is_not_a_user_turn() -> None:
    msgs = [USER, call("read", {}), {"role": "user", "content": "<tool_response>\nabc\n</tool_response>"}]
    assert read_agent_state(msgs, TOOLS).step == 1


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        pytest.param("", Outcome.EMPTY, id="empty"),
        pytest.param("No results found.", Outcome.EMPTY, id="no-results"),
        pytest.param("{}", Outcome.EMPTY, id="empty-object"),
        pytest.param(
            "FAILED tests/test_x.py::test_a - assert 1 == 2", Outcome.FAILING_TESTS, id="pytest-failed"
        ),
        pytest.param("Ran 3 tests\nFAIL: test_b (t.T)", Outcome.FAILING_TESTS, id="unittest-fail"),
        pytest.param("ValueError: bad input", Outcome.EXCEPTION, id="exception-line"),
        pytest.param("error: could not compile `x`", Outcome.ERROR, id="compiler-error"),
        pytest.param('{"error": "rate limited"}', Outcome.ERROR, id="json-error"),
        pytest.param("process exited with code 2", Outcome.ERROR, id="exit-code"),
        pytest.param("12 passed in 0.40s", Outcome.PASSED, id="pytest-passed"),
        pytest.param("Paris: 18°C, light rain", Outcome.OK, id="plain-result"),
        pytest.param("no error handling was needed here", Outcome.OK, id="word-error-in-prose"),
        pytest.param("x" * 50_000 + "\nFAILED t::a", Outcome.FAILING_TESTS, id="failure-in-the-tail"),
    ],
)
def test_result_outcomes(text: str, outcome: Outcome) -> None:
    assert classify_result(text) is outcome


def test_harness_error_flag_wins_over_text() -> None:
    assert classify_result("Paris: 18°C", is_error=True) is Outcome.ERROR


def test_read_agent_state_never_raises_on_junk() -> None:
    for junk in (None, "text", 3, [None, 1, {"role": 5}, {"role": "assistant", "tool_calls": "x"}]):
        read_agent_state(junk, {"not": "a list"}, tool_choice={"type": "function"})


# ---- the step policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "task", "effort"),
    [
        pytest.param("task", Effort.MEDIUM, Effort.MEDIUM, id="task"),
        pytest.param("up", Effort.MEDIUM, Effort.HIGH, id="up"),
        pytest.param("up", Effort.XHIGH, Effort.XHIGH, id="up-saturates"),
        pytest.param("down", Effort.NONE, Effort.NONE, id="down-saturates"),
        pytest.param("low", Effort.HIGH, Effort.LOW, id="fixed-level"),
        pytest.param({"max": "low"}, Effort.HIGH, Effort.LOW, id="capped"),
        pytest.param({"max": "low"}, Effort.NONE, Effort.NONE, id="cap-never-raises"),
        pytest.param({"shift": 1, "min": "low"}, Effort.NONE, Effort.LOW, id="floor"),
        pytest.param("task", Effort.MAX, Effort.MAX, id="max-kept"),
        pytest.param("down", Effort.MAX, Effort.HIGH, id="max-moves-as-xhigh"),
    ],
)
def test_step_rules(rule: Any, task: Effort, effort: Effort) -> None:
    assert StepRule.model_validate(rule).apply(task) is effort


def test_rule_bounds_are_validated() -> None:
    with pytest.raises(ValidationError, match="min 'high' is above max 'low'"):
        StepRule.model_validate({"min": "high", "max": "low"})
    with pytest.raises(ValidationError):
        StepRule.model_validate("sideways")


def run(messages: list[dict[str, Any]], task: Effort, agent: AgentPolicy | None = None, **kw: Any) -> Any:
    agent = agent or AgentPolicy()
    view = agent.step(read_agent_state(messages, TOOLS))
    return decide(
        kw.get("body", {"messages": messages}),
        model="auto",
        header_effort=None,
        fixed_effort="classify",
        allow_client_effort=True,
        budgets=Budgets(),
        classify=lambda: (task, {"p_think": 0.9}, "classified"),
        on_classifier_error=Effort.HIGH,
        caps=kw.get("caps"),
        agent=agent,
        step=view,
    )


LOOP = [m for _ in range(3) for m in (call("grep", {"q": "x"}), result("a.py:1"))]


@pytest.mark.parametrize(
    ("messages", "task", "effort"),
    [
        pytest.param([USER], Effort.MEDIUM, Effort.MEDIUM, id="plan-task-effort"),
        pytest.param(
            [USER, call("read", {}), result("ok text")], Effort.HIGH, Effort.LOW, id="act-at-most-low"
        ),
        pytest.param(
            [USER, call("read", {}), result("ok text")], Effort.NONE, Effort.NONE, id="act-never-raises"
        ),
        pytest.param([USER, call("t", {}), result("1 failed")], Effort.MEDIUM, Effort.HIGH, id="recover-up"),
        pytest.param([USER, call("t", {}), result("1 failed")], Effort.NONE, Effort.LOW, id="recover-floor"),
        pytest.param([USER, *LOOP], Effort.MEDIUM, Effort.HIGH, id="stuck-first-time-up"),
        pytest.param(
            [USER, *LOOP, call("grep", {"q": "x"}), result("a.py:1")],
            Effort.MEDIUM,
            Effort.NONE,
            id="stuck-then-off",
        ),
    ],
)
def test_default_policy_per_step(messages: list[dict[str, Any]], task: Effort, effort: Effort) -> None:
    decision = run(messages, task)
    assert decision.effort is effort
    assert decision.task_effort is task
    assert decision.budget == Budgets().for_effort(effort)
    assert decision.source is Source.CLASSIFIER
    assert f"step {decision.step.kind.value}" in decision.reason


def test_explicit_signals_are_not_moved_unless_listed() -> None:
    msgs = [USER, call("read", {}), result("ok text")]
    body = {"messages": msgs, "reasoning_effort": "high"}
    assert run(msgs, Effort.HIGH, body=body).effort is Effort.HIGH
    moves_explicit = AgentPolicy(sources=("explicit", "classifier"))
    assert run(msgs, Effort.HIGH, moves_explicit, body=body).effort is Effort.LOW


def test_disabled_policy_keeps_the_task_decision_and_caps_still_apply_last() -> None:
    msgs = [USER, call("t", {}), result("1 failed")]
    assert run(msgs, Effort.MEDIUM, AgentPolicy(enabled=False)).effort is Effort.MEDIUM
    capped = run(msgs, Effort.MEDIUM, caps=Caps(max_effort=Effort.MEDIUM))
    assert (capped.effort, capped.capped) == (Effort.MEDIUM, True)


# ---- the policy file -----------------------------------------------------------------------------------

AGENT_YAML = """
agent:
  stuck_after: 2
  stuck_escalations: 2
  steps: {plan: up, act: none, recover: {shift: 2, max: high}, answer: low}
"""


def test_policy_file_agent_section_and_tenant_override() -> None:
    assert "auth:" not in GOOD
    tenants = "auth:\n  tenants:\n    ci:\n      agent: {enabled: false}\n    plain: {}\n"
    policy = parse_policy_text(GOOD + AGENT_YAML + tenants)
    assert policy.agent.stuck_after == 2
    assert policy.agent.steps.plan == StepRule(shift=1)
    assert policy.agent.steps.act == StepRule(base="none")
    assert policy.agent.steps.stuck == AgentPolicy().steps.stuck  # unset kinds keep their defaults
    assert policy.agent_for("ci").enabled is False
    assert policy.agent_for("plain") is policy.agent
    assert policy.agent_for(None) is policy.agent


@pytest.mark.parametrize(
    ("snippet", "needle"),
    [
        pytest.param("agent: {stuck_after: 1}\n", "stuck_after", id="stuck-after-too-small"),
        pytest.param("agent: {steps: {act: sideways}}\n", "agent.steps.act", id="bad-shorthand"),
        pytest.param("agent: {steps: {think: low}}\n", "agent.steps.think", id="unknown-kind"),
    ],
)
def test_policy_file_agent_errors(snippet: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_policy_text(GOOD + snippet)


def test_published_schema_accepts_shorthands_and_rejects_junk() -> None:
    from pathlib import Path

    schema = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "policy.schema.json").read_text())
    agent = {"stuck_after": 3, "steps": {"plan": "up", "act": {"max": "low"}, "stuck": "none"}}
    doc = {
        "version": 1,
        "backends": {"a": {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": ["http://x"]}},
    }
    jsonschema.validate({**doc, "agent": agent}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "agent": {"steps": {"act": "sideways"}}}, schema)


@pytest.mark.parametrize("choice", [None, "none", "auto"])
def test_nothing_after_the_latest_user_turn_is_a_fresh_state(choice: str | None) -> None:
    """The shortcut for a conversation that ends with a user turn gives the full read's state: the loop
    before that turn is over (a new task), whatever it held."""
    looped = [USER, call("run_tests", {}), result("FAILED test_x"), call("run_tests", {}), result("FAILED")]
    for messages in ([USER], [{"role": "system", "content": "s"}, USER], [*looped, USER]):
        state = read_agent_state(messages, TOOLS, choice)
        assert state == AgentState(tools_offered=1, tool_choice_none=choice == "none")
        assert state == read_agent_state([*messages, {"role": "system", "content": "x"}], TOOLS, choice)
