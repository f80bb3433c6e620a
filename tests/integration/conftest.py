"""Shared fixtures: three simulated vLLM servers and a gateway in front of them (real sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.demo_policy import demo_policy_yaml
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import run_gateway


@dataclass(frozen=True)
class Stack:
    gateway: str
    hybrid: str
    thinking: str
    instruct: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with (
        run_sim(SimConfig(model="sim-qwen3-hybrid", mode="hybrid")) as hybrid,
        run_sim(SimConfig(model="sim-qwen3-thinking-2507", mode="thinking", seed=1)) as thinking,
        run_sim(SimConfig(model="sim-qwen3-instruct-2507", mode="instruct", seed=2)) as instruct,
        run_gateway(demo_policy_yaml(hybrid.url, thinking.url, instruct.url)) as gw,
    ):
        yield Stack(gw, hybrid.url, thinking.url, instruct.url)
