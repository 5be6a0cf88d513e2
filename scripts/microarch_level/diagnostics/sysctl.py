"""An Intel Mac's CPU as archspec reads it on Darwin: `sysctl`'s machdep.cpu feature words.

macOS has no /proc/cpuinfo.  archspec (cpu/detect.py, _sysctl_info_x86_64) joins the
values of machdep.cpu.features, machdep.cpu.leaf7_features and machdep.cpu.extfeatures,
lower-cases the words and adds the Linux flags of its `conversions.darwin_flags` table
(Catalog.flags_from_darwin).  The runtime guard reads the same keys with one
`sysctl -n` (catalog.levels.SYSCTL_KEYS).  A capture is what `sysctl -a` prints:
`key: value` lines; an Apple Silicon Mac has no such feature keys, and a text that
names no x86-64 level feature tells no level (as in the guard).
"""

from __future__ import annotations

import os
import subprocess

from ..catalog.levels import SYSCTL_KEYS, Catalog

SYSCTL_TIMEOUT = 10  # seconds; sysctl answers at once


def parse(text: str) -> dict[str, str]:
    """A sysctl capture's `key: value` lines (a key given twice keeps its first value)."""
    data: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.strip():
            data.setdefault(key.strip(), value.strip())
    return data


def is_capture(text: str) -> bool:
    """Whether `text` is a macOS sysctl capture (it has machdep.cpu. keys)."""
    return any(k.startswith("machdep.cpu.") for k in parse(text))


def feature_words(text: str) -> str:
    """The words of a capture's three feature keys, joined as archspec joins them."""
    data = parse(text)
    return " ".join(data.get(k, "") for k in SYSCTL_KEYS)


def level_of_words(words: str, catalog: Catalog) -> int | None:
    """The level sysctl's feature words reach, or None when they name no level feature
    (an Apple Silicon Mac, a missing sysctl, garbage): the guard's rule."""
    flags = catalog.flags_from_darwin(words)
    leveled = {f for lv in catalog.levels for f in catalog.level_features[lv]}
    if not flags & leveled:
        return None
    return catalog.level_from_flags(flags)


def read_live() -> tuple[str | None, str | None]:
    """(feature words, None) from this Mac's `sysctl -n KEYS` (what the guard runs), or (None, why not)."""
    try:
        out = subprocess.run(["sysctl", "-n", *SYSCTL_KEYS], capture_output=True, text=True,
                             timeout=SYSCTL_TIMEOUT, errors="replace",
                             env={"PATH": os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin",
                                  "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot run sysctl: {exc.__class__.__name__}"
    return out.stdout, None


def capture_level(text: str, catalog: Catalog) -> int | None:
    """The level an x86 Mac's capture reaches; None for no capture or one naming no x86-64 feature (arm64)."""
    return level_of_words(feature_words(text), catalog) if is_capture(text) else None


def archspec_name(text: str) -> str:
    """archspec's name for the x86 Mac of a capture: its own Darwin reading and choice.

    archspec offers no public call for a given sysctl text: this runs its private
    detect._sysctl_info_x86_64 (what detect.sysctl_info calls on an Intel Mac) and its
    host() choice over that reading, for the pinned archspec (tests/test_matrix.py and
    tests/test_doctor.py check the names against archspec's own run on the captures).
    """
    from unittest import mock

    from archspec.cpu import detect

    info = detect._sysctl_info_x86_64(parse(text))
    with mock.patch.object(detect, "detected_info", lambda: info):
        return detect.host.__wrapped__().name
