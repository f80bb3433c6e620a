"""Fuzz every operation of /openapi.json with schemathesis against the gateway and simulated vLLM backends.

Each operation gets schema-valid cases (positive) and schema-violating ones (negative), a bounded number each,
derandomised so CI runs the same cases every time. Every answer must be below 500, an error must be the front
door's envelope (and nothing but it), and the status, content type and body must match the document. The admin
operations run against a gateway of their own (they replace its policy and keys).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.demo_policy import demo_policy_yaml
from gateway.openapi.document import Operation
from gateway.openapi.operations import OPERATIONS
from tests.harness import run_gateway
from tests.integration.conftest import Stack

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "fuzz-admin-token-0123456789"
#: cases per mode for an operation that takes a body or a path parameter; one without inputs gets a few
#: positive cases (only the headers vary) and no negative ones (there is nothing to break)
EXAMPLES = {GenerationMode.POSITIVE: 250, GenerationMode.NEGATIVE: 150}
WITHOUT_INPUTS = 5
#: an operation whose only input is a path parameter (an id): a few dozen ids cover it (keeps CI short)
PATH_ONLY = 50
MIN_TOTAL = 2_000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

CASES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def admin_gateway(stack: Stack) -> Iterator[str]:
    mp = pytest.MonkeyPatch()
    mp.setenv("THINKGATE_ADMIN_TOKEN", ADMIN_TOKEN)
    try:
        with run_gateway(demo_policy_yaml(stack.hybrid, stack.thinking, stack.instruct)) as url:
            yield url
    finally:
        mp.undo()


def _envelope_only(op: Operation, response: schemathesis.Response) -> None:
    """An error is exactly the front door's envelope: OpenAI's ``{"error": {message, type, param, code}}``
    (string or null code), or the operation's own (``/v1/messages``: Anthropic's)."""
    if response.status_code < 400:
        return
    op.error_model.model_validate_json(response.content)


def _fuzz(op: Operation, base_url: str, mode: GenerationMode, headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    operation = schema[op.path][op.method]
    label = f"{op.method.upper()} {op.path} {mode.value}"

    @settings(
        max_examples=_examples(op, mode),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure reports the case as generated
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        CASES[label] += 1
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS)
        _envelope_only(op, response)

    run()


def _examples(op: Operation, mode: GenerationMode) -> int:
    if op.request is not None or op.text_body:
        return EXAMPLES[mode]
    return PATH_ONLY if op.path_params else WITHOUT_INPUTS


def _breakable(op: Operation) -> bool:
    """Whether a schema-violating case exists: a body, or a required header (the admin token). A path
    parameter alone has none (every non-empty string is valid, and an empty one cannot be sent)."""
    return op.request is not None or bool(op.text_body) or (bool(op.path_params) and op.security == "admin")


def _params(admin: bool) -> list[Any]:
    return [
        pytest.param(op, mode, id=f"{op.method} {op.path} {mode.value}")
        for op in OPERATIONS
        if (op.security == "admin") == admin
        for mode in EXAMPLES
        if mode is GenerationMode.POSITIVE or _breakable(op)
    ]


@pytest.mark.parametrize(("op", "mode"), _params(admin=False))
def test_fuzz_public(stack: Stack, op: Operation, mode: GenerationMode) -> None:
    _fuzz(op, stack.gateway, mode, {})


@pytest.mark.parametrize(("op", "mode"), _params(admin=True))
def test_fuzz_admin(admin_gateway: str, op: Operation, mode: GenerationMode) -> None:
    _fuzz(op, admin_gateway, mode, {"authorization": f"Bearer {ADMIN_TOKEN}"})


def test_fuzz_case_count() -> None:
    """Runs last in this module: the fuzz above sent at least MIN_TOTAL requests, to every operation."""
    print("\nschemathesis cases:", sum(CASES.values()), dict(sorted(CASES.items())))
    assert {label.rsplit(" ", 1)[0] for label in CASES} == {
        f"{op.method.upper()} {op.path}" for op in OPERATIONS
    }
    assert sum(CASES.values()) >= MIN_TOTAL
