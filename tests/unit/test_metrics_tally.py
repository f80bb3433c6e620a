"""``GatewayMetrics.inc`` / ``observe`` tally a request's updates and hand them to prometheus_client when the
registry is collected (one worker; with several they go to prometheus_client at once): the exposition must be
the one that updating prometheus_client at once gives, and no update may be lost between, during or after
scrapes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import GatewayMetrics

#: dyadic values: their float sum is the same in any order, so the sums compare exactly; bounds themselves
#: (0.005 is the first latency bucket, 0.0001 a decision bucket), values past the last bound (+Inf), zero,
#: and a negative value
LATENCIES = (0.005, 0.0078125, 0.5, 0.25, 1.0, 1024.0, 0.0, 0.005, 3.0, -0.125)
DECISIONS = (0.0001, 0.0009765625, 0.03125, 0.0001, 2.0)
P_THINK = (0.5, 0.25, 1.0, 0.0, 0.9)


def without_created(text: bytes) -> list[str]:
    """The exposition's lines without the ``_created`` samples (the clock time a child was made)."""
    return [line for line in text.decode().splitlines() if "_created" not in line]


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` in the exposition ``text``."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def drive(m: GatewayMetrics, *, tally: bool) -> None:
    """The same updates, through the tallies or straight to prometheus_client."""
    for i, seconds in enumerate(LATENCIES):
        pool = "a" if i % 3 else "b"
        labels = ("chat", "low", pool)
        if tally:
            m.inc(m.requests, ("chat", "auto", "low", "classifier", pool, "ok"))
            m.inc(m.tokens, ("low", "prompt"), 17)
            m.inc(m.tokens, ("low", "reasoning"), 0)
            m.observe(m.request_seconds, labels, seconds)
            m.inc(m.inflight, (pool, "http://e"))
            m.inc(m.inflight, (pool, "http://e"), -1.0)
            m.inc(m.inflight, ("a", "http://busy"))
        else:
            m.requests.labels("chat", "auto", "low", "classifier", pool, "ok").inc()
            m.tokens.labels("low", "prompt").inc(17)
            m.tokens.labels("low", "reasoning").inc(0)
            m.request_seconds.labels(*labels).observe(seconds)
            m.inflight.labels(pool, "http://e").inc()
            m.inflight.labels(pool, "http://e").dec()
            m.inflight.labels("a", "http://busy").inc()
    for seconds, p in zip(DECISIONS, P_THINK, strict=True):
        if tally:
            m.observe(m.decision_seconds, (), seconds)
            m.observe(m.classifier_p_think, (), p)
            m.inc(m.quota_exhausted)
        else:
            m.decision_seconds.observe(seconds)
            m.classifier_p_think.observe(p)
            m.quota_exhausted.inc()


def test_the_exposition_is_the_one_of_direct_updates() -> None:
    tallied, direct = GatewayMetrics(), GatewayMetrics()
    drive(tallied, tally=True)
    drive(direct, tally=False)
    ours, theirs = without_created(tallied.render()), without_created(direct.render())
    assert ours == theirs
    text = "\n".join(ours) + "\n"
    hist = {"endpoint": "chat", "effort": "low", "pool": "a"}
    assert sample(text, "thinkgate_request_duration_seconds_bucket", **hist, le="+Inf") == 6.0
    assert sample(text, "thinkgate_request_duration_seconds_bucket", **hist, le="0.005") == 1.0
    assert sample(text, "thinkgate_inflight_requests", endpoint="http://busy", pool="a") == 10.0
    assert sample(text, "thinkgate_inflight_requests", endpoint="http://e", pool="a") == 0.0


def test_nothing_is_lost_between_and_across_scrapes() -> None:
    m = GatewayMetrics()
    total = 0
    for round_ in range(1, 6):
        for _ in range(round_):
            m.inc(m.requests, ("chat", "auto", "low", "classifier", "a", "ok"))
            m.observe(m.request_seconds, ("chat", "low", "a"), 0.25)
            total += 1
        labels = {"endpoint": "chat", "model": "auto", "effort": "low", "source": "classifier", "pool": "a"}
        assert m.registry.get_sample_value("thinkgate_requests_total", {**labels, "outcome": "ok"}) == total
        hist = {"endpoint": "chat", "effort": "low", "pool": "a"}
        assert m.registry.get_sample_value("thinkgate_request_duration_seconds_count", hist) == total
        assert m.registry.get_sample_value("thinkgate_request_duration_seconds_sum", hist) == total * 0.25
    text = m.render().decode()
    assert sample(text, "thinkgate_requests_total", **labels, outcome="ok") == total


def test_a_child_is_made_at_its_first_update() -> None:
    """Its ``_created`` sample is the time of the first update, as before (not of the scrape)."""
    m = GatewayMetrics()
    m.inc(m.decisions, ("low", "classifier", "chat"))
    created = m.decisions.labels("low", "classifier", "chat")._created
    m.render()
    assert m.decisions.labels("low", "classifier", "chat")._created == created


def test_nan_is_summed_into_no_bucket_as_observe_does() -> None:
    tallied, direct = GatewayMetrics(), GatewayMetrics()
    tallied.observe(tallied.classifier_p_think, (), math.nan)
    tallied.observe(tallied.classifier_p_think, (), 0.5)
    direct.classifier_p_think.observe(math.nan)
    direct.classifier_p_think.observe(0.5)
    assert without_created(tallied.render()) == without_created(direct.render())
    assert tallied.registry.get_sample_value("thinkgate_classifier_p_think_count") == 1.0


def test_every_reader_of_the_registry_sees_the_tallies() -> None:
    """``generate_latest`` on the registry (not only ``render``) and the console's collect() hand them over."""
    m = GatewayMetrics()
    m.inc(m.render_warnings, ("a",), 3)
    assert b'thinkgate_render_warnings_total{pool="a"} 3.0' in generate_latest(m.registry)
    m.inc(m.render_warnings, ("a",), 2)
    found = [
        s.value
        for f in m.registry.collect()
        for s in f.samples
        if s.name == "thinkgate_render_warnings_total"
    ]
    assert found == [5.0]


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from gateway.metrics import GatewayMetrics

    async def main() -> None:
        m = GatewayMetrics()
        assert m.multiprocess
        for _ in range(int(sys.argv[1])):
            m.inc(m.requests, ("chat", "auto", "low", "classifier", "a", "ok"))
            m.observe(m.request_seconds, ("chat", "low", "a"), 0.25)
            m.observe(m.decision_seconds, (), 0.0001)
            m.inc(m.inflight, ("a", "http://e"))
        print("updated", flush=True)  # no scrape of its own, no loop turn: the updates are in its file
        sys.stdin.readline()  # keep the process (and nothing else) until the reader is done

    asyncio.run(main())
    """
)


def test_several_workers_write_their_updates_at_once(tmp_path: Path) -> None:
    """With ``PROMETHEUS_MULTIPROC_DIR`` a worker that is not serving the scrape has its updates in its file
    as soon as it made them, without a scrape of its own: another worker's ``render`` sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in (3, 4)
    ]
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "updated"
        reader = textwrap.dedent(
            """
            from gateway.metrics import GatewayMetrics
            print(GatewayMetrics().render().decode())
            """
        )
        text = subprocess.run(
            [sys.executable, "-c", reader], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout
    finally:
        for w in workers:
            assert w.stdin is not None
            w.stdin.close()
            w.wait(timeout=30)
    request = {"endpoint": "chat", "model": "auto", "effort": "low", "source": "classifier", "pool": "a"}
    assert sample(text, "thinkgate_requests_total", **request, outcome="ok") == 7.0
    hist = {"endpoint": "chat", "effort": "low", "pool": "a"}
    assert sample(text, "thinkgate_request_duration_seconds_count", **hist) == 7.0
    assert sample(text, "thinkgate_request_duration_seconds_sum", **hist) == 1.75
    assert sample(text, "thinkgate_decision_duration_seconds_bucket", le="0.0001") == 7.0
    assert sample(text, "thinkgate_inflight_requests", endpoint="http://e", pool="a") == 7.0
