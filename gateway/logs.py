"""Structured access log: one JSON line per request on the ``thinkgate.access`` logger.

The line carries the request id, the decision (virtual model, effort, source), the backend pool, the outcome,
token counts and the latency. Prompt and completion text are left out unless ``THINKGATE_ACCESS_LOG_TEXT`` is
true; then every match of the ``THINKGATE_ACCESS_LOG_REDACT`` pattern is replaced before the text is written.

The pipeline starts a :class:`RequestTrace` per request (:meth:`AccessLog.trace`) and finishes it with the
outcome (:meth:`RequestTrace.finish`); render warnings go in the line's ``warnings`` field.
"""

from __future__ import annotations

import atexit
import collections
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request

from router.decision import Decision

ACCESS_LOGGER = "thinkgate.access"

#: e-mail addresses, bearer/API-key-like tokens, and runs of 9+ digits (card, phone and account numbers)
DEFAULT_REDACT = (
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
    r"|\b(?:sk|pk|rk|hf|ghp|xox[abp])[-_][A-Za-z0-9_-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\d(?:[ -]?\d){8,}"
)

CountFn = Callable[[str, str], None]
RecordFn = Callable[[int, int, int, bool], None]


class AccessLogSettings(BaseSettings):
    """Access-log switches (environment, prefix ``THINKGATE_ACCESS_LOG_``)."""

    model_config = SettingsConfigDict(env_prefix="THINKGATE_ACCESS_LOG_", frozen=True)

    enabled: bool = True
    text: bool = Field(default=False, description="log prompt and completion text (redacted); off by default")
    redact: str = Field(default=DEFAULT_REDACT, description="regular expression whose matches are replaced")
    redact_with: str = "[REDACTED]"
    max_text_chars: int = Field(default=4000, ge=0, description="longer text is cut (after redaction)")

    @field_validator("redact")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"THINKGATE_ACCESS_LOG_REDACT: not a valid regular expression: {exc}") from None
        return value


@dataclass
class AccessRecord:
    """What one request did; serialised as one JSON object."""

    request_id: str
    endpoint: str
    model: str
    effort: str
    source: str
    pool: str = ""
    outcome: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    budget_hit: bool = False
    latency_ms: float = 0.0
    prompt: str | None = None
    completion: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class AccessLog:
    """Turns :class:`AccessRecord` objects into redacted JSON lines on a logger."""

    def __init__(self, settings: AccessLogSettings, logger: logging.Logger | None = None) -> None:
        self.settings = settings
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)
        self._pattern = re.compile(settings.redact)

    def redact(self, text: str) -> str:
        """``text`` with every match of the redaction pattern replaced, cut to ``max_text_chars``."""
        out = self._pattern.sub(self.settings.redact_with, text)
        limit = self.settings.max_text_chars
        return out if len(out) <= limit else out[:limit] + "…"

    def line(self, record: AccessRecord) -> str:
        """The JSON line for ``record``; text fields only when enabled, and then redacted.

        Spelled out field by field: one dict literal instead of a comprehension over the fields, a copy
        and two pops (2.4 -> 1.1 us per line, 2026-12-07); ``tests/unit/test_logs.py`` checks that every
        field of :class:`AccessRecord` is written."""
        r = record
        data: dict[str, Any] = {
            "event": "request",
            "request_id": r.request_id,
            "endpoint": r.endpoint,
            "model": r.model,
            "effort": r.effort,
            "source": r.source,
            "pool": r.pool,
            "outcome": r.outcome,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "reasoning_tokens": r.reasoning_tokens,
            "budget_hit": r.budget_hit,
            "latency_ms": round(r.latency_ms, 3),
        }
        if self.settings.text:
            if r.prompt is not None:
                data["prompt"] = self.redact(r.prompt)
            if r.completion is not None:
                data["completion"] = self.redact(r.completion)
        if r.extra:
            data.update({k: v for k, v in r.extra.items() if k not in data})
        return orjson.dumps(data).decode()

    def emit(self, record: AccessRecord) -> None:
        if not self.settings.enabled:
            return
        line = self.line(record)
        writer = self._only_writer()
        if writer is not None:
            writer.write_line(line)
        else:
            self.logger.info(line)

    def _only_writer(self) -> BatchedWriter | None:
        """The logger's own :class:`BatchedWriter` when it is the line's only way out (no other handler, no
        filter, no propagation, INFO enabled): then the line goes to it without a ``LogRecord``. The same
        bytes reach the same stream; ``Logger.info`` would add ``findCaller``'s frame walk and a
        ``LogRecord`` (~3 % of a 1 KB request's CPU in process, py-spy, 2026-12-07). Any other
        configuration an operator makes goes through ``logging`` as before."""
        logger = self.logger
        handlers = logger.handlers
        if (
            len(handlers) == 1
            and type(handlers[0]) is BatchedWriter
            and not logger.propagate
            and not logger.filters
            and not logger.disabled
            and logger.isEnabledFor(logging.INFO)
        ):
            return handlers[0]
        return None

    def trace(
        self,
        *,
        request_id: str,
        endpoint: str,
        model: str,
        decision: Decision | None,
        start: float,
        prompt: str | None,
    ) -> RequestTrace:
        """Start the record of one request (``decision`` ``None``: passed through undecided); ``prompt`` is
        kept only when text logging is on."""
        record = AccessRecord(
            request_id=request_id,
            endpoint=endpoint,
            model=model,
            effort="passthrough" if decision is None else decision.effort.value,
            source="passthrough" if decision is None else decision.source.value,
            prompt=prompt if self.settings.text else None,
        )
        return RequestTrace(self, record, start)


class RequestTrace:
    """Collects one request's tokens and emits its line when the outcome is counted (once)."""

    def __init__(self, log: AccessLog, record: AccessRecord, start: float) -> None:
        self.log = log
        self.record = record
        self.start = start
        self.emitted = False

    def finish(self, pool: str, outcome: str) -> None:
        if self.emitted:
            return
        self.emitted = True
        self.record.pool = pool
        self.record.outcome = outcome
        self.record.latency_ms = (time.perf_counter() - self.start) * 1000
        self.log.emit(self.record)

    def counts(self, fn: CountFn) -> CountFn:
        """Decorate ``count(pool, outcome)``: call it, then write the line."""

        def wrapped(pool: str, outcome: str) -> None:
            fn(pool, outcome)
            self.finish(pool, outcome)

        return wrapped

    def tokens(self, fn: RecordFn) -> RecordFn:
        """Decorate ``record(prompt, completion, reasoning, budget_hit)``: call it and keep the numbers."""

        def wrapped(prompt: int, completion: int, reasoning: int, hit: bool) -> None:
            fn(prompt, completion, reasoning, hit)
            self.record_tokens(prompt, completion, reasoning, hit)

        return wrapped

    def record_tokens(self, prompt: int, completion: int, reasoning: int, hit: bool) -> None:
        r = self.record
        r.prompt_tokens, r.completion_tokens, r.reasoning_tokens, r.budget_hit = (
            prompt,
            completion,
            reasoning,
            hit,
        )


def prompt_text(body: dict[str, Any]) -> str:
    """The chat messages as ``role: text`` lines (text parts only), for the optional prompt field."""
    lines = []
    for msg in body.get("messages") or ():
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, list):
            content = " ".join(
                str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
        lines.append(f"{msg.get('role', '?')}: {content if isinstance(content, str) else ''}")
    return "\n".join(lines)


class BatchedWriter(logging.Handler):
    """Writes each record's message as one line to ``stream`` from a background thread, in batches.

    The event loop only appends the line to a deque; a daemon thread wakes every ``interval`` seconds and
    writes whatever has gathered with one ``write``. A write that blocks (a full pipe, page writeback) stops
    only that thread. Why not the standard ``QueueHandler`` + ``QueueListener``: that wakes the listener
    thread for every line (a futex wake, then the thread competes for the GIL with the event loop); on an
    85 KB agent trajectory in process that was ~7 % of the request's CPU (py-spy, 2026-12-07), batching makes
    it one wake per ``interval`` whatever the request rate. Lines reach the stream at most ``interval`` late;
    :meth:`close` (registered at exit) writes the rest."""

    def __init__(self, stream: Any, interval: float = 0.05) -> None:
        super().__init__()
        self.stream = stream
        self.interval = interval
        self._lines: collections.deque[str] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thinkgate-access-log", daemon=True)
        self._thread.start()

    def handle(self, record: logging.LogRecord) -> bool:
        # no lock: deque.append is atomic, and the message is the whole line (no formatter to guard)
        self._lines.append(record.getMessage())
        return True

    def write_line(self, line: str) -> None:
        """Queue ``line`` as a record with that message would be (see :meth:`AccessLog._only_writer`)."""
        self._lines.append(line)

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(record.getMessage())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        lines = self._lines
        batch = []
        while lines:
            batch.append(lines.popleft())
        if batch:
            try:
                self.stream.write("\n".join(batch) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed stream at exit: the lines are lost, the server is not
                pass

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * self.interval + 1)
        self.flush()
        super().close()


def install_handler(logger: logging.Logger) -> None:
    """Let ``logger`` pass INFO (unless a level was set) and give it a bare stdout handler (message only)
    unless the operator configured one.

    The line is written by a background thread (:class:`BatchedWriter`): a write to a pipe or a file can
    block, and the event loop must never wait on it. The rest is written at exit."""
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if logger.handlers:
        return
    out = BatchedWriter(sys.stdout)
    atexit.register(out.close)
    logger.addHandler(out)
    logger.propagate = False


def access_log_for(request: Request) -> AccessLog:
    """The app's access log, built from the environment on first use and kept on ``app.state``; switched off
    (``THINKGATE_ACCESS_LOG_ENABLED=false``), it writes nothing and installs no writer (no thread)."""
    log = getattr(request.app.state, "access_log", None)
    if not isinstance(log, AccessLog):
        log = AccessLog(AccessLogSettings())
        if log.settings.enabled:
            install_handler(log.logger)
        request.app.state.access_log = log
    return log
