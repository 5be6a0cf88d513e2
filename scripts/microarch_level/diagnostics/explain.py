"""`microarch-level explain [FILE]`: say in plain words why a solver refused the gate.

Solver errors about `__archspec` read like riddles ("nothing provides
__archspec 1 core2 needed by _x86_64-microarch-level-1-0_core2" on a
broadwell).  A few causes produce all of them, and each has a different fix.
This module picks the cause from the facts solver_text finds and the CPU the
solve ran for (the text itself, --cpu, CONDA_OVERRIDE_ARCHSPEC here, or this
machine), says which of them decided and names this machine's CPU beside it;
diagnoses words it.  The builds a text lists are only what it shows: what the
channel holds is read from the channel (--channel, or the local file://
channel the text names), never guessed from the text.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from ..catalog.families import FAMILIES, FEATURES, GENERATION, OVERRIDE, Family
from ..catalog.levels import Catalog
from ..catalog.matching import matches
from ..catalog.spelling import UnknownName, normalize
from ..terminal import escape_controls
from ..tools.solver_text import REPORTED, WRITERS, SolverText, clean, parse
from . import diagnoses as say
from .diagnoses import (ASSUMED, DECIDED, FROM_ENV, FROM_MACHINE, FROM_OPTION, FROM_TEXT, Diagnosis, Host,
                        host_of)
from .explain_power import diagnose_power

HELP = "explain a conda/mamba/pixi solver error about __archspec or a microarch-level gate"

# What a diagnosis may be (Diagnosis.kind).
DIAGNOSIS_KINDS = ("override-spelling", "hyphen-report", "lower-pin-old-channel", "cpu-too-new", "cpu-below",
         "foreign-build-pin", "tool-report", "cpu-not-shown", "gate-unsatisfied", "unknown-cpu", "cpu-not-in-text",
         "solved")


def this_machine(catalog: Catalog, environ=None) -> Host | None:
    """The CPU a solver run from this shell would see: the override in explain's own environment, else archspec's."""
    value = (os.environ if environ is None else environ).get(OVERRIDE)
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


def diagnose(facts: SolverText, catalog: Catalog, cpu: Host | None = None, *, override: Host | None = None,
             real: Host | None = None, channel: Path | None = None) -> Diagnosis | None:
    """What happened, or None when the text shows no __archspec or gate problem.

    `cpu`: the CPU given with --cpu, or (when the text reports none) the one explain assumes (diagnoses.ASSUMED);
    `override`: CONDA_OVERRIDE_ARCHSPEC in explain's own environment; `real`: this machine's CPU;
    `channel`: the channel's directory, the only source of a verdict on what the channel holds.
    """
    if facts.solved:  # what was chosen matters on the CPU that will run it
        host = cpu or real or override
        d = say.solved(catalog, facts, host)
        d.decided_by = DECIDED.get(host.source) if host else None
        d.tool = str(facts.tool) if facts.tool else None
        return d
    if not facts.about_archspec:
        return None
    requested = _requested(facts, catalog)
    if cpu is not None and cpu.source == FROM_OPTION and facts.reported:
        real = cpu  # --cpu names the machine the command ran on
    d = _decide(facts, catalog, cpu, requested, channel, real)
    if d.kind == "unknown-cpu" and override is not None and _same(d.host, override):
        d = say.override_spelling(catalog, facts, override.reported, d.host, requested, real)  # passed verbatim
    d.tool = str(facts.tool) if facts.tool else None
    d.channel = str(channel) if channel else None
    if not facts.reported and facts.rejected_override is None:
        assumed = (f"; this diagnosis uses {d.host.source}: '{d.host.reported}'"
                   if d.host is not None and d.host.source in ASSUMED else "")
        d.notes.insert(0, f"the text does not show which CPU (__archspec) the solver saw{assumed}")
    _sources(d, facts, catalog, override, real)
    return d


def _same(a: Host, b: Host) -> bool:
    return a.reported == b.reported or (a.name is not None and a.name == b.name)


def _sources(d: Diagnosis, facts: SolverText, catalog: Catalog, override: Host | None, real: Host | None) -> None:
    """Say which source decided the CPU the solver saw, name this machine's CPU beside it, and put the
    override first when it is the cause."""
    host = d.host
    d.decided_by = DECIDED.get(host.source) if host else None
    if host is not None and real is not None and not _same(host, real):
        d.real = real
    by_override = host is not None and (
        host.source == FROM_ENV or (override is not None and host.source == FROM_TEXT and _same(host, override))
        or (host.source == FROM_TEXT and host.reported in facts.override_values))
    if d.kind in ("override-spelling", "hyphen-report", "foreign-build-pin", "tool-report"):
        by_override = by_override and d.kind == "override-spelling"
    if by_override:
        d.decided_by = "override"
        if d.kind != "override-spelling":
            d.actions = [a for a in d.actions if OVERRIDE not in a]
            d.actions.insert(0, say.override_cause(host.reported, host, real, facts.gate))
        return
    generic = (host is not None and host.source == FROM_TEXT and host.name == host.reported
               and host.name == catalog.generic_names[host.level] and say.names_cpus(facts))
    if generic and d.real is not None and d.real.level is not None and d.real.level > host.level:
        # conda and rattler report a CPU's own name: a generic one in their text is an override's doing.
        d.actions = [a for a in d.actions if OVERRIDE not in a]
        d.actions.insert(0, f"{say.who(say.STYLES['conda'])} reports archspec's specific name for a CPU, so "
                            f"'{host.reported}' means {OVERRIDE}={host.reported} was set where the solver ran: "
                            + say.override_cause(host.reported, host, real, facts.gate).split(": ", 1)[1])


def _decide(facts: SolverText, catalog: Catalog, cpu: Host | None, requested: list[int],
            channel: Path | None = None, real: Host | None = None) -> Diagnosis:
    if facts.rejected_override is not None:
        return say.override_spelling(catalog, facts, facts.rejected_override, cpu, requested, real)
    seen = host_of(facts.reported[0][1], FROM_TEXT, catalog) if facts.reported else None
    if seen and _misspelled(seen, facts, catalog):
        mamba_hyphen = say.mamba_hyphen(seen, catalog)
        if mamba_hyphen and cpu is None and requested and seen.level < min(requested):
            return say.below(catalog, facts, seen, requested)  # the spelling matters less than the level
        if mamba_hyphen and seen.reported not in facts.override_values:
            return say.hyphen_report(facts, seen, requested)
        return say.override_spelling(catalog, facts, seen.reported, seen, requested, real)
    style = say.reporting_style(facts)
    constant = say.cpu_blind(style, catalog) if style else False
    blind = constant is not False and (seen is None or facts.reported[0] == constant)
    # The CPU the text reports is the one the solver saw; --cpu (the machine it ran on) stands in for it only
    # when the text shows none, or a report that does not depend on the CPU.
    host = cpu if blind or seen is None or (cpu is not None and _same(cpu, seen)) else seen
    pinned = [p for p in facts.pins if p.build]
    if pinned and (host is None or pinned[0].build.split("_", 1)[1] != host.name):
        return say.foreign_pin(facts, host, requested)
    if blind:
        return say.tool_report(catalog, facts, host, requested)
    if host is None or not requested:
        return say.unsatisfied(facts, requested)
    if host.name is None:
        if host.source == FROM_ENV:
            return say.override_spelling(catalog, facts, host.reported, host, requested, real)
        return say.unknown_cpu(catalog, facts, host, requested)
    if host.level < min(requested):
        return say.below(catalog, facts, host, requested)
    solver = WRITERS[facts.writer].solver if facts.writer in WRITERS else "rattler"
    accepted = any(matches(solver, r.build, host.reported) or matches(solver, r.build, host.name)
                   for r in facts.requirements)
    if channel is not None:
        from ..tools.solve import installable_from_repodata

        levels = installable_from_repodata(channel, host.name, solver, facts.gate)
        if not set(requested) & levels:
            return (say.lower_pin(catalog, facts, host, requested)
                    if _design(facts, catalog) == "per-name" and host.level > max(requested)
                    else say.too_new(catalog, facts, host, requested))
        accepted = True  # the channel has a build for this CPU: the solver did not see it
    if not accepted and facts.requirements:
        return say.not_in_text(catalog, facts, host, requested)
    if not facts.reported:
        return say.not_shown(facts, host, requested)
    return say.tool_report(catalog, facts, host, requested)


# ----------------------------------------------------------------------------
# Command line.

def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE", help="the solver's output (default: stdin)")
    parser.add_argument("--cpu", metavar="NAME",
                        help="the CPU of the machine the failing command ran on, in any spelling `normalize` reads; "
                             "it decides when the text reports no CPU (default: CONDA_OVERRIDE_ARCHSPEC here, "
                             "else this machine)")
    parser.add_argument("--no-detect", action="store_true",
                        help="never look at this machine (its CPU, or CONDA_OVERRIDE_ARCHSPEC in this environment); "
                             "use only the text and --cpu")
    parser.add_argument("--channel", metavar="DIR",
                        help="the channel the solve used (a local directory or file:// URL): needed for a verdict "
                             "on what the channel holds (default: the local file:// channel the text names, when "
                             "it exists here)")
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


SOURCE_WORDS = {"override": f"{OVERRIDE}", "text": "the text", "option": "--cpu",
                "machine": "this machine's CPU"}


def render(d: Diagnosis) -> str:
    lines = [f"What happened ({d.kind}):", f"  {d.summary}", "What to do:"]
    lines += [f"  - {a}" for a in d.actions]
    seen = [f"written by {d.tool or 'an unrecognised tool'}"]
    if d.requested:
        seen.append(f"gate level(s) {'chosen' if d.kind == 'solved' else 'in the failure'}: "
                    f"{', '.join(map(str, d.requested))}")
    if d.host:
        level = f"level {d.host.level}" if d.host.level is not None else "unknown to archspec"
        decided = f", decided by {SOURCE_WORDS[d.decided_by]}" if d.decided_by else ""
        seen.append(f"CPU '{d.host.reported}' ({level}) from {d.host.source}{decided}")
    if d.real:
        seen.append(f"this machine's CPU: '{d.real.reported}' (level {d.real.level})")
    if d.channel:
        seen.append(f"channel read: {d.channel}")
    lines.append("Seen: " + "; ".join(seen))
    lines += [f"Note: {n}" for n in d.notes]
    return "\n".join(escape_controls(line) for line in lines) + "\n"


def option_cpu(value: str, catalog: Catalog) -> Host:
    """--cpu in any spelling `normalize` reads (bare levels included); refused (exit 2) as normalize refuses."""
    from ..catalog.spelling import normalize_in

    n = normalize_in(value, catalog, allow_level=True)
    return Host(value, FROM_OPTION, n.name, n.level)


def channel_of(args, facts: SolverText) -> Path | None:
    """The channel directory to read: --channel, else the first local file:// channel the text names that exists."""
    from ..errors import UsageError

    if args.channel is not None:
        path = Path(args.channel[len("file://"):] if args.channel.startswith("file://") else args.channel)
        if not path.is_dir():
            raise UsageError(f"--channel {args.channel}: no such directory")
        return path
    return next((Path(c) for c in facts.channels if Path(c).is_dir()), None)


def next_step(facts: SolverText, override: str | None) -> str:
    """What to run to get a text that shows the __archspec facts (one line)."""
    if facts.writer in ("conda-classic", "conda"):
        step = ("conda prints the conflict only with --json: rerun the command with --json and explain that, "
                "or run `microarch-level doctor`")
    else:
        step = "rerun the command with --json (or -v) and explain that, or run `microarch-level doctor`"
    if override is not None:
        step += f"; note {OVERRIDE}={override} is set in this shell"
    return step


def involved(text: str) -> list[Family]:
    """The families a text is about, in registry order: those whose packages it names (a gate's name
    holds its flag package's), else those whose catalog knows the CPU it reports, else the first."""
    named = [f for f in FAMILIES if f.flags in text]
    if named:
        return named
    reported = {build for _, build in REPORTED.findall(clean(text))}
    return [f for f in FAMILIES if reported & set(f.catalog(None).names)] or FAMILIES[:1]


def _features(args, text: str, facts: SolverText, family: Family) -> Diagnosis | None:
    """A family whose levels are features (x86-64): `diagnose`, over the CPU the options and this machine add."""
    catalog = family.catalog(None)
    cpu = option_cpu(args.cpu.strip(), catalog) if args.cpu is not None else None
    override = real = None
    if not args.no_detect:
        value = os.environ.get(OVERRIDE)
        override = host_of(value, FROM_ENV, catalog) if value else None
        from .probe import archspec_host

        name = archspec_host()
        real = host_of(name, FROM_MACHINE, catalog) if name else None
    channel = channel_of(args, facts)
    assumed = cpu or (None if facts.reported or facts.solved else (override or real))
    return diagnose(facts, catalog, assumed, override=override, real=real, channel=channel)


def _generation(args, text: str, facts: SolverText, family: Family) -> Diagnosis:
    """A family whose levels are generations (ppc64le): explain_power, which never reads this machine."""
    cpu = option_cpu(args.cpu.strip(), family.catalog(None)).name if args.cpu else None
    return diagnose_power(facts, cpu, {} if args.no_detect else os.environ, family)


# The explainer of a family of each rule (families.py), over what solver_text reads of its gate.
EXPLAINERS = {FEATURES: _features, GENERATION: _generation}


def run(args) -> int:
    from ..errors import UsageError

    text, source = _read(args)
    if args.cpu is not None and not args.cpu.strip():
        raise UsageError("--cpu: empty CPU name")
    families = involved(text)
    for family in families:
        facts = parse(text, family)
        d = EXPLAINERS[family.rule](args, text, facts, family)
        if d is not None:
            sys.stdout.write(json.dumps(asdict(d), indent=2) + "\n" if args.json else render(d))
            return 0
    gates = " or ".join(f.gate for f in families)
    override = None if args.no_detect else os.environ.get(OVERRIDE) or None
    print(f"microarch-level explain: nothing about __archspec or {gates} found in {source}; "
          f"{next_step(facts, override)}", file=sys.stderr)
    return 1
