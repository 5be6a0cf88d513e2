"""Pull the `__archspec` and gate facts out of a solver's error output.

conda (classic and libmamba), mamba, micromamba, pixi and rattler word their
failures differently, but all of them name the gate's versions, the
`__archspec` builds those versions require, and sometimes the `__archspec`
the host reported (pasted `conda info`, conda's `feature:` lines, pixi's list
of virtual packages).  `explain` decides what happened from these facts only,
so this module knows every format and nothing about what the facts mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .activation import GATE
from .levels import LEVELS

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_G = re.escape(GATE)
_VERSION = r"(?:==?)?[0-9*][0-9.*]*"
_BUILD = r"[A-Za-z0-9_*.\-]+"

# The host's own virtual package: `__archspec=1=haswell` (conda/mamba info, pixi),
# `__archspec==1=haswell` (conda classic's feature lines).
REPORTED = re.compile(r"__archspec={1,2}([^=\s,;\]\[]*)=([^\s,;\]\['\"]+)")
# A requirement on it: `__archspec 1 core2`, `__archspec ==1 zen2`, `__archspec * x86*64*v3`.
REQUIRED = re.compile(rf"__archspec\s+({_VERSION})\s+({_BUILD}?)(?=[\s,;.]|$)")
# conda classic: `__archspec[version='1',build=haswell]`.
REQUIRED_CLASSIC = re.compile(r"__archspec\[([^\]]*)\]")
# A gate package file name: `_x86_64-microarch-level-1-0_core2` (level 1, build 0_core2).
DIST = re.compile(rf"{_G}-(\d+)-(\d+_[A-Za-z0-9_]+)")
# libmamba and rattler trees: `_x86_64-microarch-level 2 | 3 | 4 would require`.
WOULD = re.compile(rf"{_G}\s+((?:\d+\s*\|\s*)*\d+)\s+would require")
# A spec on the gate: `=1 *`, `==3 2_zen2`, `=3=2_zen2`, `>=3`, `[version='>=3']`.
PIN = re.compile(rf"{_G}\s*(==|>=|<=|=|>|<)\s*(\d+)(?:\.\*)?(?:(?:\s+|=)(\d+_[A-Za-z0-9_]+))?")
PIN_CLASSIC = re.compile(rf"{_G}\[version='(==|>=|<=|=|>|<)?(\d+)(?:\.\*)?'")
REJECTED = re.compile(r"'([^'\n]*)' is not a known archspec microarchitecture")
OVERRIDE = re.compile(r"CONDA_OVERRIDE_ARCHSPEC=(?:\"([^\"]*)\"|'([^']*)'|(\S*))")
TOOL_VERSION = re.compile(r"\b(conda|mamba|micromamba|pixi)(?:\s+version\s*:)?\s+v?(\d+\.\d+(?:\.\d+)?[\w.]*)")


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

    def levels(self) -> tuple[int, ...]:
        ops = {"==": lambda k: k == self.level, "=": lambda k: k == self.level, ">=": lambda k: k >= self.level,
               "<=": lambda k: k <= self.level, ">": lambda k: k > self.level, "<": lambda k: k < self.level}
        return tuple(k for k in LEVELS if ops[self.op](k))


@dataclass
class SolverText:
    family: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    reported: list[tuple[str, str]] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    gate_levels: set[int] = field(default_factory=set)
    rejected_override: str | None = None
    override_values: list[str] = field(default_factory=list)
    mentions_gate: bool = False

    @property
    def about_archspec(self) -> bool:
        """Whether the failure involves the gate or `__archspec` at all."""
        return bool(self.rejected_override is not None or self.requirements or self.mentions_gate)


def family(text: str) -> str | None:
    """Which tool wrote `text`: pixi, rattler, micromamba, mamba, conda-classic, conda, or None."""
    if "failed to solve the conda requirements" in text or re.search(r"\bpixi\b", text):
        return "pixi"
    if ("Cannot solve the request because of" in text or "DetectVirtualPackageError" in text
            or REJECTED.search(text)):
        return "rattler"
    if re.search(r"\bmicromamba\b", text):
        return "micromamba"
    if re.search(r"\bmamba\b", text) or re.search(r"^(?:critical|error)\s+libmamba", text, re.MULTILINE):
        return "mamba"
    if "UnsatisfiableError: The following specifications were found" in text or "feature:/" in text:
        return "conda-classic"
    if "LibMambaUnsatisfiableError" in text or re.search(r"\bconda\b", text):
        return "conda"
    return None


def _classic_requirement(inner: str) -> tuple[str, str] | None:
    fields = {k: a or b for k, a, b in re.findall(r"(\w+)=(?:'([^']*)'|([^,]*))", inner)}
    build = fields.get("build")
    return (fields.get("version", "*"), build) if build else None


def parse(text: str) -> SolverText:
    text = _ANSI.sub("", text)
    facts = SolverText(family=family(text))
    for tool, version in TOOL_VERSION.findall(text):
        facts.versions.setdefault(tool, version)
    for version, build in REPORTED.findall(text):
        if (version, build) not in facts.reported:
            facts.reported.append((version, build))
    rejected = REJECTED.search(text)
    facts.rejected_override = rejected.group(1) if rejected else None
    facts.override_values = [a or b or c for a, b, c in OVERRIDE.findall(text)]
    facts.mentions_gate = GATE in text
    current: tuple[int, ...] = ()
    for line in text.splitlines():
        would = WOULD.search(line)
        pins = [Pin(op, int(level), build or None) for op, level, build in PIN.findall(line)]
        pins += [Pin(op or "==", int(level)) for op, level in PIN_CLASSIC.findall(line)]
        facts.pins += [p for p in pins if p not in facts.pins]
        if would:
            current = tuple(int(x) for x in re.findall(r"\d+", would.group(1)))
        elif pins:
            current = pins[-1].levels()
        dist = DIST.search(line)
        found = [(v, b) for v, b in REQUIRED.findall(line)]
        found += [r for r in map(_classic_requirement, REQUIRED_CLASSIC.findall(line)) if r]
        levels = (int(dist.group(1)),) if dist else current
        for version, build in found:
            req = Requirement(levels, version, build)
            if req not in facts.requirements:
                facts.requirements.append(req)
        facts.gate_levels.update(levels if found or would else ())
        if dist:
            facts.gate_levels.add(int(dist.group(1)))
    for pin in facts.pins:
        facts.gate_levels.update(pin.levels())
    return facts
