"""The little-endian POWER names and levels, from archspec's own data and objects (levels.py).

A POWER CPU's level is its generation: archspec records `generation` (8 for
power8le, 9 for power9le, ...) on each IBM entry, and a name without one (the
generic `ppc64le`) inherits its nearest ancestor's, else the family's baseline.
conda-forge's ppc64le baseline is POWER8, so the lowest gate level is 8; a
newer archspec's `power11le` is level 11 for matching (it reaches every gate
level) even though no level-11 package exists.  The gcc CPU name of each level
(`power9`) and the flag template (`-mcpu={name} -mtune={name}`) come from the
entry of that generation's archspec name.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .levels import Catalog, CatalogError, archspec_tables, checked_tables, installed_version

FAMILY = "ppc64le"
LEVELS = (8, 9, 10)


def _gcc(compilers: dict) -> tuple[str | None, str | None]:
    """(gcc CPU name, flag template) from archspec's compiler table: the newest gcc range first."""
    for spec in compilers.get("gcc", []):
        if isinstance(spec.get("flags"), str):
            name = spec.get("name")
            return (name if isinstance(name, str) and name else None), spec["flags"]
    return None, None


def build_power_catalog(data: dict, archspec_version: str, targets: Mapping | None = None) -> Catalog:
    """The ppc64le catalog of archspec data; `targets` are its Microarchitecture objects
    (archspec.cpu.TARGETS for archspec's own data; built by levels.targets_of when not given)."""
    uarchs, targets = checked_tables(data, FAMILY, targets)
    # archspec's ancestors, nearest first (POWER entries descend in one line)
    lineage = {n: tuple(targets[n].ancestors) for n in uarchs}
    family = [n for n in uarchs if n == FAMILY or FAMILY in (a.name for a in lineage[n])]

    def generation(name: str) -> int:
        for a in (targets[name], *lineage[name]):
            g = a.generation  # archspec's 0: none recorded
            if g:
                if not isinstance(g, int) or isinstance(g, bool):
                    raise CatalogError(f"archspec data: '{a.name}'.generation is not an integer")
                return g
        return LEVELS[0]

    levels = {n: max(generation(n), LEVELS[0]) for n in family}
    ordered = dict(sorted(levels.items(), key=lambda item: (item[1], family.index(item[0]))))
    march: dict[int, str] = {}
    template = None
    for level in LEVELS:
        at = [n for n, lv in ordered.items() if lv == level and n != FAMILY]
        if not at:
            raise CatalogError(f"archspec data has no {FAMILY} CPU of generation {level}")
        name, flags = _gcc(targets[at[0]].compilers)
        if name is None or flags is None:
            raise CatalogError(f"archspec data lacks a gcc CPU name for '{at[0]}'")
        march[level] = name
        template = template or flags
    return Catalog(
        archspec_version=archspec_version,
        names=ordered,
        level_features={},
        march=march,
        ancestors={n: tuple(a.name for a in lineage[n]) for n in ordered},
        family=FAMILY,
        levels=LEVELS,
        flag_template=template,
    )


@lru_cache(maxsize=8)
def load_power_catalog(json_path: Path | None = None) -> Catalog:
    """The ppc64le catalog of the data archspec.cpu uses, or of a given microarchitectures.json."""
    data, targets = archspec_tables(json_path)
    return build_power_catalog(data, installed_version(), targets)


def host_name(catalog: Catalog, generation: int) -> str:
    """The name archspec's host() gives a ppc64le CPU of `generation`: the newest POWER at or
    below it, a specific name before the generic one; the generic family when none is."""
    fitting = [n for n in catalog.names if catalog.names[n] <= generation]
    if not fitting:
        return catalog.family
    return max(fitting, key=lambda n: (catalog.names[n], not catalog.is_generic(n)))
