"""`microarch-level explain [FILE]`: say in plain words why a solver refused the gate.

Solver errors about `__archspec` read like riddles ("nothing provides
__archspec 1 core2 needed by _x86_64-microarch-level-1-0_core2" on a
broadwell).  A few causes produce all of them, and each has a different fix.
This module picks the cause from the facts solver_text finds and the CPU the
solve ran for (--cpu, the text itself, or this machine); diagnoses words it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

from ..catalog.families import GATE
from ..catalog.families import OVERRIDE as VARIABLE
from ..catalog.levels import Catalog, load_catalog
from ..catalog.matching import matches
from ..catalog.spelling import UnknownName, normalize
from ..terminal import escape_controls
from ..tools.solver_text import TOOLS, SolverText, parse
from . import diagnoses as say
from .diagnoses import ASSUMED, FROM_ENV, FROM_MACHINE, FROM_OPTION, FROM_TEXT, Diagnosis, Host, host_of

HELP = "explain a conda/mamba/pixi solver error about __archspec or a microarch-level gate"

KINDS = ("override-spelling", "hyphen-report", "lower-pin-old-channel", "cpu-too-new", "cpu-below",
         "foreign-build-pin", "tool-report", "cpu-not-shown", "gate-unsatisfied")


def this_machine(catalog: Catalog, environ=None) -> Host | None:
    """The CPU a solver run from this shell would see: the override in explain's own environment, else archspec's."""
    value = (os.environ if environ is None else environ).get(VARIABLE)
    if value:
        return host_of(value, FROM_ENV, catalog)
    from .probe import archspec_host

    name = archspec_host()
    return host_of(name, FROM_MACHINE, catalog) if name else None


def _design(facts: SolverText, catalog: Catalog) -> str:
    """'per-name': level-N gate builds accept only names exactly at N (conda-forge's builds 0-4);
    'open': they accept names above N too (this feedstock); 'unknown'."""
    seen_open = seen_exact = False
    for req in facts.requirements:
        if "*" in req.build:
            seen_open = True
            continue
        level = catalog.names.get(req.build)
        if level is None or len(req.gate_levels) != 1:
            continue
        seen_open |= level > req.gate_levels[0]
        seen_exact |= level == req.gate_levels[0]
    return "open" if seen_open else ("per-name" if seen_exact else "unknown")


def _requested(facts: SolverText, catalog: Catalog) -> list[int]:
    """The gate levels the failure is about (else the lowest level of the CPU names it requires)."""
    if facts.gate_levels:
        return sorted(facts.gate_levels)
    levels = {catalog.names[r.build] for r in facts.requirements if r.build in catalog.names}
    return [min(levels)] if levels else []


def _misspelled(seen: Host, facts: SolverText, catalog: Catalog) -> bool:
    """A reported __archspec no detector produces: only an override (or mamba's bug) puts it there."""
    if seen.name is not None:
        return seen.reported != seen.name
    if seen.reported in facts.override_values:
        return True
    try:
        normalize(seen.reported, catalog, allow_level=True)  # a bare level such as 'v3'
        return True
    except UnknownName:
        return False


def diagnose(facts: SolverText, catalog: Catalog, cpu: Host | None = None) -> Diagnosis | None:
    """What happened, or None when the text shows no __archspec or gate problem.

    `cpu`: the CPU given with --cpu, or (when the text reports none) the one explain assumes (diagnoses.ASSUMED).
    """
    if not facts.about_archspec:
        return None
    d = _decide(facts, catalog, cpu, _requested(facts, catalog))
    d.tool = str(facts.tool) if facts.tool else None
    if not facts.reported and facts.rejected_override is None:
        assumed = (f"; this diagnosis uses {d.host.source}: '{d.host.reported}'"
                   if d.host is not None and d.host.source in ASSUMED else "")
        d.notes.insert(0, f"the text does not show which CPU (__archspec) the solver saw{assumed}")
    return d


def _decide(facts: SolverText, catalog: Catalog, cpu: Host | None, requested: list[int]) -> Diagnosis:
    if facts.rejected_override is not None:
        return say.override_spelling(catalog, facts, facts.rejected_override, cpu, requested)
    seen = host_of(facts.reported[0][1], FROM_TEXT, catalog) if facts.reported else None
    if seen and _misspelled(seen, facts, catalog):
        mamba_hyphen = seen.name and seen.reported == seen.name.replace("x86_64_", "x86_64-")
        if mamba_hyphen and cpu is None and requested and seen.level < min(requested):
            return say.below(catalog, facts, seen, requested)  # the spelling matters less than the level
        if mamba_hyphen and seen.reported not in facts.override_values:
            return say.hyphen_report(facts, seen, requested)
        return say.override_spelling(catalog, facts, seen.reported, seen, requested)
    style = say.reporting_style(facts)
    constant = say.cpu_blind(style, catalog) if style else False
    blind = constant is not False and (seen is None or facts.reported[0] == constant)
    host = cpu or (None if blind else seen)
    pinned = [p for p in facts.pins if p.build]
    if pinned and (host is None or pinned[0].build.split("_", 1)[1] != host.name):
        return say.foreign_pin(facts, host, requested)
    if blind:
        return say.tool_report(catalog, facts, host, requested)
    if host is None or not requested:
        return say.unsatisfied(facts, requested)
    if host.name is None:
        return say.too_new(catalog, facts, host, requested)
    if host.level < min(requested):
        return say.below(catalog, facts, host, requested)
    solver = TOOLS[facts.family].solver if facts.family in TOOLS else "rattler"
    accepted = any(matches(solver, r.build, host.reported) or matches(solver, r.build, host.name)
                   for r in facts.requirements)
    if not accepted and facts.requirements:
        if _design(facts, catalog) == "per-name" and host.level > max(requested):
            return say.lower_pin(catalog, facts, host, requested)
        return say.too_new(catalog, facts, host, requested)
    if not facts.reported:
        return say.not_shown(facts, host, requested)
    return say.tool_report(catalog, facts, host, requested)


# ----------------------------------------------------------------------------
# Command line.

def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE", help="the solver's output (default: stdin)")
    parser.add_argument("--cpu", metavar="NAME",
                        help="the CPU the failing command ran on, in any spelling (default: what the text "
                             "reports, else this machine)")
    parser.add_argument("--no-detect", action="store_true",
                        help="never look at this machine (its CPU, or CONDA_OVERRIDE_ARCHSPEC in this environment); "
                             "use only the text and --cpu")
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")


# A solver's output is a few KB, a verbose log a few MB: more is not one (and /dev/zero never ends).
MAX_INPUT = 64 << 20


def _read(args) -> tuple[str, str]:
    """The text to explain, read bounded (process.read_bounded): a file, a pipe, or stdin."""
    from ..errors import UsageError
    from ..process import NotAFile, read_bounded, read_fd_bounded

    if args.file == "":
        raise UsageError("FILE is empty; give the file holding the solver's output, or - for stdin")
    if args.file in (None, "-"):
        if not hasattr(sys.stdin, "fileno"):  # descriptor 0 was closed: its stand-in says so
            return sys.stdin.read(), "stdin"
        where, read = "stdin", lambda: read_fd_bounded(0, MAX_INPUT)
    else:
        where, read = args.file, lambda: read_bounded(args.file, MAX_INPUT, streams=True)
    try:
        return read().decode("utf-8", errors="replace"), where
    except (OSError, NotAFile) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"cannot read {where}: {reason}") from None


def render(d: Diagnosis) -> str:
    lines = [f"What happened ({d.kind}):", f"  {d.summary}", "What to do:"]
    lines += [f"  - {a}" for a in d.actions]
    seen = [f"written by {d.tool or 'an unrecognised tool'}"]
    if d.requested:
        seen.append(f"gate level(s) in the failure: {', '.join(map(str, d.requested))}")
    if d.host:
        level = f"level {d.host.level}" if d.host.level is not None else "unknown to archspec"
        seen.append(f"CPU '{d.host.reported}' ({level}) from {d.host.source}")
    if seen:
        lines.append("Seen: " + "; ".join(seen))
    lines += [f"Note: {n}" for n in d.notes]
    return "\n".join(escape_controls(line) for line in lines) + "\n"


def run(args) -> int:
    from ..errors import UsageError

    catalog = load_catalog()
    cpu = None
    if args.cpu is not None:
        if not args.cpu.strip():
            raise UsageError("--cpu: empty CPU name")
        cpu = host_of(args.cpu.strip(), FROM_OPTION, catalog)
    text, source = _read(args)
    facts = parse(text)
    from .explain_power import concerns_power, diagnose_power

    if concerns_power(text):
        d = diagnose_power(text, facts, args.cpu.strip() if args.cpu else None, os.environ)
        sys.stdout.write(json.dumps(asdict(d), indent=2) + "\n" if args.json else render(d))
        return 0
    if cpu is None and not facts.reported and not args.no_detect:
        cpu = this_machine(catalog)
    d = diagnose(facts, catalog, cpu)
    if d is None:
        print(f"microarch-level explain: nothing about __archspec or {GATE} found in {source}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(asdict(d), indent=2) + "\n" if args.json else render(d))
    return 0
