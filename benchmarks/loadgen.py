"""Shared pieces of the benchmarks: HTTP load loops, latency statistics, child processes, CPU accounting.

Load loops take a ``Send`` callable (one request, returns what came back), so the same closed and open
loops drive aiohttp, httpx or anything else. Everything here runs only when called.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import aiohttp

HOST = "127.0.0.1"
JSON_HEADERS = {"content-type": "application/json"}
T = TypeVar("T")


# ---- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What one request brought back: HTTP status, SSE events (streams only) and body bytes."""

    status: int
    events: int
    nbytes: int


#: Sends one request; raises on transport errors.
Send = Callable[[], Awaitable[Reply]]


class EventCounter:
    """Counts SSE events (blank-line separators ``\\n\\n``) in a byte stream split at arbitrary points."""

    def __init__(self) -> None:
        self.events = 0
        self.nbytes = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        data = self._tail + chunk
        self.events += data.count(b"\n\n")
        self.nbytes += len(chunk)
        self._tail = data[-1:]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(slots=True)
class LoadResult:
    """The measured window of one load phase."""

    label: str
    window_s: float = 0.0
    ok: int = 0
    errors: int = 0
    events: int = 0
    nbytes: int = 0
    latencies_s: list[float] = field(default_factory=list)
    lag_s: list[float] = field(default_factory=list)
    first_error: str | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)

    def record(self, latency: float, reply: Reply) -> None:
        if reply.status == 200:
            self.ok += 1
            self.events += reply.events
            self.nbytes += reply.nbytes
            self.latencies_s.append(latency)
        else:
            self.error(f"HTTP {reply.status}")

    def error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message

    @property
    def rps(self) -> float:
        return self.ok / self.window_s if self.window_s > 0 else 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.window_s if self.window_s > 0 else 0.0

    def p_ms(self, q: float) -> float:
        return percentile(self.latencies_s, q) * 1000.0

    def cpu_ms_per_request(self, name: str) -> float:
        return self.cpu_s.get(name, 0.0) * 1000.0 / self.ok if self.ok else float("nan")

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (no raw samples)."""
        return {
            "label": self.label,
            "window_s": round(self.window_s, 3),
            "ok": self.ok,
            "errors": self.errors,
            "first_error": self.first_error,
            "rps": round(self.rps, 1),
            "events_per_s": round(self.events_per_s, 1),
            "p50_ms": round(self.p_ms(50), 3),
            "p90_ms": round(self.p_ms(90), 3),
            "p99_ms": round(self.p_ms(99), 3),
            "max_ms": round(max(self.latencies_s, default=float("nan")) * 1000, 3),
            "send_lag_p99_ms": round(percentile(self.lag_s, 99) * 1000, 3) if self.lag_s else None,
            "cpu_ms_per_request": {k: round(self.cpu_ms_per_request(k), 3) for k in self.cpu_s},
        }


def merge(label: str, parts: Sequence[LoadResult]) -> LoadResult:
    """One result from several windows of the same load (e.g. alternating rounds)."""
    out = LoadResult(label)
    for part in parts:
        out.window_s += part.window_s
        out.ok += part.ok
        out.errors += part.errors
        out.events += part.events
        out.nbytes += part.nbytes
        out.latencies_s.extend(part.latencies_s)
        out.lag_s.extend(part.lag_s)
        out.first_error = out.first_error or part.first_error
        for name, seconds in part.cpu_s.items():
            out.cpu_s[name] = out.cpu_s.get(name, 0.0) + seconds
    return out


# ---- load loops ------------------------------------------------------------------------------------


async def _timed(send: Send, result: LoadResult, counted: Callable[[float, float], bool]) -> None:
    start = time.perf_counter()
    try:
        reply = await send()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        if counted(start, time.perf_counter()):
            result.error(f"{type(exc).__name__}: {exc}")
        return
    end = time.perf_counter()
    if counted(start, end):
        result.record(end - start, reply)


def _constant(flag: bool) -> Callable[[float, float], bool]:
    def counted(_start: float, _end: float) -> bool:
        return flag

    return counted


#: Returns CPU seconds used so far per process name (see :meth:`Processes.cpu`).
CpuProbe = Callable[[], dict[str, float]]


class _CpuWindow:
    """CPU seconds per process between ``start`` and ``stop``, written into a result."""

    def __init__(self, probe: CpuProbe | None, result: LoadResult) -> None:
        self._probe = probe
        self._result = result
        self._before: dict[str, float] | None = None

    def start(self) -> None:
        if self._probe is not None:
            self._before = self._probe()

    def stop(self) -> None:
        if self._probe is not None and self._before is not None:
            after = self._probe()
            self._result.cpu_s = {k: after[k] - self._before[k] for k in after if k in self._before}
            self._before = None


async def closed_loop(
    send: Send,
    label: str,
    *,
    concurrency: int,
    duration: float | None = None,
    total: int | None = None,
    warmup: float = 1.0,
    cpu: CpuProbe | None = None,
) -> LoadResult:
    """``concurrency`` workers, each sending its next request when the previous one is done.

    Stops after ``duration`` seconds (requests completing in the window after ``warmup`` count) or after
    ``total`` counted requests (the warm-up is then ``warmup`` seconds of uncounted traffic first).
    ``cpu`` is sampled at the window's start and end.
    """
    if (duration is None) == (total is None):
        raise ValueError("give exactly one of duration and total")
    result = LoadResult(label)
    window = _CpuWindow(cpu, result)
    loop = asyncio.get_running_loop()
    loop_start = time.perf_counter()
    window_start = loop_start + warmup
    window_end = window_start + duration if duration is not None else float("inf")
    loop.call_later(warmup, window.start)
    if duration is not None:
        loop.call_later(warmup + duration, window.stop)
    issued = 0

    def counted(start: float, end: float) -> bool:
        return start >= window_start and end <= window_end

    def more() -> bool:
        nonlocal issued
        now = time.perf_counter()
        if now >= window_end:
            return False
        if total is not None and now >= window_start:
            if issued >= total:
                return False
            issued += 1
        return True

    async def worker() -> None:
        while more():
            await _timed(send, result, counted)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    window.stop()
    result.window_s = (
        window_end - window_start if duration is not None else time.perf_counter() - window_start
    )
    return result


async def open_loop(
    send: Send,
    label: str,
    *,
    rate: float,
    duration: float,
    warmup: float = 1.0,
    max_inflight: int = 1000,
    cpu: CpuProbe | None = None,
) -> LoadResult:
    """Requests started at fixed intervals of ``1/rate`` seconds, whatever the answers do (no feedback).

    Latency is measured from the actual send; ``lag_s`` records how late the generator itself was.
    Requests scheduled after ``warmup`` count. More than ``max_inflight`` open requests count as errors.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    result = LoadResult(label)
    window = _CpuWindow(cpu, result)
    loop = asyncio.get_running_loop()
    start = loop.time()
    window_start = start + warmup
    n_total = int((warmup + duration) * rate)
    tasks: set[asyncio.Task[None]] = set()
    started = False
    for i in range(n_total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        in_window = due >= window_start
        if in_window:
            if not started:
                started = True
                window.start()
            result.lag_s.append(max(0.0, loop.time() - due))
        if len(tasks) >= max_inflight:
            if in_window:
                result.error("generator: too many requests in flight")
            continue
        task = asyncio.ensure_future(_timed(send, result, _constant(in_window)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    window.stop()
    result.window_s = duration
    return result


async def saturate(
    url: str,
    body: bytes,
    label: str,
    *,
    stream: bool,
    concurrency: int,
    duration: float,
    warmup: float,
    cpu: Callable[[], dict[str, float]] | None = None,
) -> LoadResult:
    """A closed loop of ``concurrency`` workers POSTing ``body`` to ``url`` (its own session)."""
    async with aiohttp_session(concurrency) as session:
        return await closed_loop(
            aiohttp_sender(session, url, body, stream=stream),
            label,
            concurrency=concurrency,
            duration=duration,
            warmup=warmup,
            cpu=cpu,
        )


# ---- reports ---------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 2) -> str:
    """A number with thousands separators, ``n/a`` for NaN."""
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def load_results(report: Any) -> list[LoadResult]:
    """Every :class:`LoadResult` in a report (nested dicts), in order."""
    if isinstance(report, LoadResult):
        return [report]
    if isinstance(report, dict):
        return [r for v in report.values() for r in load_results(v)]
    return []


def report_errors(report: Any) -> list[str]:
    """One line per load window of the report that saw errors (empty: none did)."""
    return [f"{r.label}: {r.errors} errors, first: {r.first_error}" for r in load_results(report) if r.errors]


def to_json(report: Any) -> Any:
    """The report with every :class:`LoadResult` replaced by its summary."""
    if isinstance(report, LoadResult):
        return report.summary()
    if isinstance(report, dict):
        return {k: to_json(v) for k, v in report.items()}
    return report


# ---- aiohttp client --------------------------------------------------------------------------------


def aiohttp_session(concurrency: int) -> aiohttp.ClientSession:
    """A pooled keep-alive session sized for ``concurrency`` simultaneous requests."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, keepalive_timeout=60)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60), skip_auto_headers=("User-Agent",)
    )


def aiohttp_sender(session: aiohttp.ClientSession, url: str, body: bytes, *, stream: bool) -> Send:
    """POST ``body`` to ``url``; streams are read chunk by chunk and their SSE events counted."""

    async def send() -> Reply:
        async with session.post(url, data=body, headers=JSON_HEADERS) as resp:
            if not stream:
                data = await resp.read()
                return Reply(resp.status, 0, len(data))
            counter = EventCounter()
            while chunk := await resp.content.readany():
                counter.feed(chunk)
            return Reply(resp.status, counter.events, counter.nbytes)

    return send


# ---- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads), from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Child:
    """A started server process (own process group) and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


class Processes:
    """Starts server processes in their own process groups and stops every one of them on ``close``."""

    def __init__(self, log_dir: Path, cwd: Path) -> None:
        self._log_dir = log_dir
        self._cwd = cwd
        self.children: dict[str, Child] = {}

    def start(
        self, name: str, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Child:
        log_path = self._log_dir / f"{name}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd or self._cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        child = Child(name, proc, log_path, log)
        self.children[name] = child
        return child

    def wait_ok(self, name: str, url: str, timeout: float = 30.0) -> None:
        """Poll ``url`` until it answers 200; raise with the log tail if the process dies or times out."""
        child = self.children[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.proc.returncode}:\n{self.log_tail(name)}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=1.0) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{name}: {url} not ready after {timeout}s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 20) -> str:
        text = self.children[name].log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by every running child (plus this process as ``loadgen``)."""
        out = {name: cpu_seconds(c.proc.pid) for name, c in self.children.items() if c.proc.poll() is None}
        out["loadgen"] = cpu_seconds(os.getpid())
        return out

    def close(self, timeout: float = 5.0) -> None:
        """SIGTERM each process group, wait, then SIGKILL whatever is left."""
        for child in self.children.values():
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.proc.wait(remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait(5.0)
            child.log.close()
        self.children.clear()


def sim_argv(python: str, port: int, model: str, *, answer_words: int, reasoning_words: int) -> list[str]:
    """Command line of a near-zero-latency simulator (every latency knob at 0)."""
    return [
        python,
        "-m",
        "gateway.cli",
        "sim",
        "--host",
        HOST,
        "--port",
        str(port),
        "--model",
        model,
        "--mode",
        "hybrid",
        "--answer-words",
        str(answer_words),
        "--reasoning-words",
        str(reasoning_words),
        "--ttft-ms",
        "0",
        "--tokens-per-s",
        "0",
        "--log-level",
        "warning",
    ]


def start_gateway(
    procs: Processes,
    name: str,
    policy: Path,
    *,
    python: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Start ``thinkgate serve`` (one uvicorn worker, warnings only) on a free port; its URL once ready.

    ``python``/``cwd``: another checkout's interpreter and directory (a baseline revision)."""
    port = free_port()
    argv = [python or sys.executable, "-m", "gateway.cli", "serve", "--config", str(policy), "--host", HOST]
    argv += ["--port", str(port), "--workers", "1", "--log-level", "warning"]
    procs.start(name, argv, env=env, cwd=cwd)
    url = f"http://{HOST}:{port}"
    procs.wait_ok(name, url + "/ready", timeout=90)
    return url


def start_sim(procs: Processes, name: str, model: str, *, answer_words: int, reasoning_words: int) -> str:
    """Start a near-zero-latency simulator on a free port; its URL once healthy."""
    port = free_port()
    procs.start(
        name,
        sim_argv(sys.executable, port, model, answer_words=answer_words, reasoning_words=reasoning_words),
    )
    url = f"http://{HOST}:{port}"
    procs.wait_ok(name, url + "/health")
    return url


def start_mock(procs: Processes, repo: Path, model: str | None = None) -> str:
    """Start ``benchmarks/mock_backend.py`` (answers at once) on a free port; its URL once healthy."""
    port = free_port()
    argv = [sys.executable, str(repo / "benchmarks/mock_backend.py"), "--port", str(port)]
    if model is not None:
        argv += ["--model", model]
    procs.start("mock", argv)
    url = f"http://{HOST}:{port}"
    procs.wait_ok("mock", url + "/health")
    return url


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when available (a cheaper load generator), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
