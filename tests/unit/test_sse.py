"""The SSE parser yields the same events for every way the bytes can be split into chunks."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.proxy.sse import FIRST_ALONE_REST, SSEEvent, SSEParser, load_json

RECORDED = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    b": keep-alive\n\n"
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"reasoning":"\\nThe user \\u00e9t\\u00e9"}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"\\n\\nHello \xe4\xb8\x96\xe7\x95\x8c"}}]}\r\n\r\n'
    b"event: message\ndata: line one\ndata: line two\n\n"
    b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}\r\r'
    b"data: [DONE]\n\n"
)


def parse_all(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


def test_whole_stream() -> None:
    events = parse_all([RECORDED])
    assert [e.data for e in events][-1] == b"[DONE]"
    assert len(events) == 6
    assert events[3] == SSEEvent(b"line one\nline two", "message")
    assert orjson.loads(events[2].data)["choices"][0]["delta"]["content"] == "\n\nHello 世界"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(RECORDED)), max_size=40))
def test_every_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks, last = [], 0
    for p in points:
        chunks.append(RECORDED[last:p])
        last = p
    chunks.append(RECORDED[last:])
    assert parse_all(chunks) == parse_all([RECORDED])


def test_byte_by_byte() -> None:
    assert parse_all([RECORDED[i : i + 1] for i in range(len(RECORDED))]) == parse_all([RECORDED])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"data:x\n\n", [b"x"], id="no-space-after-colon"),
        pytest.param(b"data:  x\n\n", [b" x"], id="only-one-space-stripped"),
        pytest.param(b": comment only\n\n", [], id="comment"),
        pytest.param(b"data: a\n", [], id="unterminated-event-dropped"),
        pytest.param(b"\n\n\ndata: a\n\n", [b"a"], id="leading-blank-lines"),
        pytest.param(b"data\n\n", [b""], id="field-without-colon"),
    ],
)
def test_edge_cases(raw: bytes, expected: list[bytes]) -> None:
    assert [e.data for e in parse_all([raw])] == expected


def reference(raw: bytes) -> list[SSEEvent]:
    """The WHATWG algorithm written as plainly as possible: decode all, split lines, dispatch on blanks."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    events, data, event, last_id = [], [], None, None
    for line in text.split("\n")[:-1]:  # the part after the last line end is not a complete line
        if not line:
            if data:
                events.append(SSEEvent("\n".join(data), event, last_id))
            data, event = [], None
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value
    return events


PIECES = [
    b"data",
    b"event",
    b"id",
    b"retry",
    b":",
    b" ",
    b"\n",
    b"\r",
    b"\r\n",
    b"x",
    b"\xc3\xa9",
    b"\xe4",
    b"[DONE]",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=60),
    st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_matches_the_plain_algorithm_for_any_bytes_and_chunking(pieces: list[bytes], cuts: list[int]) -> None:
    raw = b"".join(pieces)
    points = sorted({min(c, len(raw)) for c in cuts})
    chunks, last = [], 0
    for p in points:
        chunks.append(raw[last:p])
        last = p
    chunks.append(raw[last:])
    # close() treats a final lone CR as a line end, the reference cannot know the stream ended there
    expected = reference(raw + b"\n" if raw.endswith(b"\r") else raw)
    assert decoded(parse_all(chunks)) == expected


def decoded(events: list[SSEEvent]) -> list[SSEEvent]:
    """The events with their data as text, as the reference gives them."""
    return [e._replace(data=e.data.decode("utf-8", "replace")) for e in events]


#: what vLLM writes: one ``data: <json>`` line and a blank line per event (the whole-events path)
WHOLE = [
    b'data: {"choices":[{"index":0,"delta":{"reasoning":"Let me think \xc3\xa9"}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
    b'data: {"choices":[],"usage":{"prompt_tokens":5}}\n\n',
    b"data: [DONE]\n\n",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=len(WHOLE)), max_size=6), st.sampled_from([b"", b"id: 7\n"])
)
def test_whole_events_match_the_line_path(cuts: list[int], prefix: bytes) -> None:
    """Reads of whole events (cut at event boundaries, with an ``id:`` line or a split event before them
    or not) give the events of the plain algorithm."""
    raw = prefix + b"".join(WHOLE)
    reads = [
        b"".join(WHOLE[a:b]) for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(WHOLE)], strict=True)
    ]
    reads[0] = prefix + reads[0]
    assert decoded(parse_all([r for r in reads if r])) == reference(raw)
    assert decoded(parse_all([raw[:5], raw[5:]])) == reference(raw)


def test_load_json_reads_invalid_utf8_as_replaced_text() -> None:
    assert load_json(b'{"a":"\xe9t\xc3\xa9"}') == {"a": "\ufffdt\u00e9"}
    with pytest.raises(orjson.JSONDecodeError):
        load_json(b"{not json")


#: one event longer than FIRST_ALONE_REST: after it, the rest of a read is long enough to be kept back
LONG_EVENT = b"data: " + b"y" * FIRST_ALONE_REST + b"\n\n"


def parse_as_the_relay(chunks: list[bytes]) -> list[SSEEvent]:
    """What the opener and the relay do: ``feed_first`` until a read gives an event, then ``feed(b"")`` for
    the bytes it kept back, then ``feed`` for every later read, ``close`` at the end."""
    parser = SSEParser()
    events: list[SSEEvent] = []
    rest = iter(chunks)
    for chunk in rest:
        events = parser.feed_first(chunk)
        if events:
            break
    events.extend(parser.feed(b""))
    for chunk in rest:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([*PIECES, b"data: ", b"data: x\n\n", b"event: e\n", LONG_EVENT]), max_size=60),
    st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_feed_first_then_feed_gives_the_same_events(pieces: list[bytes], cuts: list[int]) -> None:
    raw = b"".join(pieces)
    points = sorted({min(c, len(raw)) for c in cuts})
    chunks, last = [], 0
    for p in points:
        chunks.append(raw[last:p])
        last = p
    chunks.append(raw[last:])
    assert parse_as_the_relay(chunks) == parse_all(chunks)


def test_feed_first_stops_after_a_whole_first_event() -> None:
    """A read of whole events with at least FIRST_ALONE_REST bytes after the first gives that event only;
    the rest comes from the next feed or close. A shorter rest is parsed at once."""
    events = [*WHOLE[:3] * 12, WHOLE[3]]
    read = b"".join(events)
    assert len(read) - len(events[0]) - 4 >= FIRST_ALONE_REST
    parser = SSEParser()
    assert parser.feed_first(read) == [SSEEvent(events[0][6:-2])]
    assert [e.data for e in parser.feed(b"")] == [w[6:-2] for w in events[1:]]
    parser = SSEParser()
    parser.feed_first(read[:-4])  # "[DONE]" cut short
    assert [e.data for e in parser.close()] == [
        w[6:-2] for w in events[1:-1]
    ]  # an unterminated event is dropped
    assert SSEParser().feed_first(b"".join(WHOLE)) == SSEParser().feed(b"".join(WHOLE))  # a short rest
    # not one ``data: `` line first (an id line, a two-line event, CRLF): every event of the read, as feed
    for raw in (
        b"id: 1\n" + read,
        b"data: a\ndata: b\n\n" + read,
        b"data: a\r\n\r\n" + read,
    ):
        assert SSEParser().feed_first(raw) == SSEParser().feed(raw)
