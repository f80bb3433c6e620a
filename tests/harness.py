"""Run a gateway app on a real socket in a background thread (integration and e2e tests)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app
from gateway.config import parse_policy_text
from gateway.server import OneWriteProtocol
from gateway.settings import Settings
from router.policy import Policy, parse_policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # threads cannot install signal handlers
        pass


@contextmanager
def serve_app(
    app: Any, port: int | None = None, http: type[asyncio.Protocol] = OneWriteProtocol
) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 until the block ends; yields its base URL. ``http``: the server's
    protocol class, by default the one ``thinkgate serve`` runs (gateway/server.py)."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", http=http)
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("gateway did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_policy(
    backends: dict[str, dict[str, Any]], models: dict[str, dict[str, Any]] | None = None, **extra: Any
) -> Policy:
    return parse_policy({"version": 1, "backends": backends, "models": models or {}, **extra})


@contextmanager
def run_gateway(policy: Policy | str, **settings: Any) -> Iterator[str]:
    """A gateway for ``policy`` (a Policy or YAML text) on a free port."""
    if isinstance(policy, str):
        policy = parse_policy_text(policy)
    settings.setdefault("health_interval", 0.5)
    app = create_app(Settings(**settings), policy)
    with serve_app(app) as url:
        yield url


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def get_json(url: str) -> Any:
    return httpx.get(url, timeout=10).json()


async def async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def usage_view(usage: Any) -> Any:
    """Usage without null fields: vLLM puts ``prompt_tokens_details: null`` in JSON bodies but leaves the key out
    of the streamed usage chunk; both mean the same."""
    if isinstance(usage, dict):
        return {k: usage_view(v) for k, v in usage.items() if v is not None}
    return usage


@contextmanager
def gateway_process(config: Path, *extra_args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``thinkgate serve --config FILE --port P [extra args]`` as a child process until the block ends; yields
    its base URL once ``/ready`` answers 200."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    child_env.update(env or {})
    thinkgate = str(Path(sys.executable).parent / "thinkgate")
    args = [
        thinkgate,
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--log-level",
        "warning",
        *extra_args,
    ]
    proc = subprocess.Popen(
        args, env=child_env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "gateway exited"
            assert time.monotonic() < deadline, "gateway not ready"
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


class LogCollector(logging.Handler):
    """Collects formatted log lines (to check that secrets never reach the logs)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))
