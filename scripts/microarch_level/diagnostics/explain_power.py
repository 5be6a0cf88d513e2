"""`explain` for a failure about the gate of a family whose levels are generations (ppc64le's
`_ppc64le-microarch-level`).

A POWER solve fails for fewer reasons than an x86-64 one: the gate level
asked for is a newer POWER generation than the CPU, the tool reported the bare
machine `ppc64le` (mamba and micromamba: libmamba's get_archspec returns the
platform's architecture for anything but x86-64, so only level 8 ever
installs), or the CPU is a generation archspec or the channel does not know
yet.  The CPU comes from the text (`__archspec=1=power9le`), else --cpu, else
CONDA_OVERRIDE_ARCHSPEC in explain's environment; never this machine unless
it is a POWER (explain usually runs where the solve failed).
"""

from __future__ import annotations

from ..catalog.families import OVERRIDE, Family
from ..catalog.levels import Catalog
from ..catalog.spelling import UnknownName, normalize_power
from ..tools.solver_text import SolverText
from . import diagnoses as say
from .diagnoses import FROM_ENV, FROM_OPTION, FROM_TEXT, Diagnosis, Host


def _host(reported: str, source: str, catalog: Catalog) -> Host:
    try:
        n = normalize_power(reported, catalog)
        return Host(reported, source, n.name, n.level)
    except UnknownName:
        return Host(reported, source, None, None)


def diagnose_power(facts: SolverText, cpu: str | None, environ, family: Family) -> Diagnosis:
    """What happened to `family`'s gate in a text whose facts (solver_text.parse for the family) are `facts`;
    the CPU is the one the text reports, else `cpu` (--cpu), else the override in `environ`."""
    catalog = family.catalog(None)
    requested = sorted(facts.gate_levels & set(catalog.levels))
    seen = facts.reported[0][1] if facts.reported else None
    host = (_host(seen, FROM_TEXT, catalog) if seen else _host(cpu, FROM_OPTION, catalog) if cpu
            else _host(environ[OVERRIDE], FROM_ENV, catalog) if environ.get(OVERRIDE) else None)
    if facts.solved:  # what was chosen matters on the CPU that will run it
        d = say.solved(catalog, facts, host)
        d.tool = str(facts.tool) if facts.tool else None
        return d
    need = min(requested) if requested else None
    gate = family.gate
    named = family.name_pattern.replace  # ("N", level): archspec's name of a generation, `power9le`
    word = family.cpu_word                # how the CPU names its generation: POWER9
    if host is not None and host.reported == catalog.family and need and need > catalog.levels[0]:
        d = Diagnosis(
            "tool-report",
            f"The solver saw __archspec '{catalog.family}', the bare machine name that mamba and micromamba report "
            f"on every {word} CPU, so only {gate} {catalog.levels[0]} can install, whatever the CPU; the request "
            f"needs level {need}.",
            [f"solve with conda or pixi/rattler, which report archspec's name (e.g. {named('N', str(need))})",
             f"or, on a {word}{need} or newer, set {OVERRIDE}={named('N', str(need))} (mamba/micromamba 2.x)",
             f"or pin '{gate}<={catalog.levels[0]}' to use the {word}{catalog.levels[0]} builds"],
            facts.writer, host, requested)
    elif host is not None and host.level is None:
        d = Diagnosis(
            "cpu-too-new",
            f"This CPU reports '{host.reported}', which archspec {catalog.archspec_version} does not know as a "
            f"{family.label} CPU, so no build of {gate} above {catalog.levels[0]} lists it.",
            [f"update {gate} from a channel built with a newer archspec",
             f"meanwhile solve with {OVERRIDE}={named('N', str(catalog.levels[-1]))} if the CPU is at least a "
             f"{word}{catalog.levels[-1]}, or pin '{gate}<={catalog.levels[0]}'"],
            facts.writer, host, requested)
    elif host is not None and need and host.level < need:
        d = Diagnosis(
            "cpu-below",
            f"The request needs {family.label} level {need} ({word}{need}), but this CPU ({host.name}) is level "
            f"{host.level} ({word}{host.level}); programs built for it would crash with \"Illegal instruction\".",
            [f"pin '{gate}<={host.level}' (or drop the pin: the solver picks the highest level this CPU runs)",
             f"or run on a {word}{need} or newer"],
            facts.writer, host, requested)
    else:
        d = Diagnosis(
            "gate-unsatisfied" if host is not None else "cpu-not-shown",
            f"The solver could not install {gate}{f' {need}' if need else ''}, which needs a {word} CPU of that "
            "generation or newer" + ("." if host is not None else "; the text does not say which CPU it saw."),
            [f"run the solve with conda or pixi on the {word} machine, or pass --cpu NAME "
             f"(e.g. {named('N', str(need or catalog.levels[-1]))})"],
            facts.writer, host, requested)
    d.tool = str(facts.tool) if facts.tool else None
    if not seen:
        d.notes.append("the text does not show which CPU (__archspec) the solver saw"
                       + (f"; this diagnosis uses {host.source}: '{host.reported}'" if host else ""))
    return d
