"""Run a simulator in-process on 127.0.0.1 (tests, demo, benchmarks).

`run_sim` starts uvicorn in a background thread with its own event loop; `run_sim_async` runs it as a
task of the caller's loop. Both bind the socket first (port 0 = a free port) and return once `/health`
answers. Stopping closes the listening socket at once and aborts every open connection, so in-flight
requests see a dead endpoint (what a crashed or killed vLLM looks like).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from simulator.app import create_sim_app
from simulator.config import SimConfig
from simulator.tokenizer import SimTokenizer

_HOST = "127.0.0.1"
_INCOMPLETE = "ASGI callable returned without completing response."


class _QuietDrops(logging.Filter):
    """Hide uvicorn's complaint about the responses the simulator cuts on purpose (drop faults)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _INCOMPLETE


def quiet_uvicorn_drops() -> None:
    """Install the filter once on uvicorn's error logger."""
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in log.filters):
        log.addFilter(_QuietDrops())


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one)."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it Nagle + delayed ACK add ~40 ms to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def make_server(
    config: SimConfig, tokenizer: SimTokenizer | None = None, log_level: str = "warning"
) -> uvicorn.Server:
    """A uvicorn server for a fresh simulator app (no access log, no lifespan)."""
    app = create_sim_app(config, tokenizer)
    uv_config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )
    return uvicorn.Server(uv_config)


def _abort_all(server: uvicorn.Server) -> None:
    """Stop listening and reset every open connection (runs on the server's loop)."""
    server.should_exit = True
    server.force_exit = True
    for listener in getattr(server, "servers", []):
        listener.close()
    for conn in list(server.server_state.connections):
        transport: Any = getattr(conn, "transport", None)
        if transport is not None:
            transport.abort()


class RunningSim:
    """A simulator serving on 127.0.0.1 in a background thread."""

    def __init__(self, config: SimConfig, port: int = 0, tokenizer: SimTokenizer | None = None) -> None:
        quiet_uvicorn_drops()
        self.config = config
        self._server = make_server(config, tokenizer)
        self._sock = bind_socket(_HOST, port)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{_HOST}:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.port}", daemon=True)

    @property
    def app(self) -> Any:
        """The FastAPI app (its `state.sim` holds the serving state)."""
        return self._server.config.app

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._ready.set()
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._sock.close()

    def start(self, timeout: float = 15.0) -> RunningSim:
        """Start serving and wait until `/health` answers 200."""
        self._thread.start()
        self._ready.wait(timeout)
        _wait_healthy(self.url, timeout, lambda: self._thread.is_alive())
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listening socket, abort open connections, and wait for the thread to end."""
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(_abort_all, self._server)
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"simulator on port {self.port} did not stop within {timeout}s")
        self._sock.close()


def _wait_healthy(url: str, timeout: float, alive: Any) -> None:
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            if not alive():
                raise RuntimeError("simulator thread exited during start-up")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            deadline.wait(0.02)
    finally:
        timer.cancel()
    raise RuntimeError(f"simulator at {url} not healthy after {timeout}s")


@contextlib.contextmanager
def run_sim(config: SimConfig, port: int = 0, tokenizer: SimTokenizer | None = None) -> Iterator[RunningSim]:
    """Context manager: a started `RunningSim`, stopped on exit."""
    sim = RunningSim(config, port, tokenizer).start()
    try:
        yield sim
    finally:
        sim.stop()


class AsyncRunningSim:
    """A simulator serving as a task on the caller's event loop."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, task: asyncio.Task[None]) -> None:
        self._server = server
        self._sock = sock
        self._task = task
        self.port: int = sock.getsockname()[1]
        self.url = f"http://{_HOST}:{self.port}"

    @property
    def app(self) -> Any:
        """The FastAPI app (its `state.sim` holds the serving state)."""
        return self._server.config.app

    async def stop(self) -> None:
        """Close the listener, abort open connections, and wait for the server task."""
        _abort_all(self._server)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, timeout=5.0)
        self._sock.close()


@contextlib.asynccontextmanager
async def run_sim_async(
    config: SimConfig, port: int = 0, tokenizer: SimTokenizer | None = None
) -> AsyncIterator[AsyncRunningSim]:
    """Async context manager running the simulator on the current loop."""
    quiet_uvicorn_drops()
    server = make_server(config, tokenizer)
    sock = bind_socket(_HOST, port)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    sim = AsyncRunningSim(server, sock, task)
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            raise RuntimeError("simulator did not start")
        yield sim
    finally:
        await sim.stop()
