"""What archspec and rattler detect on this host, or with a CPU sample as /proc/cpuinfo.

`detect_with(sample)` runs this module in a private mount namespace where the
sample is /proc/cpuinfo (cpuinfo.mounted), to learn both answers for that CPU
without trusting any hand-written expectation.  The matrix and the install
tests both ask it; it is the one place that does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .cpuinfo import mounted


def detect() -> dict:
    """archspec's host name, rattler's `__archspec` build string, and every virtual package
    rattler detects as [name, version, build string]."""
    import archspec.cpu
    from rattler import VirtualPackage

    found = [vp.into_generic() for vp in VirtualPackage.detect()]
    rattler_name = next((str(g.build_string) for g in found if g.name.normalized == "__archspec"), None)
    return {"archspec": archspec.cpu.host().name, "rattler": rattler_name,
            "virtual_packages": [[g.name.normalized, str(g.version), str(g.build_string)] for g in found]}


def detect_with(sample: Path, env: dict | None = None, timeout: float = 300) -> dict:
    """detect() in a process that sees `sample` as /proc/cpuinfo (and `env`, default ours).

    Raises RuntimeError (one line) when the mount namespace cannot be set up.
    """
    argv = mounted([sys.executable, "-m", "microarch_level.diagnostics.hostid"], sample)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise RuntimeError(f"cannot mount {Path(sample).name} over /proc/cpuinfo: {reason}")
    return json.loads(result.stdout)


if __name__ == "__main__":
    from ..process import exit_now

    json.dump(detect(), sys.stdout)
    sys.stdout.write("\n")
    exit_now(0)  # py-rattler's threads can crash the interpreter's finalization (process.py)
