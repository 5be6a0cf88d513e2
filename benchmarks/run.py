"""Measure what the microarch-level packages cost; print a table and write benchmarks/RESULTS.md.

    make bench                                   # = .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --quick --no-write   # smoke run, numbers meaningless

Ratios are the headline: absolute times hold for the machine described in the
output only.  Nothing here is a test; no time is asserted anywhere.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "scripts"), str(ROOT / "tests")]  # tests/: shells, cpu_samples

import bench_activation as act  # noqa: E402
import bench_build  # noqa: E402
import bench_check  # noqa: E402
import bench_rerender  # noqa: E402
import bench_solve  # noqa: E402
import smithy_rerender  # noqa: E402
from cpu_samples import first_block, many_processors  # noqa: E402

GATE_LEVEL = 4            # the gate with the most features to match, on a level-4 sample
FLAG_LEVEL = 3
PROCESSORS = 256
ARCHSPEC_CODE = "import archspec.cpu; archspec.cpu.host()"
# The targets: archspec per process ÷ guard per activation, per shell.
GUARD_RATIO = {"bash": 600.0, "zsh": 600.0, "dash": 200.0, "ksh93": 200.0, "mksh": 200.0,
               "fish": 150.0, "tcsh": 60.0}
FLOOR_SHELLS = ("dash", "ksh93", "mksh")   # may meet their target within FLOOR_RATIO of their floor instead
FLOOR_RATIO = 1.5
CORES_RATIO = 1.1         # 256-proc ÷ 1-proc
CYCLE_RATIO = {"bash": 200.0, "zsh": 200.0}   # archspec ÷ flag activate + deactivate cycle


@dataclass(frozen=True)
class Settings:
    repeats: int          # interleaved repeats of each shell loop (min/median/max reported)
    target: float         # seconds one timed shell loop should last
    max_n: int            # cap on loop iterations
    counted_n: int        # activations per shell run under callgrind (section 7)
    build_repeats: int
    generate_repeats: int
    solve_repeats: int


FULL = Settings(repeats=9, target=0.2, max_n=20000, counted_n=20, build_repeats=2, generate_repeats=5, solve_repeats=30)
QUICK = Settings(repeats=1, target=0.01, max_n=20, counted_n=2, build_repeats=1, generate_repeats=1, solve_repeats=2)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# The machine.

def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "not installed"
    return out.splitlines()[0] if out else "unknown"


def shell_versions() -> dict[str, str]:
    dpkg = shutil.which("dpkg-query")
    return {
        "bash": _first_line(["bash", "-c", "echo $BASH_VERSION"]),
        "dash": _first_line(["dpkg-query", "-W", "-f=${Version}", "dash"]) if dpkg else "unknown",
        "zsh": _first_line(["zsh", "-fc", "echo $ZSH_VERSION"]),
        "ksh93": _first_line(["ksh93", "-c", "echo ${.sh.version}"]),
        "mksh": _first_line(["mksh", "-c", "echo $KSH_VERSION"]),
        "fish": _first_line(["fish", "--version"]).removeprefix("fish, version "),
        "tcsh": _first_line(["tcsh", "-fc", "echo $tcsh"]),
    }


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def describe_machine() -> dict[str, str]:
    import archspec.cpu

    from microarch_level.catalog.levels import load_catalog

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    processors = sum(1 for line in cpuinfo if line.startswith("processor"))
    try:
        os_name = platform.freedesktop_os_release()["PRETTY_NAME"]
    except (OSError, KeyError):
        os_name = platform.platform()
    host = archspec.cpu.host()
    try:
        level = f"x86-64 level {load_catalog().level_of(host.name)}"
    except KeyError:
        level = f"not an x86-64 name (generic {host.generic.name})"
    version = importlib.metadata.version
    info = {
        "CPU": models[0] if models else "unknown",
        "archspec host": f"{host.name}, {level}",
        "cores": f"{os.cpu_count()} ({processors} processor blocks in /proc/cpuinfo)",
        "load average at start": load_average(),
        "OS / kernel": f"{os_name} / Linux {platform.release()}",
        "Python": platform.python_version(),
        "archspec": version("archspec"),
        "py-rattler": version("py-rattler"),
        "py-rattler-build": version("py-rattler-build"),
    }
    info.update({f"shell: {k}": v for k, v in shell_versions().items()})
    return info


def host_level() -> int:
    import archspec.cpu

    from microarch_level.catalog.levels import load_catalog

    try:
        return load_catalog().level_of(archspec.cpu.host().name)
    except KeyError:
        return 1


def command_line(argv: list[str]) -> str:
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    exact = f"`{shlex.join([python, 'benchmarks/run.py', *argv])}`"
    return f"`make bench`, which runs {exact}" if os.environ.get("MAKELEVEL") and not argv else exact


# ----------------------------------------------------------------------------
# Set-up: installed prefixes and CPU samples.

def install_prefixes(channel: Path, workdir: Path, gate_level: int) -> tuple[Path, Path]:
    """A prefix with the gate, and one with the flag package, installed from `channel` with rattler."""
    from microarch_level.tools.solve import archspec_package, base_virtual_packages, install, solve

    vps = base_virtual_packages() + [archspec_package("x86_64_v4")]  # a CPU every gate installs on

    def make(spec: str, name: str) -> Path:
        prefix = workdir / "prefixes" / name
        install(solve([channel], [spec], vps), prefix)
        return prefix

    return make(f"{act.GATE}=={gate_level}", f"gate{gate_level}"), make(f"{act.FLAGS}=={FLAG_LEVEL}",
                                                                      f"flags{FLAG_LEVEL}")


def cpu_samples(workdir: Path, sample_dir: Path) -> tuple[str, dict[str, Path], str | None]:
    """(sample name, {label: file to mount}, why mounting is impossible here or None)."""
    name, text = act.pick_sample(sample_dir)
    block = first_block(text)
    one, many = workdir / "cpuinfo-1", workdir / f"cpuinfo-{PROCESSORS}"
    one.write_text(block)
    many.write_text(many_processors(block, PROCESSORS))
    return name, {ONE: one, MANY: many}, act.mount_problem(one)


# ----------------------------------------------------------------------------
# Formatting: every cell comes from a measurement of this run.

ONE, MANY = "1-proc", f"{PROCESSORS}-proc"


@dataclass
class Measured:
    settings: Settings
    quick: bool
    machine: dict[str, str]
    command: str
    sample: str
    cpuinfo: str              # what the guards read: the label of the headline cpuinfo
    gate_level: int
    mount_note: str | None
    archspec: act.Result
    guards: dict[tuple[str, str], act.Result]
    floors: dict[str, act.Result]
    flags: dict[str, act.Result]
    build: bench_build.Timed
    generate: bench_build.Timed
    solves: list[bench_solve.Solve]
    check: bench_check.CheckTimed
    instructions: dict[str, tuple[int, int]]
    instructions_note: str | None
    load_at_end: str
    variants: bench_rerender.VariantCount | None = None
    rerender: smithy_rerender.Rerender | None = None
    upstream: smithy_rerender.Rerender | None = None


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "skipped"
    x = seconds * 1e3
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def us(seconds: float | None) -> str:
    if seconds is None:
        return "skipped"
    x = seconds * 1e6
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def spread(r: act.Result, unit=us) -> list[str]:
    """The min, median and max cells of a result."""
    return [unit(r.min), unit(r.median), unit(r.max)]


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def times(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.0f}×" if r >= 10 else f"{r:.2f}×"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "missed"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(row) + " |" for row in rows]


@dataclass
class Check:
    """One target for one shell: what was measured against it, the target, and whether it is met."""

    value: str
    target: str
    ok: bool | None


def guard_check(m: Measured, shell: str) -> Check:
    """archspec ÷ guard (medians) against the shell's target; dash-like shells may meet it at their floor."""
    guard = m.guards[(shell, m.cpuinfo)]
    vs_archspec = m.archspec.over(guard)
    ok = None if vs_archspec is None else vs_archspec >= GUARD_RATIO[shell]
    value, target = times(vs_archspec), f"≥ {GUARD_RATIO[shell]:.0f}×"
    if shell in FLOOR_SHELLS:
        vs_floor = guard.over(m.floors[shell])
        value += f"; {times(vs_floor)} its floor"
        target += f", or ≤ {FLOOR_RATIO}× its floor"
        if vs_floor is not None:
            ok = bool(ok) or vs_floor <= FLOOR_RATIO
    return Check(value, target, ok)


def cores_check(m: Measured, shell: str) -> Check:
    r = m.guards.get((shell, MANY), act.Result()).over(m.guards.get((shell, ONE), act.Result()))
    return Check(times(r), f"≤ {CORES_RATIO}×", None if r is None else r <= CORES_RATIO)


def cycle_check(m: Measured, shell: str) -> Check:
    r = m.archspec.over(m.flags[shell])
    target = CYCLE_RATIO.get(shell)
    return Check(times(r), f"≥ {target:.0f}×" if target else "—",
                 None if r is None or target is None else r >= target)


def targets_section(m: Measured) -> list[str]:
    rows = [["guard: archspec ÷ guard", s, *(lambda c: [c.value, c.target, verdict(c.ok)])(guard_check(m, s))]
            for s in act.SHELLS]
    if MANY in {label for _, label in m.guards}:
        rows += [[f"guard: {MANY} ÷ {ONE}", s, *(lambda c: [c.value, c.target, verdict(c.ok)])(cores_check(m, s))]
                 for s in act.SHELLS]
    rows += [["flag cycle: archspec ÷ cycle", s, *(lambda c: [c.value, c.target, verdict(c.ok)])(cycle_check(m, s))]
             for s in CYCLE_RATIO]
    return ["## Targets", "",
            "From issue 17.  Every ratio compares two figures of this run: `archspec.cpu.host()` in a fresh "
            f"Python process (median {ms(m.archspec.median)} ms) ÷ the guard of gate {m.gate_level} per "
            f"activation ({m.cpuinfo}), or {MANY} ÷ {ONE} guard costs, or archspec ÷ the flag package's full "
            f"cycle.  Each round of the run times every case once, in turn; a ratio is the median, over the "
            f"{m.settings.repeats} rounds, of the ratio of the two figures of one round, taken moments apart, so a "
            "slow spell of the shared machine weighs on both sides of it.  Verdicts are this run's only: nothing "
            "asserts them.", "",
            *table(["target", "shell", "measured", "target", "verdict"], rows), ""]


def guard_section(m: Measured) -> list[str]:
    where = (f"the real sample {m.sample} (its first processor block, a level-4 CPU) bind-mounted over "
             "/proc/cpuinfo (`unshare -m`)" if m.cpuinfo == ONE else f"this host's /proc/cpuinfo ({m.mount_note})")
    rows, notes = [], []
    for shell in act.SHELLS:
        r = m.guards[(shell, m.cpuinfo)]
        c = guard_check(m, shell)
        rows.append([shell, *spread(r), times(m.archspec.over(r)), c.target, verdict(c.ok)])
        notes += [f"- {shell}, {label}: {x.note}" for (s, label), x in m.guards.items() if s == shell and x.note]
    lines = [f"## 1. Gate guard {m.gate_level}: cost per activation", "",
             f"A fresh shell sources the installed guard N times with {where}; in the same process before it, the "
             "same loop sourcing an empty file N times; the difference ÷ N is one sample, and the "
             f"{m.settings.repeats} samples of each case, interleaved with every other case, give min/median/max.  "
             "The archspec baseline is timed the same way, in the same rounds (a dash loop starting the Python "
             "process, under the same mounted sample); archspec ÷ guard pairs the two samples of each round "
             "(see Targets).", "",
             *table(["shell", "min µs", "median µs", "max µs", "archspec ÷ guard", "target", "verdict"], rows), ""]
    if notes:
        lines += ["Notes (the guard's common path prints nothing):", "", *notes, ""]
    lines += table(["baseline", "min ms", "median ms", "max ms"],
                   [[f'archspec: `python -c "{ARCHSPEC_CODE}"`', *spread(m.archspec, ms)]]) + [""]
    return lines


def floor_section(m: Measured) -> list[str]:
    rows = []
    for shell in act.SHELLS:
        r, guard = m.floors[shell], m.guards[(shell, m.cpuinfo)]
        rows.append([shell, act.FLOOR_WHAT[shell], *spread(r), times(guard.over(r)), times(m.archspec.over(r)),
                     f"≤ {FLOOR_RATIO}×" if shell in FLOOR_SHELLS else "—"])
    return ["## 2. Floors: the least each shell's guard must do", "",
            "A file holding only the read the guard cannot avoid (open /proc/cpuinfo and read to the first flags "
            "line with the shell's cheapest builtin, nothing matched; for tcsh, which has no builtin that reads "
            "a file, one `/bin/sh` doing that read), sourced and timed exactly like the guard, same cpuinfo, "
            "same N.  archspec ÷ floor is the best ratio a guard in that shell could reach.  "
            f"dash, ksh93 and mksh meet their target when within {FLOOR_RATIO}× of it.", "",
            *table(["shell", "floor", "min µs", "median µs", "max µs", "guard ÷ floor", "archspec ÷ floor",
                    "target"], rows), ""]


def instruction_section(m: Measured) -> list[str]:
    head = ["## 7. Instructions per activation (callgrind)", ""]
    if m.instructions_note:
        return head + [f"Skipped: {m.instructions_note}.", ""]
    rows = [[s, f"{g:,}", f"{f:,}", times(ratio(g, f))] if (g, f) != (None, None) else [s, "n/a", "n/a", "n/a"]
            for s, (g, f) in ((s, m.instructions.get(s, (None, None))) for s in act.SHELLS)]
    return head + ["User-space instructions the shell (and any process it starts) executes per activation of the "
                   f"guard and of its floor (section 2), net of sourcing an empty file, {m.settings.counted_n} "
                   f"activations under `valgrind --tool=callgrind`, same mounted cpuinfo.  A count the machine's "
                   "load does not move, without the kernel's time in system calls: it shows what a change of the "
                   "scripts saves, the timed figures above show what a user waits.", "",
                   *table(["shell", "guard", "floor", "guard ÷ floor"], rows), ""]


def cores_section(m: Measured) -> list[str]:
    if MANY not in {label for _, label in m.guards}:
        return [f"## 3. {MANY} ÷ {ONE}", "", f"Skipped: no sample could be mounted ({m.mount_note}).", ""]
    rows = [[shell, *spread(m.guards[(shell, ONE)]), *spread(m.guards[(shell, MANY)]),
             *(lambda c: [c.value, verdict(c.ok)])(cores_check(m, shell))] for shell in act.SHELLS]
    return [f"## 3. Guard with {PROCESSORS} processors ÷ with 1", "",
            f"The same sample with 1 or {PROCESSORS} processor blocks (both regular files).", "",
            *table(["shell", f"{ONE} min µs", "median", "max", f"{MANY} min µs", "median", "max",
                    f"{PROCESSORS} ÷ 1", f"≤ {CORES_RATIO}×"], rows), ""]


def flag_section(m: Measured) -> list[str]:
    rows = [[shell, *spread(r), *(lambda c: [c.value, c.target, verdict(c.ok)])(cycle_check(m, shell))]
            for shell, r in m.flags.items()]
    return [f"## 4. Flag package {act.FLAGS} {FLAG_LEVEL}: activate + deactivate", "",
            "One cycle sources every installed script in conda's order: activate.d `+…` and `~…`, then "
            "deactivate.d `~…` (checked first to set GOAMD64 and to restore the environment), minus the same "
            "loop sourcing as many empty files.", "",
            *table(["shell", "min µs", "median µs", "max µs", "archspec ÷ cycle", "target", "verdict"], rows),
            *[f"- {shell}: {r.note}" for shell, r in m.flags.items() if r.note], ""]


def build_section(m: Measured) -> list[str]:
    b, g = m.build, m.generate
    return ["## 5. Build", "",
            f"Whole processes, fastest of {m.settings.build_repeats} (build) and {m.settings.generate_repeats} "
            "(generate); build runs every output's recipe tests, as `make build` does.", "",
            *table(["command", "outputs", "seconds", "rate"],
                   [[f"`{b.command}` (into a temp dir)", f"{b.count} packages", f"{b.seconds:.2f}",
                     f"{b.count / b.seconds:.1f} packages/s"],
                    [f"`{g.command}` (into a temp root)", f"{g.count} files", f"{g.seconds:.3f}",
                     f"{g.count / g.seconds:.0f} files/s"]]), ""]


def solve_section(m: Measured) -> list[str]:
    plain = m.solves[0].seconds
    return ["## 6. Solve: what the gate adds", "",
            f"py-rattler solves `{bench_solve.APP}` for a {bench_solve.HOST} host (`__archspec 1 "
            f"{bench_solve.HOST}` plus __unix, __linux, __glibc), median of {m.settings.solve_repeats} after a "
            "warm-up.  *plain*: the package built once without the flag package, so no gate dependency.  "
            "*level 1/3/4*: the same package built as `microarch-level snippet` prints it (variants 1/3/4 "
            "with `x86_64-microarch-level` in `host:`, build numbers 100/300/400) and solved with this "
            "feedstock's channel: the solver loads every gate record, rejects the level-4 build and picks 300.",
            "", *table(["case", "records in channels", "solution", "median ms", "÷ plain"],
                       [[s.label, str(s.records), s.solution, ms(s.seconds), times(ratio(s.seconds, plain))]
                        for s in m.solves]), ""]


def check_section(m: Measured) -> list[str]:
    c = m.check
    return [f"## 8. check: a lock file of {c.records:,} records × {c.environments} environments, {c.machines} CPUs", "",
            "`microarch-level check` over a pixi.lock written by py-rattler (every environment holds the gate; "
            f"one record in {bench_check.GATED} depends on it) against {c.machines} real /proc/cpuinfo samples, "
            "rendering JSON, in this process; py-rattler's `LockFile.from_path` of the same file timed moments "
            f"before it in each of {m.settings.solve_repeats} rounds; the ratio is the median of the rounds' "
            "ratios.  The command as a fresh process includes Python's start and the imports.", "",
            *table(["case", "median ms", "÷ plain parse"],
                   [["py-rattler `LockFile.from_path`", ms(c.parse), "1×"],
                    ["check, in process", ms(c.check), times(c.ratio)],
                    [f"`microarch-level check` as a process (exit {c.status})", ms(c.command), "—"]]), ""]


def rerender_section(m: Measured) -> list[str]:
    v, r = m.variants, m.rerender
    lines = ["## 9. Rerender", "",
             "What conda-smithy's cost grows with, counted without it: the zipped rows of `recipe/variants.yaml` "
             "and the packages rattler-build renders from `.ci_support/`; conda-smithy keeps one variant dict per "
             "row for each output, per platform it renders, times the combinations of the pinning's zipped "
             "groups that `recipe/variants.yaml` leaves more than one row (feedstock/pinning.py).", "",
             *table(["zipped rows", "outputs", "variant dicts per render", "pinning groups narrowed to one row"],
                    [[str(v.rows), str(v.outputs), f"{v.per_render:,}", ", ".join(v.narrowed) or "none"]]), ""]
    if r is None:
        return lines + [f"The rerender itself: not measured ({smithy_rerender.WHY_ABSENT}).", ""]
    def row(what: str, x: smithy_rerender.Rerender) -> list[str]:
        changed = "none" if not x.status else f"{len(x.status)} paths"
        per_output = ", ".join(f"{n:,}" for n in sorted(set(x.variants))) or "—"
        return [what, per_output, f"{x.seconds:.1f} s", f"{x.cpu_seconds:.1f} s", f"{x.peak_mib / 1024:.2f} GiB",
                changed]

    rows = [row("this feedstock", r)]
    u = m.upstream
    if u is not None:
        rows += [row("conda-forge/microarch-level-feedstock, right after", u),
                 ["this ÷ upstream", "—", times(r.seconds / u.seconds), times(r.cpu_seconds / u.cpu_seconds),
                  times(r.peak_mib / u.peak_mib), "—"]]
    note = ("" if u is not None else
            f"  No upstream comparison: {bench_rerender.UPSTREAM_VAR} names no checkout of the upstream feedstock.")
    return lines + [f"One real `conda-smithy rerender --no-check-uptodate -e <pinning>` of a clean clone, under "
                    f"`/usr/bin/time -v`.{note}", "",
                    *table(["feedstock", "variant dicts per output", "wall time", "CPU time (user + system)",
                            "peak memory", "files changed"],
                           rows), ""]


def report(m: Measured) -> str:
    lines = ["# microarch-level benchmarks", ""]
    if m.quick:
        lines += ["**`--quick` smoke run: too few repetitions for the numbers to mean anything.**", ""]
    machine = {}
    for key, value in m.machine.items():
        machine[key] = value
        if key == "load average at start":
            machine["load average at end"] = m.load_at_end
    lines += [f"Command: {m.command}  ", f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  ",
              "Ratios are the headline; absolute times hold for this machine, at this load, only.  The machine "
              "is shared: the load average says how busy it was.", "",
              *table(["machine", ""], [[k, v] for k, v in machine.items()]), ""]
    for section in (targets_section, guard_section, floor_section, cores_section, flag_section, build_section,
                    solve_section, instruction_section, check_section, rerender_section):
        lines += section(m)
    return "\n".join(lines)


def instructions_only(args: argparse.Namespace, settings: Settings) -> int:
    """Section 7 and the flag cycles' counts alone, from an already built channel."""
    channel = Path(args.channel) if args.channel else ROOT / "build_artifacts"
    if not (channel / "noarch" / "repodata.json").exists():
        print(f"run.py: no channel at {channel}: run `make build` first or pass --channel", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="microarch-bench-"))
    try:
        sample, samples, mount_note = cpu_samples(workdir, Path(args.cpuinfo_dir))
        if mount_note:
            print(f"run.py: cannot mount the level-4 sample: {mount_note}", file=sys.stderr)
            return 1
        gate, flag_prefix = install_prefixes(channel, workdir, GATE_LEVEL)
        shells = [s for s in act.SHELLS if act.available(s)]
        (workdir / "loops").mkdir()
        timer = act.Timer(workdir / "loops", settings.repeats, settings.target, settings.max_n)
        log("counting the guards' instructions")
        guards = act.instruction_counts(timer, gate, shells, samples[ONE], settings.counted_n)[0]
        log("counting the flag cycles' instructions")
        cycles = act.cycle_instruction_counts(timer, flag_prefix, shells, settings.counted_n)[0]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(table(["shell", f"guard {GATE_LEVEL} ({sample})", "floor",
                            f"flag {FLAG_LEVEL} cycle, nothing set", "cycle, flags set before"],
                           [[s, f"{guards[s][0]:,}", f"{guards[s][1]:,}", f"{cycles[s][0]:,}", f"{cycles[s][1]:,}"]
                            for s in shells])))
    return 0


# Below this heading RESULTS.md keeps dated sections written by hand (a change's before/after
# figures, with the method and the commits): a run rewrites everything above it and keeps them.
DATED = "# Dated measurements"


def keeping_dated(text: str, previous: str | None) -> str:
    """`text`, followed by the dated sections of `previous` (the file it replaces), if any."""
    if previous is None or DATED not in previous:
        return text
    return text.rstrip("\n") + "\n\n" + previous[previous.index(DATED):]


# ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: one short repetition of everything")
    p.add_argument("--no-write", action="store_true", help="print the table only; leave RESULTS.md alone")
    p.add_argument("--instructions-only", action="store_true",
                   help="count the guards' and flag cycles' instructions under callgrind (load-independent), "
                        "print them and write nothing: compares two versions of the scripts")
    p.add_argument("--output", default=str(HERE / "RESULTS.md"), help="where to write (default: %(default)s)")
    p.add_argument("--channel", help="channel to install and solve from (default: build_artifacts/ if built, "
                                     "else the one the build benchmark makes)")
    p.add_argument("--cpuinfo-dir", default=os.environ.get("MICROARCH_LEVEL_CPUINFO",
                                                           str(ROOT / "tests" / "data" / "cpuinfo")),
                   help="real /proc/cpuinfo samples (default: %(default)s)")
    args = p.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.instructions_only:
        return instructions_only(args, settings)

    workdir = Path(tempfile.mkdtemp(prefix="microarch-bench-"))
    try:
        machine = describe_machine()
        log("timing microarch-level build and generate")
        build, built = bench_build.time_build(ROOT, workdir, settings.build_repeats)
        generate = bench_build.time_generate(ROOT, workdir, settings.generate_repeats)
        default = ROOT / "build_artifacts"
        channel = Path(args.channel) if args.channel else default if (default / "noarch" / "repodata.json").exists() \
            else built
        sample, samples, mount_note = cpu_samples(workdir, Path(args.cpuinfo_dir))
        # Without a mounted level-4 sample, the gate this host reaches, so the guard takes its common path.
        mounts: dict[str, Path | None] = dict(samples) if not mount_note \
            else {"host": None}
        gate_level = GATE_LEVEL if not mount_note else max(2, min(GATE_LEVEL, host_level()))
        log(f"installing gate {gate_level} and {act.FLAGS} {FLAG_LEVEL} from {channel}")
        gate, flag_prefix = install_prefixes(channel, workdir, gate_level)
        shells = [s for s in act.SHELLS if act.available(s)]

        (workdir / "loops").mkdir()
        timer = act.Timer(workdir / "loops", settings.repeats, settings.target, settings.max_n)
        headline = next(iter(mounts))
        log(f"timing the archspec baseline, guards, floors and flag cycles in {', '.join(shells)}, "
            "every case once per round")
        cases = {("archspec",): act.process_case(timer, [sys.executable, "-c", ARCHSPEC_CODE], mounts[headline]),
                 **act.guard_cases(timer, gate, shells, mounts),
                 **act.flag_cycle_cases(timer, flag_prefix, FLAG_LEVEL, shells)}
        measured = timer.measure(cases)
        archspec = measured[("archspec",)]
        guards = {(s, label): measured.get((s, label)) or act.Result(note=f"{s} not installed")
                  for s in act.SHELLS for label in mounts}
        floors = {s: measured.get(("floor", s)) or act.Result(note=f"{s} not installed") for s in act.SHELLS}
        flags = {s: measured.get(("cycle", s)) or act.Result(note=f"{s} not installed") for s in act.SHELLS}
        log("counting the guards' instructions")
        counted, counted_note = act.instruction_counts(timer, gate, shells, mounts[headline], settings.counted_n)
        log("building the downstream package and timing solves")
        optimised, plain = bench_solve.build_downstream(workdir / "downstream", channel)
        solves = bench_solve.time_solves(channel, optimised, plain, settings.solve_repeats)
        log("timing check on a large lock file")
        (workdir / "check").mkdir()
        checked = bench_check.time_check(workdir / "check", settings.solve_repeats)

        log("counting the recipe's variants")
        variants = bench_rerender.variant_count(ROOT)
        smithy = smithy_rerender.find()
        rerendered = None
        if smithy is not None:
            log(f"rerendering a clean clone with {smithy[0]}")
            rerendered = smithy_rerender.rerender_clone(ROOT, workdir / "rerender", *smithy)
        upstream = None
        if smithy is not None and bench_rerender.upstream() is not None:
            log(f"rerendering a clean clone of {bench_rerender.upstream()}")
            upstream = smithy_rerender.rerender_clone(bench_rerender.upstream(), workdir / "upstream", *smithy)

        text = report(Measured(settings, args.quick, machine, command_line(argv), sample, headline, gate_level,
                               mount_note, archspec, guards, floors, flags, build, generate, solves, checked,
                               counted, counted_note, load_average(), variants, rerendered, upstream))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(text)
    if not args.no_write:
        output = Path(args.output)
        Path(args.output).write_text(keeping_dated(text, output.read_text() if output.exists() else None))
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
