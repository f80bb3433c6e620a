"""Deterministic fault injection: each generation request's fate derives from (seed, sequence number)."""

from __future__ import annotations

import enum
import hashlib

from simulator.config import FaultSettings


class Fault(enum.Enum):
    """What happens to one request."""

    NONE = "none"
    ERROR = "error"  # 500 before any byte
    HANG = "hang"  # accepted, never answered until the client goes away
    DROP = "drop"  # connection closed mid-response


def draw(seed: int, seq: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, seq)."""
    digest = hashlib.blake2b(f"fault|{seed}|{seq}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def decide(settings: FaultSettings, seed: int, seq: int) -> Fault:
    """The fault for request number `seq` under `settings`."""
    u = draw(seed, seq)
    if u < settings.error_rate:
        return Fault.ERROR
    if u < settings.error_rate + settings.hang_rate:
        return Fault.HANG
    if u < settings.error_rate + settings.hang_rate + settings.drop_rate:
        return Fault.DROP
    return Fault.NONE


class FaultInjector:
    """Holds the current (runtime-replaceable) settings and numbers the requests."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self._seed = seed
        self._seq = 0

    def next(self) -> Fault:
        """Decide the fault of the next generation request."""
        self._seq += 1
        return decide(self.settings, self._seed, self._seq)
