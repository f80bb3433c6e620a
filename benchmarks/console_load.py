"""Page load of the operator console on ``thinkgate demo``, measured by a real headless chromium.

Starts ``thinkgate demo`` (three simulated backends) with an admin token, signs in once, then loads
``/console`` ``--loads`` times and reads the browser's own timing: navigation timing (first byte,
DOMContentLoaded, load event) and the ``console-ready`` mark the page sets once its modules ran and its first
API call (``/console/api/info``) answered and the views were drawn. Every load fetches every file again (the
console sends ``cache-control: no-store``). Prints a table; ``--json`` writes the raw numbers.

    .venv/bin/python benchmarks/console_load.py [--loads 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.console_browser import chromium, sign_in, wait_for  # noqa: E402
from tests.harness import free_port  # noqa: E402

TOKEN = "console-benchmark-token"
TIMING = """
const nav = performance.getEntriesByType("navigation")[0];
const ready = performance.getEntriesByName("console-ready")[0];
const resources = performance.getEntriesByType("resource");
return {
  first_byte: nav.responseStart,
  dom_content_loaded: nav.domContentLoadedEventEnd,
  load: nav.loadEventEnd,
  ready: ready ? ready.startTime : null,
  requests: resources.length + 1,
  bytes: resources.reduce((n, r) => n + r.encodedBodySize, nav.encodedBodySize),
};
"""


def _demo(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "THINKGATE_ADMIN_TOKEN": TOKEN}
    thinkgate = str(Path(sys.executable).parent / "thinkgate")
    proc = subprocess.Popen(
        [thinkgate, "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("thinkgate demo did not become ready")


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"{statistics.median(ordered):8.1f} {p90:8.1f} {ordered[-1]:8.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--json", help="write the per-load numbers here")
    ns = parser.parse_args()
    port = free_port()
    demo = _demo(port)
    base = f"http://127.0.0.1:{port}"
    samples: list[dict[str, float]] = []
    try:
        with chromium() as driver:
            sign_in(driver, base, TOKEN)
            for _ in range(ns.loads):
                driver.get(base + "/console")
                wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
                samples.append(driver.execute_script(TIMING))
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    print(f"console page load on thinkgate demo, {len(samples)} loads (ms since navigation start)")
    print(f"{'measure':28s} {'median':>8s} {'p90':>8s} {'max':>8s}")
    for key, label in (
        ("first_byte", "first byte of /console"),
        ("dom_content_loaded", "DOMContentLoaded"),
        ("load", "load event"),
        ("ready", "console ready (info + views)"),
    ):
        print(f"{label:28s} {_stats([float(s[key]) for s in samples])}")
    print(f"requests per load: {samples[-1]['requests']:.0f}, bytes: {samples[-1]['bytes']:.0f}")
    if ns.json:
        Path(ns.json).write_text(json.dumps(samples, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
