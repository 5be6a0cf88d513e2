"""Render the runtime guards of a gate whose levels are generations (ppc64le's) from archspec data.

Such a CPU tells its generation in one place, the `cpu` line of /proc/cpuinfo
(`cpu : POWER9`: the family's cpu_word, then the generation), so these guards
read that line where the feature guards check level features in the flags
line; what they say and promise is the same.  The
data passed to their templates (templates/guard-power.<shell>.in) comes from
the catalog: the gcc names glibc prints as hwcaps (`power10 (supported,
searched)`) and the archspec names an override may give.  The override is read
by every family's template (templates/override.<shell>.in: any spelling,
"did you mean").  csh sources the POSIX guard, with every family's csh template.
"""

from __future__ import annotations

from ..catalog.families import Family
from ..catalog.levels import Catalog
from .dialects import CSH, FISH, SH
from .guards import GUARD_FILE, guard_tables
from .shell_template import render

def render_guards(catalog: Catalog, family: Family, header: str) -> dict[str, str]:
    """The guards of a family whose levels are generations (ppc64le), of every gate level above the
    baseline, keyed `<gate>/<level>/<installed path>`."""
    out: dict[str, str] = {}
    for level in catalog.levels[1:]:
        data = {**guard_tables(catalog, family.a_label), "header": header, "level": level,
                "gate": family.gate, "label": family.label, "loader": family.loader,
                "cpu_word": family.cpu_word}
        base = f"{family.gate}/{level}/"
        for dialect, template in ((SH, "guard-power.sh.in"), (FISH, "guard-power.fish.in"), (CSH, "guard.csh.in")):
            out[base + GUARD_FILE.format(gate=family.gate, shell=dialect.suffix)] = render(template, **data)
    return out
