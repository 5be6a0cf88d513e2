"""Shared by test_install_rattler.py, test_install_tools.py and test_runners.py.

- finding a real package manager, or saying which executable is missing;
- the downstream package the tests build (a tiny recipe with
  `x86_64-microarch-level` in its build requirements), once per session;
- what a CPU should get: the gate level of an `__archspec` report, the
  downstream build for a level;
- running rattler (py-rattler) solves and installs in a worker process, and
  `VirtualPackage.detect()` with a CPU sample mounted over /proc/cpuinfo.

Every py-rattler install runs in a worker subprocess that leaves with
os._exit: py-rattler 0.28 sometimes crashes while the interpreter shuts down
after `rattler.install` (about one run in ten here), which would turn a
passing pytest session into a failed one.

Run as a script (`python install_support.py worker`), it is that worker: it
reads one JSON request on stdin and prints one JSON answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from microarch_level.catalog.families import FLAGS, GATE
from microarch_level.diagnostics.cpuinfo import namespace
from microarch_level.diagnostics.hostid import detect_with
from microarch_level.process import exit_now

DOWNSTREAM = "microarch-probe"
# conda-forge's documented downstream variant (knowledge base, "Microarchitecture-optimized
# builds"): levels 1, 3 and 4, build numbers offset by 100 per level so the highest level
# the host reaches wins.
DOWNSTREAM_LEVELS = (1, 3, 4)
BUILD_OFFSET = 100
CFLAGS_FILE = Path("share") / DOWNSTREAM / "cflags"

UNPINNED = "unpinned"
DOWNSTREAM_SCENARIO = "downstream"


def pin(level: int) -> str:
    return f"pin{level}"


def scenarios(levels) -> dict[str, list[str]]:
    """Scenario name -> specs: the gate unpinned, pinned to each level, and the downstream package."""
    table = {UNPINNED: [GATE]}
    table.update({pin(k): [f"{GATE}=={k}"] for k in levels})
    table[DOWNSTREAM_SCENARIO] = [DOWNSTREAM]
    return table


# ----------------------------------------------------------------------------
# Finding the real tools.

def locate(tool: str):
    """tool_runs.locate(tool), with an unreadable version returned (as the RunnerError) instead of raised."""
    import tool_runs

    try:
        return tool_runs.locate(tool)
    except tool_runs.RunnerError as exc:
        return exc


def require(tool: str, found):
    """`found` (what locate returned) as a tool_runs.Tool, or end the test saying why it cannot run.

    Not installed: skip, naming the executable and the variable that points at
    it.  Named by MICROARCH_LEVEL_<TOOL> but not runnable, or its version not
    readable: fail, since someone asked for that tool to be tested.
    """
    import os

    import pytest
    import tool_runs

    if isinstance(found, tool_runs.Tool):
        return found
    if isinstance(found, Exception):
        pytest.fail(f"{tool}: {found}", pytrace=False)
    if os.environ.get(tool_runs.env_var(tool)):
        pytest.fail(tool_runs.missing(tool), pytrace=False)
    pytest.skip(tool_runs.missing(tool))


# What a skip's reason starts with when this tool version or this machine has no such case
# (a test that could not run says anything else; `make test-tools` tells them apart).
DOES_NOT_APPLY = "does not apply: "


def does_not_apply(reason: str):
    """Skip a test whose case this tool version or this machine does not have."""
    import pytest

    pytest.skip(DOES_NOT_APPLY + reason)


# How a test gave the tool its CPU: this machine's own, CONDA_OVERRIDE_ARCHSPEC, or a qemu CPU model.
HOST, OVERRIDE, EMULATED = "host", "override", "emulated"
COVERAGE = (HOST, OVERRIDE, EMULATED)
COVERS = "covers"   # the test's user property: [how, level] (`make test-tools` counts the levels covered)


def covers(request, how: str, level: int) -> None:
    """Say that the running test, when it passes, covers CPU level `level` given the way `how`."""
    request.node.user_properties.append((COVERS, [how, level]))


# ----------------------------------------------------------------------------
# Expectations.

def report_level(catalog, report: tuple[str, str] | None) -> int:
    """The level of the CPU an `__archspec` report names, in any spelling (1 for none or unknown)."""
    from microarch_level.catalog.levels import LEVELS
    from microarch_level.catalog.spelling import UnknownName, normalize

    if report is None:
        return LEVELS[0]
    try:
        return normalize(report[1], catalog).level
    except UnknownName:
        return LEVELS[0]


def downstream_level(level: int) -> int:
    """The level of the downstream build a CPU at `level` should get: the highest one it reaches."""
    return max(k for k in DOWNSTREAM_LEVELS if k <= level)


def host_level(catalog) -> int | None:
    """This machine's level by its real /proc/cpuinfo flags (archspec's rule), None if unreadable."""
    from microarch_level.diagnostics.cpuinfo import read_flags

    flags = read_flags()
    return None if flags is None else catalog.level_from_flags(flags)


def level_seen_by(catalog, detection: str) -> int | None:
    """This machine's level as a tool detecting the CPU by `detection` (tools.Style) sees it.

    archspec-based tools read /proc/cpuinfo (which `make test`'s second run replaces
    by a level-2 sample); mamba's CPUID detection sees the real CPU, as glibc's
    loader does.  A fixed report (NOWHERE) takes any level.  None: unknown here.
    """
    from microarch_level.diagnostics.probe import probe_glibc
    from microarch_level.tools.facts import CPUID

    if detection == CPUID:
        return probe_glibc(catalog).level
    return host_level(catalog)


# ----------------------------------------------------------------------------
# A lower (or higher) CPU for tools that read it themselves: qemu user mode.

QEMU = "qemu-x86_64"
# qemu's CPU models tried for each level, lowest first; the level a model really presents is what
# glibc's loader says under it (probe_glibc), so a model qemu cannot fully emulate is never trusted.
# qemu 7.2's TCG has no AVX-512 ("TCG doesn't support requested feature: CPUID.07H:EBX.avx512f"
# under -cpu Skylake-Server, Icelake-Server or max), so level 4 is found only where a qemu can.
QEMU_MODELS = ("qemu64", "Nehalem", "Haswell", "Skylake-Server", "Icelake-Server", "Sapphire-Rapids", "max")
_EMULATED: dict[int, str] | None = None


def emulated_levels(catalog) -> dict[int, str]:
    """Level -> the first qemu CPU model under which glibc's loader sees exactly that level (once per session)."""
    import shutil

    from microarch_level.catalog.families import X86_64
    from microarch_level.diagnostics.probe import probe_glibc

    global _EMULATED
    if _EMULATED is None:
        _EMULATED = {}
        qemu = shutil.which(QEMU)
        for model in QEMU_MODELS if qemu else ():
            seen = probe_glibc(catalog, [qemu, "-cpu", model, X86_64.loader])
            if seen.available and seen.level is not None:
                _EMULATED.setdefault(seen.level, model)
    return _EMULATED


def emulated(tool, model: str, folder: Path):
    """`tool` (a tool_runs.Tool) run by qemu user mode as CPU `model`: a wrapper executable in `folder`."""
    import shutil

    import tool_runs

    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / tool.name
    wrapper.write_text(f"#!/bin/sh\nexec {shutil.which(QEMU)} -cpu {model} {tool.exe} \"$@\"\n")
    wrapper.chmod(0o755)
    return tool_runs.Tool(tool.name, wrapper, tool.version)


def gate_level(outcome) -> int | None:
    gate = outcome.package(GATE)
    return None if gate is None else int(gate.version)


# ----------------------------------------------------------------------------
# The behaviours every installer must show; `get(scenario)` returns a tool_runs.Outcome.

def check_unpinned_gate(get, level: int) -> None:
    outcome = get(UNPINNED)
    assert outcome.ok, outcome.summary()
    assert gate_level(outcome) == level, outcome.summary()


def check_pins_up_to_level(get, level: int, levels) -> None:
    got = {k: (get(pin(k)).status, gate_level(get(pin(k)))) for k in levels if k <= level}
    assert got == {k: ("installed", k) for k in levels if k <= level}, \
        "\n\n".join(get(pin(k)).summary() for k in levels if k <= level)


def check_pins_above_level(get, level: int, levels) -> None:
    """Each pin above `level` is refused because of __archspec, with the channel proven loaded.

    Proof of the cause: the solver's explanation names an __archspec
    requirement of the gate (tests/refusal.py), and no line says a
    package or channel is missing.  Proof the channel was loaded: the same
    command without the pin, same channels and CPU, installs the gate.
    """
    from refusal import ARCHSPEC, classify

    above = [k for k in levels if k > level]
    if not above:
        does_not_apply(f"no level above {level} to pin")
    unpinned = get(UNPINNED)
    assert unpinned.ok and gate_level(unpinned) is not None, (
        "nothing was tested: the same command without a pin did not install the gate, so the channel "
        "may not have loaded\n" + unpinned.summary())
    for k in above:
        outcome = get(pin(k))
        verdict = classify(outcome.output, GATE)
        assert (outcome.status, verdict.kind) == ("unsatisfiable", ARCHSPEC), \
            f"pin {k}: {verdict.kind}: {verdict.evidence}\n{outcome.summary()}"


def check_downstream_build(get, level: int) -> None:
    outcome = get(DOWNSTREAM_SCENARIO)
    assert outcome.ok, outcome.summary()
    package = outcome.package(DOWNSTREAM)
    assert package is not None, outcome.summary()
    assert package.build_number == downstream_level(level) * BUILD_OFFSET, outcome.summary()


def check_downstream_depends(get, level: int) -> None:
    outcome = get(DOWNSTREAM_SCENARIO)
    assert outcome.ok, outcome.summary()
    package = outcome.package(DOWNSTREAM)
    assert package is not None, outcome.summary()
    gates = [d for d in package.depends if d.split()[0] == GATE]
    assert gates == [f"{GATE} >={downstream_level(level)}"], package.depends


# ----------------------------------------------------------------------------
# The downstream package.

RECIPE = f"""\
schema_version: 1

package:
  name: {DOWNSTREAM}
  version: "1.0"

build:
  # conda-forge's offsets: +100 per level, so level 4 (400) beats 3 (300) beats 1 (100)
  number: ${{{{ (microarch_level | int) * {BUILD_OFFSET} }}}}
  script:
    - mkdir -p "$PREFIX/share/{DOWNSTREAM}"
    - printf '%s\\n' "$CFLAGS" > "$PREFIX/{CFLAGS_FILE.as_posix()}"

requirements:
  host:  # not build: the run-export then reaches run only, so any machine builds every level
    - {FLAGS} ==${{{{ microarch_level }}}}
"""


def build_downstream(channel: Path, work: Path) -> Path:
    """Build the downstream recipe for DOWNSTREAM_LEVELS into work/channel; return that channel.

    The flag package is in `host:` (as `microarch-level snippet` prints), so every
    level builds on this machine whatever its CPU (conda-forge.github.io#2105).
    """
    from microarch_level.feedstock.channel import build_recipe

    recipe = work / "recipe" / "recipe.yaml"
    recipe.parent.mkdir(parents=True, exist_ok=True)
    recipe.write_text(RECIPE, encoding="utf-8")
    out = work / "channel"
    build_recipe(recipe, out, [channel], variants={"microarch_level": [str(k) for k in DOWNSTREAM_LEVELS]})
    return out


_DOWNSTREAM: dict[Path, Path] = {}


def downstream_channel(channel: Path, tmp_path_factory) -> Path:
    """The downstream channel, built once per session whichever test module asks first."""
    key = Path(channel).resolve()
    if key not in _DOWNSTREAM:
        _DOWNSTREAM[key] = build_downstream(key, tmp_path_factory.mktemp("downstream"))
    return _DOWNSTREAM[key]


# ----------------------------------------------------------------------------
# rattler in a worker process.

def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONDA_OVERRIDE_")}


def mount_command() -> tuple[str, ...] | None:
    """How to start a private mount namespace here (see cpuinfo.namespace); None if impossible."""
    return namespace()


def detect_with_sample(sample: Path, prefix: tuple[str, ...]) -> list[list[str]]:
    """rattler.VirtualPackage.detect() in a process that sees `sample` as /proc/cpuinfo.

    Raises RuntimeError (one line) when the mount namespace cannot be set up.
    """
    return detect_with(sample, env=_clean_env())["virtual_packages"]


def rattler_run(channels: list[Path], virtual_packages: list[list[str]], jobs: dict[str, list[str]],
                work: Path) -> dict:
    """Solve and install each job (name -> specs) with rattler in a worker process.

    Returns name -> tool_runs.Outcome (driver "rattler"), each installed into
    its own prefix under `work`.
    """
    from tool_runs import INSTALLED, Installed, Outcome, failure_status

    request = {"channels": [str(Path(c).resolve()) for c in channels], "virtual_packages": virtual_packages,
               "jobs": {name: {"specs": specs, "prefix": str(work / name)} for name, specs in jobs.items()}}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "worker"], input=json.dumps(request),
                          env=_clean_env(), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"rattler worker exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    answer = json.loads(proc.stdout)
    outcomes = {}
    for name, result in answer.items():
        packages = [Installed(p["name"], p["version"], p["build"], p["build_number"], tuple(p["depends"]))
                    for p in result["packages"]]
        installed = result["status"] == INSTALLED
        status = INSTALLED if installed else failure_status(result["output"])
        outcomes[name] = Outcome("rattler", status, packages, result["output"], None,
                                 ["rattler.solve", *jobs[name]], Path(result["prefix"]) if installed else None)
    return outcomes


def _worker() -> None:
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version
    from tool_runs import read_conda_meta

    from microarch_level.tools.solve import Unsatisfiable, install, solve

    request = json.loads(sys.stdin.read())
    vps = [GenericVirtualPackage(PackageName(n), Version(v), BuildString(b))
           for n, v, b in request["virtual_packages"]]
    channels = [Path(c) for c in request["channels"]]
    answer = {}
    for name, job in request["jobs"].items():
        prefix = Path(job["prefix"])
        try:
            records = solve(channels, job["specs"], vps)
        except Unsatisfiable as exc:
            answer[name] = {"status": "unsatisfiable", "output": str(exc), "packages": [], "prefix": None}
            continue
        install(records, prefix)
        answer[name] = {"status": "installed", "output": "", "prefix": str(prefix),
                        "packages": [{"name": p.name, "version": p.version, "build": p.build,
                                      "build_number": p.build_number, "depends": list(p.depends)}
                                     for p in read_conda_meta(prefix)]}
    sys.stdout.write(json.dumps(answer))
    exit_now(0)  # skip interpreter shutdown: see the module docstring


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        _worker()
    sys.exit("usage: install_support.py worker  (reads a JSON request on stdin)")
