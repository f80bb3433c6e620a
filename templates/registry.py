"""The explicit family registry: the key operators write in the policy file → :class:`Family`.

Seeded lazily with the built-in families on first use (nothing runs at import); ``register`` adds more.
An unknown key fails loudly with the list of known ones, so a typo is caught at startup, not per request.
"""

from __future__ import annotations

from templates.errors import DuplicateFamilyError, UnknownFamilyError
from templates.families import BUILTIN_FAMILIES
from templates.family import Family

_families: dict[str, Family] = {}


def _table() -> dict[str, Family]:
    if not _families:
        for family in BUILTIN_FAMILIES:
            _families[family.name] = family
    return _families


def register(family: Family, *, replace: bool = False) -> Family:
    """Add ``family`` under its name; a taken name raises :class:`DuplicateFamilyError` unless ``replace``."""
    if not isinstance(family, Family):
        raise TypeError(f"register() expects a Family, got {type(family).__name__}")
    table = _table()
    if family.name in table and not replace:
        raise DuplicateFamilyError(f"family {family.name!r} is already registered")
    table[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family (undoes ``register``); unknown names raise :class:`UnknownFamilyError`."""
    get_family(name)
    del _table()[name]


def get_family(name: str) -> Family:
    """The family registered as ``name``; raises :class:`UnknownFamilyError` listing the known names."""
    family = _table().get(name) if isinstance(name, str) else None
    if family is None:
        raise UnknownFamilyError(
            f"unknown model family {name!r}; known families: {', '.join(known_families())}"
        )
    return family


def known_families() -> tuple[str, ...]:
    """Registered family names, sorted."""
    return tuple(sorted(_table()))
