"""The built-in families, as data. ``templates.registry`` seeds itself from :data:`BUILTIN_FAMILIES`."""

from __future__ import annotations

from typing import Final

from templates.families.deepseek import DEEPSEEK_R1, DEEPSEEK_V31
from templates.families.others import GLM_45, GPT_OSS, GRANITE, SMOLLM3
from templates.families.qwen import QWEN3, QWEN3_INSTRUCT_2507, QWEN3_THINKING_2507
from templates.family import Family

BUILTIN_FAMILIES: Final[tuple[Family, ...]] = (
    QWEN3,
    QWEN3_THINKING_2507,
    QWEN3_INSTRUCT_2507,
    DEEPSEEK_R1,
    DEEPSEEK_V31,
    GLM_45,
    GPT_OSS,
    SMOLLM3,
    GRANITE,
)

__all__ = ["BUILTIN_FAMILIES"]
