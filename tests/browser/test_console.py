"""The operator console in a real headless chromium against the simulator-backed demo policy.

As a person would use it: sign in with the admin token, try a prompt and read the decision, upload labelled
prompts, move the threshold and compare the page with ``thinkgate eval`` at that threshold, apply the change
and see ``/v1/route`` follow it, roll it back; and the ways in that must fail (401, 403, bad uploads).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import Demo
from tests.console_browser import screenshot, sign_in, text_of, wait_for
from tests.harness import run_gateway

DATA = Path(__file__).resolve().parent / "data" / "labelled_small.jsonl"
THINKGATE = str(Path(sys.executable).parent / "thinkgate")
DEMO_BUDGETS = {"minimal": 512, "low": 1024, "medium": 4096, "high": 16384}
PROBE = [{"role": "user", "content": "Solve for x: 3x^2 - 12x + 9 = 0, and show each step."}]


def route(demo: Demo, messages: list[dict[str, Any]], model: str = "auto", **extra: Any) -> dict[str, Any]:
    body = {"model": model, "messages": messages, **extra}
    response = httpx.post(demo.gateway + "/v1/route", json=body, timeout=10)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def thinkgate_eval(tmp_path: Path, think: float, budgets: dict[str, int] = DEMO_BUDGETS) -> dict[str, Any]:
    """``thinkgate eval --json`` on the uploaded file with these budgets (the demo's) and think threshold."""
    policy = tmp_path / f"policy-{think:.2f}.yaml"
    policy.write_text(
        json.dumps({"budgets": budgets, "classifier": {"thresholds": {"think": think}}}), encoding="utf-8"
    )
    out = subprocess.run(
        [THINKGATE, "eval", "--data", str(DATA), "--policy", str(policy), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def shown(value: float, digits: int = 4) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def tune_idle(driver: WebDriver) -> bool:
    return bool(driver.execute_script("return document.getElementById('view-tune').dataset.busy === 'false'"))


def open_tab(driver: WebDriver, name: str) -> None:
    driver.find_element(By.ID, f"tab-{name}").click()
    wait_for(driver, lambda d: d.find_element(By.ID, f"view-{name}").is_displayed())


def page_numbers(driver: WebDriver) -> dict[str, str]:
    return {
        "accuracy": text_of(driver, "tune-accuracy"),
        "recall_think": text_of(driver, "tune-recall"),
        "precision_nothink": text_of(driver, "tune-precision"),
        "think_share": text_of(driver, "tune-share"),
        "ordinal_error": text_of(driver, "tune-ordinal"),
        "budget_per_request": text_of(driver, "tune-budget"),
    }


def eval_numbers(result: dict[str, Any]) -> dict[str, str]:
    s = result["summary"]
    out = {
        k: shown(s[k])
        for k in ("accuracy", "recall_think", "precision_nothink", "think_share", "ordinal_error")
    }
    out["budget_per_request"] = shown(s["budget_per_request"], 1)
    return out


def page_confusion(driver: WebDriver) -> list[list[int]]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#tune-confusion tr")[1:]
    return [[int(td.text) for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def test_console_answers_401_403_and_404_when_off(demo: Demo) -> None:
    assert httpx.get(demo.gateway + "/console").status_code == 401
    assert httpx.get(demo.gateway + "/console", headers={"authorization": "Bearer wrong"}).status_code == 403
    assert httpx.get(demo.gateway + "/console", cookies={"thinkgate_console": "forged"}).status_code == 403
    ok = httpx.get(demo.gateway + "/console", headers={"authorization": f"Bearer {demo.token}"})
    assert ok.status_code == 200 and "thinkgate console" in ok.text
    for method, path in (
        ("GET", "/console/api/info"),
        ("GET", "/console/api/watch"),
        ("POST", "/console/api/route"),
    ):
        assert httpx.request(method, demo.gateway + path).status_code == 401
        wrong = httpx.request(method, demo.gateway + path, headers={"authorization": "Bearer wrong"})
        assert wrong.status_code == 403 and wrong.json()["error"]["type"] == "permission_error"
    assert httpx.get(demo.gateway + "/console/static/app.js").status_code == 401
    with run_gateway(demo_policy_off()) as off:
        for path in ("/console", "/console/static/app.js", "/console/api/info"):
            assert httpx.get(off + path, headers={"authorization": f"Bearer {demo.token}"}).status_code == 404


def demo_policy_off() -> str:
    from gateway.demo_policy import demo_policy_yaml

    return demo_policy_yaml("http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9") + (
        "auth: {admin_token_env: THINKGATE_CONSOLE_TOKEN_NOT_SET}\n"
    )


def test_sign_in_rejects_a_wrong_token_on_the_page(demo: Demo, browser: WebDriver) -> None:
    browser.get(demo.gateway + "/console")
    assert "Enter the admin token" in text_of(browser, "login-message")
    browser.find_element(By.ID, "login-token").send_keys("not-the-token")
    browser.find_element(By.ID, "login-submit").click()
    error = wait_for(browser, lambda d: d.find_element(By.ID, "login-error").text)
    assert "invalid admin token" in error
    screenshot(browser, "login")


def test_try_shows_the_decision_and_what_changes(demo: Demo, browser: WebDriver) -> None:
    sign_in(browser, demo.gateway, demo.token)
    box = browser.find_element(By.ID, "try-input")
    box.clear()
    box.send_keys(PROBE[0]["content"])
    browser.find_element(By.ID, "try-run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "try-out-effort").text)
    expected = route(demo, PROBE)
    assert text_of(browser, "try-out-effort") == expected["effort"]
    assert text_of(browser, "try-out-source") == expected["source"] == "classifier"
    assert text_of(browser, "try-out-budget") == expected["budget_label"]
    assert text_of(browser, "try-out-backend") == expected["backend"]
    assert text_of(browser, "try-out-reason").startswith(expected["reason"])
    assert f"{expected['scores']['p_think']:.3f}" in browser.find_element(By.ID, "try-scores").get_attribute(
        "innerHTML"
    )
    # the exact upstream request of each step of the plan, as /v1/route reports it
    shown_bodies = [
        (box.get_attribute("data-backend"), json.loads(box.find_element(By.CSS_SELECTOR, "pre").text))
        for box in browser.find_elements(By.CSS_SELECTOR, "#try-plan .upstream")
    ]
    assert shown_bodies == [(step["backend"], step["body"]) for step in expected["upstream"]]
    assert shown_bodies and shown_bodies[0][1]["messages"][-1]["content"] == PROBE[0]["content"]
    screenshot(browser, "try")
    # the same prompt through auto-fast: the virtual model's fixed effort wins, and the page says what changed
    Select(browser.find_element(By.ID, "try-model")).select_by_value("auto-fast")
    browser.find_element(By.ID, "try-run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "try-out-effort").text == "none")
    assert text_of(browser, "try-out-source") == route(demo, PROBE, "auto-fast")["source"]
    assert f"effort {expected['effort']} → none" in text_of(browser, "try-changes")
    # an explicit signal: reasoning_effort=high on auto
    Select(browser.find_element(By.ID, "try-model")).select_by_value("auto")
    Select(browser.find_element(By.ID, "try-effort")).select_by_value("high")
    browser.find_element(By.ID, "try-run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "try-out-effort").text == "high")
    assert text_of(browser, "try-out-budget") == "16384"
    Select(browser.find_element(By.ID, "try-effort")).select_by_value("")
    # an agent trajectory: the step kind, and the decision of every call of it
    browser.find_element(By.ID, "try-sample-agent").click()
    browser.find_element(By.ID, "try-run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "try-step-tile").is_displayed())
    trajectory = json.loads(browser.find_element(By.ID, "try-input").get_attribute("value"))
    agent = route(demo, trajectory["messages"], tools=trajectory["tools"])
    assert agent["step"] is not None and text_of(browser, "try-out-step") == agent["step"]["kind"]
    assert agent["step"]["kind"] == "recover"  # the tool failed: thinking pays here
    assert text_of(browser, "try-out-effort") == agent["effort"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#try-steps tr")[1:]
    assert len(rows) == len(agent["steps"]) >= 2
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == [
        s["step"]["kind"] if s["step"] else "–" for s in agent["steps"]
    ]
    screenshot(browser, "try-agent")
    # broken JSON input: a message on the page, nothing sent
    box.clear()
    box.send_keys('[{"role": "user", "content": ')
    browser.find_element(By.ID, "try-run").click()
    assert "does not parse" in wait_for(browser, lambda d: d.find_element(By.ID, "try-error").text)


def test_tune_matches_thinkgate_eval_and_applies_and_rolls_back(
    demo: Demo, browser: WebDriver, tmp_path: Path
) -> None:
    sign_in(browser, demo.gateway, demo.token)
    open_tab(browser, "tune")
    browser.find_element(By.ID, "tune-file").send_keys(str(DATA))
    browser.find_element(By.ID, "tune-score").click()
    wait_for(
        browser, lambda d: d.find_element(By.ID, "tune-body").is_displayed() and tune_idle(d), timeout=60
    )
    assert text_of(browser, "tune-n") == "(24 prompts)"
    # at the policy's threshold (0.38 by default) the page shows what thinkgate eval prints
    start = float(browser.find_element(By.ID, "tune-think").get_attribute("value"))
    assert page_numbers(browser) == eval_numbers(at_start := thinkgate_eval(tmp_path, start))
    assert page_confusion(browser) == at_start["confusion"]
    # drag the operating point to the right; the page's numbers are eval's at the new threshold
    handle = browser.find_element(By.ID, "tune-marker")
    ActionChains(browser).click_and_hold(handle).move_by_offset(120, 0).release().perform()
    wait_for(browser, lambda d: float(d.find_element(By.ID, "tune-think").get_attribute("value")) > start)
    wait_for(
        browser,
        lambda d: (
            tune_idle(d)
            and d.find_element(By.ID, "view-tune").get_attribute("data-think")
            == d.find_element(By.ID, "tune-think").get_attribute("value")
        ),
    )
    moved = float(browser.find_element(By.ID, "tune-think").get_attribute("value"))
    at_moved = thinkgate_eval(tmp_path, moved)
    assert page_numbers(browser) == eval_numbers(at_moved)
    assert page_confusion(browser) == at_moved["confusion"]
    misjudged = browser.find_elements(By.CSS_SELECTOR, "#tune-misjudged tr")[1:]
    wrong = sum(at_moved["confusion"][i][j] for i in range(4) for j in range(4) if (i == 0) != (j == 0))
    assert len(misjudged) == wrong
    screenshot(browser, "tune")
    # a threshold just above the probe prompt's p_think turns its thinking off once applied
    before = route(demo, PROBE)
    assert before["effort"] != "none"
    target = math.floor(before["scores"]["p_think"] * 100) / 100 + 0.01
    think = browser.find_element(By.ID, "tune-think")
    think.clear()
    think.send_keys(f"{target:.2f}\t")
    wait_for(
        browser,
        lambda d: (
            tune_idle(d) and d.find_element(By.ID, "view-tune").get_attribute("data-think") == f"{target:.2f}"
        ),
    )
    browser.find_element(By.ID, "tune-export").click()
    diff = wait_for(browser, lambda d: d.find_element(By.ID, "tune-diff").text)
    assert f"+    think: {target:.2f}" in diff and "-    think:" in diff
    browser.find_element(By.ID, "tune-apply").click()
    status = wait_for(browser, lambda d: "applied" in (t := d.find_element(By.ID, "tune-status").text) and t)
    assert "policy version 2" in status
    after = route(demo, PROBE)
    assert after["effort"] == "none" and after["source"] == "classifier"
    assert f"< {target:.2f}" in after["reason"]
    screenshot(browser, "tune-applied")
    browser.find_element(By.ID, "tune-rollback").click()
    wait_for(browser, lambda d: "rolled back" in d.find_element(By.ID, "tune-status").text)
    assert route(demo, PROBE)["effort"] == before["effort"]
    assert "policy version 3" in text_of(browser, "policy-version")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        pytest.param(
            '{"prompt": "hi", "effort": "none"}\n{not json\n', "upload:2: not valid JSON", id="bad-json"
        ),
        pytest.param('{"prompt": "hi"}\n', "record needs 'effort'", id="no-label"),
        pytest.param('{"prompt": "hi", "effort": "extreme"}\n', "unknown effort 'extreme'", id="bad-label"),
        pytest.param("[1, 2]\n", "each line must be a JSON object", id="not-object"),
    ],
)
def test_malformed_upload_gets_a_clear_message(
    demo: Demo, browser: WebDriver, upload: str, message: str
) -> None:
    response = httpx.post(
        demo.gateway + "/console/api/datasets",
        content=upload,
        headers={"authorization": f"Bearer {demo.token}"},
    )
    assert response.status_code == 400 and message in response.json()["error"]["message"]
    sign_in(browser, demo.gateway, demo.token)
    open_tab(browser, "tune")
    browser.execute_script("document.getElementById('tune-text').value = arguments[0]", upload)
    browser.find_element(By.ID, "tune-score").click()
    shown_message = wait_for(browser, lambda d: d.find_element(By.ID, "tune-error").text)
    assert "HTTP 400" in shown_message and message in shown_message
    if upload.startswith("[1"):
        screenshot(browser, "tune-bad-upload")


def test_watch_shows_live_decisions_and_endpoints(demo: Demo, browser: WebDriver) -> None:
    sign_in(browser, demo.gateway, demo.token)
    open_tab(browser, "watch")
    wait_for(
        browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#watch-endpoints tr[data-endpoint]")) == 3
    )
    before = int(text_of(browser, "watch-decisions"))
    traffic = [
        ({"model": "auto", "messages": PROBE}, {}),
        ({"model": "auto-fast", "messages": [{"role": "user", "content": "Say hello"}]}, {}),
        ({"model": "auto", "messages": PROBE, "reasoning_effort": "low"}, {}),
        ({"model": "auto-deep", "messages": PROBE, "max_tokens": 64}, {}),
        ({"model": "auto", "messages": PROBE}, {"x-thinkgate-effort": "high"}),
    ]
    for body, headers in traffic:  # spread over a few polls, so the rates have a shape
        r = httpx.post(demo.gateway + "/v1/chat/completions", json=body, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        time.sleep(0.7)
    wait_for(
        browser,
        lambda d: int(d.find_element(By.ID, "watch-decisions").text) >= before + len(traffic),
        timeout=15,
    )
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#watch-endpoints td:nth-child(3)")]
    assert cells == ["up", "up", "up"]
    assert "none" in browser.find_element(By.ID, "watch-decision-bars").get_attribute("innerHTML")
    sources = {span.text for span in browser.find_elements(By.CSS_SELECTOR, "#watch-sources span")}
    assert {"classifier", "explicit", "virtual-model"} <= sources
    screenshot(browser, "watch")


def test_tune_scores_again_when_the_gateway_dropped_the_upload(
    demo: Demo, browser: WebDriver, tmp_path: Path
) -> None:
    sign_in(browser, demo.gateway, demo.token)
    open_tab(browser, "tune")
    browser.find_element(By.ID, "tune-file").send_keys(str(DATA))
    browser.find_element(By.ID, "tune-score").click()
    wait_for(
        browser, lambda d: d.find_element(By.ID, "tune-body").is_displayed() and tune_idle(d), timeout=60
    )
    auth = {"authorization": f"Bearer {demo.token}"}
    for _ in range(5):  # the gateway keeps the last four uploads: these push the page's one out
        other = httpx.post(
            demo.gateway + "/console/api/datasets", content=DATA.read_bytes(), headers=auth, timeout=60
        )
        assert other.status_code == 201
    think = browser.find_element(By.ID, "tune-think")
    think.clear()
    think.send_keys("0.70\t")
    wait_for(
        browser,
        lambda d: tune_idle(d) and d.find_element(By.ID, "view-tune").get_attribute("data-think") == "0.70",
        timeout=60,
    )
    assert text_of(browser, "tune-error") == ""
    assert page_numbers(browser) == eval_numbers(thinkgate_eval(tmp_path, 0.70))
