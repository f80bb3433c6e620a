"""A demo stack (three simulators, a gateway with an admin token) and a headless chromium for the console tests.

Every test under tests/browser is marked ``browser``. A missing chromium fails the tests (it never skips
them): ``make test`` installs it through ``scripts/ensure_chromium.sh``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from gateway.demo_policy import demo_policy_yaml
from simulator.config import SimConfig
from simulator.server import run_sim
from tests.console_browser import BrowserMissing, chromium
from tests.harness import run_gateway

BROWSER_DIR = Path(__file__).resolve().parent
TOKEN_ENV = "THINKGATE_CONSOLE_TEST_TOKEN"
TOKEN = "console-test-token-7f3a9c"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@dataclass(frozen=True)
class Demo:
    gateway: str
    token: str


@pytest.fixture(scope="module")
def admin_token() -> Iterator[str]:
    os.environ[TOKEN_ENV] = TOKEN
    try:
        yield TOKEN
    finally:
        os.environ.pop(TOKEN_ENV, None)


@pytest.fixture(scope="module")
def demo(admin_token: str) -> Iterator[Demo]:
    """The demo policy (as ``thinkgate demo`` writes it) with the console's admin token variable."""
    with (
        run_sim(SimConfig(model="sim-qwen3-hybrid", mode="hybrid")) as hybrid,
        run_sim(SimConfig(model="sim-qwen3-thinking-2507", mode="thinking", seed=1)) as thinking,
        run_sim(SimConfig(model="sim-qwen3-instruct-2507", mode="instruct", seed=2)) as instruct,
    ):
        text = demo_policy_yaml(hybrid.url, thinking.url, instruct.url)
        text += f"auth: {{admin_token_env: {TOKEN_ENV}}}\n"
        with run_gateway(text) as gw:
            yield Demo(gw, admin_token)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    try:
        with chromium() as driver:
            yield driver
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)
