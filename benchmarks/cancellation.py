"""Cancellation benchmark: how soon the backend learns that the client left, on every path.

One simulator (50 tokens/s per request, long thinking and answers) and the gateway (``thinkgate serve``) in
front of it with a native pool and a budget-forcing pool on that simulator; with ``--baseline DIR`` a second
gateway from another checkout (with its own ``.venv``) is measured the same way in the same run.

Per case, ``--repeat`` times: open a TCP connection, send the request, wait for the moment of the case (a
fixed delay, or the first answer bytes), then reset the connection (``SO_LINGER`` 0, as a client timeout
does) and record the wall-clock time. The simulator records the wall-clock time at which it sees each
disconnect (``GET /sim/cancellations``); the delay is the difference (same machine, same clock). A request the
backend finished instead (or still runs after ``--give-up`` seconds) counts as "not cancelled".

Run: ``.venv/bin/python benchmarks/cancellation.py [--baseline DIR] [--repeat 10]``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from loadgen import HOST, Processes, free_port

REPO = Path(__file__).resolve().parent.parent
USER = [{"role": "user", "content": "How many weekdays are in March 2026? Think it through."}]

POLICY = """\
version: 1
backends:
  native:
    family: qwen3
    mode: hybrid
    model: sim
    endpoints: [{url}]
  forcing:
    family: qwen3
    mode: hybrid
    model: sim
    endpoints: [{url}]
    budget: forcing
models:
  auto: {{thinking: [native], instruct: [native]}}
  forced: {{thinking: [forcing], instruct: [forcing]}}
classifier: {{on_error: high}}
state: {{redis_url: null}}
"""


@dataclass(frozen=True, slots=True)
class Case:
    """One way of leaving: ``leave_after`` seconds after sending (``None``: once answer text arrives)."""

    name: str
    body: dict[str, Any]
    leave_after: float | None
    slow_first_byte_ms: float = 0.0


CASES = (
    Case("non-stream", {"model": "auto", "reasoning_effort": "high", "max_tokens": 400}, 0.5),
    Case(
        "stream, before the first byte",
        {"model": "auto", "reasoning_effort": "high", "stream": True},
        0.3,
        3000,
    ),
    Case("stream, after the first byte", {"model": "auto", "reasoning_effort": "high", "stream": True}, None),
    Case(
        "forcing, first pass",
        {"model": "forced", "thinking": {"type": "enabled", "budget_tokens": 500}, "max_tokens": 900},
        0.5,
    ),
    Case(
        "forcing, second pass",
        {"model": "forced", "thinking": {"type": "enabled", "budget_tokens": 10}, "max_tokens": 900},
        2.0,
    ),
    Case(
        "forcing stream, second pass",
        {
            "model": "forced",
            "thinking": {"type": "enabled", "budget_tokens": 10},
            "stream": True,
            "max_tokens": 900,
        },
        None,
    ),
)


def request_bytes(body: dict[str, Any], port: int) -> bytes:
    payload = orjson.dumps({**body, "messages": USER})
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def leave(gateway_port: int, case: Case) -> float:
    """Send the case's request, wait for its moment, reset the connection; the wall-clock time of it."""
    sock = socket.create_connection((HOST, gateway_port))
    try:
        sock.sendall(request_bytes(case.body, gateway_port))
        if case.leave_after is not None:
            time.sleep(case.leave_after)
        else:
            seen = b""
            sock.settimeout(30)
            while b'"content":"' not in seen.replace(b'"content":""', b""):
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError(f"{case.name}: the answer ended before its text")
                seen = seen[-64:] + data
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return time.time()
    finally:
        sock.close()


def cancellations(sim: str) -> list[float]:
    times: list[float] = httpx.get(sim + "/sim/cancellations", timeout=5).json()
    return times


def sim_stats(sim: str) -> dict[str, int]:
    data: dict[str, int] = httpx.get(sim + "/sim/stats", timeout=5).json()
    return data


def measure(gateway_port: int, sim: str, case: Case, repeat: int, give_up: float) -> list[float | None]:
    """Delays in milliseconds (``None``: not cancelled within ``give_up`` seconds)."""
    httpx.post(sim + "/sim/faults", json={"slow_first_byte_ms": case.slow_first_byte_ms}, timeout=5)
    out: list[float | None] = []
    for _ in range(repeat):
        before = len(cancellations(sim))
        closed = leave(gateway_port, case)
        deadline = time.monotonic() + give_up
        delay = None
        while time.monotonic() < deadline:
            seen = cancellations(sim)
            if len(seen) > before:
                delay = (seen[-1] - closed) * 1000
                break
            time.sleep(0.005)
        out.append(delay)
        wait_idle(sim, give_up * 4)
    return out


def wait_idle(sim: str, timeout: float) -> None:
    """Let a request the gateway did not cancel finish before the next one starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sim_stats(sim)["in_flight"]:
        time.sleep(0.05)


def summary(delays: list[float | None]) -> str:
    got = sorted(d for d in delays if d is not None)
    missed = len(delays) - len(got)
    if not got:
        return f"not cancelled in {missed}/{len(delays)}"
    text = f"p50 {statistics.median(got):7.1f} ms  max {got[-1]:7.1f} ms"
    return text + (f"  (not cancelled in {missed}/{len(delays)})" if missed else "")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--give-up", type=float, default=4.0, help="seconds to wait for a cancellation")
    p.add_argument("--baseline", type=Path, default=None, help="checkout (with .venv) to compare against")
    ns = p.parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="thinkgate-cancel-") as tmp:
        procs = Processes(Path(tmp), REPO)
        try:
            sim_port = free_port()
            sim = f"http://{HOST}:{sim_port}"
            sim_argv = [py, "-m", "gateway.cli", "sim", "--host", HOST, "--port", str(sim_port), "--model"]
            sim_argv += ["sim", "--tokens-per-s", "50", "--reasoning-words", "400", "--answer-words", "400"]
            procs.start("sim", [*sim_argv, "--log-level", "warning"])
            procs.wait_ok("sim", sim + "/health")
            policy = Path(tmp) / "policy.yaml"
            policy.write_text(POLICY.format(url=sim))
            gateways = {"after": (Path(py), REPO)}
            if ns.baseline is not None:
                base = ns.baseline.resolve()
                gateways = {"baseline": (base / ".venv/bin/python", base), **gateways}
            ports = {}
            for name, (python, cwd) in gateways.items():
                ports[name] = free_port()
                argv_ = [str(python), "-m", "gateway.cli", "serve", "--config", str(policy), "--host", HOST]
                argv_ += ["--port", str(ports[name]), "--workers", "1", "--log-level", "warning"]
                procs.start(name, argv_, cwd=cwd)
                procs.wait_ok(name, f"http://{HOST}:{ports[name]}/ready")
            print(f"{'case':32}" + "".join(f"{name:>52}" for name in gateways))
            for case in CASES:
                row = [summary(measure(ports[name], sim, case, ns.repeat, ns.give_up)) for name in gateways]
                print(f"{case.name:32}" + "".join(f"{cell:>52}" for cell in row), flush=True)
        finally:
            procs.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
