"""split_reasoning table and the streaming splitter's equivalence over every chunking."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from templates.reasoning import Split, ThinkStreamSplitter, split_reasoning


@pytest.mark.parametrize(
    ("text", "thinking", "opens", "expected"),
    [
        pytest.param("<think>\nr\n</think>\n\nanswer", True, False, Split("r", "answer", False), id="qwen3"),
        pytest.param("\nr\n</think>\n\nanswer", True, True, Split("r", "answer", False), id="opens-think"),
        pytest.param("<think>\nstill going", True, False, Split("still going", None, True), id="truncated"),
        pytest.param("just text", True, True, Split("just text", None, True), id="opens-no-end"),
        pytest.param("answer only\n", False, False, Split(None, "answer only", False), id="off"),
        pytest.param("a </think> b", False, False, Split(None, "a </think> b", False), id="off-literal-end"),
        pytest.param(
            "<think>\n\n</think>\n\nhi", False, False, Split(None, "hi", False), id="off-empty-block"
        ),
        pytest.param(
            "<think>x</think>y</think>z", True, False, Split("x</think>y", "z", False), id="last-end"
        ),
        pytest.param("<think>\nr\n</think>\n\n", True, False, Split("r", None, False), id="no-answer"),
        pytest.param("", True, False, Split(None, None, True), id="empty-thinking"),
        pytest.param("", False, False, Split(None, None, False), id="empty-off"),
        pytest.param("<think>", False, False, Split(None, None, True), id="only-start-tag"),
    ],
)
def test_split_reasoning(text: str, thinking: bool, opens: bool, expected: Split) -> None:
    assert split_reasoning(text, thinking=thinking, opens_think=opens) == expected


def stream(chunks: list[str], *, thinking: bool, opens: bool) -> tuple[Split, bool]:
    splitter = ThinkStreamSplitter(thinking=thinking, opens_think=opens)
    reasoning, content = [], []
    for chunk in chunks:
        r, c = splitter.feed(chunk)
        reasoning.append(r)
        content.append(c)
    r, c = splitter.finish()
    reasoning.append(r)
    content.append(c)
    split = Split("".join(reasoning) or None, "".join(content) or None, splitter.truncated)
    return split, splitter.extra_end_tag


def first_end_split(text: str, *, thinking: bool, opens: bool) -> Split:
    """Reference for the stream: like split_reasoning but ending reasoning at the first end tag."""
    if not (thinking or opens or text.startswith("<think>")):
        return split_reasoning(text, thinking=thinking, opens_think=opens)
    body = text.removeprefix("<think>")
    head, sep, tail = body.partition("</think>")
    if not sep:
        return split_reasoning(text, thinking=thinking, opens_think=opens)
    return Split(head.strip("\n") or None, tail.strip("\n") or None, False)


PIECES = ["<think>", "</think>", "<", "</", "<th", "think>", "ink>", "/", ">", "\n", "\n\n", "a", "b c", "é"]
texts = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)


@st.composite
def chunked(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(texts)
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=len(text) + 1)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=600, deadline=None)
@given(case=chunked(), thinking=st.booleans(), opens=st.booleans())
def test_stream_equals_one_shot_for_every_chunking(
    case: tuple[str, list[str]], thinking: bool, opens: bool
) -> None:
    text, chunks = case
    assert "".join(chunks) == text
    got, extra = stream(chunks, thinking=thinking, opens=opens)
    assert got == stream([text], thinking=thinking, opens=opens)[0]  # chunking never matters
    assert got == first_end_split(text, thinking=thinking, opens=opens)
    in_reasoning = thinking or opens or text.startswith("<think>")
    body = text.removeprefix("<think>") if text.startswith("<think>") else text
    assert extra == (in_reasoning and body.count("</think>") >= 2)
    if not extra:  # a single end tag: the stream is exactly the one-shot split
        assert got == split_reasoning(text, thinking=thinking, opens_think=opens)


@settings(max_examples=200, deadline=None)
@given(case=chunked())
def test_stream_one_char_at_a_time(case: tuple[str, list[str]]) -> None:
    text, _ = case
    got, extra = stream(list(text), thinking=True, opens=False)
    if not extra:
        assert got == split_reasoning(text, thinking=True)


def test_tags_split_across_chunks() -> None:
    chunks = ["<th", "ink>\nplan", " more\n</th", "ink>\n", "\nans", "wer\n"]
    assert stream(chunks, thinking=True, opens=False) == (Split("plan more", "answer", False), False)


def test_reasoning_flows_before_the_end_tag_arrives() -> None:
    splitter = ThinkStreamSplitter(thinking=True)
    assert splitter.feed("<think>\nstep one") == ("step one", "")
    assert splitter.feed("\n</thi") == ("", "")
    assert splitter.feed("nk>\n\nHi") == ("", "Hi")


def test_splitter_misuse_raises() -> None:
    splitter = ThinkStreamSplitter(thinking=False)
    splitter.finish()
    with pytest.raises(ValueError, match="after finish"):
        splitter.feed("x")
    with pytest.raises(ValueError, match="twice"):
        splitter.finish()
