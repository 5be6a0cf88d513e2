"""Which builds of a family's gate (`_x86_64-microarch-level`, `_ppc64le-microarch-level`) exist.

Level N must install on every CPU at level N or above, whatever name the
installing tool reports for it, and on none below, using only matching every
solver supports (exact strings and `*` globs).  Each level N gets one build
per matcher, and the matchers of a level together select every name at or
above N exactly once:

- an archspec name at or above N, exactly (`haswell`);
- `stem*` for an archspec name at or above N and its descendants that share its
  name (`zen*`: zen ... zen6, each derived from zen in archspec), when every
  name it selects is that stem or a descendant, so at level N or above.  A CPU
  archspec adds later under the stem's name is, by archspec's naming so far,
  a descendant too; `check_builds` refuses data where it is not;
- the generic levels: `x86*64*vM` per level M >= N, which matches the archspec
  spelling `x86_64_vM` (mamba's generic report, conda's fallback) and the
  hyphenated `x86_64-vM` of mamba's bug #3222 alike; at the lowest conditional
  level one `x86*64*v*` stands for all of them, since no tool reports a
  `v`-suffixed name below level 2 (level 1 is plain `x86_64`).

Level 1 requires nothing: every x86-64 CPU qualifies, including hosts that
report no `__archspec`, an unknown new name, or pixi's `x86_64` baseline.
ppc64le has no generic level names: its baseline 8 requires nothing (so
mamba's bare `ppc64le` report gets it) and levels 9 and 10 list `power9le`,
`power10le` and any newer POWER.
"""

from __future__ import annotations

import itertools
import os.path
from dataclasses import dataclass

from .levels import Catalog, CatalogError
from .matching import SOLVERS, matches, portable

ANY = "*"


# recipe/recipe.yaml derives every gate's build string from its matcher by this rule, so
# the variant files carry only (microarch_level, archspec_build); tests render the recipe
# and compare its build strings with GateBuild.build_string.
def build_tag(archspec_build: str, family: str) -> str:
    """The build tag the recipe derives from a matcher: `x86*64*v3` -> `x86_64_v3`,
    `zen*` -> `zen_`, `*` -> the family."""
    return family if archspec_build == ANY else archspec_build.replace("*", "_")


@dataclass(frozen=True)
class GateBuild:
    level: int
    tag: str
    archspec_build: str

    @property
    def dependency(self) -> str | None:
        """The run dependency on `__archspec`, or None for the unconditional level-1 build."""
        if self.archspec_build == ANY:
            return None
        return f"__archspec * {self.archspec_build}"

    def build_string(self, number: int) -> str:
        return f"{number}_{self.tag}"


def generic_glob(name: str) -> str:
    """`x86_64_v3` -> `x86*64*v3`: every separator may be `_` or `-`."""
    return name.replace("_", "*")


def all_generic_levels(catalog: Catalog) -> str | None:
    """One glob for every generic level above the baseline (x86-64: `x86*64*v*`, for `x86_64_vM`
    and `x86_64-vM`): their names' common stem, then `*`; None for a family without such names."""
    names = [catalog.generic_names[lv] for lv in catalog.levels[1:] if lv in catalog.generic_names]
    stem = os.path.commonprefix(names) if len(names) > 1 else ""
    return generic_glob(stem) + ANY if stem else None


def spellings(catalog: Catalog) -> dict[str, int]:
    """Every `__archspec` build a tool may report for a CPU of the family, with its level:
    archspec's names, and each generic name with any separator `_` or `-` (`x86_64-v3`)."""
    out = dict(catalog.names)
    for name, level in catalog.names.items():
        if name in catalog.generic_names.values():
            parts = name.split("_")
            for seps in itertools.product("_-", repeat=len(parts) - 1):
                spelled = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:]))
                out.setdefault(spelled, level)
    return out


def _any_report(catalog: Catalog) -> list[str]:
    """Every `__archspec` build a matcher of this family could meet: the family's spellings and
    the names of the other families."""
    return [*spellings(catalog), *catalog.foreign]


def _selected(pattern: str, reports) -> list[str]:
    """What `pattern` selects among `reports` under any solver."""
    return [r for r in reports if any(matches(solver, pattern, r) for solver in SOLVERS)]


def _lineage(catalog: Catalog, stem: str, names) -> bool:
    """Whether every one of `names` is `stem` or an archspec descendant of it."""
    return all(n == stem or stem in catalog.ancestors.get(n, ()) for n in names)


def _stem_glob(catalog: Catalog, stem: str, level: int) -> str | None:
    """`stem*` when it may stand for several names at `level`: it selects only `stem` and
    its archspec descendants (so none below `level`), no generic spelling, no other family."""
    if catalog.is_generic(stem) or catalog.level_of(stem) < level:
        return None
    pattern = stem + ANY
    hits = _selected(pattern, _any_report(catalog))
    if len(hits) < 2 or not _lineage(catalog, stem, hits):
        return None
    return pattern


def _generic_spellings(catalog: Catalog) -> dict[str, int]:
    """The spellings of the family's generic levels (`x86_64_v3`, `x86_64-v3`), with their level."""
    return {s: lv for s, lv in spellings(catalog).items() if s not in catalog.names or catalog.is_generic(s)}


def _generic_glob_for(catalog: Catalog, pattern: str, level: int) -> bool:
    """Whether `pattern` selects only generic spellings, all at `level` or above (so a tool
    reporting a generic name below `level`, or any CPU's own name, never gets the build)."""
    generic = _generic_spellings(catalog)
    hits = _selected(pattern, _any_report(catalog))
    return bool(hits) and all(generic.get(h, 0) >= level for h in hits)


def level_matchers(catalog: Catalog, level: int) -> list[str]:
    """The `__archspec` matchers of gate level `level` (above the family's baseline)."""
    names = catalog.names_at_least(level)
    generic = [n for n in names if catalog.is_generic(n)]
    every_level = all_generic_levels(catalog)
    if generic and every_level and _generic_glob_for(catalog, every_level, level):
        out = [every_level]
    else:
        out = [generic_glob(n) for n in generic]
    covered: set[str] = set()
    for name in names:
        if catalog.is_generic(name) or name in covered:
            continue
        glob = next((g for g in (_stem_glob(catalog, s, level) for s in names if name.startswith(s)) if g), None)
        out.append(glob or name)
        covered.update(_selected(glob, names) if glob else [name])
    return out


def gate_builds(catalog: Catalog) -> list[GateBuild]:
    builds = [GateBuild(catalog.levels[0], catalog.family, ANY)]
    for level in catalog.levels[1:]:
        builds += [GateBuild(level, build_tag(m, catalog.family), m) for m in level_matchers(catalog, level)]
    check_builds(catalog, builds)
    return builds


def _refuse(catalog: Catalog, build: GateBuild, why: str) -> CatalogError:
    return CatalogError(f"archspec {catalog.archspec_version}: the level-{build.level} gate matcher "
                        f"'{build.archspec_build}' {why}; gate.py must not publish it")


def check_builds(catalog: Catalog, builds: list[GateBuild]) -> None:
    """The gate's safety, under every solver: each conditional level's matchers are portable,
    yield their (distinct) tags, select only spellings at or above the level, and together select
    each such spelling exactly once; a glob stands for generic levels only, or for one archspec
    name and its descendants (what a later archspec may add under that name)."""
    for b in builds:
        if build_tag(b.archspec_build, catalog.family) != b.tag:
            raise ValueError(f"gate matcher '{b.archspec_build}' would build as "
                             f"{build_tag(b.archspec_build, catalog.family)}, "
                             f"not {b.tag}: the recipe derives build tags from matchers")
    reports = spellings(catalog)
    candidates = _any_report(catalog)
    generic = _generic_spellings(catalog)
    for level in catalog.levels[1:]:
        mine = [b for b in builds if b.level == level]
        tags = [b.tag for b in mine]
        for b in mine:
            if tags.count(b.tag) > 1:
                raise _refuse(catalog, b, f"shares its build tag {b.tag} with another build of its level")
            if b.archspec_build == ANY or not portable(b.archspec_build):
                raise _refuse(catalog, b, "is not an exact name or a glob, which every solver reads alike")
            hits = _selected(b.archspec_build, candidates)
            below = [h for h in hits if reports.get(h, 0) < level]
            if below:
                raise _refuse(catalog, b, f"also selects {', '.join(below)}, below level {level} or of another "
                                          "family: the gate would install where its level's code crashes")
            stem = b.archspec_build[:-1]
            if ANY in b.archspec_build and not (all(h in generic for h in hits) or (
                    ANY not in stem and stem in catalog.names and _lineage(catalog, stem, hits))):
                raise _refuse(catalog, b, f"selects {', '.join(hits)}: a glob must select generic levels only, "
                                          "or one archspec name and its descendants")
        for solver in SOLVERS:
            for report, lv in reports.items():
                selectors = [b.archspec_build for b in mine if matches(solver, b.archspec_build, report)]
                if lv >= level and len(selectors) != 1:
                    raise CatalogError(
                        f"archspec {catalog.archspec_version}: '{report}' (level {lv}) is selected by "
                        f"{len(selectors)} level-{level} gate matchers under {solver} "
                        f"({', '.join(selectors) or 'none'}), not exactly one")


def installable_levels(builds: list[GateBuild], reported: str | None, solver: str) -> list[int]:
    """The gate levels a host whose `__archspec` build string is `reported` can install.

    `reported` is None when the tool reports no `__archspec` at all.
    """
    return sorted({
        b.level for b in builds
        if b.archspec_build == ANY or (reported is not None and matches(solver, b.archspec_build, reported))
    })
