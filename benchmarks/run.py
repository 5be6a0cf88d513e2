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
sys.path[:0] = [str(HERE), str(ROOT / "scripts")]

import bench_activation as act  # noqa: E402
import bench_build  # noqa: E402
import bench_solve  # noqa: E402

GATE_LEVELS = (2, 3, 4)   # the level-1 gate installs no guard
FLAG_LEVEL = 3
PROCESSORS = 256
LDSO = "/lib64/ld-linux-x86-64.so.2"
ARCHSPEC_CODE = "import archspec.cpu; archspec.cpu.host()"
# The targets.
GUARD_MS = 0.25           # per activation, bash and dash
ARCHSPEC_RATIO = 150.0    # archspec per process / guard per activation
CORES_RATIO = 1.5         # 256-processor / 1-processor


@dataclass(frozen=True)
class Settings:
    repeats: int          # interleaved repeats of each shell loop (minimum kept)
    target: float         # seconds one timed shell loop should last
    max_n: int            # cap on loop iterations
    build_repeats: int
    generate_repeats: int
    solve_repeats: int


FULL = Settings(repeats=7, target=0.2, max_n=20000, build_repeats=2, generate_repeats=5, solve_repeats=30)
QUICK = Settings(repeats=1, target=0.01, max_n=20, build_repeats=1, generate_repeats=1, solve_repeats=2)


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
    return {
        "bash": _first_line(["bash", "-c", "echo $BASH_VERSION"]),
        "dash": _first_line(["dpkg-query", "-W", "-f=${Version}", "dash"]) if shutil.which("dpkg-query")
        else "unknown",
        "zsh": _first_line(["zsh", "-fc", "echo $ZSH_VERSION"]),
        "fish": _first_line(["fish", "--version"]).removeprefix("fish, version "),
        "tcsh": _first_line(["tcsh", "-fc", "echo $tcsh"]),
    }


def describe_machine() -> dict[str, str]:
    import archspec.cpu

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    processors = sum(1 for line in cpuinfo if line.startswith("processor"))
    try:
        os_name = platform.freedesktop_os_release()["PRETTY_NAME"]
    except (OSError, KeyError):
        os_name = platform.platform()
    host = archspec.cpu.host()
    version = importlib.metadata.version
    info = {
        "CPU": f"{models[0] if models else 'unknown'} (archspec: {host.name}, generic {host.generic.name})",
        "cores": f"{os.cpu_count()} ({processors} processor blocks in /proc/cpuinfo)",
        "OS / kernel": f"{os_name} / Linux {platform.release()}",
        "Python": platform.python_version(),
        "archspec": version("archspec"),
        "py-rattler": version("py-rattler"),
        "py-rattler-build": version("py-rattler-build"),
    }
    info.update({f"shell: {k}": v for k, v in shell_versions().items()})
    return info


def command_line(argv: list[str]) -> str:
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    exact = f"`{shlex.join([python, 'benchmarks/run.py', *argv])}`"
    return f"`make bench`, which runs {exact}" if os.environ.get("MAKELEVEL") and not argv else exact


# ----------------------------------------------------------------------------
# Set-up: installed prefixes and CPU samples.

def install_prefixes(channel: Path, workdir: Path) -> tuple[dict[int, Path], Path]:
    """A prefix per gate level, and one with the flag package, installed from `channel` with rattler."""
    from microarch_level.channel import archspec_package, base_virtual_packages, install, solve

    vps = base_virtual_packages() + [archspec_package("x86_64_v4")]  # a CPU every gate installs on

    def make(spec: str, name: str) -> Path:
        prefix = workdir / "prefixes" / name
        install(solve([channel], [spec], vps), prefix)
        return prefix

    gates = {level: make(f"{act.GATE}=={level}", f"gate{level}") for level in GATE_LEVELS}
    return gates, make(f"{act.FLAGS}=={FLAG_LEVEL}", f"flags{FLAG_LEVEL}")


def cpu_samples(workdir: Path, sample_dir: Path) -> tuple[str, dict[str, Path | None], str | None]:
    """(sample name, {label: file to mount or None for the host}, why mounting is impossible)."""
    name, text = act.pick_sample(sample_dir)
    block = act.first_block(text)
    one, many = workdir / "cpuinfo-1", workdir / f"cpuinfo-{PROCESSORS}"
    one.write_text(block)
    many.write_text(act.many_processors(block, PROCESSORS))
    return name, {"host": None, "1-proc": one, f"{PROCESSORS}-proc": many}, act.mount_problem(one)


# ----------------------------------------------------------------------------
# Formatting: every cell comes from a measurement of this run.

@dataclass
class Measured:
    settings: Settings
    quick: bool
    machine: dict[str, str]
    command: str
    sample: str
    mount_note: str | None
    baselines: dict[str, act.Result]
    guards: dict[tuple[str, int, str], act.Result]
    flags: dict[str, act.Result]
    build: bench_build.Timed
    generate: bench_build.Timed
    solves: list[bench_solve.Solve]


MANY = f"{PROCESSORS}-proc"


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "skipped"
    x = seconds * 1e3
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def times(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.0f}×" if r >= 10 else f"{r:.2f}×"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "ok" if ok else "**MISS**"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(row) + " |" for row in rows]


@dataclass
class Check:
    """One target for one shell and gate: the measured value and whether it meets the target."""

    value: str
    ok: bool | None


def guard_checks(m: Measured, shell: str, level: int) -> dict[str, Check]:
    archspec = m.baselines["archspec"].seconds
    host = m.guards[(shell, level, "host")].seconds
    one, many = m.guards[(shell, level, "1-proc")].seconds, m.guards[(shell, level, MANY)].seconds
    vs_archspec, cores = ratio(archspec, host), ratio(many, one)
    checks = {
        "archspec": Check(times(vs_archspec), None if vs_archspec is None else vs_archspec >= ARCHSPEC_RATIO),
        "cores": Check(times(cores), None if cores is None else cores <= CORES_RATIO),
    }
    if shell in ("bash", "dash"):
        checks["ms"] = Check(f"{ms(host)} ms", None if host is None else host * 1e3 <= GUARD_MS)
    return checks


TARGETS = {"ms": f"≤ {GUARD_MS} ms per activation",
           "archspec": f"≥ {ARCHSPEC_RATIO:.0f}× cheaper than the archspec check",
           "cores": f"{MANY} within {CORES_RATIO}× of 1-proc"}


def targets_section(m: Measured) -> list[str]:
    rows = []
    for key, what in TARGETS.items():
        for shell in act.SHELLS:
            checks = [guard_checks(m, shell, level).get(key) for level in GATE_LEVELS]
            if checks[0] is None:
                continue
            known = [c.ok for c in checks if c.ok is not None]
            status = "n/a" if not known else "met" if all(known) else \
                f"**MISSED** ({known.count(False)} of {len(known)})"
            rows.append([what, shell, *(c.value for c in checks), status])
    return ["## Targets", "",
            "From the issue; the guard columns of section 1 per gate level.  tcsh runs the sh guard in a "
            "/bin/sh process by design, so it pays a process start.", "",
            *table(["target", "shell", *(f"gate {k}" for k in GATE_LEVELS), "verdict"], rows), ""]


def guard_section(m: Measured) -> list[str]:
    archspec, ldso = m.baselines["archspec"].seconds, m.baselines["ldso"].seconds
    rows, notes = [], []
    for shell in act.SHELLS:
        for level in GATE_LEVELS:
            r = {label: m.guards[(shell, level, label)] for label in ("host", "1-proc", MANY)}
            c = guard_checks(m, shell, level)
            rows.append([shell, str(level), ms(r["host"].seconds), verdict(c["ms"].ok) if "ms" in c else "—",
                         c["archspec"].value, verdict(c["archspec"].ok), times(ratio(ldso, r["host"].seconds)),
                         ms(r["1-proc"].seconds), ms(r[MANY].seconds), c["cores"].value, verdict(c["cores"].ok)])
            notes += [f"- {shell}, gate {level}, {label}: {x.note}" for label, x in r.items() if x.note]
    lines = ["## 1. Gate guard: cost per activation", "",
             "A fresh shell sources the installed guard N times; the same loop sourcing an empty file N times is "
             f"subtracted and the difference divided by N (minimum of {m.settings.repeats} interleaved runs "
             f"each).  *host*: this machine's /proc/cpuinfo.  *1-proc* / *{MANY}*: a real sample ({m.sample}) "
             f"with 1 or {PROCESSORS} processor blocks bind-mounted over /proc/cpuinfo (`unshare -m`); both are "
             f"regular files, not procfs, so compare {MANY} with 1-proc rather than with host.  Ratios: baseline "
             "per process ÷ guard per activation.", "",
             *table(["shell", "gate", "host ms", f"≤ {GUARD_MS} ms", "archspec ÷ guard", f"≥ {ARCHSPEC_RATIO:.0f}×",
                     "ld.so ÷ guard", "1-proc ms", f"{MANY} ms", f"{PROCESSORS} ÷ 1", f"≤ {CORES_RATIO}×"], rows),
             ""]
    if m.mount_note:
        lines += [f"Mounted samples skipped: {m.mount_note}.", ""]
    if notes:
        lines += ["Notes (the guard's fast path prints nothing):", "", *notes, ""]
    lines += ["Baselines, per process, timed the same way from a dash loop (fork + exec + run):", "",
              *table(["baseline", "ms per process"],
                     [[f'archspec: `python -c "{ARCHSPEC_CODE}"`', ms(archspec)],
                      [f"glibc: `{LDSO} --help`", ms(ldso)]]), ""]
    return lines


def flag_section(m: Measured) -> list[str]:
    archspec = m.baselines["archspec"].seconds
    return [f"## 2. Flag package {act.FLAGS} {FLAG_LEVEL}: activate + deactivate", "",
            "The installed activate.d and deactivate.d scripts sourced once each per iteration (checked to set "
            "GOAMD64 and to restore the environment), minus the same loop sourcing two empty files.", "",
            *table(["shell", "cycle ms", "archspec ÷ cycle"],
                   [[shell, ms(r.seconds), times(ratio(archspec, r.seconds))] for shell, r in m.flags.items()]),
            *[f"- {shell}: {r.note}" for shell, r in m.flags.items() if r.note], ""]


def build_section(m: Measured) -> list[str]:
    b, g = m.build, m.generate
    return ["## 3. Build", "",
            f"Whole processes, fastest of {m.settings.build_repeats} (build) and {m.settings.generate_repeats} "
            "(generate); build runs every output's recipe tests, as `make build` does.", "",
            *table(["command", "outputs", "seconds", "rate"],
                   [[f"`{b.command}` (into a temp dir)", f"{b.count} packages", f"{b.seconds:.2f}",
                     f"{b.count / b.seconds:.1f} packages/s"],
                    [f"`{g.command}` (into a temp root)", f"{g.count} files", f"{g.seconds:.3f}",
                     f"{g.count / g.seconds:.0f} files/s"]]), ""]


def solve_section(m: Measured) -> list[str]:
    plain = m.solves[0].seconds
    return ["## 4. Solve: what the gate adds", "",
            f"py-rattler solves `{bench_solve.APP}` for a {bench_solve.HOST} host (`__archspec 1 "
            f"{bench_solve.HOST}` plus __unix, __linux, __glibc), median of {m.settings.solve_repeats} after a "
            "warm-up.  *plain*: the package built once without the flag package, so no gate dependency.  "
            "*level 1/3/4*: the same package built as conda-forge documents microarch builds (variants 1/3/4 "
            "with `x86_64-microarch-level` in `build:`, build numbers 100/300/400) and solved with this "
            "feedstock's channel: the solver loads every gate record, rejects the level-4 build and picks 300.",
            "", *table(["case", "records in channels", "solution", "median ms", "÷ plain"],
                       [[s.label, str(s.records), s.solution, ms(s.seconds), times(ratio(s.seconds, plain))]
                        for s in m.solves]), ""]


def report(m: Measured) -> str:
    lines = ["# microarch-level benchmarks", ""]
    if m.quick:
        lines += ["**`--quick` smoke run: too few repetitions for the numbers to mean anything.**", ""]
    lines += [f"Command: {m.command}  ", f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  ",
              "Ratios are the headline; absolute times hold for this machine only.", "",
              *table(["machine", ""], [[k, v] for k, v in m.machine.items()]), ""]
    for section in (targets_section, guard_section, flag_section, build_section, solve_section):
        lines += section(m)
    return "\n".join(lines)


# ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: one short repetition of everything")
    p.add_argument("--no-write", action="store_true", help="print the table only; leave RESULTS.md alone")
    p.add_argument("--output", default=str(HERE / "RESULTS.md"), help="where to write (default: %(default)s)")
    p.add_argument("--channel", help="channel to install and solve from (default: build_artifacts/ if built, "
                                     "else the one the build benchmark makes)")
    p.add_argument("--cpuinfo-dir", default=os.environ.get("MICROARCH_LEVEL_CPUINFO",
                                                           str(ROOT.parent / "shared" / "cpuinfo")),
                   help="real /proc/cpuinfo samples (default: %(default)s)")
    args = p.parse_args(argv)
    settings = QUICK if args.quick else FULL

    workdir = Path(tempfile.mkdtemp(prefix="microarch-bench-"))
    try:
        machine = describe_machine()
        log("timing microarch-level build and generate")
        build, built = bench_build.time_build(ROOT, workdir, settings.build_repeats)
        generate = bench_build.time_generate(ROOT, workdir, settings.generate_repeats)
        default = ROOT / "build_artifacts"
        channel = Path(args.channel) if args.channel else default if (default / "noarch" / "repodata.json").exists() \
            else built
        log(f"installing gates {GATE_LEVELS} and {act.FLAGS} {FLAG_LEVEL} from {channel}")
        gates, flag_prefix = install_prefixes(channel, workdir)
        sample, cpuinfos, mount_note = cpu_samples(workdir, Path(args.cpuinfo_dir))
        mounts = {k: v for k, v in cpuinfos.items() if v is None or not mount_note}
        shells = [s for s in act.SHELLS if act.available(s)]

        (workdir / "loops").mkdir()
        timer = act.Timer(workdir / "loops", settings.repeats, settings.target, settings.max_n)
        log("timing the archspec and ld.so baselines")
        commands = {"archspec": [sys.executable, "-c", ARCHSPEC_CODE]}
        if os.access(LDSO, os.X_OK):
            commands["ldso"] = [LDSO, "--help"]
        baselines = act.process_costs(timer, commands)
        baselines.setdefault("ldso", act.Result(None, note=f"{LDSO} not found"))
        log(f"timing guards in {', '.join(shells)}")
        measured = act.guard_costs(timer, gates, shells, mounts)
        guards = {(s, level, label): measured.get((s, level, label))
                  or act.Result(None, note=f"{s} not installed" if s not in shells else "not mounted")
                  for s in act.SHELLS for level in GATE_LEVELS for label in cpuinfos}
        log("timing flag activate/deactivate cycles")
        cycles = act.flag_cycle_costs(timer, flag_prefix, FLAG_LEVEL, shells)
        flags = {s: cycles.get(s) or act.Result(None, note=f"{s} not installed") for s in act.SHELLS}
        log("building the downstream package and timing solves")
        optimised, plain = bench_solve.build_downstream(workdir / "downstream", channel)
        solves = bench_solve.time_solves(channel, optimised, plain, settings.solve_repeats)

        text = report(Measured(settings, args.quick, machine, command_line(argv), sample, mount_note, baselines,
                               guards, flags, build, generate, solves))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(text)
    if not args.no_write:
        Path(args.output).write_text(text)
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
