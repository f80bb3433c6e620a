"""Write ``deploy/grafana/thinkgate.json``, the Grafana dashboard, from the panel list below.

    python deploy/grafana/build_dashboard.py          # rewrite the file
    python deploy/grafana/build_dashboard.py --check  # exit 1 if the committed file is stale

Every ``thinkgate_*`` series named here must be exported by the gateway:
tests/integration/test_observability.py scrapes a running gateway and checks them all.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "thinkgate.json"
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
POOL = 'pool=~"$pool"'


@dataclass(frozen=True)
class Panel:
    """One time-series (or stat) panel: a title, PromQL targets as (expression, legend) and a unit."""

    title: str
    targets: tuple[tuple[str, str], ...]
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    stack: bool = False
    description: str = ""


ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    (
        "Traffic and effort",
        (
            Panel(
                "Requests per second by effort",
                ((f"sum by (effort) (rate(thinkgate_requests_total{{{POOL}}}[{RATE}]))", "{{effort}}"),),
                unit="reqps",
                stack=True,
            ),
            Panel(
                "Think share (requests with effort above none)",
                (
                    (
                        f'sum(rate(thinkgate_requests_total{{effort!="none",{POOL}}}[{RATE}]))'
                        f" / sum(rate(thinkgate_requests_total{{{POOL}}}[{RATE}]))",
                        "think share",
                    ),
                ),
                unit="percentunit",
                width=6,
            ),
            Panel(
                "Effort mix",
                (
                    (
                        f"sum by (effort) (rate(thinkgate_requests_total{{{POOL}}}[{RATE}]))"
                        " / ignoring(effort) group_left"
                        f" sum(rate(thinkgate_requests_total{{{POOL}}}[{RATE}]))",
                        "{{effort}}",
                    ),
                ),
                unit="percentunit",
                width=6,
                stack=True,
            ),
            Panel(
                "Decisions by source",
                ((f"sum by (source) (rate(thinkgate_decisions_total[{RATE}]))", "{{source}}"),),
                unit="reqps",
                stack=True,
                description="explicit, virtual-model, classifier, policy (classifier failed), shed",
            ),
            Panel(
                "Requests by outcome and pool",
                (
                    (
                        f"sum by (pool, outcome) (rate(thinkgate_requests_total{{{POOL}}}[{RATE}]))",
                        "{{pool}} {{outcome}}",
                    ),
                ),
                unit="reqps",
            ),
        ),
    ),
    (
        "Tokens and budgets",
        (
            Panel(
                "Thinking tokens per minute by effort",
                (
                    (
                        f'sum by (effort) (rate(thinkgate_tokens_total{{kind="reasoning"}}[{RATE}])) * 60',
                        "{{effort}}",
                    ),
                ),
                stack=True,
            ),
            Panel(
                "Prompt and completion tokens per minute",
                ((f"sum by (kind) (rate(thinkgate_tokens_total[{RATE}])) * 60", "{{kind}}"),),
            ),
            Panel(
                "Reasoning share of completion tokens by effort",
                (
                    (
                        f'sum by (effort) (rate(thinkgate_tokens_total{{kind="reasoning"}}[{RATE}]))'
                        f' / sum by (effort) (rate(thinkgate_tokens_total{{kind="completion"}}[{RATE}]))',
                        "{{effort}}",
                    ),
                ),
                unit="percentunit",
            ),
            Panel(
                "Budget hits per minute by effort",
                ((f"sum by (effort) (rate(thinkgate_budget_hits_total[{RATE}])) * 60", "{{effort}}"),),
                description="thinking cut at its budget, by vLLM (native) or by the gateway (forcing)",
            ),
        ),
    ),
    (
        "Latency",
        (
            Panel(
                "Time to first token p50 / p95 by effort",
                tuple(
                    (
                        f"histogram_quantile({q}, sum by (le, effort) "
                        f"(rate(thinkgate_time_to_first_token_seconds_bucket{{{POOL}}}[{RATE}])))",
                        f"p{int(q * 100)} {{{{effort}}}}",
                    )
                    for q in (0.5, 0.95)
                ),
                unit="s",
            ),
            Panel(
                "Request duration p95 by effort and pool",
                (
                    (
                        "histogram_quantile(0.95, sum by (le, effort, pool) "
                        f"(rate(thinkgate_request_duration_seconds_bucket{{{POOL}}}[{RATE}])))",
                        "{{effort}} @ {{pool}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Mean request duration by effort",
                (
                    (
                        f"sum by (effort) (rate(thinkgate_request_duration_seconds_sum{{{POOL}}}[{RATE}]))"
                        " / sum by (effort)"
                        f" (rate(thinkgate_request_duration_seconds_count{{{POOL}}}[{RATE}]))",
                        "{{effort}}",
                    ),
                ),
                unit="s",
                width=24,
            ),
        ),
    ),
    (
        "Backends",
        (
            Panel(
                "Endpoint health (worst gateway replica)",
                ((f"min by (pool, endpoint) (thinkgate_endpoint_up{{{POOL}}})", "{{pool}} {{endpoint}}"),),
                kind="stat",
                description="1 = healthy, 0 = ejected or failing /health probes",
            ),
            Panel(
                "In-flight requests per endpoint",
                (
                    (
                        f"sum by (pool, endpoint) (thinkgate_inflight_requests{{{POOL}}})",
                        "{{pool}} {{endpoint}}",
                    ),
                ),
                stack=True,
            ),
            Panel(
                "Upstream errors by pool and kind",
                (
                    (
                        f"sum by (pool, kind) (rate(thinkgate_upstream_errors_total{{{POOL}}}[{RATE}]))",
                        "{{pool}} {{kind}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "Retries on another endpoint",
                ((f"sum by (pool) (rate(thinkgate_upstream_retries_total{{{POOL}}}[{RATE}]))", "{{pool}}"),),
                unit="reqps",
            ),
        ),
    ),
    (
        "Shedding and failover",
        (
            Panel(
                "Shedding level per pool",
                ((f"max by (pool) (thinkgate_shedding_level{{{POOL}}})", "{{pool}}"),),
                description="effort steps a loaded thinking pool currently sheds (0 = not shedding)",
            ),
            Panel(
                "Shed requests per minute (effort lowered from -> to)",
                (
                    (
                        f"sum by (from_effort, to_effort) (rate(thinkgate_shed_total[{RATE}])) * 60",
                        "{{from_effort}} -> {{to_effort}}",
                    ),
                ),
                stack=True,
            ),
            Panel(
                "Failovers per minute (first pool -> served pool)",
                (
                    (
                        f"sum by (from_pool, to_pool) (rate(thinkgate_failovers_total[{RATE}])) * 60",
                        "{{from_pool}} -> {{to_pool}}",
                    ),
                ),
                stack=True,
            ),
            Panel(
                "Endpoint load score and ejections",
                (
                    (
                        f"max by (pool, endpoint) (thinkgate_endpoint_load_score{{{POOL}}})",
                        "score {{endpoint}}",
                    ),
                    (
                        "sum by (pool, endpoint)"
                        f" (increase(thinkgate_endpoint_ejections_total{{{POOL}}}[{RATE}]))",
                        "ejected {{endpoint}}",
                    ),
                ),
                description="load score from the vLLM /metrics scrape (lower is better); passive ejections",
            ),
            Panel(
                "Endpoint decode time per output token",
                (
                    (
                        "max by (pool, endpoint)"
                        f" (thinkgate_endpoint_time_per_output_token_seconds{{{POOL}}} > 0)",
                        "{{pool}} {{endpoint}}",
                    ),
                ),
                unit="s",
                description="from vLLM's inter-token latency between scrapes; endpoints are compared on"
                " (score + 1) x this / the pool's fastest",
            ),
        ),
    ),
)


def _panel(panel: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    custom: dict[str, Any] = {"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"}
    if panel.stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    out: dict[str, Any] = {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DS,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }
    if panel.kind == "timeseries":
        out["fieldConfig"]["defaults"]["custom"] = custom
    else:
        out["fieldConfig"]["defaults"]["mappings"] = [
            {
                "type": "value",
                "options": {"0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}},
            }
        ]
        out["options"] = {
            "colorMode": "background",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"]},
        }
    return out


def dashboard() -> dict[str, Any]:
    """The dashboard model (Grafana JSON, schema 39)."""
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    for title, row in ROWS:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
        )
        pid, y, x = pid + 1, y + 1, 0
        for panel in row:
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(_panel(panel, pid, x, y))
            pid, x = pid + 1, x + panel.width
        y += 8
    return {
        "uid": "thinkgate",
        "title": "thinkgate",
        "description": "Effort decisions, thinking cost, latency and backend health of the thinkgate gateway",
        "tags": ["thinkgate", "vllm", "llm"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timezone": "",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                },
                {
                    "name": "pool",
                    "label": "Backend pool",
                    "type": "query",
                    "datasource": DS,
                    "query": {"query": "label_values(thinkgate_endpoint_up, pool)", "refId": "pool"},
                    "definition": "label_values(thinkgate_endpoint_up, pool)",
                    "includeAll": True,
                    "allValue": ".*",
                    "multi": True,
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                    "refresh": 2,
                    "sort": 1,
                    "hide": 0,
                },
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write deploy/grafana/thinkgate.json")
    parser.add_argument("--check", action="store_true", help="fail if the committed dashboard is stale")
    ns = parser.parse_args(argv)
    text = render()
    if ns.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run python deploy/grafana/build_dashboard.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
