"""Drive Debian's chromium (with its chromedriver) through selenium for the console tests and benchmark.

Nothing is downloaded: the driver path is given, so selenium skips Selenium Manager, and the browser is the
system's ``/usr/bin/chromium`` (``bash scripts/ensure_chromium.sh`` installs both; ``make test`` runs it).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[1]
#: fresh screenshots of every run (build/ is not committed; docs/console/ holds the committed copies)
SCREENSHOTS = REPO / "build" / "console"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1360,1000",
)


class BrowserMissing(RuntimeError):
    """chromium or chromedriver is not installed."""


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A headless system chromium with a fresh profile, quit at the end."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).is_file():
            raise BrowserMissing(f"{binary} not found: run `bash scripts/ensure_chromium.sh` (make browser)")
    profile = tempfile.mkdtemp(prefix="thinkgate-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 20.0) -> Any:
    """The first truthy value of ``condition(driver)`` within ``timeout`` seconds."""
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def text_of(driver: WebDriver, element_id: str) -> str:
    text: str = driver.find_element(By.ID, element_id).text
    return text


def sign_in(driver: WebDriver, base: str, token: str) -> None:
    """Open the console's login page (signed out first), enter the token, wait for the console to be ready."""
    driver.get(base + "/console")
    driver.delete_all_cookies()
    driver.execute_script("sessionStorage.clear()")
    driver.get(base + "/console")
    field = wait_for(driver, lambda d: d.find_element(By.ID, "login-token"))
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "login-submit").click()
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save a PNG of the whole page under build/console/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1360, max(800, min(int(height) + 40, 2600)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1360, 1000)
    return path
