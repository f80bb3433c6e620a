"""Counters exposed at `GET /sim/stats` so tests can see what the simulator lived through."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class SimStats:
    """Generation requests (chat + completions) by fate.

    `cancelled` = the client disconnected before the response finished (detected promptly, also while
    queued, in prefill or hung); `dropped` = the simulator cut the connection (drop fault);
    `errors` = answered with an error status (bad request or error fault).
    """

    received: int = 0
    completed: int = 0
    cancelled: int = 0
    dropped: int = 0
    errors: int = 0
    failed: int = 0
    in_flight: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
