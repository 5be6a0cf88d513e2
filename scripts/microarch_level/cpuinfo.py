"""Read /proc/cpuinfo the way archspec does: the first processor's flags."""

from __future__ import annotations

from pathlib import Path

PROC_CPUINFO = Path("/proc/cpuinfo")


def first_flags(text: str) -> frozenset[str]:
    """The `flags` of the first processor block (empty when there is none)."""
    seen = False
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if seen:
                break
            continue
        seen = True
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def read_flags(path: Path = PROC_CPUINFO) -> frozenset[str] | None:
    """The host's flags, or None when the file cannot be read."""
    try:
        return first_flags(path.read_text(errors="replace"))
    except OSError:
        return None


MOUNT = 'mount --bind "$1" /proc/cpuinfo && shift && exec "$@"'


def mounted(argv: list[str], cpuinfo: Path) -> list[str]:
    """`argv` run where `cpuinfo` is /proc/cpuinfo (private mount namespace).

    As root a plain mount namespace; otherwise a user namespace maps us to root
    inside it, which most Linux systems allow without privileges.
    """
    import os

    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    return [*unshare, "sh", "-c", MOUNT, "sh", str(Path(cpuinfo).resolve()), *argv]
