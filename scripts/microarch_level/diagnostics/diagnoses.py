"""The words `explain` uses: one builder per cause of a refused gate, each with its fix.

Kept apart from the decision (explain.diagnose) so the wording can be
reviewed and changed without touching which cause is picked, and the cause
picker stays short enough to read.  Tool facts come from facts.STYLES and
tools.advice; CPU facts from the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..catalog.families import OVERRIDE, by_name
from ..catalog.levels import Catalog
from ..catalog.spelling import UnknownName, normalize
from ..tools.facts import STYLES, Style, advice, lock_style_of, newest_style, style_of, tools_with
from ..tools.overrides import closest
from ..tools.solver_text import WRITERS, SolverText

# Where the CPU a diagnosis is about came from; the last two only when the text does not say.
FROM_TEXT = "the text (the __archspec the solver reported)"
FROM_OPTION = "--cpu"
FROM_ENV = f"{OVERRIDE} in explain's own environment"
FROM_MACHINE = "this machine's CPU as archspec detects it"
ASSUMED = (FROM_ENV, FROM_MACHINE)


@dataclass(frozen=True)
class Host:
    """The CPU the failing solve ran for, as reported, and what that name means."""

    reported: str
    source: str
    name: str | None
    level: int | None


@dataclass
class Diagnosis:
    kind: str
    summary: str
    actions: list[str]
    writer: str | None           # the solver_text.WRITERS key of the tool that wrote the text
    host: Host | None
    requested: list[int]
    notes: list[str] = field(default_factory=list)
    tool: str | None = None       # which tool wrote the text, and its version when the text shows it
    # Which source decided the CPU the solver saw: "override" (CONDA_OVERRIDE_ARCHSPEC, in explain's own
    # environment or as the text shows it), "text", "option" (--cpu), "machine" (this machine's CPU).
    decided_by: str | None = None
    real: Host | None = None      # this machine's own CPU, when it differs from the one the solver saw
    channel: str | None = None    # the channel read for a verdict about its contents


DECIDED = {FROM_TEXT: "text", FROM_OPTION: "option", FROM_ENV: "override", FROM_MACHINE: "machine"}


def host_of(reported: str, source: str, catalog: Catalog) -> Host:
    try:
        n = normalize(reported, catalog)
        return Host(reported, source, n.name, n.level)
    except UnknownName:
        return Host(reported, source, None, None)


def mamba_hyphen(host: Host, catalog: Catalog) -> bool:
    """Whether `host` was reported as mamba #3222 spells its level's generic name (`x86_64-v3`)."""
    if host.name is None or host.name not in catalog.generic_names.values():
        return False
    report = STYLES["mamba-hyphen"].report(catalog, host.name)
    return report is not None and host.reported == report[1] != host.name


def who(style: Style) -> str:
    """The tools and versions of the style's label (facts.FACTS), without the parenthesis."""
    return style.label.split(" (")[0]


def tool_version(facts: SolverText) -> tuple[str | None, str | None]:
    """The facts.FACTS tool that wrote the text and its version, when the text shows it."""
    writer = WRITERS.get(facts.writer or "")
    tool = writer.tool if writer else None
    return (tool, facts.versions[tool]) if tool in facts.versions else (None, None)


def locked(facts: SolverText) -> bool:
    """Whether the text comes from a lock-file solve (pixi's), which does not look at this machine."""
    writer = WRITERS.get(facts.writer or "")
    return writer is not None and writer.lock


def reporting_style(facts: SolverText) -> Style | None:
    """The reporting style the text shows: a lock-file solve's; otherwise that of the tool version it prints."""
    writer = WRITERS.get(facts.writer or "")
    if writer is not None and writer.lock:
        return lock_style_of(writer.tool, facts.versions.get(writer.tool, ""))
    tool, version = tool_version(facts)
    return style_of(tool, version) if tool else None


def names_cpus(facts: SolverText) -> bool:
    """Whether the tool that wrote the text reports a CPU's own archspec name (conda, rattler), not a level."""
    writer = WRITERS.get(facts.writer or "")
    if writer is None:
        return False
    style = reporting_style(facts) or (STYLES[writer.style] if writer.style else newest_style(writer.tool))
    return style.names_cpus


def cpu_blind(style: Style, catalog: Catalog) -> tuple[str, str] | None | bool:
    """What `style` reports whatever the CPU (None: nothing), or False when its report depends on the CPU."""
    reports = {style.report(catalog, name) for name in catalog.names}
    return reports.pop() if len(reports) == 1 else False


def override_spelling(catalog: Catalog, facts: SolverText, value: str, host: Host | None, requested,
                      real: Host | None = None) -> Diagnosis:
    guess = closest(value, catalog)
    respelled = guess is not None and _spelling_of(value, catalog)
    fix = (f"set {OVERRIDE}={guess}" if guess else
           f"set {OVERRIDE} to an archspec name (`microarch-level doctor` shows what this CPU is called)")
    this = f"this CPU ({real.name}, level {real.level})" if real is not None and real.name else "this CPU"
    return Diagnosis(
        "override-spelling",
        f"{OVERRIDE} is set to '{value}', which is not a CPU archspec knows"
        + ((f" (archspec spells it '{guess}')" if respelled else f" (the nearest name it knows is '{guess}')")
           if guess else "")
        + ". rattler and pixi refuse to solve with it; conda and mamba 2.x pass it through verbatim, "
          "so the gate's per-name builds never match it.",
        [fix, f"or unset {OVERRIDE} so the package manager detects {this} itself"],
        facts.writer, host, requested)


def _spelling_of(value: str, catalog: Catalog) -> bool:
    """Whether `value` is another spelling of an archspec name or level (x86-64-v3, V3), not another name."""
    try:
        normalize(value, catalog, allow_level=True)
        return True
    except UnknownName:
        return False


def hyphen_report(facts: SolverText, host: Host, requested) -> Diagnosis:
    tool, version = tool_version(facts)
    fix = ((advice(tool, version) if tool in tools_with("mamba-hyphen") else None)
           or f"upgrade to {who(STYLES['mamba'])}, which report '{host.name}'")
    return Diagnosis(
        "hyphen-report",
        f"Your package manager reported __archspec as '{host.reported}', with a hyphen. That is the bug of "
        f"{who(STYLES['mamba-hyphen'])} (mamba #3222): archspec and the channels spell it '{host.name}', so "
        f"no build of {facts.gate} matches and optimised packages cannot be installed.",
        [fix, f"or update {facts.gate} from a channel with this feedstock's builds, whose x86*64*vN globs also accept "
              f"the hyphenated report"],
        facts.writer, host, requested)


def lower_pin(catalog: Catalog, facts: SolverText, host: Host, requested) -> Diagnosis:
    want = max(requested)
    names = ", ".join(sorted({r.build for r in facts.requirements}))
    return Diagnosis(
        "lower-pin-old-channel",
        f"You asked for {facts.gate} {want} on a level-{host.level} CPU ({host.name}). In this channel each level-N "
        f"build of the gate accepts only CPUs whose archspec name is exactly at level N (here: {names}), so "
        f"asking for a level below your CPU's cannot be met (mamba #3698).",
        ["drop the pin and let the solver pick the highest level this CPU supports",
         f"or update {facts.gate} from a channel with this feedstock's builds, where level N installs on every CPU "
         f"at level N or above",
         f"or, to force level {want} with today's channel, solve with {OVERRIDE}={catalog.generic_names[want]}"],
        facts.writer, host, requested)


def too_new(catalog: Catalog, facts: SolverText, host: Host, requested) -> Diagnosis:
    if host.name is not None:
        why = (f"archspec {catalog.archspec_version} knows it as level {host.level}, but the channel's {facts.gate} "
               f"was generated from an older archspec")
        workaround = f"meanwhile solve with {OVERRIDE}={catalog.generic_names[host.level]}, its level's generic name"
    else:
        why = f"not even archspec {catalog.archspec_version} knows this name yet"
        workaround = (f"meanwhile solve with {OVERRIDE} set to the generic name of the level this CPU reaches "
                      f"(`microarch-level doctor` shows it)")
    return Diagnosis(
        "cpu-too-new",
        f"This CPU reports '{host.reported}', a name that no build of {facts.gate} lists: {why}. Until the channel is "
        f"updated no optimised build can install; the level-1 build still installs, so packages without a pin "
        f"fall back to their unoptimised build.",
        ["update the channel: the feedstock must be regenerated with a newer archspec (`microarch-level "
         "generate`) and rebuilt", workaround],
        facts.writer, host, requested)


def below(catalog: Catalog, facts: SolverText, host: Host, requested) -> Diagnosis:
    need = min(requested)
    missing = " ".join(f for lv in range(host.level + 1, need + 1) for f in catalog.new_features(lv))
    actions = [f"install the build for level {host.level} or lower: drop the level pin, or pin "
               f"'{facts.gate}<={host.level}'",
               "if the environment file came from another machine, remove the gate and build-string pins from it "
               "(`conda env export --from-history`)"]
    if host.source == FROM_TEXT and host.name == host.reported and host.name == catalog.generic_names[host.level] \
            and names_cpus(facts):
        actions.insert(1, f"{who(STYLES['conda'])} reports archspec's specific name for a CPU, so a generic "
                          f"'{host.reported}' usually means {OVERRIDE}={host.reported} was set where the solver ran: "
                          f"unset it so the solver sees the real CPU")
    d = Diagnosis(
        "cpu-below",
        f"The request needs {by_name(catalog.family).label} level {need}, but the CPU the solver saw ({host.name}) "
        f"is level {host.level}; it lacks {missing}. Builds for level {need} would crash here with "
        f"\"Illegal instruction\", so the solver rightly refuses them.",
        actions, facts.writer, host, requested)
    if mamba_hyphen(host, catalog):
        d.notes.append(f"'{host.reported}' is the hyphenated spelling of {who(STYLES['mamba-hyphen'])} (mamba #3222); "
                       f"this feedstock's x86*64*vN builds accept it, so the spelling is not why the solve failed")
    return d


def not_shown(facts: SolverText, host: Host, requested) -> Diagnosis:
    need = f"{facts.gate} {min(requested)}" if requested else facts.gate
    return Diagnosis(
        "cpu-not-shown",
        f"The text does not show which CPU (__archspec) the solver saw, and the CPU this diagnosis is about, "
        f"'{host.reported}' (level {host.level}, from {host.source}), is accepted by the builds of {need} in the "
        f"text. So the solve ran for another __archspec, or none: {OVERRIDE} set in the shell that ran it, another "
        f"machine, or a package manager that reports this CPU wrongly or not at all.",
        [f"the solver did not see '{host.reported}': check {OVERRIDE} in the shell that ran the command "
         f"(`microarch-level doctor` there shows it)" if host.source == FROM_OPTION else
         f"the solver did not see this CPU ('{host.reported}', which these builds accept): {OVERRIDE} was set in "
         f"the shell that ran it, or it ran on another machine; run explain in that shell, or pass --cpu NAME "
         f"naming the CPU it ran for",
         f"if {OVERRIDE} was set there, unset it so the solver sees the real CPU",
         "`microarch-level doctor` shows what each package manager on this machine reports as __archspec"],
        facts.writer, host, requested)


def foreign_pin(facts: SolverText, host: Host | None, requested) -> Diagnosis:
    pin = next(p for p in facts.pins if p.build)
    tag = pin.build.split("_", 1)[1]
    return Diagnosis(
        "foreign-build-pin",
        f"The request pins one build of the gate, '{facts.gate}={pin.level}={pin.build}', which installs only on a "
        f"CPU that archspec calls '{tag}'" + (f"; this one is '{host.reported}'" if host else "")
        + ". Such pins come from `conda env export` on another machine.",
        [f"remove the '{facts.gate}' line from the environment file: the packages that need it pull in the right build",
         "export environments with `conda env export --from-history` (or `--no-builds`) so build strings of "
         "CPU-specific packages are not copied to other machines"],
        facts.writer, host, requested)


def tool_report(catalog: Catalog, facts: SolverText, host: Host | None, requested) -> Diagnosis:
    style = reporting_style(facts)
    tool, version = tool_version(facts)
    if locked(facts):
        fix = "declare the CPU the workspace targets: pixi locks for this baseline unless told otherwise"
    else:
        fix = (advice(tool, version) if tool else None) or (
            "run `microarch-level doctor` to see what each package manager reports on this machine")
    need = f"{facts.gate} {min(requested)}" if requested else facts.gate
    constant = cpu_blind(style, catalog) if style else False
    reports = f"reports __archspec={'='.join(constant)} whatever the CPU" if constant else "did not report it"
    summary = (f"The solver was not told which CPU this is: {style.label if style else 'the package manager'} "
               f"{reports}, so {need} could not be chosen.")
    actions = [fix]
    if host and host.level is not None and (not requested or host.level >= min(requested)):
        summary += f" This CPU ({host.name}, level {host.level}) can run it."
        actions.append(f"or solve with {OVERRIDE}={host.name} where the tool honours it")
    d = Diagnosis("tool-report", summary, actions, facts.writer, host, requested)
    if host and host.level is not None and requested and host.level < min(requested):
        d.notes.append(f"this CPU ({host.name}, level {host.level}) is below level {min(requested)} too, "
                       f"so it could not run those builds anyway")
    return d


def unsatisfied(facts: SolverText, requested) -> Diagnosis:
    what = f"{facts.gate} {' or '.join(map(str, requested))}" if requested else "a package that requires __archspec"
    return Diagnosis(
        "gate-unsatisfied",
        f"The solver could not install {what}: it needs a CPU at that level, and the __archspec the machine "
        f"reported did not qualify. The text does not say which CPU that was.",
        ["run `microarch-level doctor` on the machine that failed, or rerun this command there "
         "(or pass --cpu NAME) for a precise diagnosis"],
        facts.writer, None, requested)


def override_cause(value: str, host: Host, real: Host | None, gate: str) -> str:
    """The first advice when CONDA_OVERRIDE_ARCHSPEC made the solver see `host`."""
    this = f"this CPU ({real.name}, level {real.level})" if real and real.name else "the real CPU"
    if host.level is None:
        return f"{OVERRIDE}={value} is not a CPU archspec knows: unset it so the solver sees {this}"
    return (f"{OVERRIDE}={value} makes the solver believe this CPU is level {host.level}: unset it so the solver "
            f"sees {this}, or keep it and pin '{gate}<={host.level}' if you build for '{host.name}' on purpose")


def unknown_cpu(catalog: Catalog, facts: SolverText, host: Host, requested) -> Diagnosis:
    guess = closest(host.reported, catalog)
    near = f"; the nearest name it knows is '{guess}'" if guess else ""
    return Diagnosis(
        "unknown-cpu",
        f"The CPU the solver saw, '{host.reported}' (from {host.source}), is not a CPU archspec "
        f"{catalog.archspec_version} knows{near}. No build of {facts.gate} above level 1 lists an unknown name, so "
        f"only the level-1 build installs.",
        [f"if '{host.reported}' came from {OVERRIDE}, set it to an archspec name"
         + (f" ('{guess}')" if guess else "") + " or unset it",
         "`microarch-level doctor` shows what this CPU is called and what each package manager reports"],
        facts.writer, host, requested)


def not_in_text(catalog: Catalog, facts: SolverText, host: Host, requested) -> Diagnosis:
    shown = sorted({r.build for r in facts.requirements})
    listed = ", ".join(shown[:6]) + (", …" if len(shown) > 6 else "")
    actions = [f"rerun explain with --channel (the channel's local directory or file:// URL) to learn whether "
               f"the channel has a build of {facts.gate} {max(requested)} for '{host.name}'"]
    if host.level > max(requested):
        actions.insert(0, "drop the level pin: the solver then picks the highest level this CPU runs")
    else:
        actions.append(f"meanwhile solve with {OVERRIDE}={catalog.generic_names[host.level]}, the generic name of "
                       f"its level, which every channel's level-{host.level} builds accept")
    return Diagnosis(
        "cpu-not-in-text",
        f"The builds of {facts.gate} this text lists ({len(shown)}: {listed}) do not accept '{host.name}' (level "
        f"{host.level}). A solver's message shows some of the channel's builds, not necessarily all (micromamba's "
        f"--json names one), so whether the channel lacks a build for this CPU cannot be read from the text.",
        actions, facts.writer, host, requested)


def solved(catalog: Catalog, facts: SolverText, host: Host | None) -> Diagnosis:
    name, level, build = facts.chosen[0] if facts.chosen else (None, None, None)
    runs = (f"; this CPU ({host.name}, level {host.level}) " + ("runs it" if host.level >= level else
                                                               "does NOT run it")
            if host and host.level is not None and level is not None else "")
    if name == facts.gate:
        why = (f"The solve worked: it chose {facts.gate} {level} (build {build}), the highest level whose builds "
               f"accept the CPU the solver saw and the request allowed{runs}.")
        actions = ["nothing to fix" if not runs or "NOT" not in runs else
                   f"this environment's optimised packages will crash here: pin '{facts.gate}<={host.level}'"]
    elif name is not None:
        march = catalog.flag_template.format(name=catalog.march[level])
        why = (f"The solve worked: it chose {name} {level} (build {build}), the flag package. It depends on no gate, "
               f"so it installs whatever the CPU; it makes the compilers of this environment emit "
               f"{by_name(catalog.family).label} level {level} code ({march}){runs}.")
        actions = [f"programs built in this environment need a level-{level} CPU; to build for this CPU, install "
                   f"'{name}<={host.level}'" if runs and "NOT" in runs else
                   f"nothing to fix; {facts.gate}, not {name}, is what chooses builds by CPU"]
    else:
        why, actions = "The solve worked; it installed no gate or flag package.", ["nothing to fix"]
    return Diagnosis("solved", why, actions, facts.writer, host, [level] if level else [])
