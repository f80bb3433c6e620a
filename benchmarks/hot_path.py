"""Hot-path benchmark (issue 18): what each proxy adds in front of a very fast mock backend, in one run.

Targets, each a separate process on the same box, all in front of the same ``mock_backend.py``:

* ``direct``: the mock itself (the floor every other number is compared with);
* ``gw:<rev>:<server>``: thinkgate at a git revision (``HEAD``, or any commit via ``--rev``, extracted with
  ``git archive`` into a temporary directory, run with this venv), under uvicorn (``thinkgate serve``),
  granian, or a variant of either (``SERVERS``: server options measured against the shipped start);
* ``nginx``: ``proxy_pass`` with upstream keep-alive, when an ``nginx`` binary is found (``--nginx``);
* ``litellm``: the LiteLLM proxy, when ``--litellm PATH`` names its ``litellm`` executable (its own venv);
* ``floor``, ``floor-async``, ``floor-asgi``, ``floor-asgi-client``, ``floor-framework`` (``--floor [LAYER]``,
  repeatable, alone: all five): the floor of a Python proxy of this kind (``floor_proxy.py``, a benchmark
  target, not a product path) and the layers of thinkgate's stack added on top of it one at a time; the
  table then ends with the layers' steps (``layers()``).

Measured per target (``model: auto``, one worker, access log on), phase by phase: every target runs one
measurement before the next measurement starts, in alternating order, and ``--rounds N`` repeats the phases
and reports medians (the load of a shared box drifts over minutes):

* ``sat``: non-stream 1 KB chat requests, closed loop at ``--connections`` (default 64), req/s;
* ``stream``: 20-chunk streams, closed loop at ``--connections``, streams/s;
* ``p50@1``: non-stream latency at 1 connection, and ``ttfb@1``: time to the first stream byte at 1 connection
  (medians; "added" = target minus direct);
* ``sweep``: agent trajectories of 1 KB, 20 KB, 85 KB and 800 KB (system prompt, task, tool calls and tool
  results) at 8 connections: req/s and the proxy's CPU ms per request (from /proc, user + system);
* ``doors``: for thinkgate, the same short task through each front door (``/v1/chat/completions``,
  ``/v1/completions``, ``/v1/responses``, ``/v1/messages``), non-stream, closed loop at ``--connections``:
  req/s and the gateway's CPU ms per request;
* ``rss``: the proxy's resident memory after start-up, and for thinkgate after ``--memory-requests`` more
  requests (1 KB, non-stream, at ``--connections``), read after each fifth of them (flat or a plateau?).

Run: ``.venv/bin/python benchmarks/hot_path.py --rev HEAD~1 --rev HEAD --server uvicorn --server granian
[--nginx] [--litellm /tmp/litellm/bin/litellm] [--floor] [--memory-requests 100000] [--json out.json]``

``--phase NAME`` (repeatable) runs only those measurements (``PHASES``), e.g. ``--phase sat --phase sweep1``
for an A/B of server variants in a few minutes; ``--json`` keeps every round's numbers beside the medians.

``--in-process-rounds N`` then runs ``request_cpu.py`` on the same revisions (the gateway's CPU per request
with no HTTP server, robust to a loaded box). Each revision runs from ``git archive`` of that commit with this
checkout's venv (``python -P``), so the revisions differ in code only, not in installed packages.
``--rev REV+mypyc`` (here and in every script that takes revisions through ``source_dir``) is REV with its
hot-path modules compiled in place by this venv's mypyc (``mypyc_tree.py``; ``REV+mypyc-router``: ``router/``
and ``templates/`` only), to measure compiled against interpreted code in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from floor_proxy import LAYERS
from loadgen import (
    HOST,
    JSON_HEADERS,
    LoadResult,
    Processes,
    aiohttp_sender,
    aiohttp_session,
    closed_loop,
    free_port,
    percentile,
    run_async,
    saturate,
    start_mock,
)

REPO = Path(__file__).resolve().parent.parent
MOCK_MODEL = "mock"
SIZES_KB = (1, 20, 85, 800)

POLICY = """\
version: 1
backends:
  mock:
    family: qwen3
    mode: hybrid
    model: {model}
    endpoints: [{url}]
models:
  auto:
    thinking: [mock]
    instruct: [mock]
state: {{redis_url: null}}
"""

NGINX = """\
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  client_max_body_size 16m;
  client_body_buffer_size 2m;
  upstream backend {{ server {mock}; keepalive 128; }}
  server {{
    listen {host}:{port};
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""

LITELLM = """\
model_list:
  - model_name: auto
    litellm_params:
      model: openai/{model}
      api_base: {url}/v1
      api_key: none
"""

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} a path in the repository",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    }
    for name in ("read_file", "run_tests")
]
CODE = (
    "def parse(line):\n    key, _, value = line.partition('=')\n    return key.strip(), value.strip()\n"
    "FAILED tests/test_config.py::test_parse_empty - AssertionError: expected ('', '') got None\n"
)


TASK = "Rewrite this sentence in plain English: the aforementioned parties shall convene forthwith."
#: front door -> (path, body): the same short task through each API (thinkgate targets only)
DOORS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": (
        "/v1/chat/completions",
        {"model": "auto", "messages": [{"role": "user", "content": TASK}], "max_tokens": 256},
    ),
    "completions": ("/v1/completions", {"model": "auto", "prompt": TASK, "max_tokens": 256}),
    "responses": ("/v1/responses", {"model": "auto", "input": TASK, "max_output_tokens": 256}),
    "messages": (
        "/v1/messages",
        {"model": "auto", "messages": [{"role": "user", "content": TASK}], "max_tokens": 256},
    ),
}


def trajectory(kb: int) -> bytes:
    """A chat request of about ``kb`` KB: a coding agent's task, then tool calls and their results."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful coding agent. Use the tools; answer briefly. " * 4},
        {"role": "user", "content": "The config parser fails on empty lines. Find the bug and fix it."},
    ]
    body: dict[str, Any] = {"model": "auto", "messages": messages, "tools": TOOLS, "max_tokens": 256}
    calls = {1: 0, 20: 3, 85: 10, 800: 40}.get(kb, max(1, kb // 8))
    if calls:
        room = kb * 1024 - len(orjson.dumps(body)) - calls * 260
        per_result = max(64, room // calls)
        for i in range(calls):
            name = TOOLS[i % 2]["function"]["name"]
            call_id = f"call_{i}"
            args = orjson.dumps({"path": f"src/config_{i}.py"}).decode()
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
                    ],
                }
            )
            text = (CODE * (per_result // len(CODE) + 1))[:per_result]
            messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
    else:
        filler = kb * 1024 - len(orjson.dumps(body))
        if filler > 0:
            messages[1]["content"] += " " + ("Details follow. " * (filler // 16 + 1))[:filler]
    return orjson.dumps(body)


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    process: str | None  # the child whose CPU and RSS are the proxy's (None: direct)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (a server's worker), MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_tree(procs: Processes) -> dict[str, float]:
    """CPU seconds per child including its own children (uvicorn and granian may fork a worker)."""
    from loadgen import cpu_seconds

    out: dict[str, float] = {}
    for name, child in procs.children.items():
        if child.proc.poll() is not None:
            continue
        pid = child.proc.pid
        total = cpu_seconds(pid)
        kids = Path(f"/proc/{pid}/task/{pid}/children")
        if kids.exists():
            total += sum(cpu_seconds(int(p)) for p in kids.read_text().split())
        out[name] = total
    out["loadgen"] = cpu_seconds(os.getpid())
    return out


# ---- starting the targets ----------------------------------------------------------------------


def source_dir(rev: str, work: Path) -> Path:
    """The repository at ``rev`` (``WORKTREE``: this checkout as it is, uncommitted changes included).
    ``REV+mypyc`` (or ``REV+mypyc-SET``): that tree with its hot-path modules compiled by mypyc
    (``mypyc_tree.py``), to measure compiled against interpreted in one run."""
    base, plus, build = rev.partition("+mypyc")
    if plus:
        from mypyc_tree import compiled_tree

        out = work / f"src-{rev.replace('/', '_').replace('~', '-')}"
        return compiled_tree(source_dir(base, work), out, build.removeprefix("-") or "hot")
    if rev == "WORKTREE":
        return REPO
    out = work / f"src-{rev.replace('/', '_').replace('~', '-')}"
    if out.exists():  # already extracted (``--rev X --rev X+mypyc``)
        return out
    out.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


#: ``--server`` choices: how each starts the gateway (the app is the same: ``gateway.asgi:app_from_env``).
#: ``uvicorn`` is ``thinkgate serve`` as shipped; the others are variants measured against it.
UVICORN = ["-m", "uvicorn", "--factory", "gateway.asgi:app_from_env", "--no-access-log"]
GRANIAN = ["-m", "granian", "--interface", "asgi", "--factory", "gateway.asgi:app_from_env"]
GRANIAN += ["--loop", "uvloop", "--http", "1", "--no-ws"]
SERVERS: dict[str, list[str]] = {
    "uvicorn": ["-m", "gateway.cli", "serve"],
    # uvicorn's own httptools protocol (the response head and the first body in two socket writes), as
    # ``thinkgate serve`` ran before gateway/server.py: the same revision with and without OneWriteProtocol
    "uvicorn-plain": UVICORN,
    # uvicorn-plain without the server and date headers and the forwarded-header middleware (for 127.0.0.1)
    "uvicorn-bare": [*UVICORN, "--no-server-header", "--no-date-header", "--no-proxy-headers"],
    "granian": GRANIAN,
    "granian-st": [*GRANIAN, "--runtime-mode", "st"],  # Rust runtime on the worker's own thread
    "granian-rust-task": [*GRANIAN, "--task-impl", "rust"],  # Rust-side task objects instead of asyncio's
    # ``thinkgate serve`` with the cyclic garbage collector off (a measurement of what gen-0 collections cost
    # under load, not a setting to ship: cyclic garbage would then never be freed)
    "uvicorn-nogc": [
        "-c",
        "import gc, sys; gc.disable(); from gateway.cli import main; sys.exit(main())",
        "serve",
    ],
    # ``thinkgate serve`` with no access log at all: lines off and the log's writer never installed (a
    # measurement of what the access log costs under load)
    "uvicorn-nolog": [
        "-c",
        "import os, sys; os.environ['THINKGATE_ACCESS_LOG_ENABLED'] = 'false'; import gateway.logs as logs; "
        "logs.install_handler = lambda logger: None; from gateway.cli import main; sys.exit(main())",
        "serve",
    ],
    # ``thinkgate serve`` with the interpreter's switch interval at 50 ms instead of 5 ms (a measurement of
    # what GIL hand-offs between the event loop and other threads cost under load)
    "uvicorn-switch50": [
        "-c",
        "import sys; sys.setswitchinterval(0.05); from gateway.cli import main; sys.exit(main())",
        "serve",
    ],
}


def start_gateway(procs: Processes, name: str, src: Path, server: str, policy: Path) -> str:
    port = free_port()
    # -P: the revision's source (PYTHONPATH) comes first, not the working directory (this checkout)
    env = {**os.environ, "PYTHONPATH": str(src), "THINKGATE_CONFIG": str(policy)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = [sys.executable, "-P", *SERVERS[server], "--host", HOST, "--port", str(port), "--workers", "1"]
    argv += ["--log-level", "warning"]
    if SERVERS[server][-1] == "serve":  # thinkgate's own command line
        argv += ["--config", str(policy)]
    procs.start(name, argv, env=env)
    url = f"http://{HOST}:{port}"
    procs.wait_ok(name, url + "/ready", timeout=90)
    return url


def start_mock_with_policy(procs: Processes, work: Path) -> tuple[str, Path]:
    """Start the mock backend: its URL, and a policy file in ``work`` (``POLICY``) that routes to it."""
    mock = start_mock(procs, REPO, MOCK_MODEL)
    policy = work / "policy.yaml"
    policy.write_text(POLICY.format(model=MOCK_MODEL, url=mock))
    return mock, policy


def start_nginx(procs: Processes, work: Path, mock: str) -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX.format(work=work, mock=mock.removeprefix("http://"), host=HOST, port=port))
    procs.start("nginx", [binary, "-c", str(conf), "-g", "daemon off;"])
    url = f"http://{HOST}:{port}"
    procs.wait_ok("nginx", url + "/health")
    return url


def start_floor(procs: Processes, layer: str, mock: str) -> str:
    """Start ``floor_proxy.py --layer LAYER`` in front of the mock (this checkout's ``gateway`` for the ASGI
    layers); its URL once it answers."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, str(REPO / "benchmarks/floor_proxy.py"), "--layer", layer, "--host", HOST]
    argv += ["--port", str(port), "--upstream", mock, "--model", MOCK_MODEL]
    procs.start(layer, argv, env=env)
    url = f"http://{HOST}:{port}"
    procs.wait_ok(layer, url + "/health")
    return url


def start_litellm(procs: Processes, work: Path, mock: str, litellm: str) -> str:
    port = free_port()
    conf = work / "litellm.yaml"
    conf.write_text(LITELLM.format(model=MOCK_MODEL, url=mock))
    env = {
        **os.environ,
        "LITELLM_LOG": "ERROR",
        "DISABLE_ADMIN_UI": "True",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price map at start
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",  # loopback-only benchmark, no auth
    }
    procs.start("litellm", [litellm, "--config", str(conf), "--host", HOST, "--port", str(port)], env=env)
    url = f"http://{HOST}:{port}"
    procs.wait_ok("litellm", url + "/health/liveliness", timeout=180)
    return url


# ---- measurements ---------------------------------------------------------------------------------


async def first_byte(url: str, body: bytes, n: int, warmup: int = 20) -> list[float]:
    """Seconds to the first body byte of ``n`` sequential requests on one keep-alive connection."""
    out: list[float] = []
    async with aiohttp_session(1) as session:
        for i in range(warmup + n):
            start = time.perf_counter()
            async with session.post(url, data=body, headers=JSON_HEADERS) as resp:
                await resp.content.readany()
                elapsed = time.perf_counter() - start
                await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{url}: HTTP {resp.status}")
            if i >= warmup:
                out.append(elapsed)
    return out


#: every measurement, in the order they run (``--phase`` picks some)
PHASES = [
    "sat",
    "stream",
    "lat1",
    "ttfb",
    *(f"sweep{kb}" for kb in SIZES_KB),
    *(f"door_{d}" for d in DOORS),
    "memory",
]


def phases(opts: argparse.Namespace) -> list[str]:
    """The measurements, in order; each runs for every target before the next one starts."""
    out = PHASES if opts.memory_requests else PHASES[:-1]
    return [phase for phase in out if not opts.phase or phase in opts.phase]


def applies(phase: str, target: Target) -> bool:
    """Front doors and the memory run are thinkgate's (the mock, nginx and LiteLLM speak chat only)."""
    return target.name.startswith("gw:") or not phase.startswith(("door_", "memory"))


async def measure(opts: argparse.Namespace, procs: Processes, target: Target, phase: str) -> dict[str, Any]:
    """One measurement (``phase``) of one target."""
    url = target.url + "/v1/chat/completions"
    small = trajectory(1)
    stream = orjson.loads(small)
    stream["stream"] = True
    stream_body = orjson.dumps(stream)

    def cpu() -> dict[str, float]:
        return cpu_tree(procs)

    async def loop(body: bytes, label: str, c: int, *, is_stream: bool = False) -> LoadResult:
        return await saturate(
            url,
            body,
            f"{target.name}/{label}",
            stream=is_stream,
            concurrency=c,
            duration=opts.duration,
            warmup=opts.warmup,
            cpu=cpu,
        )

    def proxy_cpu(r: LoadResult) -> float | None:
        return None if target.process is None else round(r.cpu_ms_per_request(target.process), 3)

    if phase == "sat":
        r = await loop(small, "sat", opts.connections)
        return {"sat_rps": round(r.rps, 1), "sat_cpu_ms": proxy_cpu(r), "sat_errors": r.errors}
    if phase == "stream":
        r = await loop(stream_body, "stream", opts.connections, is_stream=True)
        return {"stream_rps": round(r.rps, 1), "stream_errors": r.errors}
    if phase == "lat1":
        r = await loop(small, "lat1", 1)
        return {"p50_1_ms": round(r.p_ms(50), 3)}
    if phase == "ttfb":
        ttfb = await first_byte(url, stream_body, opts.ttfb_requests)
        return {"ttfb_1_ms": round(percentile(ttfb, 50) * 1000, 3)}
    if phase.startswith("sweep"):
        kb = int(phase.removeprefix("sweep"))
        r = await loop(trajectory(kb), phase, 8)
        key = f"sweep_{kb}kb"
        return {f"{key}_rps": round(r.rps, 1), f"{key}_cpu_ms": proxy_cpu(r), f"{key}_errors": r.errors}
    if phase.startswith("door_"):
        path, door_body = DOORS[phase.removeprefix("door_")]
        url = target.url + path
        r = await loop(orjson.dumps(door_body), phase, opts.connections)
        return {f"{phase}_rps": round(r.rps, 1), f"{phase}_cpu_ms": proxy_cpu(r), f"{phase}_errors": r.errors}
    assert phase == "memory" and target.process is not None
    pid = procs.children[target.process].proc.pid
    curve, ok, errors = [], 0, 0
    async with aiohttp_session(opts.connections) as session:
        for _ in range(5):  # RSS after each fifth: growth that levels off is a warm-up, not a leak
            r = await closed_loop(
                aiohttp_sender(session, url, small, stream=False),
                f"{target.name}/memory",
                concurrency=opts.connections,
                total=opts.memory_requests // 5,
                warmup=0,
            )
            ok, errors = ok + r.ok, errors + r.errors
            curve.append(round(rss_mb(pid), 1))
    return {"memory_requests": ok, "memory_errors": errors, "rss_after_mb": curve[-1], "rss_curve_mb": curve}


def median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per key: the median of the rounds' numbers (errors: their sum; lists: the last round's)."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for r in rounds for k in r):
        values = [r[key] for r in rounds if r.get(key) is not None and r[key] == r[key]]  # not None/NaN
        if not values:
            out[key] = None
        elif key.endswith("errors"):
            out[key] = sum(values)
        elif isinstance(values[0], list):
            out[key] = values[-1]
        else:
            out[key] = round(statistics.median(values), 3)
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        ("sat_rps", "non-stream req/s, 1 KB, closed loop"),
        ("sat_cpu_ms", "  proxy CPU ms/req"),
        ("stream_rps", "20-chunk streams/s, closed loop"),
        ("p50_1_ms", "p50 ms at 1 connection, non-stream"),
        ("added_p50_1_ms", "  added vs direct"),
        ("ttfb_1_ms", "p50 ms to first stream byte, 1 conn"),
        ("added_ttfb_1_ms", "  added vs direct"),
    ]
    for kb in SIZES_KB:
        rows += [
            (f"sweep_{kb}kb_rps", f"{kb} KB trajectory req/s (8 conn)"),
            (f"sweep_{kb}kb_cpu_ms", "  proxy CPU ms/req"),
        ]
    for door in DOORS:
        rows += [
            (f"door_{door}_rps", f"/{door} req/s, short task, closed loop"),
            (f"door_{door}_cpu_ms", "  gateway CPU ms/req"),
        ]
    rows += [
        ("rss_start_mb", "RSS MB at start"),
        ("rss_after_mb", "RSS MB after the memory run"),
        ("memory_requests", "  requests in the memory run"),
    ]
    names = list(results)
    width = max(14, *(len(n) + 2 for n in names))
    lines = ["measure".ljust(40) + "".join(n.rjust(width) for n in names), "-" * (40 + width * len(names))]
    for key, label in rows:
        if all(results[n].get(key) is None for n in names):
            continue  # not measured (--phase)
        cells = []
        for n in names:
            v = results[n].get(key)
            cells.append(
                ("-" if v is None else f"{v:,.3f}" if isinstance(v, float) and v < 100 else f"{v:,}").rjust(
                    width
                )
            )
        lines.append(label.ljust(40) + "".join(cells))
    return "\n".join(lines)


#: the rows of the floor's decomposition: (key, label, is it a CPU cost per request)
LAYER_ROWS = (
    ("sat_cpu_ms", "CPU ms/req, 1 KB at 64 conn", True),
    ("added_p50_1_ms", "added p50 ms at 1 conn", False),
    ("added_ttfb_1_ms", "added ms to 1st stream byte", False),
    ("sweep_85kb_cpu_ms", "CPU ms/req, 85 KB at 8 conn", True),
)


def layers(results: dict[str, dict[str, Any]]) -> str:
    """The floor's layers and the thinkgate targets in stack order: each row's value, its step from the layer
    below, and for CPU rows nginx's CPU per request over it (the per-core ratio, issue 18's "0.1x nginx")."""
    names = [n for n in (*LAYERS, *(n for n in results if n.startswith("gw:"))) if n in results]
    nginx = results.get("nginx", {})
    lines = ["layers (step = minus the row above; x nginx = nginx's CPU per request / this one's)"]
    for key, label, is_cpu in LAYER_ROWS:
        lines.append(f"  {label}")
        below: float | None = None
        for name in names:
            value = results[name].get(key)
            if value is None:
                continue
            cells = f"    {name:<28}{value:8.3f}"
            cells += f"   step {value - below:+.3f}" if below is not None else " " * 14
            if is_cpu and nginx.get(key) and value:
                cells += f"   x nginx {nginx[key] / value:.3f}"
            lines.append(cells)
            below = value
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--rev",
        action="append",
        help="git revision of thinkgate to run (repeatable; WORKTREE = this checkout)",
    )
    p.add_argument("--server", action="append", choices=list(SERVERS), help="repeatable; default uvicorn")
    p.add_argument("--nginx", action="store_true", help="also measure nginx proxy_pass")
    p.add_argument("--litellm", default=None, help="path of a litellm executable (its own venv)")
    p.add_argument(
        "--floor",
        action="append",
        nargs="?",
        const="all",
        choices=[*LAYERS, "all"],
        help="also measure the floor of a Python proxy (floor_proxy.py) at LAYER (repeatable; alone: all)",
    )
    p.add_argument(
        "--phase",
        action="append",
        choices=PHASES,
        help="run only this measurement (repeatable; default: all of them; memory needs --memory-requests)",
    )
    p.add_argument("--duration", type=float, default=4.0, help="seconds per closed-loop window")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--ttfb-requests", type=int, default=300)
    p.add_argument("--memory-requests", type=int, default=0, help="requests of the memory run (0 = skip)")
    p.add_argument("--rounds", type=int, default=1, help="repeat every phase; the table shows the medians")
    p.add_argument(
        "--in-process-rounds",
        type=int,
        default=0,
        help="then run request_cpu.py (gateway CPU per request without a server) for the same revisions",
    )
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs = opts.rev or ["WORKTREE"]
    servers = opts.server or ["uvicorn"]
    results: dict[str, dict[str, Any]] = {}
    rounds: dict[str, list[dict[str, Any]]] = {}  # per target, each round's numbers
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thinkgate-hot-") as tmp:
        work = Path(tmp)
        procs = Processes(work, REPO)
        try:
            mock, policy = start_mock_with_policy(procs, work)
            targets = [Target("direct", mock, None)]
            for rev in revs:
                src = source_dir(rev, work)
                for server in servers:
                    name = f"gw:{rev}:{server}"
                    targets.append(Target(name, "", name))
                    targets[-1] = Target(name, start_gateway(procs, name, src, server, policy), name)
            floors = opts.floor or []
            for layer in LAYERS if "all" in floors else [f for f in LAYERS if f in floors]:
                targets.append(Target(layer, start_floor(procs, layer, mock), layer))
            if opts.nginx:
                targets.append(Target("nginx", start_nginx(procs, work, mock), "nginx"))
            if opts.litellm:
                targets.append(Target("litellm", start_litellm(procs, work, mock, opts.litellm), "litellm"))
            starts = {
                t.name: {"rss_start_mb": round(rss_mb(procs.children[t.process].proc.pid), 1)}
                for t in targets
                if t.process is not None
            }
            # Phase by phase, every target in turn (alternating the order), so that the targets of one
            # measurement run minutes apart at most: on a shared box the load drifts more than that.
            rounds = {t.name: [] for t in targets}
            for n in range(opts.rounds):
                for t in targets:
                    rounds[t.name].append(dict(starts.get(t.name, {})))
                for i, phase in enumerate(phases(opts)):
                    if phase == "memory" and n < opts.rounds - 1:
                        continue  # once, at the end
                    order = targets if (i + n) % 2 == 0 else targets[::-1]
                    for target in order:
                        if applies(phase, target):
                            print(f"round {n + 1}: {phase} on {target.name}", file=sys.stderr, flush=True)
                            rounds[target.name][-1].update(run_async(measure(opts, procs, target, phase)))
            results = {name: median_of_rounds(r) for name, r in rounds.items()}
        finally:
            procs.close()
    direct = results["direct"]
    for res in results.values():
        for key in ("p50_1_ms", "ttfb_1_ms"):
            if key in direct:  # measured unless --phase left it out
                res[f"added_{key}"] = round(res[key] - direct[key], 3)
    print(table(results))
    if opts.floor:
        print()
        print(layers(results))
    for name, res in results.items():
        if "rss_curve_mb" in res:
            print(f"RSS MB of {name} after each fifth of the memory run: {res['rss_curve_mb']}")
    elapsed = round(time.monotonic() - started, 1)
    print(f"\nload average before {load_before}, after {os.getloadavg()}; elapsed {elapsed} s")
    errors = {n: {k: v for k, v in r.items() if k.endswith("errors") and v} for n, r in results.items()}
    errors = {n: e for n, e in errors.items() if e}
    print("errors:", errors or "none")
    if opts.json:
        report = {"argv": sys.argv, "results": results, "rounds": rounds}
        opts.json.write_text(json.dumps(report, indent=2) + "\n")
    if opts.in_process_rounds:
        import request_cpu  # the same revisions in process, after the servers above have stopped

        print()
        floor = ["--floor"] if opts.floor else []
        request_cpu.main([*(f"--rev={rev}" for rev in revs), f"--rounds={opts.in_process_rounds}", *floor])
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
