"""The nesting bound on request bodies: JSON deeper than :data:`MAX_DEPTH` is refused with 400 at parse time.

Why a bound: orjson reads up to 1,024 levels but writes only 255, and the renderer copies bodies
recursively, so a body nested a few hundred levels deep used to parse and then fail with a 500 while being
re-serialised. No OpenAI-shaped request needs more than a dozen levels (a tool's JSON schema inside
``tools`` is the deepest legitimate part), so 64 leaves room for deep tool schemas and for the few levels a
front door adds when it translates a body, and stays far below the 255 that orjson writes and Python's
recursion limit.
"""

from __future__ import annotations

from typing import Any

#: deepest nesting a request body may have; the top-level object counts as level 1
MAX_DEPTH = 64


def too_deep(raw: bytes, data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether the parsed body ``data`` (parsed from ``raw``) nests more than ``limit`` containers deep.

    A body with at most ``limit`` brackets cannot be deeper than ``limit``: two C-speed counts over the bytes
    settle nearly every request, and only bodies with many brackets get the walk over their containers."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
