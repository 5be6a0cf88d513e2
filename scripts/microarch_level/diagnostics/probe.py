"""This machine's CPU as each source sees it: /proc/cpuinfo, glibc, sysctl on macOS, the override.

SOURCES is the one table of where a CPU is read from: each source says which
families (by their rule, families.py) and which systems it serves.  For a family
of features (x86-64) /proc/cpuinfo's flags; for one of generations (ppc64le) the
first processor's `cpu : POWERn` line, read by archspec's rule; glibc's loader is
the family's own (Family.loader).

The sources can disagree (a hypervisor hiding a flag, a sample mounted over
/proc/cpuinfo, an override copied from another machine), and each tool trusts
a different one, so `doctor` shows them side by side instead of picking one.
Every probe returns a result, never raises: a missing source is a finding.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..catalog.families import FEATURES, GENERATION, OVERRIDE, by_name
from ..catalog.levels import Catalog
from ..tools.overrides import meaning
from . import cpuinfo

LOADER_TIMEOUT = 20  # seconds; the loader answers at once, qemu-emulated in a fraction of that


@dataclass(frozen=True)
class ProcSource:
    """/proc/cpuinfo as archspec reads it."""

    readable: bool
    flags: int = 0
    host: str | None = None          # archspec.cpu.host().name
    level: int | None = None         # the catalog's level of `host`
    flags_level: int | None = None   # the level the flags alone reach (the guard's rule)
    note: str | None = None
    generation: int | None = None    # POWER: the generation in the `cpu` line (None elsewhere)

    @property
    def usable(self) -> bool:
        return self.readable and (self.flags > 0 or bool(self.generation)) and self.level is not None

    def section(self) -> dict:
        """Its section of doctor's report (CpuSource.section)."""
        return {"readable": self.readable, "flags": self.flags, "archspec_host": self.host, "level": self.level,
                "flags_level": self.flags_level, "generation": self.generation, "usable": self.usable,
                "note": self.note}


@dataclass(frozen=True)
class GlibcSource:
    """glibc's own CPUID-based view: the hwcaps levels `ld.so --help` calls supported."""

    available: bool
    loader: str
    supported: tuple[str, ...] = ()
    level: int | None = None
    note: str | None = None

    def section(self) -> dict:
        return {"available": self.available, "loader": self.loader, "supported": list(self.supported),
                "level": self.level, "note": self.note}


@dataclass(frozen=True)
class SysctlSource:
    """macOS's `sysctl -n` machdep.cpu feature words, as archspec reads them on Darwin."""

    available: bool
    flags: int = 0
    level: int | None = None
    note: str | None = None

    def section(self) -> dict:
        return {"available": self.available, "flags": self.flags, "level": self.level, "note": self.note}


@dataclass(frozen=True)
class OverrideSource:
    value: str | None                # None: not set
    name: str | None = None
    level: int | None = None
    problem: str | None = None

    @property
    def set(self) -> bool:
        return self.value is not None

    def section(self) -> dict:
        return {"set": self.set, "value": self.value, "name": self.name, "level": self.level, "problem": self.problem}


@dataclass(frozen=True)
class Cpu:
    """What each source that serves this machine's family here found (by CpuSource.field)."""

    found: dict[str, object]
    notes: list[str] = field(default_factory=list)

    # The sources every rule reads, which the notes and doctor's verdicts reason about by name.
    @property
    def proc(self) -> ProcSource:
        return self.found["proc"]

    @property
    def glibc(self) -> GlibcSource:
        return self.found["glibc"]

    @property
    def override(self) -> OverrideSource:
        return self.found["override"]

    @property
    def level(self) -> int | None:
        """The hardware's level: from the first source of SOURCES that tells one (/proc/cpuinfo when
        usable, else sysctl on macOS, else glibc); None when none does."""
        return self._hardware()[1]

    @property
    def level_source(self) -> str | None:
        return self._hardware()[0]

    def _hardware(self) -> tuple[str | None, int | None]:
        for source in SOURCES:
            found = self.found.get(source.field)
            level = source.level(found) if source.level is not None and found is not None else None
            if level is not None:
                return source.name, level
        return None, None


def probe_proc(catalog: Catalog, path: Path = cpuinfo.PROC_CPUINFO) -> ProcSource:
    flags = cpuinfo.read_flags(path)
    host = archspec_host()
    level = catalog.names.get(host) if host else None
    if flags is None:
        return ProcSource(False, host=host, level=level,
                          note=f"{path} cannot be read; archspec falls back to '{host}'")
    if not flags:
        return ProcSource(True, 0, host=host, level=level,
                          note=f"{path} lists no CPU flags; archspec falls back to '{host}'")
    note = None
    if host is not None and level is None:
        note = (f"archspec names this CPU '{host}', which is not {by_name(catalog.family).a_label} name in archspec "
                f"{catalog.archspec_version}")
    return ProcSource(True, len(flags), host=host, level=level, flags_level=catalog.level_from_flags(flags), note=note)


def probe_power_proc(catalog: Catalog, path: Path = cpuinfo.PROC_CPUINFO) -> ProcSource:
    """The /proc/cpuinfo of a family of generations (POWER): its generation and archspec's name for it
    (power.host_name)."""
    from ..catalog.power import host_name
    from .cpuinfo import cpuinfo_generation

    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ProcSource(False, host=catalog.family, note=f"{path} cannot be read; archspec falls back to "
                                                            f"'{catalog.family}'")
    generation = cpuinfo_generation(text, catalog)
    host = host_name(catalog, generation)
    word = by_name(catalog.family).cpu_word
    if not generation:
        return ProcSource(True, host=host, note=f"{path} names no {word} generation in its cpu line; archspec "
                                                f"falls back to '{host}'")
    level, note = catalog.names[host], None
    if generation < catalog.levels[0]:
        level = generation
        note = f"{word}{generation} is below the {catalog.family} baseline {word}{catalog.levels[0]}"
    elif generation > level:
        note = f"archspec {catalog.archspec_version} knows no {word}{generation}: it calls this CPU '{host}'"
    return ProcSource(True, host=host, level=level, note=note, generation=generation)


def archspec_host() -> str | None:
    """archspec's name for this host (archspec caches it for the life of the process)."""
    try:
        import archspec.cpu

        with warnings.catch_warnings():  # archspec warns, then falls back, when /proc/cpuinfo is missing
            warnings.simplefilter("ignore")
            return archspec.cpu.host().name
    except Exception:  # archspec raises its own types on odd hosts; a missing answer is the finding
        return None


_HWCAP = re.compile(r"^\s*(\S+) \(supported, searched\)\s*$", re.MULTILINE)


def parse_loader_help(text: str, catalog: Catalog) -> tuple[tuple[str, ...], int | None]:
    """The supported glibc-hwcaps names in `ld.so --help` output and the level they reach.

    The hwcaps subdirectory names are gcc's -march names of the levels
    (`x86-64-v3`); output that lists the hwcaps section but none of them
    supported means level 1, output without that section means no answer.
    """
    by_march = {catalog.march[lv]: lv for lv in catalog.levels[1:]}
    supported = tuple(m.group(1) for m in _HWCAP.finditer(text) if m.group(1) in by_march)
    if supported:
        return supported, max(by_march[s] for s in supported)
    if "glibc-hwcaps" in text:
        return supported, catalog.levels[0]
    return supported, None


def probe_glibc(catalog: Catalog, command: list[str] | None = None) -> GlibcSource:
    """Run the dynamic loader's --help (the family's loader, or a command ending in one, e.g. under an emulator)."""
    command = command or [by_name(catalog.family).loader]
    loader = command[-1]
    try:
        out = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=LOADER_TIMEOUT,
                             env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError) as exc:
        return GlibcSource(False, loader, note=f"cannot run {loader} --help: {exc.__class__.__name__}")
    supported, level = parse_loader_help(out.stdout, catalog)
    if level is None:
        return GlibcSource(False, loader, note=f"{loader} --help lists no glibc-hwcaps (glibc older than 2.33?)")
    return GlibcSource(True, loader, supported, level)


def probe_sysctl(catalog: Catalog) -> SysctlSource:
    """This Mac's CPU from the sysctl keys the guard reads (diagnostics.sysctl)."""
    from . import sysctl

    words, problem = sysctl.read_live()
    if words is None:
        return SysctlSource(False, note=problem)
    level = sysctl.level_of_words(words, catalog)
    if level is None:
        return SysctlSource(True, note=f"sysctl names no {by_name(catalog.family).label} CPU feature (an Apple "
                                       "Silicon shell, or no machdep.cpu keys): no level from it")
    return SysctlSource(True, len(words.split()), level)


def probe_override(catalog: Catalog, environ: dict[str, str] | None = None) -> OverrideSource:
    env = os.environ if environ is None else environ
    value = env.get(OVERRIDE)
    if value is None:
        return OverrideSource(None)
    if value == "":
        return OverrideSource("", problem="empty: conda and rattler then report no __archspec")
    name, problem = meaning(value, catalog)
    if name is None:
        return OverrideSource(value, problem=problem)
    return OverrideSource(value, name.name, name.level)


@dataclass(frozen=True)
class CpuSource:
    """One place this machine's CPU is read from."""

    field: str                         # its key in Cpu.found
    name: str                          # how a report names it
    section: str                       # its section of doctor's report (its result's section())
    label: str                         # how doctor's table names it
    rules: tuple[str, ...]             # the families it serves, by their rule (families.py)
    systems: tuple[str, ...] | None    # the platform.system() values it exists on; None: any
    read: Callable[[Catalog], object]  # its probe: a result, never an exception
    level: Callable[[object], int | None] | None  # the hardware level its result tells; None: it tells none


def _usable_level(proc: ProcSource) -> int | None:
    return proc.level if proc.usable else None


# Every source, in the order their hardware levels are trusted (Cpu.level).
SOURCES = (
    CpuSource("proc", "/proc/cpuinfo", "proc_cpuinfo", "/proc/cpuinfo (archspec)", (FEATURES,), None, probe_proc,
              _usable_level),
    CpuSource("proc", "/proc/cpuinfo", "proc_cpuinfo", "/proc/cpuinfo (archspec)", (GENERATION,), None,
              probe_power_proc, _usable_level),
    CpuSource("sysctl", "sysctl", "sysctl", "sysctl machdep.cpu", (FEATURES,), ("Darwin",), probe_sysctl,
              lambda found: found.level),
    CpuSource("glibc", "glibc", "glibc", "glibc ld.so --help", (FEATURES, GENERATION), None, probe_glibc,
              lambda found: found.level),
    CpuSource("override", OVERRIDE, "override", OVERRIDE, (FEATURES, GENERATION), None, probe_override,
              None),  # a claim, not the hardware
)


def _feature_notes(cpu: Cpu) -> None:
    p, g = cpu.proc, cpu.glibc
    if p.usable and g.level is not None and p.level != g.level:
        cpu.notes.append(f"/proc/cpuinfo says level {p.level} but glibc (which executes CPUID) says level "
                         f"{g.level}: tools reading /proc/cpuinfo (conda, rattler, pixi) and tools executing "
                         f"CPUID (mamba) see different CPUs here")
    if p.usable and p.flags_level is not None and p.flags_level != p.level:
        cpu.notes.append(f"archspec calls this CPU '{p.host}' (level {p.level}) although its flags reach "
                         f"level {p.flags_level}")


def _generation_notes(cpu: Cpu) -> None:
    p, g = cpu.proc, cpu.glibc
    if p.usable and g.level is not None and p.level != g.level:
        cpu.notes.append(f"/proc/cpuinfo says level {p.level} but glibc says level {g.level}")


# Where the sources of a rule's families disagree, and what that means.
NOTES = {FEATURES: _feature_notes, GENERATION: _generation_notes}


def probe(catalog: Catalog) -> Cpu:
    """The CPU of this machine, whose family is `catalog`'s: every source that serves it here."""
    rule = by_name(catalog.family).rule
    system = platform.system()
    read = {s.field: s.read(catalog) for s in SOURCES
            if rule in s.rules and (s.systems is None or system in s.systems)}
    cpu = Cpu(read)
    NOTES[rule](cpu)
    return cpu
