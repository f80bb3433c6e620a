"""``thinkgate route "text"`` / ``thinkgate route --file chat.json``: the decision, offline; for an agent
trajectory (tool calls and results in the file) the decision of every model call in it, step by step.

Uses the policy given with ``--config`` (default: the demo policy) and its classifier; prints the same
fields as ``POST /v1/route``, without contacting any backend. With an episode budget in the policy
(``agent.episodes.budget``) the next call is shown bounded by what its episode has left: the whole budget
(a fresh episode), or ``--episode-left N`` to see what happens later in a task (e.g. ``0``: the step runs
without thinking or is refused, by ``on_spent``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.api.chat import parse_chat
from gateway.api.route import decision_report
from gateway.classifier_loader import load_default_classifier
from gateway.config import PolicyFileError, load_policy, parse_policy_text
from gateway.demo_policy import demo_policy_yaml
from gateway.episodes import episode_of
from gateway.errors import GatewayError
from gateway.pipeline.plan import AgentInputs
from gateway.settings import Settings
from gateway.wiring import build_state
from router.policy import Policy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="a user prompt (or use --file)")
    parser.add_argument("--file", help="a chat-completions JSON body, or a JSON list of messages")
    parser.add_argument("--config", help="policy YAML (default: the demo policy)")
    parser.add_argument(
        "--model", default=None, help="virtual model (default: the body's model, else 'auto')"
    )
    parser.add_argument("--effort-header", default=None, help="simulate an x-thinkgate-effort header")
    parser.add_argument("--episode", default=None, help="simulate an x-thinkgate-episode header")
    parser.add_argument(
        "--episode-left",
        type=int,
        default=None,
        metavar="N",
        help="thinking tokens the episode has left (default: the whole agent.episodes.budget)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def _body(ns: argparse.Namespace) -> dict[str, Any]:
    if ns.file:
        data = json.loads(Path(ns.file).read_text(encoding="utf-8"))
        body: dict[str, Any] = {"messages": data} if isinstance(data, list) else dict(data)
    elif ns.text is not None:
        body = {"messages": [{"role": "user", "content": ns.text}]}
    else:
        raise ValueError("give a prompt text or --file")
    body["model"] = ns.model or body.get("model") or "auto"
    return body


def explain(
    policy: Policy,
    body: dict[str, Any],
    header: str | None = None,
    episode: str | None = None,
    episode_left: int | None = None,
) -> dict[str, Any]:
    """The decision for ``body`` under ``policy``, as ``POST /v1/route`` reports it; ``episode`` simulates
    the episode header, ``episode_left`` what the episode has left (default: its whole budget)."""
    if episode_left is not None and episode_left < 0:
        raise ValueError("--episode-left must be 0 or more")
    state = replace(build_state(Settings(), policy), classifier=load_default_classifier(policy))
    agent = AgentInputs(policy.agent)
    found = episode_of(policy.agent, parse_chat(body), episode)
    if found is not None:
        budget = policy.agent.episodes.budget
        left = None if budget is None else budget if episode_left is None else min(episode_left, budget)
        agent = AgentInputs(policy.agent, found, left)
    return decision_report(state, body, header, agent=agent)


def run(ns: argparse.Namespace) -> int:
    try:
        policy = (
            load_policy(ns.config)
            if ns.config
            else parse_policy_text(demo_policy_yaml("http://a", "http://b", "http://c"))
        )
        out = explain(policy, _body(ns), ns.effort_header, ns.episode, ns.episode_left)
    except (PolicyFileError, ValueError, OSError) as exc:
        print(f"thinkgate route: {exc}", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"thinkgate route: {exc.message}", file=sys.stderr)
        return 2
    if ns.json:
        print(json.dumps(out, indent=2))
        return 0
    budget = "unlimited" if out["budget"] is None else out["budget"]
    print(f"effort  {out['effort']}   budget {budget}   source {out['source']}   backend {out['backend']}")
    print(f"reason  {out['reason']}")
    if out["scores"]:
        print("scores  " + "  ".join(f"{k}={v:.3f}" for k, v in out["scores"].items()))
    if out["step"] is not None:
        step = out["step"]
        print(
            f"step    {step['kind']} (#{step['index']}: {step['reason']}); task effort {step['task_effort']}"
        )
    episode = out["episode"]
    if episode is not None:
        left = "no budget" if episode["budget"] is None else f"{episode['left']} of {episode['budget']} left"
        print(
            f"episode {episode['id']} ({episode['source']}): {left}; this step: {episode['effect']}"
            " (nothing charged)"
        )
    if len(out["steps"]) > 1:
        print("\ntrajectory (one line per model call):")
        print(f"  {'#':>2s} {'msgs':>4s} {'kind':8s} {'effort':7s} {'budget':>9s}  why")
        for i, row in enumerate(out["steps"]):
            step = row["step"] or {"kind": "-", "reason": ""}
            budget = "unlimited" if row["budget"] is None else str(row["budget"])
            print(
                f"  {i:2d} {row['messages']:4d} {step['kind']:8s} {row['effort']:7s} {budget:>9s}  "
                f"{step['reason']}"
            )
    return 0
