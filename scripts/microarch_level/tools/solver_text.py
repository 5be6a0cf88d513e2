"""Pull the `__archspec` and gate facts out of what a package manager printed.

Every tool words its failure differently and `explain` must read them all
as printed: human text with tqdm progress lines and colour codes, or a
`--json` document.  This module finds the gate levels, the `__archspec`
builds they require, the `__archspec` the host reported (when the text shows
it) and which tool wrote the text; `explain` decides what they mean.

A reported CPU name is only ever a run of letters, digits, `_` and `-`
(every archspec name and every spelling a tool reports fits), so
punctuation, escapes and progress-bar colons never become part of one.
Where each tool's signature was seen is in tests/data/solver-errors/README.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..catalog.families import FAMILIES, OVERRIDE, Family

# Terminal escapes (CSI colour codes, OSC titles ended by BEL or ST) and any other control character.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_VERSION = r"(?:==?)?[0-9*][0-9.*]*"
_BUILD = r"[A-Za-z0-9_*.\-]+"
NAME = r"[A-Za-z0-9][A-Za-z0-9_\-]*"          # what a reported CPU name may look like

# The host's own virtual package: `__archspec=1=haswell` (conda/mamba info, pixi),
# `__archspec==1=haswell` (conda classic's feature lines and tqdm progress lines).
REPORTED = re.compile(rf"__archspec={{1,2}}([0-9][0-9.]*)=({NAME})")
# A requirement on it: `__archspec 1 core2`, `__archspec ==1 zen2`, `__archspec =* zen4`, `__archspec * x86*64*v3`.
REQUIRED = re.compile(rf"__archspec\s+({_VERSION})\s+({_BUILD}?)(?=[\s,;.]|$)")
# conda classic: `__archspec[version='1',build=haswell]`, `__archspec[build='a|b|x86*64*v4']`.
REQUIRED_CLASSIC = re.compile(r"__archspec\[([^\]]*)\]")
REJECTED = re.compile(r"'([^'\n]*)' is not a known archspec microarchitecture")
OVERRIDE_SETTING = re.compile(re.escape(OVERRIDE) + r"=(?:\"([^\"]*)\"|'([^']*)'|(\S*))")
# Versions a text may show: pasted `info` output, conda's own `__conda` virtual package.
INFO_VERSION = re.compile(r"^\s*(conda|mamba|micromamba|libmamba|pixi) version\s*:\s*v?(\d+\.\d+[\w.]*)", re.MULTILINE)
CONDA_VPKG = re.compile(r"__conda={1,2}(\d+\.\d+[\w.]*)=")
PIXI_VERSION = re.compile(r"^pixi (\d+\.\d+[\w.]*)\s*$", re.MULTILINE)
# What conda, mamba and micromamba print after a solve that worked, and what they print when one failed.
_SOLVED = ("Executing transaction: ...working... done", "Executing transaction: done", "## Package Plan ##",
           "will be INSTALLED", "Transaction finished", "Transaction\n\n  Prefix:")
_FAILED = ("failed", "Unsatisfiable", "Could not solve", "Cannot solve", "nothing provides", "is not installable",
           "conflict", "PackagesNotFoundError")
# The channel a text names as a local directory: `Channel: file:///…`, a --json LINK's base_url.
LOCAL_CHANNEL = re.compile(r"file://(/[^\s'\"|,]+)")
# libmamba 2 prints version specs in full (`==3 *`, `=* zen4`); libmamba 1 printed `3**` and `* zen4`.
LIBMAMBA2_SPEC = re.compile(r"(?:microarch-level|__archspec) (?:=\*|==\d)")


@dataclass(frozen=True)
class GateWords:
    """How a text names one family's packages (Family.gate, Family.flags), their levels and builds."""

    gate: str
    levels: tuple[int, ...]
    # A gate package file name: `_x86_64-microarch-level-1-0_core2` (level 1, build 0_core2).
    dist: re.Pattern[str]
    # libmamba and rattler trees: `_x86_64-microarch-level 3 would require`, `… [3|4] would require`,
    # `… 2 | 3 would require`.
    would: re.Pattern[str]
    # A spec on the gate: `=1 *`, `==3 2_zen2`, `=3=2_zen2`, `>=3`, `==3:` (tqdm), `[version='>=3']`.
    pin: re.Pattern[str]
    pin_classic: re.Pattern[str]
    # A package the solve chose: `x86_64-microarch-level-4-5_level4` (conda's plan, a --json LINK's dist_name).
    chosen: re.Pattern[str]


@lru_cache(maxsize=None)
def gate_words(family: Family) -> GateWords:
    g = re.escape(family.gate)
    return GateWords(
        family.gate, family.levels,
        re.compile(rf"{g}-(\d+)-(\d+_[A-Za-z0-9_]+)"),
        re.compile(rf"{g}\s+\[?((?:\d+\s*\|\s*)*\d+)\]?\s+would require"),
        re.compile(rf"{g}\s*(==|>=|<=|=|>|<)\s*(\d+)(?:\.\*)?(?:(?:\s+|=)(\d+_[A-Za-z0-9_]+))?"),
        re.compile(rf"{g}\[version='(==|>=|<=|=|>|<)?(\d+)(?:\.\*)?'"),
        re.compile(rf"(?<![A-Za-z0-9_-])(_?{re.escape(family.flags)})-(\d+)-(\d+_[A-Za-z0-9_]+)"))

@dataclass(frozen=True)
class Writer:
    """A kind of text explain recognises: who wrote it, how its solver matches build strings,
    and which facts.FACTS tool (at the version the text shows) decides what it reported."""

    label: str                # what the diagnosis calls it
    solver: str               # matching.SOLVERS: how its solver reads a build-string pattern
    tool: str | None = None   # the facts.FACTS tool whose version the text may show
    lock: bool = False        # its failures come from the tool's lock-file solve (tools.ToolFacts.lock_style)
    style: str | None = None  # the facts.STYLES key of a writer that is no tool in FACTS


# Who wrote the text: writer key -> Writer.
WRITERS = {
    "conda-classic": Writer("conda (classic solver)", "conda-classic", "conda"),
    "conda-libmamba": Writer("conda with conda-libmamba-solver", "libmamba", "conda"),
    "conda-rattler": Writer("conda with conda-rattler-solver", "rattler", "conda"),
    "conda": Writer("conda (solver not shown)", "libmamba", "conda"),
    "micromamba": Writer("micromamba or mamba 2 (libmamba's command line)", "libmamba", "micromamba"),
    "mamba": Writer("mamba 1.x", "libmamba", "mamba"),
    "pixi": Writer("pixi", "rattler", "pixi", lock=True),
    "rattler": Writer("rattler (py-rattler, rattler-build)", "rattler", style="rattler"),
}


@dataclass(frozen=True)
class Requirement:
    """One `__archspec` requirement in the failure, with the gate levels that carry it."""

    gate_levels: tuple[int, ...]
    version: str
    build: str


@dataclass(frozen=True)
class Pin:
    """A spec on the gate in the failure: the levels it allows and a pinned build, if any."""

    op: str
    level: int
    build: str | None = None

    def levels(self, among: tuple[int, ...]) -> tuple[int, ...]:
        """The levels of `among` (the family's gate levels) the spec allows."""
        ops = {"==": lambda k: k == self.level, "=": lambda k: k == self.level, ">=": lambda k: k >= self.level,
               "<=": lambda k: k <= self.level, ">": lambda k: k > self.level, "<": lambda k: k < self.level}
        return tuple(k for k in among if ops[self.op](k))


@dataclass(frozen=True)
class Tool:
    """Which tool wrote the text, and its version when the text shows one ('2.x': only the major)."""

    writer: str
    version: str | None = None
    form: str = "text"

    def __str__(self) -> str:
        label = WRITERS[self.writer].label + (", --json output" if self.form == "json" else "")
        return f"{label}, version {self.version}" if self.version else f"{label}, version not shown"


@dataclass
class SolverText:
    writer: str | None = None         # the WRITERS key of the tool that wrote the text
    gate: str = ""                    # the gate whose facts these are (parse's family's)
    versions: dict[str, str] = field(default_factory=dict)
    reported: list[tuple[str, str]] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    gate_levels: set[int] = field(default_factory=set)
    rejected_override: str | None = None
    override_values: list[str] = field(default_factory=list)
    mentions_gate: bool = False
    form: str = "text"                # "text" or "json"
    tool: Tool | None = None
    solved: bool = False              # the text is of a solve that worked
    chosen: list[tuple[str, int, str]] = field(default_factory=list)  # (gate or flag package, level, build)
    channels: list[str] = field(default_factory=list)  # local channel directories the text names

    @property
    def about_archspec(self) -> bool:
        """Whether the failure involves the gate or `__archspec` at all."""
        return bool(self.rejected_override is not None or self.requirements or self.mentions_gate)


def clean(text: str) -> str:
    """`text` without terminal escapes or control characters; tqdm's carriage returns become line ends."""
    text = _ESCAPES.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def from_json(text: str) -> tuple[str, dict] | None:
    """The text inside a `--json` document (its string values, one per line) and the document; None if not one."""
    start = text.find("{")
    if start < 0 or text[:start].strip():
        return None
    try:
        doc, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return ("\n".join(_strings(doc)), doc) if isinstance(doc, dict) else None


_CONDA_MARKS = ("Collecting package metadata", "Solving environment", "Platform: linux-64", "Target prefix:",
                "conda create", "conda install", "conda env ", "PackagesNotFoundError", "conda info")
# libmamba's problem tree (libmamba/src/solver/problems_graph.cpp) and its CLI log prefix.
_LIBMAMBA_TREE = ("is missing on the system", "is not installable because", "but there are no viable options",
                  "which does not exist (perhaps", "Could not solve for environment specs")
# resolvo's tree (rattler, pixi, conda-rattler-solver) and rattler_solve's prefix.
_RATTLER_TREE = ("Cannot solve the request because of", "for which no candidates were found",
                 "cannot be installed because there are no viable options")
# conda's classic solver: conda/resolve.py's tqdm descriptions, conda/exceptions.py's UnsatisfiableError.
_CLASSIC = ("feature:/", "Found conflicts! Looking for incompatible packages", "Examining conflict for",
            "Building graph of deps", "incompatible with your system")


def _has(text: str, marks) -> bool:
    return any(mark in text for mark in marks)


def writer_of(text: str, doc: dict | None = None) -> str | None:
    """Which tool wrote `text` (see WRITERS), from the shape of what it prints; None if no known shape."""
    if doc is not None:
        name = str(doc.get("exception_name", ""))
        if "solver_problems" in doc:
            return "micromamba"
        if name == "LibMambaUnsatisfiableError":
            return "conda-libmamba"
        if name == "RattlerUnsatisfiableError":
            return "conda-rattler"
        if name or "caused_by" in doc:
            return "conda-classic" if _has(text, _CLASSIC) else "conda"
    if "RattlerUnsatisfiableError" in text or "conda-rattler-solver" in text:
        return "conda-rattler"
    if "LibMambaUnsatisfiableError" in text:
        return "conda-libmamba"
    if _has(text, ("failed to solve the conda requirements", "failed to detect the virtual packages")) or re.search(
            r"\bpixi\b", text):
        return "pixi"
    if re.search(r"^(?:error|critical)\s+libmamba", text, re.MULTILINE) or re.search(r"\bmicromamba\b", text):
        return "micromamba"
    if "Looking for: [" in text or re.search(r"\bmamba\b", text):
        return "mamba"
    if _has(text, _LIBMAMBA_TREE) and not _has(text, _RATTLER_TREE):
        return "conda-libmamba" if _has(text, _CONDA_MARKS) else "micromamba"
    if _has(text, _RATTLER_TREE) or "DetectVirtualPackageError" in text or REJECTED.search(text):
        return "conda-rattler" if _has(text, _CONDA_MARKS) else "rattler"
    if _has(text, _CLASSIC):
        return "conda-classic"
    if re.search(r"\bconda\b", text):
        return "conda"
    return None


def _version(writer: str | None, text: str) -> str | None:
    shown = dict((tool, v) for tool, v in reversed(INFO_VERSION.findall(text)))
    tool = WRITERS[writer].tool if writer in WRITERS else None
    if tool == "conda":
        conda = CONDA_VPKG.search(text)
        return shown.get("conda") or (conda.group(1) if conda else None)
    if tool == "micromamba":
        return (shown.get("micromamba") or shown.get("libmamba") or shown.get("mamba")
                or ("2.x" if LIBMAMBA2_SPEC.search(text) else None))
    if tool == "mamba":
        return shown.get("mamba")
    if tool == "pixi":
        pixi = PIXI_VERSION.search(text)
        return shown.get("pixi") or (pixi.group(1) if pixi else None)
    return None


def _classic_requirements(inner: str) -> list[tuple[str, str]]:
    fields = {k: a or b for k, a, b in re.findall(r"(\w+)=(?:'([^']*)'|([^,]*))", inner)}
    builds = [b for b in (fields.get("build") or "").split("|") if b]
    return [(fields.get("version", "*"), b) for b in builds]


def parse(text: str, family: Family | None = None) -> SolverText:
    """The facts of `text` about `family`'s gate (the first registered family's by default)."""
    words = gate_words(family or FAMILIES[0])
    text = clean(text)
    inside = from_json(text)
    form, doc = ("json", inside[1]) if inside else ("text", None)
    if inside:
        text = clean(inside[0])
    writer = writer_of(text, doc)
    facts = SolverText(writer=writer, gate=words.gate, form=form)
    facts.tool = Tool(writer, _version(writer, text), form) if writer in WRITERS else None
    for tool, version in INFO_VERSION.findall(text):
        facts.versions.setdefault(tool, version)
    if facts.tool and facts.tool.version and WRITERS[writer].tool:
        facts.versions.setdefault(WRITERS[writer].tool, facts.tool.version)
    for version, build in REPORTED.findall(text):
        if (version, build) not in facts.reported:
            facts.reported.append((version, build))
    facts.solved = (bool(doc.get("success")) if doc is not None and "success" in doc
                    else _has(text, _SOLVED) and not _has(text, _FAILED))
    for name, level, build in words.chosen.findall(text):
        if facts.solved and (name, int(level), build) not in facts.chosen:
            facts.chosen.append((name, int(level), build))
    facts.channels = list(dict.fromkeys(m.rstrip("/") for m in LOCAL_CHANNEL.findall(text)))
    rejected = REJECTED.search(text)
    facts.rejected_override = rejected.group(1) if rejected else None
    facts.override_values = [a or b or c for a, b, c in OVERRIDE_SETTING.findall(text)]
    facts.mentions_gate = words.gate in text
    current: tuple[int, ...] = ()
    for line in text.splitlines():
        would = words.would.search(line)
        pins = [Pin(op, int(level), build or None) for op, level, build in words.pin.findall(line)]
        pins += [Pin(op or "==", int(level)) for op, level in words.pin_classic.findall(line)]
        facts.pins += [p for p in pins if p not in facts.pins]
        if would:
            current = tuple(int(x) for x in re.findall(r"\d+", would.group(1)))
        elif pins:
            current = pins[-1].levels(words.levels)
        dist = words.dist.search(line)
        found = [(v, b) for v, b in REQUIRED.findall(line)]
        found += [r for inner in REQUIRED_CLASSIC.findall(line) for r in _classic_requirements(inner)]
        levels = (int(dist.group(1)),) if dist else current
        for version, build in found:
            req = Requirement(levels, version, build)
            if req not in facts.requirements:
                facts.requirements.append(req)
        facts.gate_levels.update(levels if found or would else ())
        if dist:
            facts.gate_levels.add(int(dist.group(1)))
    for pin in facts.pins:
        facts.gate_levels.update(pin.levels(words.levels))
    return facts
