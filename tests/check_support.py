"""The environments and lock files `check` is tested on, made once per session with the real tools.

Downstream packages are built with py-rattler-build from `microarch-level
snippet`'s recipe (tests/test_snippet.py assembles it): `demo-microarch` at
levels 1-4, `demo-low` at levels 1-2 (a package that never needs more than 2)
and `demo-power` at POWER levels 8-10 (built for linux-ppc64le; its script only
records CFLAGS, as no ppc64le compiler runs here).  Their gate constraints are
the flag package's real run-exports.  py-rattler solves them for a CPU and
installs real prefixes (in install_support's worker), writes the pixi.lock,
and conda-lock's own models write the conda-lock.yml from the same solves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from microarch_level.catalog.families import PPC64LE

DEMO, LOW, POWER = "demo-microarch", "demo-low", "demo-power"
PPC_GATE = PPC64LE.gate
BASE_VPS = [["__unix", "0", "0"], ["__linux", "6.0", "0"], ["__glibc", "2.28", "0"]]


def build_downstream(channel: Path, work: Path) -> Path:
    """The three downstream packages, built into work/out (an indexed channel)."""
    import test_snippet
    from test_snippet import assemble, build, printed

    from microarch_level.feedstock.channel import index_channel

    out = work / "out"
    build(assemble(printed("--levels", "1,2,3,4"), work / "demo"), out, channel)
    build(_renamed(assemble(printed("--levels", "1,2"), work / "low"), LOW), out, channel)
    power = _renamed(assemble(printed("--family", "ppc64le", "--levels", "8,9,10"), work / "power"), POWER,
                     script_only=True)
    tested, test_snippet.TESTED_LEVELS = test_snippet.TESTED_LEVELS, set()  # nothing built for POWER runs here
    try:
        build(power, out, channel, platform="linux-ppc64le")
    finally:
        test_snippet.TESTED_LEVELS = tested
    index_channel(out)
    return out


def _renamed(recipe_dir: Path, name: str, *, script_only: bool = False) -> Path:
    recipe = yaml.safe_load((recipe_dir / "recipe.yaml").read_text())
    recipe["package"]["name"] = name
    if script_only:
        recipe["build"]["script"] = recipe["build"]["script"][:2]  # mkdir, record CFLAGS; no compiler
        recipe.pop("tests")
    (recipe_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    return recipe_dir


def virtual_packages(archspec: str) -> list[list[str]]:
    return [*BASE_VPS, ["__archspec", "1", archspec]]


def solve_records(channels: list[Path], specs: list[str], archspec: str, subdir: str = "linux-64"):
    """py-rattler's solve of `specs` for a CPU archspec calls `archspec` (RepoDataRecords)."""
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    from microarch_level.tools.solve import solve

    vps = [GenericVirtualPackage(PackageName(n), Version(v), BuildString(b)) for n, v, b in virtual_packages(archspec)]
    return solve(channels, specs, vps, platforms=(subdir, "noarch"))


def install_prefixes(channels: list[Path], archspec: str, jobs: dict[str, list[str]], work: Path) -> dict[str, Path]:
    """Each job's specs solved for `archspec` and installed with py-rattler (in a worker); name -> prefix."""
    from install_support import rattler_run

    outcomes = rattler_run(channels, virtual_packages(archspec), jobs, work)
    prefixes = {}
    for name, outcome in outcomes.items():
        assert outcome.ok, outcome.summary()
        prefixes[name] = outcome.prefix
    return prefixes


def write_pixi_lock(path: Path, environments: dict[str, dict[str, list]], platforms: dict[str, tuple[str, list]]):
    """A pixi.lock written by py-rattler: environments {name: {platform: records}}, platforms
    {name: (subdir, virtual packages)} as pixi >= 0.71 declares them."""
    from rattler import LockChannel, LockFile, LockPlatform
    from rattler.platform import Subdir

    lock_platforms = {name: LockPlatform(name, Subdir(subdir), vps) for name, (subdir, vps) in platforms.items()}
    lock = LockFile(list(lock_platforms.values()))
    for env, by_platform in environments.items():
        lock.set_channels(env, [LockChannel("https://conda.anaconda.org/conda-forge/")])
        for platform, records in by_platform.items():
            for record in records:
                lock.add_conda_package(env, lock_platforms[platform], record)
    lock.to_path(path)
    return path


def write_conda_lock(path: Path, by_platform: dict[str, list], category: str = "main") -> Path:
    """A conda-lock.yml written by conda-lock's own models from solved records, its dependencies
    converted as conda-lock's conda_solver does (name -> the version part of each MatchSpec)."""
    from conda_lock.lockfile import write_conda_lock_file
    from conda_lock.lockfile.v2prelim.models import HashModel, LockedDependency, Lockfile, LockMeta
    from rattler import MatchSpec

    packages = []
    for platform, records in by_platform.items():
        for r in records:
            dependencies = {}
            for dep in r.depends:
                spec = MatchSpec(dep)
                dependencies[spec.name.normalized] = spec.version or ""
            packages.append(LockedDependency(
                name=r.name.normalized, version=str(r.version), manager="conda", platform=platform,
                dependencies=dependencies, url=r.url, hash=HashModel(md5=r.md5.hex(), sha256=r.sha256.hex()),
                categories={category}))
    meta = LockMeta(content_hash={p: "0" * 64 for p in by_platform}, channels=["conda-forge"],
                    platforms=list(by_platform), sources=["environment.yml"])
    write_conda_lock_file(Lockfile(package=packages, metadata=meta), path, metadata_choices=set())
    return path


def write_explicit(path: Path, prefix: Path) -> Path:
    """The explicit spec file `conda list --explicit --md5` writes for `prefix` (its records' URLs)."""
    lines = ["# This file may be used to create an environment using:",
             "# $ conda create --name <env> --file <this file>", "# platform: linux-64", "@EXPLICIT"]
    for record in sorted((prefix / "conda-meta").glob("*.json")):
        data = json.loads(record.read_text())
        lines.append(f"{data['url']}#{data['md5']}")
    path.write_text("\n".join(lines) + "\n")
    return path


DRIVER = r"""
import contextlib, io, json, sys, traceback
from microarch_level.cli import main
results = []
for argv in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    crashed = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except BaseException:
            status, crashed = None, traceback.format_exc()
    results.append({"status": status, "stdout": out.getvalue(), "stderr": err.getvalue(), "crashed": crashed})
sys.__stdout__.write(json.dumps(results))
sys.__stdout__.flush()
from microarch_level.process import exit_now
exit_now(0)
"""


def run_many(argvs: list[list[str]]) -> list[dict]:
    """Each argv through the CLI's main, all in one process: status, stdout, stderr, and any traceback."""
    proc = subprocess.run([sys.executable, "-c", DRIVER], input=json.dumps(argvs), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)
