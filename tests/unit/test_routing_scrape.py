"""Reading vLLM's /metrics text: current and older names, several label sets, garbage tolerated."""

from __future__ import annotations

import pytest

from gateway.backends.scrape import ScrapedLoad, parse_load

CURRENT = """\
# HELP vllm:num_requests_running Requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="0",model_name="m"} 7.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:prompt_tokens_total{engine="0",model_name="m"} 1234.0
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(CURRENT, ScrapedLoad(7.0, 3.0, 0.5), id="current-names"),
        pytest.param(
            'vllm:num_requests_waiting{model_name="m"} 1\nvllm:gpu_cache_usage_perc{model_name="m"} 0.25\n',
            ScrapedLoad(1.0, None, 0.25),
            id="older-kv-name-and-missing-running",
        ),
        pytest.param(
            'vllm:kv_cache_usage_perc{e="0"} 0.9\nvllm:gpu_cache_usage_perc{e="0"} 0.1\n',
            ScrapedLoad(None, None, 0.9),
            id="new-kv-name-wins",
        ),
        pytest.param(
            'vllm:num_requests_running{engine="0"} 2\nvllm:num_requests_running{engine="1"} 5\n'
            'vllm:kv_cache_usage_perc{engine="0"} 0.2\nvllm:kv_cache_usage_perc{engine="1"} 0.6\n',
            ScrapedLoad(None, 7.0, 0.6),
            id="engines-summed-kv-max",
        ),
        pytest.param(
            "vllm:num_requests_waiting 4 1700000000000\n",
            ScrapedLoad(4.0, None, None),
            id="no-labels-timestamp",
        ),
        pytest.param(
            'garbage\nvllm:num_requests_waiting{x="1"} notanumber\nvllm:num_requests_running{ 3\n'
            "vllm:num_requests_waiting NaN\n{}\n\x00\xff\nvllm:num_requests_running 2\n",
            ScrapedLoad(None, 2.0, None),
            id="garbage-ignored",
        ),
        pytest.param("", ScrapedLoad(), id="empty"),
        pytest.param(
            'vllm:num_requests_waiting{path="a}b"} 6\n', ScrapedLoad(6.0, None, None), id="brace-in-label"
        ),
        pytest.param(
            'vllm:inter_token_latency_seconds_bucket{engine="0",le="0.01"} 3\n'
            'vllm:inter_token_latency_seconds_sum{engine="0"} 1.5\n'
            'vllm:inter_token_latency_seconds_count{engine="0"} 30\n'
            'vllm:inter_token_latency_seconds_sum{engine="1"} 0.5\n'
            'vllm:inter_token_latency_seconds_count{engine="1"} 20\n'
            'vllm:time_per_output_token_seconds_sum{engine="0"} 99\n'
            'vllm:time_per_output_token_seconds_count{engine="0"} 1\n',
            ScrapedLoad(itl_sum=2.0, itl_count=50.0),
            id="inter-token-latency-summed-new-name-wins",
        ),
        pytest.param(
            'vllm:time_per_output_token_seconds_sum{model_name="m"} 4\n'
            'vllm:time_per_output_token_seconds_count{model_name="m"} 8\n',
            ScrapedLoad(itl_sum=4.0, itl_count=8.0),
            id="older-time-per-output-token-name",
        ),
        pytest.param(
            'vllm:inter_token_latency_seconds_sum{engine="0"} 1.5\n',
            ScrapedLoad(),
            id="latency-sum-without-count-ignored",
        ),
    ],
)
def test_parse_load(text: str, expected: ScrapedLoad) -> None:
    assert parse_load(text) == expected
