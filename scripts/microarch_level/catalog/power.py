"""The catalog of a family whose levels are generations (ppc64le), from archspec's own data and objects.

A POWER CPU's level is its generation: archspec records `generation` (8 for
power8le, 9 for power9le, ...) on each IBM entry, and a name without one (the
generic `ppc64le`) inherits its nearest ancestor's, else the family's baseline.
conda-forge's ppc64le baseline is POWER8, so the lowest gate level is 8; a
newer archspec's `power11le` is level 11 for matching (it reaches every gate
level) even though no level-11 package exists.  The gcc CPU name of each level
(`power9`) and the flag template (`-mcpu={name} -mtune={name}`) come from the
entry of that generation's archspec name.  The family's root name and levels
are its row in families.py; the readers take them as arguments.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .levels import Catalog, CatalogError, archspec_tables, checked_tables, installed_version

PPC64LE_ROOT = "ppc64le"
PPC64LE_LEVELS = (8, 9, 10)


def _gcc(compilers: dict) -> tuple[str | None, str | None]:
    """(gcc CPU name, flag template) from archspec's compiler table: the newest gcc range first."""
    for spec in compilers.get("gcc", []):
        if isinstance(spec.get("flags"), str):
            name = spec.get("name")
            return (name if isinstance(name, str) and name else None), spec["flags"]
    return None, None


def build_power_catalog(data: dict, archspec_version: str, targets: Mapping | None = None, *,
                        root: str = PPC64LE_ROOT, levels: tuple[int, ...] = PPC64LE_LEVELS) -> Catalog:
    """The catalog of family `root` (ppc64le by default), whose `levels` are generations, of archspec
    data; `targets` are its Microarchitecture objects (archspec.cpu.TARGETS for archspec's own data;
    built by levels.targets_of when not given)."""
    uarchs, targets = checked_tables(data, root, targets)
    # archspec's ancestors, nearest first (POWER entries descend in one line)
    lineage = {n: tuple(targets[n].ancestors) for n in uarchs}
    family = [n for n in uarchs if n == root or root in (a.name for a in lineage[n])]

    def generation(name: str) -> int:
        for a in (targets[name], *lineage[name]):
            g = a.generation  # archspec's 0: none recorded
            if g:
                if not isinstance(g, int) or isinstance(g, bool):
                    raise CatalogError(f"archspec data: '{a.name}'.generation is not an integer")
                return g
        return levels[0]

    level_of = {n: max(generation(n), levels[0]) for n in family}
    ordered = dict(sorted(level_of.items(), key=lambda item: (item[1], family.index(item[0]))))
    march: dict[int, str] = {}
    template = None
    for level in levels:
        at = [n for n, lv in ordered.items() if lv == level and n != root]
        if not at:
            raise CatalogError(f"archspec data has no {root} CPU of generation {level}")
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
        family=root,
        levels=levels,
        flag_template=template,
    )


@lru_cache(maxsize=8)
def load_power_catalog(json_path: Path | None = None, *, root: str = PPC64LE_ROOT,
                       levels: tuple[int, ...] = PPC64LE_LEVELS) -> Catalog:
    """The catalog of family `root` (ppc64le by default) of the data archspec.cpu uses, or of a given
    microarchitectures.json."""
    data, targets = archspec_tables(json_path)
    return build_power_catalog(data, installed_version(), targets, root=root, levels=levels)


def host_name(catalog: Catalog, generation: int) -> str:
    """The name archspec's host() gives a ppc64le CPU of `generation`: the newest POWER at or
    below it, a specific name before the generic one; the generic family when none is."""
    fitting = [n for n in catalog.names if catalog.names[n] <= generation]
    if not fitting:
        return catalog.family
    return max(fitting, key=lambda n: (catalog.names[n], not catalog.is_generic(n)))
