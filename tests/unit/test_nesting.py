"""The nesting bound on request bodies (issue 12, defect 5): exact at the bound, whatever the container mix."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import BadRequest
from gateway.nesting import COUNTED_BYTES, MAX_DEPTH, may_be_too_deep, too_deep
from gateway.protocol import parse_json_object


def nested(depth: int, kind: str) -> bytes:
    """A JSON object whose total nesting (the object itself = 1) is ``depth``, built as text: orjson reads 1,024
    levels but writes only 255."""
    opens, closes = [], []
    for level in range(depth - 1):
        if kind == "list" or (kind == "mixed" and level % 2):
            opens.append(b"[")
            closes.append(b"]")
        else:
            opens.append(b'{"k":')
            closes.append(b"}")
    return b'{"x":' + b"".join(opens) + b"1" + b"".join(reversed(closes)) + b"}"


@pytest.mark.parametrize("kind", ["list", "dict", "mixed"])
@pytest.mark.parametrize(
    ("depth", "deep"),
    [
        pytest.param(1, False, id="flat"),
        pytest.param(MAX_DEPTH, False, id="at-bound"),
        pytest.param(MAX_DEPTH + 1, True, id="one-over"),
        pytest.param(254, True, id="254"),
        pytest.param(1023, True, id="1023"),
    ],
)
def test_depth_bound_is_exact(kind: str, depth: int, deep: bool) -> None:
    raw = nested(depth, kind)
    assert too_deep(orjson.loads(raw)) is deep


def test_many_shallow_containers_are_not_deep() -> None:
    data = {"messages": [{"role": "user", "content": [{"type": "text", "text": "[{" * 50}]}] * 200}
    assert orjson.dumps(data).count(b"[") > MAX_DEPTH  # more containers than the bound, none deep
    assert not too_deep(data)


def test_deep_sibling_after_shallow_ones_is_found() -> None:
    data = {"a": [[1]] * 100, "b": orjson.loads(nested(MAX_DEPTH, "list"))}  # "b" is MAX_DEPTH + 1 deep
    assert too_deep(data)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1023])
def test_parse_refuses_deep_bodies_with_invalid_value(depth: int) -> None:
    with pytest.raises(BadRequest) as err:
        parse_json_object(nested(depth, "list"))
    assert err.value.status == 400
    assert err.value.code == "invalid_value"
    assert str(MAX_DEPTH) in err.value.message


@pytest.mark.parametrize("kind", ["list", "dict", "mixed"])
@pytest.mark.parametrize("depth", [1, 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200])
def test_the_bracket_count_never_skips_a_deep_body(kind: str, depth: int) -> None:
    """``may_be_too_deep`` is False only for bodies that are not too deep: parse agrees with the walk."""
    raw = nested(depth, kind)
    if too_deep(orjson.loads(raw)):
        assert may_be_too_deep(raw)
        with pytest.raises(BadRequest):
            parse_json_object(raw)
    else:
        parse_json_object(raw)


def test_small_shallow_bodies_skip_the_walk() -> None:
    assert not may_be_too_deep(nested(MAX_DEPTH, "mixed"))  # exactly MAX_DEPTH containers
    assert may_be_too_deep(nested(MAX_DEPTH + 1, "list"))
    # brackets inside strings count too: more than the bound, shallow, walked (and accepted)
    text = orjson.dumps({"messages": [{"role": "user", "content": "[" * (MAX_DEPTH + 1)}]})
    assert may_be_too_deep(text)
    parse_json_object(text)
    big = orjson.dumps({"content": "x" * (COUNTED_BYTES + 1)})
    assert may_be_too_deep(big)  # past COUNTED_BYTES the walk decides
