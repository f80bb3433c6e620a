"""Helpers of `make image-test` (scripts/image/test.sh): the pieces that are easier in Python than in shell.

    smoke.py ports N                                    N free loopback ports, one a line
    smoke.py policy OUT HOST:PORT=URL... --redis URL    deploy/policy.yaml with its endpoints and Redis moved
    smoke.py sim-argv SERVICE PORT                      the compose sim service's command, on a loopback port
    smoke.py serve-argv INSPECT_JSON PORT               the image's ENTRYPOINT + CMD, on a loopback port
    smoke.py user INSPECT_JSON                          the image's USER
    smoke.py check URL --started EPOCH                  wait for the gateway, then check what a user would

The image test runs the policy that compose and Kubernetes deploy (deploy/policy.yaml); only the network
addresses change, so a policy the image cannot serve fails here as well as in production.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "deploy" / "policy.yaml"
COMPOSE = REPO / "deploy" / "compose" / "compose.yaml"
DECISION_HEADERS = ("x-request-id", "x-thinkgate-effort", "x-thinkgate-source", "x-thinkgate-backend")


class SmokeError(RuntimeError):
    """The image did not behave: the message says what was expected and what came back."""


# --- set-up ---------------------------------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def local_policy(text: str, endpoints: dict[str, str], redis_url: str) -> str:
    """The policy with each endpoint `host:port` replaced by endpoints[host:port] and Redis at redis_url."""
    data: dict[str, Any] = yaml.safe_load(text)
    for name, backend in data["backends"].items():
        moved = []
        for url in backend["endpoints"]:
            netloc = urlsplit(url).netloc
            if netloc not in endpoints:
                raise SmokeError(f"pool {name}: no local stand-in for {url} (have {sorted(endpoints)})")
            moved.append(endpoints[netloc])
        backend["endpoints"] = moved
    data["state"]["redis_url"] = redis_url
    return yaml.safe_dump(data, sort_keys=False)


def replace_option(argv: Sequence[str], name: str, value: str) -> list[str]:
    """argv with option `name` set to value, in either `--name value` or `--name=value` form."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == name and i + 1 < len(out):
            out[i + 1] = value
            return out
        if arg.startswith(name + "="):
            out[i] = f"{name}={value}"
            return out
    raise SmokeError(f"{name} not in {out}")


def sim_argv(service: str, port: int) -> list[str]:
    """The compose service's `thinkgate sim` command line (entrypoint + command), bound to 127.0.0.1:port."""
    svc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"][service]
    argv = [str(a) for a in svc["entrypoint"] + svc["command"]]
    return replace_option(replace_option(argv, "--host", "127.0.0.1"), "--port", str(port))


def image_config(inspect: Path) -> dict[str, Any]:
    """The OCI image config (User, Entrypoint, Cmd, ...) from `buildah inspect` output."""
    config: dict[str, Any] = json.loads(inspect.read_text(encoding="utf-8"))["OCIv1"]["config"]
    return config


def serve_argv(config: dict[str, Any], port: int) -> list[str]:
    """The image's own ENTRYPOINT + CMD, listening on 127.0.0.1:port instead of the published port."""
    argv = [str(a) for a in (config.get("Entrypoint") or []) + (config.get("Cmd") or [])]
    if not argv:
        raise SmokeError("the image has neither ENTRYPOINT nor CMD")
    return replace_option(replace_option(argv, "--host", "127.0.0.1"), "--port", str(port))


# --- checks ---------------------------------------------------------------------------------------------


def running(pid: int) -> bool:
    """Whether process pid is alive (an exited child not yet reaped is a zombie: not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(client: httpx.Client, path: str, deadline: float, watch: Sequence[int] = ()) -> None:
    """Poll path until it answers 200 (asked at least once); past the deadline say what it answered last.
    Give up at once when one of the processes in `watch` (the gateway, its backends) has exited."""
    while True:
        exited = [pid for pid in watch if not running(pid)]
        if exited:
            raise SmokeError(f"process {exited} exited while waiting for {path} (its log follows)")
        try:
            r = client.get(path)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        if time.time() >= deadline:
            raise SmokeError(f"{path} not 200 in time; last: {last}")
        time.sleep(0.2)


def check_chat(client: httpx.Client, pools: set[str]) -> dict[str, str]:
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": "auto",
            "messages": [{"role": "user", "content": "What is 17 * 23?"}],
            "max_tokens": 256,
        },
    )
    if r.status_code != 200:
        raise SmokeError(f"chat: HTTP {r.status_code}: {r.text[:300]}")
    missing = [h for h in DECISION_HEADERS if not r.headers.get(h)]
    if missing:
        raise SmokeError(f"chat: decision headers missing: {missing}; got {dict(r.headers)}")
    if r.headers["x-thinkgate-backend"] not in pools:
        raise SmokeError(
            f"chat: backend {r.headers['x-thinkgate-backend']!r} is not a pool of {sorted(pools)}"
        )
    body = r.json()
    message = body["choices"][0]["message"]
    if not message.get("content") or body["usage"]["completion_tokens"] <= 0:
        raise SmokeError(f"chat: empty answer: {body}")
    return {h: r.headers[h] for h in DECISION_HEADERS[1:]}


def check_stream(client: httpx.Client) -> int:
    """A streamed `auto-deep` request (the thinking pool): reasoning and answer deltas, then [DONE]."""
    payload = {
        "model": "auto-deep",
        "messages": [{"role": "user", "content": "Prove that the square root of 2 is irrational."}],
        "max_tokens": 256,
        "stream": True,
    }
    events: list[str] = []
    with client.stream("POST", "/v1/chat/completions", json=payload) as r:
        if r.status_code != 200 or not r.headers.get("x-thinkgate-effort"):
            raise SmokeError(f"stream: HTTP {r.status_code}, headers {dict(r.headers)}: {r.read()[:300]!r}")
        events = [line[len("data: ") :] for line in r.iter_lines() if line.startswith("data: ")]
    if not events or events[-1] != "[DONE]":
        raise SmokeError(f"stream: does not end with [DONE]: {events[-3:]}")
    deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1] if json.loads(e)["choices"]]
    if not any(d.get("reasoning_content") for d in deltas) or not any(d.get("content") for d in deltas):
        raise SmokeError(f"stream: expected reasoning and answer deltas, got {deltas[:5]}...")
    return len(events)


def check_metrics(client: httpx.Client) -> None:
    text = client.get("/metrics").text
    for needle in (
        "thinkgate_requests_total{",
        'model="auto"',
        'model="auto-deep"',
        "thinkgate_endpoint_up{",
    ):
        if needle not in text:
            raise SmokeError(f"/metrics: {needle!r} not found")


def check(url: str, started: float, timeout: float, pools: set[str], watch: Sequence[int]) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30.0) as client:
        wait_for(client, "/health", started + timeout, watch)
        healthy = time.time() - started
        wait_for(client, "/ready", started + timeout, watch)
        ready = time.time() - started
        decision = check_chat(client, pools)
        events = check_stream(client)
        check_metrics(client)
    return {
        "health_s": round(healthy, 2),
        "ready_s": round(ready, 2),
        "chat": decision,
        "stream_events": events,
    }


# --- command line ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ports").add_argument("n", type=int)
    p = sub.add_parser("policy")
    p.add_argument("out", type=Path)
    p.add_argument("endpoints", nargs="+", help="HOST:PORT=URL")
    p.add_argument("--redis", required=True)
    p = sub.add_parser("sim-argv")
    p.add_argument("service")
    p.add_argument("port", type=int)
    p = sub.add_parser("serve-argv")
    p.add_argument("inspect", type=Path, help="`buildah inspect` of the container (JSON)")
    p.add_argument("port", type=int)
    sub.add_parser("user").add_argument(
        "inspect", type=Path, help="`buildah inspect` of the container (JSON)"
    )
    p = sub.add_parser("check")
    p.add_argument("url")
    p.add_argument("--started", type=float, required=True, help="when the container was started (epoch s)")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--watch", type=int, nargs="*", default=[], help="pids that must keep running")
    ns = parser.parse_args(argv)
    try:
        if ns.cmd == "ports":
            print("\n".join(str(p) for p in free_ports(ns.n)))
        elif ns.cmd == "policy":
            mapping = dict(e.split("=", 1) for e in ns.endpoints)
            ns.out.write_text(local_policy(POLICY.read_text(encoding="utf-8"), mapping, ns.redis), "utf-8")
        elif ns.cmd == "sim-argv":
            print("\n".join(sim_argv(ns.service, ns.port)))
        elif ns.cmd == "serve-argv":
            print("\n".join(serve_argv(image_config(ns.inspect), ns.port)))
        elif ns.cmd == "user":
            print(image_config(ns.inspect).get("User", ""))
        else:
            pools = set(yaml.safe_load(POLICY.read_text(encoding="utf-8"))["backends"])
            print(json.dumps(check(ns.url, ns.started, ns.timeout, pools, ns.watch)))
    except SmokeError as exc:
        print(f"image test: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
