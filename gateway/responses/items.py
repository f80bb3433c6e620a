"""Input items of the Responses API: validated into one canonical shape, then read as chat messages.

Canonical items (what the store keeps and ``GET /v1/responses/{id}/input_items`` lists) always carry an
``id``, a ``type`` and a ``status``:

- ``message``: ``role`` user/system/developer with ``input_text`` / ``input_image`` parts, or ``assistant``
  with ``output_text`` / ``refusal`` parts;
- ``function_call``: ``call_id``, ``name``, ``arguments`` (a JSON string);
- ``function_call_output``: ``call_id``, ``output`` (a string or a list of ``input_text`` parts);
- ``reasoning``: ``summary`` and ``content`` lists of text parts, as thinkgate returned them.

Refused with a 400 (no backend can serve them): files and images by ``file_id`` (thinkgate has no Files API),
``item_reference`` (items are addressed through ``previous_response_id`` instead), and the items of OpenAI's
hosted tools (web search, computer use, MCP, shell, …).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from gateway.errors import BadRequest

#: ``prefix -> new id``; item ids are ``<prefix>_<48 hex>`` like OpenAI's.
IdFactory = Callable[[str], str]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


class TurnIds:
    """The ids of one request: ``resp_<48 random hex>`` for the response, and for each item the same random
    part's first 40 hex digits + an 8-digit counter (unique; one random draw per request, not per item)."""

    __slots__ = ("_count", "_stem", "response_id")

    def __init__(self) -> None:
        random = secrets.token_hex(24)
        self.response_id = f"resp_{random}"
        self._stem = random[:40]
        self._count = 0

    def __call__(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._stem}{self._count:08x}"


_INPUT_ROLES = ("user", "system", "developer", "assistant")
_STATUSES = ("in_progress", "completed", "incomplete")


def _bad(message: str, param: str) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def _str(value: Any, param: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise _bad(f"{param} must be a string", param)
    if not empty and not value:
        raise _bad(f"{param} must not be empty", param)
    return value


def _object(value: Any, param: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(f"{param} must be an object", param)
    return value


def _status(item: Mapping[str, Any], param: str) -> str:
    status = item.get("status")
    if status is None:
        return "completed"
    if status not in _STATUSES:
        raise _bad(f"{param}.status must be one of {', '.join(_STATUSES)}", f"{param}.status")
    return str(status)


def _item_id(item: Mapping[str, Any], prefix: str, param: str, ids: IdFactory) -> str:
    given = item.get("id")
    if given is None:
        return ids(prefix)
    return _str(given, f"{param}.id", empty=False)


def _image_part(part: Mapping[str, Any], param: str) -> dict[str, Any]:
    if part.get("file_id") is not None:
        raise BadRequest(
            "input_image by file_id is not supported (thinkgate has no Files API); send image_url",
            param=f"{param}.file_id",
            code="unsupported_value",
        )
    url = _str(part.get("image_url"), f"{param}.image_url", empty=False)
    out: dict[str, Any] = {"type": "input_image", "image_url": url}
    detail = part.get("detail")
    if detail is not None:
        if detail not in ("auto", "low", "high", "original"):
            raise _bad(f"{param}.detail must be one of auto, low, high, original", f"{param}.detail")
        out["detail"] = detail
    return out


def _input_parts(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        raise _bad(f"{param} must be a string or a list of content parts", param)
    parts: list[dict[str, Any]] = []
    for index, raw in enumerate(content):
        where = f"{param}[{index}]"
        part = _object(raw, where)
        kind = part.get("type")
        if kind == "input_text":
            parts.append({"type": "input_text", "text": _str(part.get("text"), f"{where}.text")})
        elif kind == "input_image":
            parts.append(_image_part(part, where))
        elif kind in ("input_file", "input_audio"):
            raise BadRequest(
                f"{kind} parts are not supported by thinkgate (text and image_url only)",
                param=f"{where}.type",
                code="unsupported_value",
            )
        else:
            raise _bad(f"{where}.type must be input_text or input_image, got {kind!r}", f"{where}.type")
    return parts


def _output_parts(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "output_text", "text": content, "annotations": []}]
    if not isinstance(content, list):
        raise _bad(f"{param} must be a string or a list of content parts", param)
    parts: list[dict[str, Any]] = []
    for index, raw in enumerate(content):
        where = f"{param}[{index}]"
        part = _object(raw, where)
        kind = part.get("type")
        if kind in ("output_text", "input_text"):  # clients echo assistant turns in either shape
            parts.append(
                {"type": "output_text", "text": _str(part.get("text"), f"{where}.text"), "annotations": []}
            )
        elif kind == "refusal":
            parts.append({"type": "refusal", "refusal": _str(part.get("refusal"), f"{where}.refusal")})
        else:
            raise _bad(f"{where}.type must be output_text or refusal, got {kind!r}", f"{where}.type")
    return parts


def _message(item: Mapping[str, Any], param: str, ids: IdFactory) -> dict[str, Any]:
    role = item.get("role")
    if role not in _INPUT_ROLES:
        raise _bad(f"{param}.role must be one of {', '.join(_INPUT_ROLES)}", f"{param}.role")
    if "content" not in item:
        raise _bad(f"missing required field '{param}.content'", f"{param}.content")
    if role == "assistant":
        content = _output_parts(item["content"], f"{param}.content")
    else:
        content = _input_parts(item["content"], f"{param}.content")
    return {
        "id": _item_id(item, "msg", param, ids),
        "type": "message",
        "role": role,
        "content": content,
        "status": _status(item, param),
    }


def _function_call(item: Mapping[str, Any], param: str, ids: IdFactory) -> dict[str, Any]:
    return {
        "id": _item_id(item, "fc", param, ids),
        "type": "function_call",
        "call_id": _str(item.get("call_id"), f"{param}.call_id", empty=False),
        "name": _str(item.get("name"), f"{param}.name", empty=False),
        "arguments": _str(item.get("arguments"), f"{param}.arguments"),
        "status": _status(item, param),
    }


def _call_output(item: Mapping[str, Any], param: str, ids: IdFactory) -> dict[str, Any]:
    raw = item.get("output")
    output: str | list[dict[str, Any]]
    if isinstance(raw, str):
        output = raw
    elif isinstance(raw, list):
        output = []
        for index, part in enumerate(raw):
            where = f"{param}.output[{index}]"
            if _object(part, where).get("type") != "input_text":
                raise BadRequest(
                    f"{where}: only input_text parts are supported in a function_call_output",
                    param=f"{where}.type",
                    code="unsupported_value",
                )
            output.append({"type": "input_text", "text": _str(part.get("text"), f"{where}.text")})
    else:
        raise _bad(f"{param}.output must be a string or a list of input_text parts", f"{param}.output")
    return {
        "id": _item_id(item, "fco", param, ids),
        "type": "function_call_output",
        "call_id": _str(item.get("call_id"), f"{param}.call_id", empty=False),
        "output": output,
        "status": _status(item, param),
    }


def _text_list(value: Any, kind: str, param: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(f"{param} must be a list", param)
    out = []
    for index, raw in enumerate(value):
        where = f"{param}[{index}]"
        part = _object(raw, where)
        if part.get("type", kind) != kind:
            raise _bad(f"{where}.type must be {kind}", f"{where}.type")
        out.append({"type": kind, "text": _str(part.get("text"), f"{where}.text")})
    return out


def _reasoning(item: Mapping[str, Any], param: str, ids: IdFactory) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": _item_id(item, "rs", param, ids),
        "type": "reasoning",
        "summary": _text_list(item.get("summary"), "summary_text", f"{param}.summary"),
        "content": _text_list(item.get("content"), "reasoning_text", f"{param}.content"),
        "status": _status(item, param),
    }
    if item.get("encrypted_content") is not None:
        out["encrypted_content"] = _str(item["encrypted_content"], f"{param}.encrypted_content")
    return out


_READERS: dict[str, Callable[[Mapping[str, Any], str, IdFactory], dict[str, Any]]] = {
    "message": _message,
    "function_call": _function_call,
    "function_call_output": _call_output,
    "reasoning": _reasoning,
}


def parse_input(value: Any, ids: IdFactory = new_id) -> list[dict[str, Any]]:
    """The request's ``input`` (a string or a list of items) as canonical items; 400 on anything else."""
    if isinstance(value, str):
        return [_message({"role": "user", "content": value}, "input", ids)]
    if not isinstance(value, list):
        raise _bad("input must be a string or a list of input items", "input")
    items = []
    for index, raw in enumerate(value):
        param = f"input[{index}]"
        item = _object(raw, param)
        kind = item.get("type")
        if kind is None and "role" in item:
            kind = "message"  # the "easy" message form has no type
        reader = _READERS.get(kind) if isinstance(kind, str) else None
        if reader is None:
            known = ", ".join(_READERS)
            raise BadRequest(
                f"{param}.type {kind!r} is not supported; thinkgate reads {known}",
                param=f"{param}.type",
                code="unsupported_value",
            )
        items.append(reader(item, param, ids))
    return items


# ---- canonical items -> chat-completions messages -------------------------------------------------------


def _chat_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if all(p["type"] in ("input_text", "output_text", "refusal") for p in parts):
        return "\n".join(p.get("text", p.get("refusal", "")) for p in parts)
    out: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "input_image":
            image: dict[str, Any] = {"url": part["image_url"]}
            if "detail" in part and part["detail"] in ("auto", "low", "high"):
                image["detail"] = part["detail"]
            out.append({"type": "image_url", "image_url": image})
        else:
            out.append({"type": "text", "text": part.get("text", "")})
    return out


def reasoning_text(item: Mapping[str, Any]) -> str:
    """The text of a reasoning item: its ``content`` if any, else its ``summary``."""
    parts = item.get("content") or item.get("summary") or []
    return "".join(p["text"] for p in parts)


class _Turn:
    """An assistant turn being assembled from consecutive reasoning / message / function_call items."""

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.text: list[str] = []
        self.calls: list[dict[str, Any]] = []

    @property
    def empty(self) -> bool:
        return not (self.reasoning or self.text or self.calls)

    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) if self.text else None}
        if self.reasoning:
            out["reasoning"] = "\n".join(self.reasoning)
        if self.calls:
            out["tool_calls"] = self.calls
        elif out["content"] is None:
            out["content"] = ""
        return out


def chat_messages(items: list[dict[str, Any]], instructions: str | None) -> list[dict[str, Any]]:
    """Chat messages for canonical items: consecutive reasoning, assistant text and function calls form one
    assistant turn (reasoning kept on it for the family's history rules), ``function_call_output`` becomes a
    ``tool`` message, ``developer`` becomes ``system``; ``instructions`` go first as a system message."""
    out: list[dict[str, Any]] = []
    if instructions:
        out.append({"role": "system", "content": instructions})
    turn = _Turn()

    def flush() -> None:
        nonlocal turn
        if not turn.empty:
            out.append(turn.message())
        turn = _Turn()

    for item in items:
        kind = item["type"]
        if kind == "reasoning":
            if turn.text or turn.calls:
                flush()
            text = reasoning_text(item)
            if text:
                turn.reasoning.append(text)
        elif kind == "function_call":
            turn.calls.append(
                {
                    "id": item["call_id"],
                    "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]},
                }
            )
        elif kind == "message" and item["role"] == "assistant":
            if turn.calls:
                flush()
            content = _chat_content(item["content"])
            turn.text.append(content if isinstance(content, str) else "")
        elif kind == "function_call_output":
            flush()
            output = item["output"]
            text = output if isinstance(output, str) else "\n".join(p["text"] for p in output)
            out.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
        else:  # user / system / developer message
            flush()
            role = "system" if item["role"] == "developer" else item["role"]
            out.append({"role": role, "content": _chat_content(item["content"])})
    flush()
    return out
