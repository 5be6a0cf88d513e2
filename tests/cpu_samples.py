"""/proc/cpuinfo texts made from a real sample: its first processor, or many of them.

The guard tests and the activation benchmark both need a machine with hundreds
of processors (the guard must stop reading after the first); this is the one
place that builds it.
"""

from __future__ import annotations

import re


def first_block(text: str) -> str:
    """The first processor block of a cpuinfo dump as the kernel prints it (COMMENT lines dropped)."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("COMMENT"):
            continue
        if not line.strip():
            if lines:
                break
            continue
        lines.append(line)
    return "\n".join(lines) + "\n\n"


def many_processors(block: str, count: int) -> str:
    """`count` copies of one processor block, numbered like a real multi-core machine."""
    field = re.compile(r"^(processor|apicid|initial apicid)(\s*:\s*)\d+$", re.M)
    return "".join(field.sub(lambda m, i=i: f"{m[1]}{m[2]}{i}", block) for i in range(count))
