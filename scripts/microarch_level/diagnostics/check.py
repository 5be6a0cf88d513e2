"""`microarch-level check TARGET…`: will these environments run on those CPUs?

For every environment in every TARGET (a conda prefix, a pixi.lock, a
conda-lock.yml, an explicit spec file; targets/ reads them) and every CPU
named (--cpu, --cpuinfo, --cpuinfo-dir; by default this machine) it says what
the environment needs (the highest level its packages' gate constraints
require, and which packages), what it holds (the gate build installed or
locked, and whether that is higher than it needs) and a verdict per CPU:

- runs: every package's level is at or below the CPU's, and so is the gate's;
- will-not-run: a package needs a level above the CPU ("Illegal instruction");
- gate-above-cpu: the packages would run, but the gate held is for a newer CPU
  (a solve refuses it there; installs from the lock do not check, and its
  activation warns: tools/facts.py TARGET_FACTS);
- unknown: an explicit file without its records cannot tell;
- other-family: the environment is for another CPU family.

Exit status 0 when every verdict is `runs` (other-family pairs aside), 1
otherwise, 2 for bad usage.  Everything is read and judged before anything is
printed, so a bad target never leaves partial output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..catalog.families import FAMILIES, FEATURES, GENERATION, Family, by_name
from ..catalog.levels import Catalog
from ..catalog.power import host_name
from ..catalog.spelling import normalize_any, printable
from ..errors import Failure, UsageError
from ..tools.facts import TARGET_FACTS
from .cpuinfo import PROC_CPUINFO, cpuinfo_generation, first_flags
from .targets import Read, read
from .targets.model import Environment, shown_path

HELP = "say whether environments, lock files and explicit files will run on the CPUs named (or this machine)"
FORMATS = ("table", "plain", "json")
RUNS, WILL_NOT_RUN, GATE_ABOVE, UNKNOWN, OTHER = "runs", "will-not-run", "gate-above-cpu", "unknown", "other-family"
SHOWN_PACKAGES = 3  # packages named in a table cell's note; JSON lists them all


@dataclass(frozen=True)
class Cpu:
    id: str          # what the output calls it: the sample's file name, the name given, "this machine"
    source: str      # "cpu", "cpuinfo", "this machine"
    family: Family
    name: str        # archspec's name (a POWER sample's, a --cpu's) or the level's generic name (x86-64 sample)
    level: int


@dataclass(frozen=True)
class Verdict:
    cpu: Cpu
    verdict: str
    detail: str


def add_arguments(parser) -> None:
    parser.add_argument("targets", nargs="+", metavar="TARGET",
                        help="a conda prefix, a pixi.lock, a conda-lock.yml or an explicit spec file")
    parser.add_argument("--cpu", action="append", default=[], metavar="NAME",
                        help="a CPU by archspec name or level, in any spelling `normalize` reads (repeatable)")
    parser.add_argument("--cpuinfo", action="append", default=[], metavar="FILE",
                        help="a machine's /proc/cpuinfo, or an Intel Mac's `sysctl -a` capture (repeatable)")
    parser.add_argument("--cpuinfo-dir", action="append", default=[], metavar="DIR",
                        help="a fleet: a directory with one /proc/cpuinfo (or Mac sysctl capture) per machine type "
                             "(repeatable)")
    parser.add_argument("--pkgs-dir", action="append", default=[], metavar="DIR",
                        help="a package cache holding the records an explicit spec file names (repeatable)")
    parser.add_argument("--format", choices=FORMATS, default="table")


# ----------------------------------------------------------------------------
# The CPUs.

def cpu_of_text(text: str, cpu_id: str, source: str) -> Cpu | None:
    """The CPU a /proc/cpuinfo text (its first processor, as archspec reads it) or an Intel
    Mac's sysctl capture (diagnostics.sysctl) describes; None if none."""
    from . import sysctl
    from .matrix import sample_family

    family_name = sample_family(text)
    if family_name is None:
        return None
    family = by_name(family_name)
    catalog = family.catalog(None)
    if sysctl.is_capture(text):
        level = sysctl.capture_level(text, catalog)
        return Cpu(cpu_id, source, family, catalog.generic_names[level], level)
    name, level = READ_LEVEL[family.rule](text, catalog)
    return Cpu(cpu_id, source, family, name, level)


def _level_by_features(text: str, catalog: Catalog) -> tuple[str, int]:
    """The level the flags reach (the guard's rule), named by its generic name."""
    level = catalog.level_from_flags(first_flags(text))
    return catalog.generic_names[level], level


def _level_by_generation(text: str, catalog: Catalog) -> tuple[str, int]:
    name = host_name(catalog, cpuinfo_generation(text, catalog))
    return name, catalog.names[name]


# (archspec name, level) of a /proc/cpuinfo text, by the rule of its family (families.py).
READ_LEVEL = {FEATURES: _level_by_features, GENERATION: _level_by_generation}


def _read_sample(path: Path, shown: str) -> str:
    try:
        return path.read_text(errors="replace")
    except IsADirectoryError:
        raise UsageError(f"--cpuinfo {shown} is a directory; give one /proc/cpuinfo (or use --cpuinfo-dir)") from None
    except OSError as exc:
        raise Failure(f"cannot read {shown}: {exc.strerror or exc}") from None


def cpus(args) -> list[Cpu]:
    found: list[Cpu] = []
    for text in args.cpu:
        n = normalize_any(text, None, allow_level=True)
        family = next(f for f in FAMILIES if n.name in f.catalog(None).names)
        found.append(Cpu(n.name if n.name == text.strip() else f"{printable(text.strip())}", "cpu", family,
                         n.name, n.level))
    for given in args.cpuinfo:
        shown = shown_path(given)
        cpu = cpu_of_text(_read_sample(Path(given), shown), Path(given).name, "cpuinfo")
        if cpu is None:
            raise UsageError(f"--cpuinfo {shown} is not a /proc/cpuinfo (no processor with a flags or cpu line) "
                             "nor an Intel Mac's sysctl capture (machdep.cpu feature keys)")
        found.append(cpu)
    for given in args.cpuinfo_dir:
        found += _fleet(Path(given), shown_path(given))
    if not (args.cpu or args.cpuinfo or args.cpuinfo_dir):
        cpu = cpu_of_text(_read_sample(PROC_CPUINFO, str(PROC_CPUINFO)), "this machine", "this machine")
        if cpu is None:
            raise Failure(f"{PROC_CPUINFO} tells no CPU this command knows; name one with --cpu")
        found.append(cpu)
    return found


def _fleet(directory: Path, shown: str) -> list[Cpu]:
    if not directory.is_dir():
        raise UsageError(f"--cpuinfo-dir {shown}: no such directory")
    machines = []
    try:
        entries = sorted(p for p in directory.iterdir() if p.is_file())
    except OSError as exc:
        raise Failure(f"cannot list {shown}: {exc.strerror or exc}") from None
    for path in entries:
        cpu = cpu_of_text(_read_sample(path, shown_path(str(path))), path.name, "cpuinfo")
        if cpu is not None:
            machines.append(cpu)
    if not machines:
        raise UsageError(f"--cpuinfo-dir {shown} holds no /proc/cpuinfo samples (files with a flags or cpu line)")
    return machines


# ----------------------------------------------------------------------------
# The verdicts.

def _named(env: Environment, above: int) -> str:
    packages = [r for r in env.needed_by() if r.level > above]
    names = ", ".join(f"{r.name} (>={r.level})" for r in packages[:SHOWN_PACKAGES])
    more = len(packages) - SHOWN_PACKAGES
    return names + (f" and {more} more" if more > 0 else "")


def judge(env: Environment, cpu: Cpu) -> Verdict:
    if env.family is None:
        return Verdict(cpu, RUNS, "no package in it depends on a microarch gate")
    if cpu.family is not env.family:
        return Verdict(cpu, OTHER, f"{env.family.a_label} environment; this is {cpu.family.a_label} CPU")
    gate = env.gate
    if env.unknown is not None:
        if gate is None:
            return Verdict(cpu, RUNS, "it holds no gate, so no package in it depends on one")
        if gate.level <= cpu.level:
            return Verdict(cpu, RUNS, f"no package in it can need more than the gate it holds (level {gate.level})")
        return Verdict(cpu, UNKNOWN, f"it holds gate level {gate.level}; whether a package needs more than "
                                     f"{cpu.level} cannot be known from the file alone (give --pkgs-dir)")
    needs = env.needs
    if needs > cpu.level:
        return Verdict(cpu, WILL_NOT_RUN, f"needs {needs}, the CPU is {cpu.level}: {_named(env, cpu.level)}")
    if gate is not None and gate.level > cpu.level:
        return Verdict(cpu, GATE_ABOVE, f"its packages need {needs}, but its gate is level {gate.level}: "
                                        f"{TARGET_FACTS[env.kind].install}")
    return Verdict(cpu, RUNS, f"needs {needs}, the CPU is {cpu.level}")


def over_pinned(env: Environment) -> bool:
    return env.gate is not None and env.needs is not None and env.gate.level > env.needs


def lower_gate(env: Environment) -> str:
    """How each tool gets a gate at the level the environment needs (tools/facts.py TARGET_FACTS)."""
    catalog = env.family.catalog(None)
    level = env.needs
    return TARGET_FACTS[env.kind].lower.format(gate=env.family.gate, level=level,
                                               level_name=catalog.level_name(level))


# ----------------------------------------------------------------------------
# Output.

def to_json(environments: list[Environment], skipped, machines: list[Cpu],
            verdicts: dict[int, list[Verdict]], ok: bool) -> dict:
    return {
        "cpus": [{"id": c.id, "source": c.source, "family": c.family.name, "name": c.name, "level": c.level}
                 for c in machines],
        "environments": [{
            "target": e.target, "kind": e.kind, "environment": e.name, "platform": e.platform,
            "family": e.family.name if e.family else None, "records": e.records, "solved_for": e.solved_for,
            "needs": {"level": e.needs, "known": e.unknown is None, "why_unknown": e.unknown,
                      "packages": [{"name": r.name, "version": r.version, "build": r.build, "requires": r.spec,
                                    "level": r.level} for r in e.needed_by()]},
            "holds": {"gate": None if e.gate is None else {"name": e.family.gate, "level": e.gate.level,
                                                          "build": e.gate.build},
                      "over_pinned": over_pinned(e), "lower": lower_gate(e) if over_pinned(e) else None,
                      "install": TARGET_FACTS[e.kind].install, "seen": TARGET_FACTS[e.kind].seen},
            "verdicts": [{"cpu": v.cpu.id, "verdict": v.verdict, "detail": v.detail} for v in verdicts[i]],
        } for i, e in enumerate(environments)],
        "skipped": [{"target": t, "environment": n, "platform": p, "why": w} for t, n, p, w in skipped],
        "ok": ok,
    }


_CELL = {RUNS: "runs", WILL_NOT_RUN: "NO", GATE_ABOVE: "GATE", UNKNOWN: "?", OTHER: "-"}


def _cell(env: Environment, v: Verdict) -> str:
    if v.verdict == WILL_NOT_RUN:
        return f"NO (needs {env.needs})"
    if v.verdict == GATE_ABOVE:
        return f"GATE {env.gate.level}"
    return _CELL[v.verdict]


def _env_label(e: Environment) -> str:
    return e.target if e.kind in ("prefix", "explicit") else f"{e.target} {e.name}"


def _needs(e: Environment) -> str:
    """The level needed; `?` when the target cannot tell, `-` when nothing in it ties it to a CPU family."""
    return "?" if e.unknown else "-" if e.needs is None else str(e.needs)


def _holds(e: Environment) -> str:
    if e.gate is None:
        return "-"
    return f"{e.gate.level}{' (>' + str(e.needs) + ')' if over_pinned(e) else ''}"


def table(environments: list[Environment], skipped, machines: list[Cpu], verdicts) -> str:
    header = ["environment", "platform", "solved for", "needs", "holds",
              *(f"{c.id} ({c.level})" for c in machines)]
    body = [[_env_label(e), e.platform, e.solved_for or "-", _needs(e), _holds(e),
             *(_cell(e, v) for v in verdicts[i])] for i, e in enumerate(environments)]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    row = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    lines = [row(header), row(["-" * w for w in widths]), *map(row, body)]
    notes = []
    for i, e in enumerate(environments):
        said = []
        if e.needed_by():
            said.append(f"needs {e.needs}: {_named(e, e.family.catalog(None).levels[0])}")
        if e.unknown:
            said.append(f"needs: unknown: {e.unknown}")
        if over_pinned(e):
            said.append(f"holds {e.family.gate} {e.gate.level} ({e.gate.build}), more than it needs; "
                        f"for level {e.needs}: {lower_gate(e)}")
        for kind, what in ((WILL_NOT_RUN, "will not run on"), (GATE_ABOVE, "gate above the CPU on"),
                           (UNKNOWN, "cannot tell for")):
            hit = [v for v in verdicts[i] if v.verdict == kind]
            if hit:
                said.append(f"{what} {', '.join(f'{v.cpu.id} ({v.cpu.level})' for v in hit)}: {_why(e, hit[0])}")
        if said:
            notes.append(f"{_env_label(e)} ({e.platform}):")
            notes += [f"  {s}" for s in said]
    if skipped:
        notes.append("not checked: " + "; ".join(f"{t} {n} {p} ({w})" for t, n, p, w in skipped))
    legend = ("cells: runs | NO (needs N): a package needs level N | GATE N: the packages would run, the gate "
              "held is level N | ? unknown | - another CPU family")
    return "\n".join(lines + ([""] + notes if notes else []) + ["", legend])


def _why(e: Environment, v: Verdict) -> str:
    """What a table note says about a verdict once for all the CPUs that share it."""
    if v.verdict == WILL_NOT_RUN:
        return f"packages need level {e.needs}"
    if v.verdict == GATE_ABOVE:
        return f"its packages need {e.needs}, the gate is level {e.gate.level}; {TARGET_FACTS[e.kind].install}"
    return f"it holds gate level {e.gate.level}; the file alone cannot tell whether a package needs more"


def plain(environments: list[Environment], machines: list[Cpu], verdicts) -> str:
    lines = []
    for i, e in enumerate(environments):
        for v in verdicts[i]:
            lines.append("\t".join([e.target, e.name, e.platform, v.cpu.id, str(v.cpu.level), v.verdict,
                                    _needs(e),
                                    "-" if e.gate is None else str(e.gate.level)]))
    return "\n".join(lines)


def run(args) -> int:
    machines = cpus(args)
    environments: list[Environment] = []
    skipped: list[tuple[str, str, str, str]] = []
    pkgs_dirs = [Path(d) for d in args.pkgs_dir]
    for d, given in zip(pkgs_dirs, args.pkgs_dir):
        if not d.is_dir():
            raise UsageError(f"--pkgs-dir {shown_path(given)}: no such directory")
    for target in args.targets:
        found: Read = read(target, pkgs_dirs)
        environments += found.environments
        skipped += found.skipped
    if not environments:
        raise UsageError(f"no {' or '.join(f.subdir for f in FAMILIES)} environment in "
                         + ", ".join(map(shown_path, args.targets)))
    verdicts = {i: [judge(e, c) for c in machines] for i, e in enumerate(environments)}
    judged = [v for vs in verdicts.values() for v in vs if v.verdict != OTHER]
    if not judged:
        families = sorted({c.family.name for c in machines})
        raise UsageError(f"no environment is for the CPUs named ({', '.join(families)}): nothing to check")
    ok = all(v.verdict == RUNS for v in judged)
    if args.format == "json":
        text = json.dumps(to_json(environments, skipped, machines, verdicts, ok), indent=2)
    elif args.format == "plain":
        text = plain(environments, machines, verdicts)
    else:
        text = table(environments, skipped, machines, verdicts)
    print(text)
    return 0 if ok else 1
