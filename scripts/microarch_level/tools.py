"""What each package manager reports as `__archspec`, and which versions get it wrong.

One table, used by the install tests, `matrix`, `doctor` and `explain`.  The
facts come from the tools' release history (see ../shared/FIELD-NOTES.md,
section 2); a reporting *style* is what a family of versions puts in the
virtual package's version and build string for a given CPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .levels import Catalog


# How a style reads CONDA_OVERRIDE_ARCHSPEC.
VERBATIM = "verbatim"   # any value becomes the __archspec build string
NAMES = "names"         # only names archspec knows; anything else is refused
IGNORED = "ignored"     # the deciding solve does not look at the machine at all
NO_OVERRIDE = "none"    # the variable does nothing

# Where a style's CPU comes from.
PROC_CPUINFO = "/proc/cpuinfo"   # archspec (Python or Rust) reading the kernel's flags
CPUID = "CPUID"                  # the tool's own CPUID-based level detection
NOWHERE = "nowhere"              # a fixed report, whatever the CPU


@dataclass(frozen=True)
class Style:
    key: str
    label: str
    solver: str      # build-string semantics, see matching.SOLVERS
    override: str    # how CONDA_OVERRIDE_ARCHSPEC is read (VERBATIM, NAMES, IGNORED, NO_OVERRIDE)
    detection: str   # where the CPU comes from (PROC_CPUINFO, CPUID, NOWHERE)
    note: str = ""

    def report(self, catalog: Catalog, host: str) -> tuple[str, str] | None:
        """(version, build) of `__archspec` on a CPU archspec calls `host`; None if absent."""
        level = catalog.names[host]
        if self.key == "conda" or self.key == "rattler":
            return ("1", host)
        if self.key == "mamba":
            return ("1", catalog.generic_name(level))
        if self.key == "mamba-hyphen":
            return ("1", "x86_64" if level == 1 else f"x86_64-v{level}")
        if self.key == "mamba-old":
            return ("1", "x86_64")
        if self.key == "pixi-lock":
            return ("0", "x86_64")
        if self.key == "conda-old":
            return None
        raise ValueError(f"unknown reporting style '{self.key}'")


STYLES = {
    s.key: s
    for s in (
        Style("conda", "conda >= 23.3 (archspec name)", "libmamba", VERBATIM, PROC_CPUINFO),
        Style("mamba", "mamba/micromamba >= 1.5.10, 2.x (generic x86_64_vN)", "libmamba", VERBATIM, CPUID,
              note="only 2.x reads CONDA_OVERRIDE_ARCHSPEC; 1.5.10-1.x ignore it"),
        Style("mamba-hyphen", "mamba/micromamba 1.5.3-1.5.9 (x86_64-vN, bug #3222)", "libmamba", NO_OVERRIDE,
              CPUID),
        Style("mamba-old", "mamba/micromamba <= 1.5.2 (always x86_64)", "libmamba", NO_OVERRIDE, NOWHERE),
        Style("pixi-lock", "pixi lock-file solve (baseline __archspec=0=x86_64)", "rattler", IGNORED, NOWHERE),
        Style("rattler", "rattler/pixi install (archspec-rs detection)", "rattler", NAMES, PROC_CPUINFO),
        Style("conda-old", "conda < 23.3 (no __archspec)", "conda-classic", NO_OVERRIDE, NOWHERE),
    )
}
# The styles a maintainer's matrix shows by default (the old ones only matter to doctor).
MATRIX_STYLES = ("conda", "mamba", "mamba-hyphen", "pixi-lock", "rattler")
TOOLS = ("conda", "mamba", "micromamba", "pixi")


def parse_version(text: str) -> tuple[int, ...]:
    """'1.5.8' -> (1, 5, 8); '2.0.0rc5' -> (2, 0, 0); anything unparsable -> ()."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def style_of(tool: str, version: str) -> Style:
    """The reporting style of `tool` at `version` on Linux x86-64."""
    v = parse_version(version)
    if tool == "conda":
        return STYLES["conda" if v >= (23, 3) else "conda-old"]
    if tool in ("mamba", "micromamba"):
        if v >= (1, 5, 10):
            return STYLES["mamba"]
        if v >= (1, 5, 3):
            return STYLES["mamba-hyphen"]
        return STYLES["mamba-old"]
    if tool == "pixi":
        return STYLES["rattler"]
    raise ValueError(f"unknown tool '{tool}'; expected one of {', '.join(TOOLS)}")


def advice(tool: str, version: str) -> str | None:
    """What to do about a version known to report `__archspec` wrongly; None when it is fine."""
    style = style_of(tool, version).key
    if style == "mamba-hyphen":
        return (f"{tool} {version} reports __archspec as x86_64-vN with a hyphen (mamba #3222): "
                f"upgrade to {tool} >= 1.5.10 or 2.x")
    if style == "mamba-old":
        return (f"{tool} {version} always reports __archspec=x86_64, so it only ever installs level-1 "
                f"builds: upgrade to {tool} >= 1.5.10 or 2.x")
    if style == "conda-old":
        return f"conda {version} reports no __archspec, so it only installs level-1 builds: upgrade to conda >= 23.3"
    return None
