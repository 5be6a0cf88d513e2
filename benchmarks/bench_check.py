"""What `microarch-level check` costs on a large lock file, as a ratio to py-rattler's plain parse of it.

A pixi.lock of RECORDS records × ENVIRONMENTS environments is written with
py-rattler's lock-file API (linux-64, with pixi's per-platform virtual
packages); every environment holds the gate and one record in GATED depends on
it at level 2, 3 or 4, the others on a few neighbours, as a real lock's records
do.  The fleet is MACHINES real /proc/cpuinfo samples (tests/data/cpuinfo,
each under two names).  Each round times, moments apart, `LockFile.from_path`
alone and the whole check (read, judge every environment × machine, render the
JSON), both in this process; the ratio is the median of the rounds' ratios.
The command as a user runs it (a fresh process) is timed too, for the absolute
figure.

Run alone: `python benchmarks/bench_check.py` prints the figures.
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RECORDS = 5000
ENVIRONMENTS = 4
MACHINES = 20
GATED = 50   # one record in GATED depends on the gate
HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "tests" / "data" / "cpuinfo"


@dataclass
class CheckTimed:
    records: int
    environments: int
    machines: int
    parse: float      # median seconds of LockFile.from_path
    check: float      # median seconds of the whole check in-process
    ratio: float      # median over rounds of check ÷ parse
    command: float    # median seconds of `microarch-level check` as a fresh process
    status: int       # its exit status (1: some environment does not run somewhere)


def write_lock(path: Path, records: int = RECORDS, environments: int = ENVIRONMENTS) -> Path:
    from rattler import BuildString, LockChannel, LockFile, LockPlatform, PackageRecord, RepoDataRecord

    from microarch_level.catalog.families import GATE

    channel = "https://conda.anaconda.org/conda-forge/"
    platform = LockPlatform("linux-64", virtual_packages=["__unix=0=0", "__linux=4.18", "__glibc=2.28",
                                                          "__archspec=0=x86_64"])
    lock = LockFile([platform])

    def record(name: str, version: str, build: str, depends: list[str], subdir: str = "linux-64"):
        digest = hashlib.sha256(f"{name}-{version}-{build}".encode()).digest()
        package = PackageRecord(name, version, BuildString(build), 0, subdir, depends=depends, sha256=digest,
                                md5=digest[:16])
        filename = f"{name}-{version}-{build}.conda"
        return RepoDataRecord(package, filename, f"{channel}{subdir}/{filename}", channel)

    for e in range(environments):
        env = f"env{e}"
        lock.set_channels(env, [LockChannel(channel)])
        top = 2 + e % 3
        lock.add_conda_package(env, platform, record(GATE, str(top), f"5_x86_64_v{top}",
                                                     [f"__archspec * x86*64*v{top}"], "noarch"))
        for i in range(records - 1):
            depends = [f"lib{j} >=1.0" for j in range(max(0, i - 3), i)]
            if i % GATED == 0:
                depends.append(f"{GATE} >={2 + (i // GATED) % (top - 1)}")
            lock.add_conda_package(env, platform, record(f"lib{i}", "1.0", f"h{i:08x}_0", depends))
    lock.to_path(path)
    return path


def fleet(directory: Path, machines: int = MACHINES) -> Path:
    samples = sorted(p for p in SAMPLES.iterdir() if p.name.startswith("linux-"))
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(machines):
        source = samples[n % len(samples)]
        shutil.copy(source, directory / f"{source.name}-{n // len(samples)}")
    return directory


def _check_once(lock: Path, machines: Path) -> str:
    import argparse
    import contextlib
    import io

    from microarch_level.diagnostics import check

    args = argparse.Namespace(targets=[str(lock)], cpu=[], cpuinfo=[], cpuinfo_dir=[str(machines)], pkgs_dir=[],
                              format="json")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check.run(args)
    return out.getvalue()


def time_check(workdir: Path, repeats: int) -> CheckTimed:
    from rattler import LockFile

    lock = write_lock(workdir / "pixi.lock")
    machines = fleet(workdir / "fleet")
    _check_once(lock, machines)  # warm-up: imports, the catalogs, the constraint cache is per process anyway
    parses, checks, ratios = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        LockFile.from_path(lock)
        parse = time.perf_counter() - started
        started = time.perf_counter()
        _check_once(lock, machines)
        whole = time.perf_counter() - started
        parses.append(parse)
        checks.append(whole)
        ratios.append(whole / parse)
    commands, status = [], 0
    for _ in range(max(1, repeats // 3)):
        started = time.perf_counter()
        status = subprocess.run([*_cli(), "check", str(lock), "--cpuinfo-dir", str(machines), "--format", "json"],
                                capture_output=True).returncode
        commands.append(time.perf_counter() - started)
    return CheckTimed(RECORDS, ENVIRONMENTS, MACHINES, statistics.median(parses), statistics.median(checks),
                      statistics.median(ratios), statistics.median(commands), status)


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "microarch-level"
    return [str(script)] if script.exists() else [sys.executable, "-m", "microarch_level"]


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="microarch-bench-check-"))
    try:
        t = time_check(workdir, 15)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{t.records} records × {t.environments} environments, {t.machines} machines: "
          f"parse {t.parse * 1e3:.0f} ms, check {t.check * 1e3:.0f} ms in-process (median ratio {t.ratio:.2f}×), "
          f"`microarch-level check` as a process {t.command * 1e3:.0f} ms (exit {t.status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
