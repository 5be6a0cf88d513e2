"""Text made safe for a terminal: control characters shown as escapes, never sent raw.

Values from the environment or a pasted solver log (an override holding
`ESC]0;…BEL`, a name with a carriage return) would otherwise retitle the
terminal or overwrite the line they are on.  JSON output needs nothing:
json.dumps already escapes every control character.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """`text` with each control character (newlines too) written as a Python-style escape."""
    return _CONTROL.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m.group(), f"\\x{ord(m.group()):02x}"),
                        text)


def escaped(value):
    """A copy of a JSON-like report with every string escaped."""
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return {k: escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escaped(v) for v in value]
    return value
