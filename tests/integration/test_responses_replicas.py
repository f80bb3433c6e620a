"""Two ``thinkgate serve`` processes on one real Redis: a ``previous_response_id`` chain started on one
replica continues on the other, turn after turn, streamed or not, and only for the key that started it."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import gateway_process
from tests.redis_server import redis_server

ALICE = "sk-alice-0123456789abcdef"
BOB = "sk-bob-0123456789abcdef01"


def policy_yaml(sim: str, redis_url: str) -> str:
    return f"""\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim-h, endpoints: ["{sim}"]}}
models:
  auto: {{thinking: [h], instruct: [h]}}
state: {{redis_url: "{redis_url}", prefix: chains, timeout: 2.0, responses_ttl: 600}}
auth:
  enabled: true
  keys:
    - {{name: alice, tenant: team, env: TG_TEST_ALICE}}
    - {{name: bob, tenant: team, env: TG_TEST_BOB}}
  tenants: {{team: {{}}}}
"""


def test_a_chain_alternates_between_two_replicas(tmp_path: Path) -> None:
    with ExitStack() as stack:
        server = stack.enter_context(redis_server())
        sim = stack.enter_context(run_sim(SimConfig(model="sim-h", mode="hybrid")))
        config = tmp_path / "policy.yaml"
        config.write_text(policy_yaml(sim.url, server.url))
        env = {"TG_TEST_ALICE": ALICE, "TG_TEST_BOB": BOB}
        a = stack.enter_context(gateway_process(config, env=env))
        b = stack.enter_context(gateway_process(config, env=env))
        on_a = OpenAI(base_url=a + "/v1", api_key=ALICE, max_retries=0)
        on_b = OpenAI(base_url=b + "/v1", api_key=ALICE, max_retries=0)

        first = on_a.responses.create(model="auto", input="My name is Ada.", reasoning={"effort": "none"})
        second = on_b.responses.create(model="auto", input="What is my name?", previous_response_id=first.id)
        with on_a.responses.stream(model="auto", input="Spell it.", previous_response_id=second.id) as events:
            third = events.get_final_response()
        fourth = on_b.responses.create(model="auto", input="Thanks.", previous_response_id=third.id)

        usages = [r.usage.input_tokens for r in (first, second, third, fourth) if r.usage is not None]
        assert len(usages) == 4 and usages == sorted(usages) and len(set(usages)) == 4  # history grows
        assert on_b.responses.retrieve(third.id).output_text == third.output_text
        assert [i.type for i in on_a.responses.input_items.list(fourth.id)] == ["message"]

        as_bob = OpenAI(base_url=b + "/v1", api_key=BOB, max_retries=0)
        with pytest.raises(openai.NotFoundError):
            as_bob.responses.retrieve(first.id)
        with pytest.raises(openai.NotFoundError):
            as_bob.responses.create(model="auto", input="x", previous_response_id=fourth.id)

        on_b.responses.delete(second.id)
        with pytest.raises(openai.NotFoundError) as info:
            on_a.responses.create(model="auto", input="x", previous_response_id=fourth.id)
        assert "earlier turn" in str(info.value)
