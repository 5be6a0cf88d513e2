"""Read /proc/cpuinfo the way archspec does: the first processor's lines (a `flags` line, a `cpu` line)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ..catalog.families import FEATURES, GENERATION, by_name
from ..catalog.levels import Catalog

PROC_CPUINFO = Path("/proc/cpuinfo")
# The line of a processor block that tells a CPU's level, by the rule of its family (families.py):
# an x86-64 block has `flags` and no `cpu` line, a POWER block a `cpu` line and no `flags`.
LEVEL_LINE = {FEATURES: "flags", GENERATION: "cpu"}


def first_flags(text: str) -> frozenset[str]:
    """The `flags` of the first processor block (empty when there is none)."""
    return frozenset(first_processor(text).get("flags", "").split())


def first_processor(text: str) -> dict[str, str]:
    """The first processor block's `key : value` lines, as archspec's proc_cpuinfo reads them
    (a line without `:` after the first ends the block); a key given twice keeps its first value."""
    data: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if data:
                break
            continue
        data.setdefault(key.strip(), value.strip())
    return data


def read_flags(path: Path = PROC_CPUINFO) -> frozenset[str] | None:
    """The host's flags, or None when the file cannot be read."""
    try:
        return first_flags(path.read_text(errors="replace"))
    except OSError:
        return None



MOUNT = 'mount --bind "$1" /proc/cpuinfo && shift && exec "$@"'


@lru_cache(maxsize=1)
def namespace() -> tuple[str, ...] | None:
    """How to start a private mount namespace here, or None when unshare is missing.

    As root a plain mount namespace; else through passwordless sudo when there is
    one (GitHub's Ubuntu runners restrict unprivileged user namespaces); else a
    user namespace that maps us to root inside it.
    """
    if shutil.which("unshare") is None:
        return None
    if os.geteuid() == 0:
        return ("unshare", "-m")
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return (sudo, "-n", "unshare", "-m")
    return ("unshare", "-r", "-m")


@lru_cache(maxsize=1)
def mount_problem() -> str | None:
    """Why no private mount namespace can be made here (one line), or None when one can."""
    prefix = namespace()
    if prefix is None:
        return "unshare not found (util-linux)"
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        detail = next((line for line in probe.stderr.splitlines() if line.strip()), f"exit {probe.returncode}")
        return f"{' '.join(prefix)} failed: {detail}"
    return None


def mounted(argv: list[str], cpuinfo: Path) -> list[str]:
    """`argv` run where `cpuinfo` is /proc/cpuinfo (a private mount namespace)."""
    prefix = namespace()
    if prefix is None:
        raise RuntimeError("cannot mount a CPU sample over /proc/cpuinfo: unshare not found (util-linux)")
    return [*prefix, "sh", "-c", MOUNT, "sh", str(Path(cpuinfo).resolve()), *argv]


def cpuinfo_generation(text: str, catalog: Catalog) -> int:
    """The generation of a /proc/cpuinfo text of `catalog`'s family, as archspec reads a POWER's: the
    digits after the first cpu_word (families.py, `POWER`) in the first processor's `cpu` line
    (`POWER9, altivec supported`); 0 when there are none (an emulated ppc64le shows its host's cpuinfo)."""
    word = re.escape(by_name(catalog.family).cpu_word)
    found = re.search(word + r"(\d+)", first_processor(text).get("cpu", ""))
    return int(found.group(1)) if found else 0
