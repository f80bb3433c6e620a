"""Render a chat template (Jinja source passed in by the caller) into a raw prompt string.

The package opens no files: the gateway reads ``templates/jinja/<family.jinja_template>`` with
``importlib.resources`` and passes the text here. The environment mirrors what Hugging Face / vLLM use for
chat templates (sandboxed, ``trim_blocks``, ``lstrip_blocks``, ``loopcontrols``, a ``tojson`` that keeps
non-ASCII and key order), so the same template source renders the same string here and in vLLM.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NoReturn

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from templates.errors import TemplateRenderError, UnknownFamilyError
from templates.family import Family

#: Folder (inside the ``templates`` package) holding the shipped ``*.jinja`` files.
JINJA_DIR = "jinja"


def template_resource(family: Family) -> str:
    """Package-relative path of the family's chat template, e.g. ``"jinja/qwen3.jinja"``."""
    if family.jinja_template is None:
        raise UnknownFamilyError(f"family {family.name!r} ships no chat template (the backend renders it)")
    return f"{JINJA_DIR}/{family.jinja_template}"


def _tojson(
    value: Any, indent: int | None = None, separators: tuple[str, str] | None = None, sort_keys: bool = False
) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise(message: str) -> NoReturn:
    raise TemplateRenderError(f"chat template raised: {message}")


@lru_cache(maxsize=16)
def compile_template(source: str) -> jinja2.Template:
    """Compile template text once (cached by source); syntax errors raise :class:`TemplateRenderError`."""
    if not isinstance(source, str) or not source.strip():
        raise TemplateRenderError("chat template source must be a non-empty string")
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRenderError(f"chat template syntax error at line {exc.lineno}: {exc.message}") from exc


def render_prompt(
    template_source: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    enable_thinking: bool | None,
    add_generation_prompt: bool = True,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """The prompt text for ``messages``; ``enable_thinking=None`` leaves the variable undefined."""
    template = compile_template(template_source)
    variables: dict[str, Any] = {
        "messages": [dict(message) for message in messages],
        "add_generation_prompt": add_generation_prompt,
        "tools": [dict(tool) for tool in tools] if tools else None,
    }
    if enable_thinking is not None:
        variables["enable_thinking"] = enable_thinking
    try:
        return template.render(**variables)
    except TemplateRenderError:
        raise
    except (jinja2.TemplateError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise TemplateRenderError(f"chat template failed to render: {exc}") from exc
