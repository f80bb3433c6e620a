"""Read the policy file: YAML → mapping → validated :class:`router.policy.Policy`.

A bad file raises :class:`PolicyFileError` whose message names the file, the line and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.policy import Policy, parse_policy


class PolicyFileError(ValueError):
    """The policy file cannot be read or is invalid."""


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    node = root
    line = None if node is None else node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def parse_policy_text(text: str, source: str = "<policy>") -> Policy:
    """Validate policy YAML text; errors carry ``source:line: reason``."""
    try:
        data: Any = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyFileError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise PolicyFileError(f"{source}: the policy must be a YAML mapping with 'version: 1' and 'backends'")
    try:
        return parse_policy(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:5]:
            loc = tuple(p for p in err["loc"])
            line = _line_of(root, loc)
            where = f"{source}:{line}" if line else source
            path = ".".join(str(p) for p in loc) or "(top level)"
            lines.append(f"{where}: {path}: {err['msg']}")
        raise PolicyFileError("invalid policy:\n  " + "\n  ".join(lines)) from None
    except ValueError as exc:
        raise PolicyFileError(f"invalid policy:\n  {source}: {exc}") from None


def load_policy(path: str | Path) -> Policy:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"cannot read policy file {p}: {exc.strerror}") from None
    return parse_policy_text(text, str(p))
