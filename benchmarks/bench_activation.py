"""Activation costs, measured the way a shell pays them: by sourcing installed scripts.

One measurement runs a fresh shell that sources a script N times in a loop, and
the same loop sourcing an empty file N times; the difference divided by N is the
cost per activation.  Process start-up and the loop itself cancel out; every
case is repeated, interleaved with the others, and reported as min/median/max
over the repeats, so the noise of a shared VM shows instead of hiding.
"""

from __future__ import annotations

import re
import shlex
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from shells import SHELLS as SHELL_TABLE  # tests/shells.py: the one shell table (run.py puts tests/ on the path)
from shells import base_env

from microarch_level.catalog.families import FLAGS, GATE
from microarch_level.diagnostics.cpuinfo import mounted

SHELLS = tuple(SHELL_TABLE)
ARGV = {name: s.argv for name, s in SHELL_TABLE.items()}
SUFFIX = {name: s.suffix for name, s in SHELL_TABLE.items()}
# Every loop prints GOAMD64 at the end: unset means the guard left nothing behind
# and a flag activate/deactivate cycle restored the environment.
CLEAN = "GOAMD64=[]"
# The floor of a guard in each shell: the least its guard must do on the common path,
# i.e. open /proc/cpuinfo and read to the first flags line with the shell's cheapest
# builtin, matching nothing.  tcsh has no builtin that reads a file: its floor is one
# /bin/sh doing that read (the fastest process to start that can read a file here:
# head -c, sed or bash start more slowly).
_READ_LOOP = "while IFS= read -r _mal_l; do case $_mal_l in flags*) break ;; esac; done < /proc/cpuinfo\n"
FLOORS = {
    "bash": "mapfile -t -n 24 _mal_lines < /proc/cpuinfo\n",
    # zsh reads bytes, several times faster than characters, in an option scope of its own
    # (what its guard's quick check does).
    "zsh": "() { emulate -L zsh -o no_multibyte; local b; IFS= read -r -k 2048 -u 0 b < /proc/cpuinfo || :; }\n",
    "dash": _READ_LOOP, "ksh93": _READ_LOOP, "mksh": _READ_LOOP,
    "fish": "while read -l _mal_l\n    switch $_mal_l\n        case 'flags*'\n            break\n    end\nend </proc/cpuinfo\n",
    "tcsh": f"/bin/sh -c '{_READ_LOOP.strip()}'\n",
}
FLOOR_WHAT = {
    "bash": "`mapfile -n 24` of /proc/cpuinfo",
    "zsh": "`read -k 2048` of /proc/cpuinfo as bytes",
    "dash": "`read` loop to the flags line", "ksh93": "`read` loop to the flags line",
    "mksh": "`read` loop to the flags line",
    "fish": "`read` loop to the flags line",
    "tcsh": "one `/bin/sh` running that `read` loop",
}


class BenchError(RuntimeError):
    """A measured command failed or printed something unexpected."""


@dataclass
class Result:
    """Seconds per loop iteration, one per repeat (empty, with a reason in `note`, when not measured)."""

    samples: list[float] = field(default_factory=list)
    n: int = 0
    note: str = ""

    @property
    def min(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def max(self) -> float | None:
        return max(self.samples) if self.samples else None

    def over(self, other: Result) -> float | None:
        """self ÷ other: the median, over the rounds, of the ratio of their samples of one round.

        Timer.measure times every case once per round, so the two samples of a round were
        taken moments apart: a slow spell of the shared machine weighs on both.
        """
        pairs = [a / b for a, b in zip(self.samples, other.samples) if b > 0]
        return statistics.median(pairs) if pairs and len(self.samples) == len(other.samples) else None


def guard_script(prefix: Path, shell: str) -> Path:
    return prefix / "etc" / "conda" / "activate.d" / f"{GATE}_guard.{SUFFIX[shell]}"


def floor_script(workdir: Path, shell: str) -> Path:
    """The shell's floor (FLOORS) as a file to source, written under `workdir` the first time."""
    path = workdir / f"floor.{shell}"
    if not path.exists():
        path.write_text(FLOORS[shell])
    return path


def flag_scripts(prefix: Path, shell: str) -> tuple[list[Path], list[Path]]:
    """(activate.d scripts in the order conda sorts them, deactivate.d scripts in its reverse order)."""
    etc = prefix / "etc" / "conda"
    activate = sorted((etc / "activate.d").glob(f"*{FLAGS}.{SUFFIX[shell]}"), key=lambda p: p.name)
    deactivate = sorted((etc / "deactivate.d").glob(f"*{FLAGS}.{SUFFIX[shell]}"), key=lambda p: p.name)[::-1]
    if not activate or not deactivate:
        raise BenchError(f"no {shell} activate.d/deactivate.d scripts of {FLAGS} under {etc}")
    return activate, deactivate


def available(shell: str) -> bool:
    return shutil.which(ARGV[shell][0]) is not None


def _quote(path: Path) -> str:
    if "'" in str(path):
        raise BenchError(f"path with a quote cannot be sourced from every shell: {path}")
    return f"'{path}'"


def source_line(shell: str, path: Path) -> str:
    return f"{'.' if SUFFIX[shell] == 'sh' else 'source'} {_quote(path)}"


def loop_script(shell: str, body: list[str]) -> str:
    """A script running `body` $1 times, then printing GOAMD64 (see CLEAN)."""
    if SUFFIX[shell] == "sh":
        lines = "".join(f"  {b}\n" for b in body)
        return (f'n=$1 i=0\nwhile [ "$i" -lt "$n" ]; do\n{lines}  i=$((i + 1))\ndone\n'
                "printf 'GOAMD64=[%s]\\n' \"${GOAMD64-}\"\n")
    if shell == "fish":
        lines = "".join(f"    {b}\n" for b in body)
        return f"for i in (seq $argv[1])\n{lines}end\nprintf 'GOAMD64=[%s]\\n' \"$GOAMD64\"\n"
    lines = "".join(f"    {b}\n" for b in body)
    return (f"set n = $1\nset i = 0\nwhile ( $i < $n )\n{lines}    @ i++\nend\n"
            "if ( $?GOAMD64 ) then\n    printf 'GOAMD64=[%s]\\n' \"$GOAMD64\"\nelse\n"
            "    printf 'GOAMD64=[]\\n'\nendif\n")


# ----------------------------------------------------------------------------
# /proc/cpuinfo samples.

def pick_sample(directory: Path) -> tuple[str, str]:
    """(name, text) of a level-4 CPU sample, so every gate's guard takes its fast path."""
    table = directory / "expected.tsv"
    if table.exists():
        rows = [line.split("\t") for line in table.read_text().splitlines()[1:] if line.strip()]
        level4 = sorted(r[0] for r in rows if len(r) == 3 and r[2].strip() == "4")
        for name in ["linux-rocky8.5-zen4"] + level4:
            if (directory / name).exists():
                return name, (directory / name).read_text()
    return "this host's /proc/cpuinfo", Path("/proc/cpuinfo").read_text()


def mount_problem(sample: Path) -> str | None:
    """Why `sample` cannot be bind-mounted over /proc/cpuinfo here, or None when it can."""
    if not shutil.which("unshare"):
        return "unshare not found"
    try:
        proc = subprocess.run(mounted(["cat", "/proc/cpuinfo"], sample),
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0 or proc.stdout != sample.read_text():
        return (proc.stderr.strip().splitlines() or ["mount --bind had no effect"])[-1] + " (needs root)"
    return None


# ----------------------------------------------------------------------------
# Timing.

@dataclass
class Case:
    """A loop to time: `measured` runs the body N times, `baseline` the same loop over empty files."""

    measured: list[str]
    baseline: list[str]
    n: int = 0


class Timer:
    """Writes loop scripts under `workdir` and times them.

    `measure` runs its cases round-robin, `repeats` rounds: a slow spell of the
    VM then hits one run of many cases rather than every run of one case.
    """

    def __init__(self, workdir: Path, repeats: int, target: float, max_n: int):
        self.workdir = workdir
        self.repeats = repeats
        self.target = target      # seconds one timed loop should take
        self.max_n = max_n
        self.env = base_env()
        self.empty = workdir / "empty"
        self.empty.write_text("")
        self._count = 0

    def script(self, shell: str, body: list[str]) -> Path:
        self._count += 1
        path = self.workdir / f"loop{self._count}.{shell}"
        path.write_text(loop_script(shell, body))
        return path

    def run(self, argv: list[str], expect: str = CLEAN) -> tuple[float, str]:
        """Wall time of one process, and its stderr (the guard's warning, if any)."""
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=600)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0 or proc.stdout.strip() != expect:
            raise BenchError(f"{shlex.join(argv)} exited {proc.returncode}, printed {proc.stdout.strip()!r}; "
                             f"stderr: {proc.stderr.strip()[:500]}")
        return elapsed, proc.stderr

    def case(self, shell: str, body: list[str], mount: Path | None = None, prefix: Path | None = None) -> Case:
        """`prefix`: the environment the scripts belong to, exported as CONDA_PREFIX the way
        conda does before sourcing activate.d (the scripts find their rare files there)."""
        blank = [source_line(shell, self.empty)] * len(body)
        env = ["env", f"CONDA_PREFIX={prefix}"] if prefix else []
        run, baseline = ([*env, *ARGV[shell], str(self.script(shell, lines))] for lines in (body, blank))
        return Case(mounted(run, mount), mounted(baseline, mount)) if mount else Case(run, baseline)

    def calibrate(self, case: Case) -> int:
        """Iterations that make one timed loop last about `self.target` seconds.

        Grows N until a whole run (start-up included, so the estimate errs on the
        short side) takes a quarter of the target, then scales it up.
        """
        n = 4
        while True:
            elapsed = self.run(case.measured + [str(n)])[0]
            if elapsed >= self.target / 4 or n >= self.max_n:
                break
            n *= 4
        return max(3, min(self.max_n, int(n * self.target / elapsed)))

    def measure(self, cases: dict) -> dict:
        """{key: Result}: per repeat, (measured run - the baseline run just before it) / N.

        Each repeat pairs a measured run with its own baseline run, so a slow spell of
        the machine lands in both and the spread of the repeats shows the noise.
        """
        for case in cases.values():
            case.n = case.n or self.calibrate(case)
        samples: dict = {key: [] for key in cases}
        warnings = {key: "" for key in cases}
        for _ in range(self.repeats):
            for key, case in cases.items():
                baseline = self.run(case.baseline + [str(case.n)])[0]
                elapsed, stderr = self.run(case.measured + [str(case.n)])
                samples[key].append(max(elapsed - baseline, 0.0) / case.n)
                warnings[key] = warnings[key] or stderr.strip()
        return {key: Result(samples[key], cases[key].n,
                            f"stderr: {warnings[key].splitlines()[0]}" if warnings[key] else "")
                for key in cases}


def guard_cases(timer: Timer, prefix: Path, shells: list[str], mounts: dict[str, Path | None]) -> dict:
    """Cases {(shell, cpuinfo label): the guard per activation, ("floor", shell): its floor}, not yet timed.

    One N per shell, so its cells compare; the floor runs with the first cpuinfo.
    """
    cases: dict = {}
    for shell in shells:
        for label, mount in mounts.items():
            cases[(shell, label)] = timer.case(shell, [source_line(shell, guard_script(prefix, shell))], mount,
                                                prefix)
        cases[("floor", shell)] = timer.case(shell, [source_line(shell, floor_script(timer.workdir, shell))],
                                             next(iter(mounts.values())))
        n = timer.calibrate(cases[(shell, next(iter(mounts)))])
        for label in [*mounts, "floor"]:
            cases[("floor", shell) if label == "floor" else (shell, label)].n = n
    return cases


def flag_cycle_cases(timer: Timer, prefix: Path, level: int, shells: list[str]) -> dict:
    """Cases {("cycle", shell): one full activate + deactivate of the flag package}, after checking it
    sets GOAMD64."""
    cases = {}
    for shell in shells:
        activate, deactivate = flag_scripts(prefix, shell)
        once = ["env", f"CONDA_PREFIX={prefix}", *ARGV[shell],
                str(timer.script(shell, [source_line(shell, a) for a in activate])), "1"]
        timer.run(once, expect=f"GOAMD64=[v{level}]")
        cases[("cycle", shell)] = timer.case(shell, [source_line(shell, x) for x in [*activate, *deactivate]],
                                             prefix=prefix)
    return cases


def process_case(timer: Timer, argv: list[str], mount: Path | None = None) -> Case:
    """Running the command once from a dash loop (fork, exec, run), net of the loop."""
    return timer.case("dash", [f"{shlex.join(argv)} >/dev/null"], mount)


# ----------------------------------------------------------------------------
# Instructions: a count the machine's load does not move.

_COLLECTED = re.compile(r"Collected : (\d+)")


def _count(timer: Timer, shell: str, scripts: list[Path], mount: Path | None, n: int, env: list[str]) -> int:
    """User-space instructions of a shell sourcing `scripts` in turn, `n` times, under callgrind."""
    argv = ["env", *env, "valgrind", "--tool=callgrind", "--trace-children=yes", "--callgrind-out-file=/dev/null",
            *ARGV[shell], str(timer.script(shell, [source_line(shell, s) for s in scripts])), str(n)]
    stderr = timer.run(mounted(argv, mount) if mount else argv)[1]
    return sum(int(c) for c in _COLLECTED.findall(stderr))


def instruction_counts(timer: Timer, prefix: Path, shells: list[str], mount: Path | None, n: int
                       ) -> tuple[dict[str, tuple[int, int]], str | None]:
    """({shell: (guard, floor) user-space instructions per activation, net of sourcing an empty
    file}, None), or ({}, why they cannot be counted here).

    callgrind counts what the shell's code executes, processes it starts included, not the
    time the kernel spends in its system calls (dash's and mksh's byte-per-call reads,
    zsh's signal masking): it tells apart what a change of the scripts saves on a machine
    too noisy for the clock, and complements the timed figures above, never replaces them.
    """
    if shutil.which("valgrind") is None:
        return {}, "valgrind not found on PATH"
    env = [f"CONDA_PREFIX={prefix}"]
    counts: dict[str, tuple[int, int]] = {}
    for shell in shells:
        empty, guard, floor = (_count(timer, shell, [script], mount, n, env) for script in
                               (timer.empty, guard_script(prefix, shell), floor_script(timer.workdir, shell)))
        counts[shell] = ((guard - empty) // n, (floor - empty) // n)
    return counts, None


# Flags a build environment has set before the flag package activates (conda-forge's compiler
# and Rust activation set these): the cycle then appends to and cuts from existing values.
SET_BEFORE = ["CFLAGS=-O2 -pipe", "CXXFLAGS=-O2 -pipe", "FFLAGS=-O2", "FCFLAGS=-O2",
              "CARGO_BUILD_RUSTFLAGS=-C link-arg=-Wl,-O2"]


def cycle_instruction_counts(timer: Timer, prefix: Path, shells: list[str], n: int
                             ) -> tuple[dict[str, tuple[int, int]], str | None]:
    """({shell: (nothing set before, SET_BEFORE set before) instructions per activate +
    deactivate cycle of the flag package, net of sourcing as many empty files}, None), or
    ({}, why they cannot be counted here)."""
    if shutil.which("valgrind") is None:
        return {}, "valgrind not found on PATH"
    counts: dict[str, tuple[int, int]] = {}
    for shell in shells:
        activate, deactivate = flag_scripts(prefix, shell)
        cycle = [*activate, *deactivate]
        found = []
        for extra in ([], SET_BEFORE):
            env = [f"CONDA_PREFIX={prefix}", *extra]
            empty = _count(timer, shell, [timer.empty] * len(cycle), None, n, env)
            found.append((_count(timer, shell, cycle, None, n, env) - empty) // n)
        counts[shell] = (found[0], found[1])
    return counts, None
