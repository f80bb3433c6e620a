"""Latency and capacity model: a queue in front of `max_num_seqs` slots, prefill, then paced decode steps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

from simulator.config import SimConfig
from simulator.metrics import SimMetrics


class Engine:
    """Schedules simulated requests and keeps the running/waiting/KV gauges current.

    KV usage = tokens held by running requests (prompt + generated so far) / `kv_capacity_tokens`.
    """

    def __init__(self, config: SimConfig, metrics: SimMetrics) -> None:
        self._cfg = config
        self._metrics = metrics
        self._sem: asyncio.Semaphore | None = None
        self.running = 0
        self.waiting = 0
        self.kv_tokens = 0

    def _update(self) -> None:
        self._metrics.running_child.set(self.running)
        self._metrics.waiting_child.set(self.waiting)
        self._metrics.kv_usage_child.set(min(1.0, self.kv_tokens / self._cfg.kv_capacity_tokens))

    async def steps(self, prompt_tokens: int, choice_lengths: Sequence[int]) -> AsyncGenerator[int, None]:
        """Yield decode step numbers 0..max(choice_lengths)-1, each when its tokens are ready.

        Waits for a slot first (counted as waiting), then sleeps the prefill time. Leaving the
        iteration early (or being cancelled) releases the slot.
        """
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._cfg.max_num_seqs)
        sem = self._sem
        self.waiting += 1
        self._update()
        try:
            await sem.acquire()
        finally:
            self.waiting -= 1
            self._update()
        held = prompt_tokens
        self.running += 1
        self.kv_tokens += held
        self._update()
        try:
            cfg = self._cfg
            prefill_s = cfg.ttft_ms / 1000 + cfg.prefill_ms_per_1k_tokens * prompt_tokens / 1_000_000
            if prefill_s > 0:
                await asyncio.sleep(prefill_s)
            loop = asyncio.get_running_loop()
            interval = 1.0 / cfg.tokens_per_s if cfg.tokens_per_s > 0 else 0.0
            start = loop.time()
            last = start
            total = max(choice_lengths, default=0)
            for step in range(total):
                if interval:
                    delay = start + step * interval - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if step:  # vLLM's inter-token latency: the time between two output tokens of a request
                    now = loop.time()
                    self._metrics.itl.observe(now - last)
                    last = now
                else:
                    last = loop.time()
                width = sum(1 for n in choice_lengths if n > step)
                held += width
                self.kv_tokens += width
                self._metrics.kv_usage_child.set(min(1.0, self.kv_tokens / cfg.kv_capacity_tokens))
                self._metrics.generation_tokens_child.inc(width)
                yield step
        finally:
            self.kv_tokens -= held
            self.running -= 1
            sem.release()
            self._update()
