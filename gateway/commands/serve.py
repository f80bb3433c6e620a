"""``thinkgate serve --config FILE``: validate the policy, then run the HTTP server (gateway/server.py)."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile

from gateway.config import PolicyFileError, load_policy
from gateway.render import check_families
from gateway.server import run as run_server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="policy YAML file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")


def run(ns: argparse.Namespace) -> int:
    try:
        policy = load_policy(ns.config)
        check_families(policy)
    except (PolicyFileError, ValueError) as exc:
        print(f"thinkgate: {exc}", file=sys.stderr)
        return 2
    os.environ["THINKGATE_CONFIG"] = os.path.abspath(ns.config)
    if ns.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # several worker processes: prometheus-client's multiprocess mode sums their metrics in /metrics
        metrics_dir = tempfile.mkdtemp(prefix="thinkgate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, True)
    run_server(
        "gateway.asgi:app_from_env",
        factory=True,
        host=ns.host,
        port=ns.port,
        workers=ns.workers,
        log_level=ns.log_level,
        access_log=False,
    )
    return 0
