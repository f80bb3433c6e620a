"""The structured access log (gateway/logs.py): fields, text off by default, redaction, one line per request."""

from __future__ import annotations

import io
import logging
import threading
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from gateway.logs import (
    ACCESS_LOGGER,
    DEFAULT_REDACT,
    AccessLog,
    AccessLogSettings,
    AccessRecord,
    BatchedWriter,
    access_log_for,
    install_handler,
    prompt_text,
)
from router.decision import Decision, Source
from router.effort import Effort
from tests.harness import wait_until


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def make_log(**settings: Any) -> tuple[AccessLog, Lines]:
    logger = logging.getLogger(f"test.access.{id(settings)}.{len(settings)}")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)
    lines = Lines()
    logger.addHandler(lines)
    return AccessLog(AccessLogSettings(**settings), logger), lines


def record(**fields: Any) -> AccessRecord:
    base: dict[str, Any] = {
        "request_id": "r1",
        "endpoint": "chat",
        "model": "auto",
        "effort": "high",
        "source": "classifier",
        "pool": "qwen3-thinking",
        "outcome": "ok",
        "prompt": "user: call me at 555 123 4567",
        "completion": "sure, jane@example.com",
    }
    return AccessRecord(**{**base, **fields})


def decision() -> Decision:
    return Decision(effort=Effort.LOW, budget=1024, source=Source.EXPLICIT, reason="test")


def test_line_has_the_fields_and_no_text_by_default() -> None:
    log, _ = make_log()
    data = orjson.loads(
        log.line(record(prompt_tokens=10, completion_tokens=20, reasoning_tokens=15, latency_ms=12.34567))
    )
    assert data == {
        "event": "request",
        "request_id": "r1",
        "endpoint": "chat",
        "model": "auto",
        "effort": "high",
        "source": "classifier",
        "pool": "qwen3-thinking",
        "outcome": "ok",
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "reasoning_tokens": 15,
        "budget_hit": False,
        "latency_ms": 12.346,
    }


def test_every_record_field_is_written() -> None:
    """The line is spelled out field by field: a field added to AccessRecord must be added there too."""
    log, _ = make_log(text=True)
    data = orjson.loads(log.line(record(extra={"warnings": ["w"], "pool": "not this one"})))
    written = {name for name in AccessRecord.__dataclass_fields__ if name != "extra"}
    assert written <= data.keys()
    assert data["pool"] == "qwen3-thinking"  # extra never overrides a field
    assert data["warnings"] == ["w"]
    assert next(iter(data)) == "event"


def test_text_when_enabled_is_redacted() -> None:
    log, _ = make_log(text=True)
    data = orjson.loads(log.line(record()))
    assert data["prompt"] == "user: call me at [REDACTED]"
    assert data["completion"] == "sure, [REDACTED]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+x@mail.example.org now", "mail [REDACTED] now"),
        ("key sk-abcdefgh12345678 here", "key [REDACTED] here"),
        ("Authorization: Bearer abc.def-ghi_123", "Authorization: [REDACTED]"),
        ("card 4111 1111 1111 1111.", "card [REDACTED]."),
        ("phone +1-202-555-0143", "phone +[REDACTED]"),
        ("What is 17 * 23?", "What is 17 * 23?"),
        ("year 2025, 12345678 items", "year 2025, 12345678 items"),
    ],
)
def test_default_redaction(text: str, expected: str) -> None:
    log, _ = make_log(text=True)
    assert log.redact(text) == expected


def test_custom_rule_replacement_and_cut() -> None:
    log, _ = make_log(text=True, redact=r"secret\w*", redact_with="***", max_text_chars=12)
    assert log.redact("a secretive plan") == "a *** plan"
    assert log.redact("x" * 20) == "x" * 12 + "…"


def test_bad_rule_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="THINKGATE_ACCESS_LOG_REDACT: not a valid regular expression"):
        AccessLogSettings(redact="(unclosed")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AccessLogSettings().text is False
    assert AccessLogSettings().redact == DEFAULT_REDACT
    monkeypatch.setenv("THINKGATE_ACCESS_LOG_TEXT", "true")
    monkeypatch.setenv("THINKGATE_ACCESS_LOG_REDACT", "[0-9]+")
    s = AccessLogSettings()
    assert s.text is True and s.redact == "[0-9]+"


def test_trace_emits_one_line_with_tokens_and_outcome() -> None:
    log, lines = make_log()
    calls: list[tuple[Any, ...]] = []
    trace = log.trace(
        request_id="r9", endpoint="chat", model="auto", decision=decision(), start=0.0, prompt="hi"
    )

    @trace.counts
    def count(pool: str, outcome: str) -> None:
        calls.append(("count", pool, outcome))

    @trace.tokens
    def rec(prompt: int, completion: int, reasoning: int, hit: bool) -> None:
        calls.append(("record", prompt, completion, reasoning, hit))

    rec(5, 7, 3, True)
    count("p1", "ok")
    count("p1", "upstream_error")  # a second count does not write a second line
    assert calls == [("record", 5, 7, 3, True), ("count", "p1", "ok"), ("count", "p1", "upstream_error")]
    assert len(lines.lines) == 1
    data = orjson.loads(lines.lines[0])
    assert (data["request_id"], data["effort"], data["source"], data["pool"], data["outcome"]) == (
        "r9",
        "low",
        "explicit",
        "p1",
        "ok",
    )
    assert (
        data["prompt_tokens"],
        data["completion_tokens"],
        data["reasoning_tokens"],
        data["budget_hit"],
    ) == (
        5,
        7,
        3,
        True,
    )
    assert data["latency_ms"] > 0
    assert "prompt" not in data  # text logging is off: the prompt is not even kept


def test_disabled_log_writes_nothing() -> None:
    log, lines = make_log(enabled=False)
    log.emit(record())
    assert lines.lines == []


def test_the_off_switch_installs_no_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    # THINKGATE_ACCESS_LOG_ENABLED=false: no line, and no writer thread waking every interval either
    logger = logging.getLogger(ACCESS_LOGGER)
    monkeypatch.setattr(logger, "handlers", [])
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))
    monkeypatch.setenv("THINKGATE_ACCESS_LOG_ENABLED", "false")
    threads = threading.active_count()
    log = access_log_for(request)  # type: ignore[arg-type]  # only .app.state is read
    assert access_log_for(request) is log  # type: ignore[arg-type]
    log.emit(record())
    assert logger.handlers == [] and threading.active_count() == threads and out.getvalue() == ""
    # switched on (the default), the first request installs the batched writer on the access logger
    monkeypatch.delenv("THINKGATE_ACCESS_LOG_ENABLED")
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    monkeypatch.setattr(logger, "propagate", True)
    on = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))
    log = access_log_for(on)  # type: ignore[arg-type]
    (handler,) = logger.handlers
    assert isinstance(handler, BatchedWriter)
    log.emit(record(request_id="on"))
    handler.close()
    assert orjson.loads(out.getvalue())["request_id"] == "on"


def test_prompt_text_flattens_messages() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {}}],
            },
            "not a message",
            {"role": "assistant", "content": None},
        ]
    }
    assert prompt_text(body) == "system: be brief\nuser: look\nassistant: "
    assert prompt_text({}) == ""


def test_install_handler_writes_bare_json_to_stdout_once(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    logger = logging.getLogger("test.access.install")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    install_handler(logger)
    install_handler(logger)
    assert len(logger.handlers) == 1 and logger.level == logging.INFO and not logger.propagate
    # the event loop only appends the line; a writer thread writes the lines in batches (a write may block)
    handler = logger.handlers[0]
    assert isinstance(handler, BatchedWriter)
    log = AccessLog(AccessLogSettings(), logger)
    log.emit(record())
    assert wait_until(lambda: out.getvalue().endswith("\n"), timeout=5)
    (line,) = out.getvalue().splitlines()
    assert orjson.loads(line)["request_id"] == "r1"
    for i in range(3):  # what is left at close (exit) is written, in order
        log.emit(record(request_id=f"r{i + 2}"))
    handler.close()
    assert [orjson.loads(x)["request_id"] for x in out.getvalue().splitlines()] == ["r1", "r2", "r3", "r4"]
    logger.handlers.clear()


def test_lines_to_the_installed_writer_still_follow_the_loggers_level_and_filters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the line goes straight to the installed writer only while nothing else is configured on the logger
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    logger = logging.getLogger("test.access.direct")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    install_handler(logger)
    handler = logger.handlers[0]
    assert isinstance(handler, BatchedWriter)
    log = AccessLog(AccessLogSettings(), logger)
    logger.setLevel(logging.WARNING)
    log.emit(record(request_id="quiet"))
    logger.setLevel(logging.INFO)
    logger.addFilter(lambda rec: "drop" not in rec.getMessage())
    log.emit(record(request_id="drop"))
    log.emit(record(request_id="kept-by-filter"))
    logger.filters.clear()
    extra = Lines()
    logger.addHandler(extra)  # a second handler: both get the line
    log.emit(record(request_id="both"))
    logger.removeHandler(extra)
    log.emit(record(request_id="direct"))
    handler.close()
    written = [orjson.loads(x)["request_id"] for x in out.getvalue().splitlines()]
    assert written == ["kept-by-filter", "both", "direct"]
    assert [orjson.loads(x)["request_id"] for x in extra.lines] == ["both"]
    logger.handlers.clear()
