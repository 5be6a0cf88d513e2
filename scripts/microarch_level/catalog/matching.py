"""How each solver matches a dependency's build string against `__archspec`.

The gate's dependencies must match what every tool reports, so the project
checks them against each solver's documented semantics:

- libmamba (mamba 1.x and 2.x, conda's default solver): an exact string, or a
  glob where `*` matches any run of characters; no regular expressions.
- conda's classic solver: `^...$` is a regular expression, a string with `*`
  is a glob, anything else is exact.
- rattler (pixi, py-rattler, rattler-build): like conda classic.
"""

from __future__ import annotations

import re
from functools import lru_cache

SOLVERS = ("libmamba", "conda-classic", "rattler")


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)))


def _is_regex(pattern: str) -> bool:
    return len(pattern) >= 2 and pattern.startswith("^") and pattern.endswith("$")


def matches(solver: str, pattern: str, build: str) -> bool:
    """Whether `solver` accepts a virtual package with build string `build` for `pattern`."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver '{solver}'; expected one of {', '.join(SOLVERS)}")
    if _is_regex(pattern):
        return solver != "libmamba" and re.fullmatch(pattern[1:-1], build) is not None
    if "*" in pattern:
        return _glob(pattern).fullmatch(build) is not None
    return pattern == build


def portable(pattern: str) -> bool:
    """True when every solver reads `pattern` the same way (no regex)."""
    return not _is_regex(pattern)
