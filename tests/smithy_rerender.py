"""A real conda-smithy, where one is installed: find it and rerender a clean clone with it.

conda-smithy is on neither PyPI nor Debian (PyPI holds a 0.0.0 placeholder), so the
test and the benchmark that use it run only where MICROARCH_LEVEL_CONDA_SMITHY names
its executable and MICROARCH_LEVEL_CONDA_SMITHY_PINNING the conda-forge-pinning
`recipe/conda_build_config.yaml` to render with (`-e`); `docs/rerender.md` says how
to install one.  The rerender runs offline (`--no-check-uptodate`, which otherwise
asks conda-forge for the newest conda-smithy and pinning) with the executable's
directory first on PATH, where conda-smithy's environment keeps `rattler-build`, through
smithy_count.py, which runs conda-smithy's own `main` and counts the variants of each output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SMITHY_VAR = "MICROARCH_LEVEL_CONDA_SMITHY"
PINNING_VAR = "MICROARCH_LEVEL_CONDA_SMITHY_PINNING"
COUNTER = Path(__file__).with_name("smithy_count.py")
WHY_ABSENT = (f"conda-smithy not installed: set {SMITHY_VAR} to its executable and {PINNING_VAR} "
              "to conda-forge-pinning's recipe/conda_build_config.yaml")


@dataclass
class Rerender:
    seconds: float        # wall clock, from /usr/bin/time
    cpu_seconds: float    # user + system time, which a busy machine inflates less
    peak_mib: float       # maximum resident set size, from /usr/bin/time
    status: list[str]     # `git status --porcelain` of the clone afterwards
    variants: list[int]   # per rendered output, the variant dicts conda-smithy compares (smithy_count.py)


def find() -> tuple[str, str] | None:
    """(conda-smithy executable, pinning file) when both are named and exist, else None."""
    smithy, pinning = os.environ.get(SMITHY_VAR), os.environ.get(PINNING_VAR)
    exe = shutil.which(smithy) if smithy else None
    if exe is None or not pinning or not Path(pinning).is_file():
        return None
    return exe, pinning


def python_of(exe: str) -> str:
    """The Python of conda-smithy's environment: beside its executable, in a venv or a conda env alike."""
    for name in ("python", "python3"):
        if (Path(exe).parent / name).is_file():
            return str(Path(exe).parent / name)
    raise RuntimeError(f"no python beside {exe}: smithy_count.py must run in conda-smithy's environment")


def rerender_clone(root: Path, clone: Path, exe: str, pinning: str) -> Rerender:
    """Clone `root`'s HEAD into `clone` (which must not exist), rerender it, and measure the rerender."""
    subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
    env = {**os.environ, "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    counts = clone.parent / f"{clone.name}-variants.json"
    argv = ["/usr/bin/time", "-v", python_of(exe), str(COUNTER), str(counts),
            "rerender", "--no-check-uptodate", "-e", pinning]
    proc = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"conda-smithy rerender failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr))
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.splitlines()
    return Rerender(seconds, cpu, int(peak.group(1)) / 1024, status, json.loads(counts.read_text()))
