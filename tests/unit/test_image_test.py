"""`make image-test` (scripts/image/): wired into CI, built from the real Dockerfile, and its helpers and checks
(scripts/image/smoke.py) do what they say — including failing when the image misbehaves."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml

from gateway.commands import sim as sim_command
from gateway.config import parse_policy_text

REPO = Path(__file__).resolve().parents[2]
IMAGE_SCRIPTS = REPO / "scripts" / "image"


def load_smoke() -> ModuleType:
    path = IMAGE_SCRIPTS / "smoke.py"
    spec = importlib.util.spec_from_file_location("image_smoke", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke = load_smoke()


def make_recipe(target: str) -> list[str]:
    """The recipe lines of a Makefile target."""
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{re.escape(target)}:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


# --- wiring ---------------------------------------------------------------------------------------------


def test_ci_runs_the_image_test() -> None:
    commands = [
        line.strip()
        for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert "make image-test" in commands
    assert commands.index("make image-test") > commands.index("make venv")
    assert make_recipe("image-test") == ["bash scripts/image/test.sh"]


def test_the_image_test_builds_the_real_dockerfile_and_runs_its_entrypoint() -> None:
    script = (IMAGE_SCRIPTS / "test.sh").read_text(encoding="utf-8")
    assert "DOCKERFILE=${THINKGATE_DOCKERFILE:-deploy/docker/Dockerfile}" in script
    assert "--ignorefile deploy/docker/Dockerfile.dockerignore" in script
    assert "buildah bud --isolation chroot" in script
    assert re.search(r"buildah run --isolation chroot .*\"\$ctr\" -- \"\$\{argv\[@\]\}\"", script)
    assert "trap cleanup EXIT" in script
    assert "set -euo pipefail" in script


def test_the_image_installs_with_the_uv_release_of_make_venv() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    (make_uv,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.M)
    dockerfile = (REPO / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    (image_uv,) = re.findall(r"^ARG UV_VERSION=(\S+)$", dockerfile, re.M)
    assert image_uv == make_uv


# --- set-up helpers -------------------------------------------------------------------------------------


def policy_text() -> str:
    return smoke.POLICY.read_text(encoding="utf-8")


def test_local_policy_moves_every_endpoint_and_redis_and_nothing_else() -> None:
    endpoints = {"vllm-thinking:8000": "http://127.0.0.1:4001", "vllm-instruct:8000": "http://127.0.0.1:4002"}
    text = smoke.local_policy(policy_text(), endpoints, "redis://127.0.0.1:4003/0")
    policy = parse_policy_text(text)
    assert {b: list(s.endpoints) for b, s in policy.backends.items()} == {
        "qwen3-thinking": ["http://127.0.0.1:4001"],
        "qwen3-instruct": ["http://127.0.0.1:4002"],
    }
    moved, original = yaml.safe_load(text), yaml.safe_load(policy_text())
    assert moved["state"].pop("redis_url") == "redis://127.0.0.1:4003/0"
    original["state"].pop("redis_url")
    for backend in (*moved["backends"].values(), *original["backends"].values()):
        backend.pop("endpoints")
    assert moved == original


def test_local_policy_refuses_an_endpoint_without_a_stand_in() -> None:
    with pytest.raises(smoke.SmokeError, match="vllm-instruct:8000"):
        smoke.local_policy(policy_text(), {"vllm-thinking:8000": "http://127.0.0.1:1"}, "redis://x")


@pytest.mark.parametrize(
    ("argv", "name", "expected"),
    [
        pytest.param(["a", "--port", "8080"], "--port", ["a", "--port", "9"], id="separate"),
        pytest.param(["--port=8000", "--host=x"], "--port", ["--port=9", "--host=x"], id="equals"),
        pytest.param(["--portx", "1", "--port", "2"], "--port", ["--portx", "1", "--port", "9"], id="prefix"),
    ],
)
def test_replace_option(argv: list[str], name: str, expected: list[str]) -> None:
    assert smoke.replace_option(argv, name, "9") == expected


def test_replace_option_refuses_a_missing_option() -> None:
    with pytest.raises(smoke.SmokeError, match="--port"):
        smoke.replace_option(["serve"], "--port", "9")


@pytest.mark.parametrize(
    ("service", "pool"), [("sim-thinking", "qwen3-thinking"), ("sim-instruct", "qwen3-instruct")]
)
def test_sim_argv_is_the_compose_service_on_loopback(service: str, pool: str) -> None:
    argv = smoke.sim_argv(service, 4242)
    assert argv[:2] == ["thinkgate", "sim"]
    parser = argparse.ArgumentParser()
    sim_command.add_arguments(parser)
    ns = parser.parse_args(argv[2:])
    assert (ns.host, ns.port) == ("127.0.0.1", 4242)
    spec = parse_policy_text(policy_text()).backends[pool]
    assert (sim_command.config_from_args(ns).model, ns.mode) == (spec.model, spec.mode)


def test_serve_argv_is_the_image_entrypoint_and_cmd_on_loopback(tmp_path: Path) -> None:
    text = (REPO / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    entrypoint = json.loads(re.findall(r"^ENTRYPOINT (.+)$", text, re.M)[-1])
    cmd = json.loads(re.findall(r"^CMD (.+)$", text, re.M)[-1])
    inspect = tmp_path / "inspect.json"
    config = {"User": "10001:10001", "Entrypoint": entrypoint, "Cmd": cmd}
    inspect.write_text(json.dumps({"OCIv1": {"config": config}}), encoding="utf-8")
    assert smoke.image_config(inspect)["User"] == "10001:10001"
    argv = smoke.serve_argv(smoke.image_config(inspect), 4343)
    expected = shlex.join(entrypoint + cmd).replace("0.0.0.0", "127.0.0.1").replace("8080", "4343")
    assert shlex.join(argv) == expected


def test_free_ports_are_distinct() -> None:
    ports = smoke.free_ports(4)
    assert len(set(ports)) == 4 and all(p > 0 for p in ports)


# --- the checks fail when the image misbehaves ----------------------------------------------------------

POOLS = {"qwen3-thinking", "qwen3-instruct"}
HEADERS = {
    "x-request-id": "r1",
    "x-thinkgate-effort": "low",
    "x-thinkgate-source": "classifier",
    "x-thinkgate-backend": "qwen3-thinking",
}
ANSWER = {"choices": [{"message": {"content": "391"}}], "usage": {"completion_tokens": 3}}


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    events = [f"data: {json.dumps(c)}\n\n" for c in chunks] + (["data: [DONE]\n\n"] if done else [])
    return "".join(events).encode()


def delta(**fields: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields}]}


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(base_url="http://gw", transport=httpx.MockTransport(handler))


def test_check_chat_accepts_a_decided_answer() -> None:
    with client_for(lambda _: httpx.Response(200, headers=HEADERS, json=ANSWER)) as client:
        assert smoke.check_chat(client, POOLS)["x-thinkgate-effort"] == "low"


@pytest.mark.parametrize(
    ("status", "headers", "body", "error"),
    [
        pytest.param(502, HEADERS, ANSWER, "HTTP 502", id="status"),
        pytest.param(
            200, {**HEADERS, "x-thinkgate-effort": ""}, ANSWER, "x-thinkgate-effort", id="no-effort"
        ),
        pytest.param(200, {**HEADERS, "x-thinkgate-backend": "other"}, ANSWER, "not a pool", id="pool"),
        pytest.param(
            200,
            HEADERS,
            {"choices": [{"message": {"content": None}}], "usage": {"completion_tokens": 3}},
            "empty answer",
            id="no-content",
        ),
    ],
)
def test_check_chat_fails(status: int, headers: dict[str, str], body: dict[str, Any], error: str) -> None:
    with (
        client_for(lambda _: httpx.Response(status, headers=headers, json=body)) as client,
        pytest.raises(smoke.SmokeError, match=error),
    ):
        smoke.check_chat(client, POOLS)


def test_check_stream_accepts_reasoning_then_answer() -> None:
    body = sse(delta(reasoning_content="hm"), delta(content="yes"))
    with client_for(lambda _: httpx.Response(200, headers=HEADERS, content=body)) as client:
        assert smoke.check_stream(client) == 3


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            sse(delta(reasoning_content="hm"), delta(content="yes"), done=False), "DONE", id="no-done"
        ),
        pytest.param(sse(delta(content="yes")), "reasoning and answer", id="no-reasoning"),
        pytest.param(sse(delta(reasoning_content="hm")), "reasoning and answer", id="no-answer"),
    ],
)
def test_check_stream_fails(body: bytes, error: str) -> None:
    with (
        client_for(lambda _: httpx.Response(200, headers=HEADERS, content=body)) as client,
        pytest.raises(smoke.SmokeError, match=error),
    ):
        smoke.check_stream(client)


def test_check_metrics_fails_without_the_request_counters() -> None:
    text = 'thinkgate_requests_total{model="auto"} 1\nthinkgate_endpoint_up{pool="p"} 1\n'
    with (
        client_for(lambda _: httpx.Response(200, text=text)) as client,
        pytest.raises(smoke.SmokeError, match="auto-deep"),
    ):
        smoke.check_metrics(client)


def test_wait_for_gives_up_with_the_last_answer() -> None:
    with (
        client_for(lambda _: httpx.Response(503, text="no healthy backend")) as client,
        pytest.raises(smoke.SmokeError, match="HTTP 503: no healthy backend"),
    ):
        smoke.wait_for(client, "/ready", deadline=0.0)


def test_wait_for_gives_up_at_once_when_a_watched_process_exited() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: gone from /proc
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while smoke.running(zombie.pid):  # exited, not reaped yet
        time.sleep(0.01)
    assert smoke.running(os.getpid())
    with (
        client_for(lambda _: httpx.Response(503, text="not yet")) as client,
        pytest.raises(smoke.SmokeError, match=f"process \\[{child.pid}, {zombie.pid}\\] exited"),
    ):
        smoke.wait_for(
            client, "/ready", deadline=time.time() + 60, watch=[os.getpid(), child.pid, zombie.pid]
        )
    zombie.wait()
