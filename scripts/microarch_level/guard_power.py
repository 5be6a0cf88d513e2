"""Render the runtime guards of a POWER gate (`_ppc64le-microarch-level`) from archspec data.

A POWER CPU tells its generation in one place, the `cpu` line of
/proc/cpuinfo, so these guards read that line where the x86-64 guards check
level features in the flags line; what they say and promise is the same.  The
tables filled in here come from the catalog: the gcc names glibc prints as
hwcaps (`power10 (supported, searched)`) and the archspec names an override may
give.  The override is read by the x86-64 guard's own code
(activation.override_reader: any spelling, "did you mean").  csh sources the
POSIX guard, with the x86-64 family's csh template.
"""

from __future__ import annotations

from .activation import GUARD_FILE, _fill, _indent, _template, override_reader
from .families import Family
from .levels import Catalog

# The ppc64le ELFv2 dynamic loader (glibc's name on ppc64le; absent elsewhere).
LOADER = "/lib64/ld64.so.2"


def _glibc_cases_sh(catalog: Catalog) -> str:
    lines = [f'*"{catalog.march[lv]} (supported"*) _mal_cpu={lv} ;;' for lv in reversed(catalog.levels[1:])]
    lines.append(f'*"glibc-hwcaps"*) _mal_cpu={catalog.levels[0]} ;;')
    return _indent(lines, 4)


def _glibc_cases_fish(catalog: Catalog) -> str:
    lines = []
    for i, lv in enumerate(reversed(catalog.levels[1:])):
        lines += [f"{'if' if i == 0 else 'else if'} string match -q -- '*{catalog.march[lv]} (supported*' $_mal_out",
                  f"    set _mal_cpu {lv}"]
    lines += ["else if string match -q -- '*glibc-hwcaps*' $_mal_out", f"    set _mal_cpu {catalog.levels[0]}", "end"]
    return _indent(lines, 8)


def render_guards(catalog: Catalog, family: Family, header: str) -> dict[str, str]:
    """The guards of every gate level above the baseline, keyed `<gate>/<level>/<installed path>`."""
    out: dict[str, str] = {}
    guard_file = GUARD_FILE.replace("_x86_64-microarch-level", family.gate)
    for level in catalog.levels[1:]:
        common = {"HEADER": header, "LEVEL": str(level), "GATE": family.gate, "LABEL": family.label,
                  "LOADER": LOADER, "ARCHSPEC_VERSION": catalog.archspec_version}
        base = f"{family.gate}/{level}/"
        out[base + guard_file.format(shell="sh")] = _fill(_template("guard-power.sh.in"), {
            **common, "GLIBC_CASES": _glibc_cases_sh(catalog),
            "OVERRIDE_READ": override_reader(catalog, "sh", family.a_label)})
        out[base + guard_file.format(shell="fish")] = _fill(_template("guard-power.fish.in"), {
            **common, "GLIBC_CASES": _glibc_cases_fish(catalog),
            "OVERRIDE_READ": override_reader(catalog, "fish", family.a_label, extra_indent=4)})
        out[base + guard_file.format(shell="csh")] = _fill(_template("guard.csh.in"), common)
    return out
