"""`microarch-level doctor`: why this machine gets the builds it gets.

A user whose optimised build did not install (or crashed) needs the CPU as
each source sees it, what each package manager reports as `__archspec`, the
gate level that report installs, and, for an existing environment, whether
it was built for a better CPU than this one.  This module gathers those
facts into one JSON-able report; doctor_view renders it for people.  The
family it judges is this machine's (platform.machine(): x86-64, or ppc64le,
whose CPU is the `cpu : POWERn` line); `gather` takes it as a parameter.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from ..catalog.families import FAMILIES, OVERRIDE, Family, by_name
from ..catalog.gate import gate_builds, installable_levels
from ..catalog.levels import Catalog
from ..runtime.guards import GUARD_OFF_VAR
from ..tools import overrides
from ..tools.facts import CPUID, STYLES, TOOLS, advice, style_of
from . import doctor_view, probe

HELP = "explain this machine: its CPU per source, what each package manager reports, which gate level installs"


def add_arguments(parser) -> None:
    parser.add_argument("--prefix", metavar="ENV",
                        help="also check this conda environment's gate level against this CPU")
    parser.add_argument("--json", action="store_const", const="json", dest="format", default="auto",
                        help="print the report as JSON (same as --format json)")
    parser.add_argument("--format", choices=("auto", "table", "plain", "json"), default="auto",
                        help="auto (default): a table on a terminal, plain text when piped")


def run(args) -> int:
    from ..errors import UsageError
    from .prefix import NotAnEnvironment

    family = machine_family()
    catalog = family.catalog(None)
    try:
        if args.prefix == "":
            raise UsageError("--prefix is empty; give a conda environment's directory, e.g. \"$CONDA_PREFIX\"")
        report = gather(catalog, Path(args.prefix) if args.prefix is not None else None, family)
    except NotAnEnvironment as exc:
        raise UsageError(f"--prefix: {exc}") from None
    fmt = args.format
    if fmt == "auto":
        fmt = "table" if sys.stdout.isatty() else "plain"
    sys.stdout.write(doctor_view.render(report, fmt))
    return EXIT[report["prefix"]["verdict"]] if "prefix" in report else 0


def machine_family(machine: str | None = None) -> Family:
    """The family of `machine` (default: this one's, platform.machine()); the first family for any other."""
    machine = platform.machine() if machine is None else machine
    return next((f for f in FAMILIES if f.name == machine), FAMILIES[0])


def _levels(levels: list[int]) -> dict:
    return {"installable": levels, "installs": max(levels) if levels else None}


def _report(pair: tuple[str, str] | None) -> str | None:
    return None if pair is None else f"{pair[0]}={pair[1]}"


def cpu_section(cpu: probe.Cpu) -> dict:
    """Each source's section (None for a source not read here: sysctl off macOS), then the verdict."""
    sections = {s.section: (cpu.found[s.field].section() if s.field in cpu.found else None) for s in probe.SOURCES}
    return {**sections, "level": cpu.level, "level_source": cpu.level_source, "notes": list(cpu.notes)}


# Styles whose detection is CPUID (facts.STYLES) detect the level with the compiler's CPUID builtins,
# not from /proc/cpuinfo (libmamba/src/core/virtual_packages.cpp, get_archspec_x86_64; mamba #3795),
# so glibc's CPUID-based answer stands in for theirs.
def _host_for(style_key: str, catalog: Catalog, cpu: probe.Cpu) -> tuple[str | None, str]:
    """The archspec name a style's detection starts from here, and where it comes from."""
    if STYLES[style_key].detection == CPUID and cpu.glibc.level in catalog.generic_names:
        return catalog.generic_names[cpu.glibc.level], "CPUID"
    return (cpu.proc.host if cpu.proc.host in catalog.names else None), "/proc/cpuinfo"


def styles_section(catalog: Catalog, cpu: probe.Cpu, builds) -> list[dict]:
    """What each reporting style would put in __archspec here, and what that installs."""
    label = by_name(catalog.family).label
    rows = []
    for style in STYLES.values():
        host, seen_by = _host_for(style.key, catalog, cpu)
        row = {"style": style.key, "label": style.label, "solver": style.solver, "source": seen_by,
               "override": None, "error": None, "note": None}
        reported = style.report(catalog, host) if host else None
        if host is None and style.reports is not None:
            row["note"] = f"archspec gave no {label} name for this CPU"
        if cpu.override.set:
            reading = overrides.read(style.key, cpu.override.value, catalog)
            row["override"] = "used" if reading.used else "ignored"
            if reading.used:
                reported, row["source"], row["error"] = reading.report, OVERRIDE, reading.error
                row["note"] = reading.note
        row["reported"] = _report(reported)
        levels = [] if row["error"] else installable_levels(builds, reported[1] if reported else None, style.solver)
        row.update(_levels(levels))
        if row["source"] == OVERRIDE and reported and levels:
            wanted = cpu.override.level
            if wanted is None or max(levels) < wanted:
                row["note"] = _join(row["note"], f"no gate build above level {max(levels)} matches it")
        rows.append(row)
    return rows


def _join(a: str | None, b: str) -> str:
    return f"{a}; {b}" if a else b


def _runners():
    try:
        from ..tools import runners
    except ImportError as exc:
        return None, f"microarch_level.tools.runners is not available ({exc})"
    return runners, None


def tools_section(builds, predicted: dict[str, dict]) -> tuple[list[dict], str | None]:
    """Each package manager on PATH: its version and what it actually reports, by running it."""
    runners, problem = _runners()
    rows: list[dict] = []
    if runners is None:
        return rows, problem
    for tool in TOOLS:
        row: dict = {"tool": tool, "found": False}
        rows.append(row)
        try:
            exe = runners.find(tool)
            if exe is None:
                continue
            row.update(found=True, path=str(exe))
            version = runners.version(tool, exe)
            style = style_of(tool, version)
            row.update(version=version, style=style.key, label=style.label, advice=advice(tool, version))
            reported = runners.reported_archspec(tool, exe, tool_version=version)
        except Exception as exc:  # a broken tool install is a finding, not a crash
            row["error"] = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            continue
        row["reported"] = _report(reported)
        row.update(_levels(installable_levels(builds, reported[1] if reported else None, style.solver)))
        expected = predicted.get(style.key, {}).get("reported")
        if row["reported"] != expected:
            row["note"] = f"expected {expected or 'no __archspec'} for {style.label}"
    return rows, None


# What `doctor --prefix` exits with, for scripts (`doctor --prefix "$ENV" && run-job`): docs/doctor.md.
RUNS_HERE, WILL_NOT_RUN, CANNOT_TELL = "runs-here", "will-not-run", "cannot-tell"
EXIT = {RUNS_HERE: 0, WILL_NOT_RUN: 1, CANNOT_TELL: 1}


def prefix_section(path: Path, cpu: probe.Cpu, family: Family, catalog: Catalog | None = None) -> dict:
    from .prefix import read_environment

    catalog = catalog or family.catalog(None)
    env = read_environment(path, family.gate, catalog.levels)
    level = cpu.level
    if env.gate_unreadable:
        status = "unreadable"
    elif any(name.startswith(f"{family.gate}-") for name, _ in env.invalid):
        status = "invalid"
    elif env.gate_level is None and env.other_gates:
        status = "other-family"
    elif env.gate_level is None:
        status = "incomplete" if env.dependents else "no-gate"
    elif level is None:
        status = "unknown"
    else:
        status = "ok" if env.gate_level <= level else "too-high"
    flags = None
    if env.flags_level is not None:
        march = catalog.flag_template.format(name=catalog.march[env.flags_level])
        flags = {"level": env.flags_level, "build": env.flags_build, "compiler_flags": march,
                 "status": "unknown" if level is None else ("ok" if env.flags_level <= level else "too-high")}
    return {
        "path": str(env.path),
        "gate_name": family.gate,
        "flags_name": family.flags,
        "family": family.label,
        "gate": None if env.gate_level is None else {"level": env.gate_level, "build": env.gate_build},
        "flags": flags,
        "cpu_level": level,
        "status": status,
        "verdict": _verdict(status, flags),
        "dependents": [{"name": d.name, "version": d.version, "build": d.build, "requirement": d.requirement}
                       for d in env.dependents],
        "unreadable": env.unreadable,
        "gate_unreadable": [{"file": f"conda-meta/{name}", "problem": why} for name, why in env.gate_unreadable],
        "invalid": [{"file": f"conda-meta/{name}", "problem": why} for name, why in env.invalid],
        "other_gates": [{"name": name, "level": lv} for name, lv in env.other_gates],
    }


def _verdict(status: str, flags: dict | None) -> str:
    """Whether what the environment holds, and what its compilers build, runs on this CPU."""
    if status in ("unreadable", "invalid", "incomplete", "unknown"):
        return CANNOT_TELL
    if status in ("too-high", "other-family") or (flags and flags["status"] == "too-high"):
        return WILL_NOT_RUN
    if flags and flags["status"] == "unknown":
        return CANNOT_TELL
    return RUNS_HERE


def advice_section(report: dict) -> list[str]:
    """The few things a user should do, derived from the facts above."""
    out = []
    cpu = report["cpu"]
    level, override = cpu["level"], cpu["override"]
    if override["set"] and override["level"] is not None and level is not None and override["level"] > level:
        out.append(f"{OVERRIDE}={override['value']} claims level {override['level']}, but this CPU is "
                   f"level {level}: environments solved with it get builds that crash here")
    for row in report["tools"]:
        if row.get("advice"):
            out.append(row["advice"])
    env = report.get("prefix")
    if env and env["status"] == "unreadable":
        out.append(f"make {', '.join(r['file'] for r in env['gate_unreadable'])} in {env['path']} readable (run "
                   f"doctor as its owner, or repair the environment) to learn which CPU level it needs")
    if env and env["status"] == "invalid":
        out.append(f"{', '.join(r['file'] for r in env['invalid'])} in {env['path']} names no level: the record was "
                   f"edited or damaged; reinstall {env['gate_name']} to learn which CPU level the environment needs")
    if env and env["flags"] and env["flags"]["status"] == "too-high":
        out.append(f"{env['path']} holds {env['flags_name']} {env['flags']['level']}: compilers there build "
                   f"{env['family']} level {env['flags']['level']} code ({env['flags']['compiler_flags']}), which "
                   f"will not run on this level-{level} CPU; install '{env['flags_name']}<={level}' to build for it")
    if env and env["status"] == "too-high":
        names = ", ".join(d["name"] for d in env["dependents"]) or "its optimised packages"
        out.append(f"{env['path']} was built for level {env['gate']['level']} but this CPU is level {level}: "
                   f"{names} may crash with \"Illegal instruction\"; recreate it here, or pin "
                   f"'{env['gate_name']}<={level}' when creating it")
    if os.environ.get(GUARD_OFF_VAR) == "0":
        out.append(f"{GUARD_OFF_VAR}=0 is set: the activation guard will not warn about a CPU below an "
                   f"environment's level")
    return out


def gather(catalog: Catalog, prefix: Path | None = None, family: Family | None = None) -> dict:
    """The report on this machine, whose CPU family is `family` (`catalog` is its catalog; by default
    the family of `catalog`)."""
    family = family or by_name(catalog.family)
    cpu = probe.probe(catalog)
    builds = gate_builds(catalog)
    styles = styles_section(catalog, cpu, builds)
    report = {
        "archspec_version": catalog.archspec_version,
        "family": family.name,
        "cpu": cpu_section(cpu),
        "styles": styles,
    }
    report["tools"], report["tools_error"] = tools_section(builds, {row["style"]: row for row in styles})
    if prefix is not None:
        report["prefix"] = prefix_section(prefix, cpu, family, catalog)
    report["advice"] = advice_section(report)
    return report
