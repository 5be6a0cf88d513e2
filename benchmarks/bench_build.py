"""Build and generate times: the two commands a maintainer runs, timed as whole processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Timed:
    command: str
    seconds: float        # the fastest of the repeats
    count: int            # packages built, or files written


def cli() -> list[str]:
    """The `microarch-level` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "microarch-level"
    return [str(script)] if script.exists() else [sys.executable, "-m", "microarch_level"]


def _timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def time_build(root: Path, workdir: Path, repeats: int) -> tuple[Timed, Path]:
    """`microarch-level build` (with the recipe's tests, as `make build`) into a temp channel."""
    channel = workdir / "build_artifacts"
    best = float("inf")
    for _ in range(repeats):
        shutil.rmtree(channel, ignore_errors=True)
        best = min(best, _timed([*cli(), "build", "--root", str(root), "--output", str(channel)], root))
    count = len(list(channel.glob("*/*.conda"))) + len(list(channel.glob("*/*.tar.bz2")))
    return Timed("microarch-level build", best, count), channel


def time_generate(root: Path, workdir: Path, repeats: int) -> Timed:
    """`microarch-level generate` into a feedstock holding only its recipe (what generate
    recognises it by) each time, so it writes every file."""
    target = workdir / "generate-root"
    recipe = Path("recipe") / "recipe.yaml"
    best = float("inf")
    for _ in range(repeats):
        shutil.rmtree(target, ignore_errors=True)
        (target / recipe).parent.mkdir(parents=True)
        shutil.copy2(root / recipe, target / recipe)
        best = min(best, _timed([*cli(), "generate", "--root", str(target)], root))
    count = sum(1 for p in target.rglob("*") if p.is_file()) - 1  # the recipe is not generated
    return Timed("microarch-level generate", best, count)
