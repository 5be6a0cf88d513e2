"""One way a committed file differs from what archspec's data calls for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drift:
    path: str
    problem: str  # e.g. "stale", "missing", "unexpected"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.problem}: {self.path}" + (f" ({self.detail})" if self.detail else "")
