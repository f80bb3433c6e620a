"""``thinkgate serve --workers 2``: two processes behind one port, one /metrics summing both."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from simulator.config import SimConfig
from simulator.server import run_sim
from tests.harness import gateway_process

POLICY = """\
version: 1
backends:
  h: {{family: qwen3, mode: hybrid, model: sim, endpoints: [{url}]}}
models:
  auto-fast: {{effort: none, instruct: [h]}}
"""


def test_two_workers_share_one_metrics_view(tmp_path: Path) -> None:
    with run_sim(SimConfig(model="sim", mode="hybrid")) as sim:
        policy = tmp_path / "policy.yaml"
        policy.write_text(POLICY.format(url=sim.url))
        with gateway_process(policy, "--workers", "2") as base:
            n = 40
            with httpx.Client(timeout=30) as client:  # new connections spread over both workers
                for _ in range(n):
                    body = {"model": "auto-fast", "messages": [{"role": "user", "content": "hi"}]}
                    r = httpx.post(base + "/v1/chat/completions", json=body, timeout=30)
                    assert r.status_code == 200
                text = client.get(base + "/metrics").text
            total = sum(
                s.value
                for fam in text_string_to_metric_families(text)
                for s in fam.samples
                if s.name == "thinkgate_requests_total"
            )
            assert total == n
