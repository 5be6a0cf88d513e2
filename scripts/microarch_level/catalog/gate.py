"""Which builds of a family's gate (`_x86_64-microarch-level`, `_ppc64le-microarch-level`) exist.

Level N must install on every CPU at level N or above, whatever name the
installing tool reports for it, using only matching every solver supports
(exact strings and `*` globs).  So each level gets one build per archspec name
at or above N, plus one glob per generic level, `x86*64*vM`, which matches the
archspec spelling `x86_64_vM` (mamba's generic report, conda's fallback) and the
hyphenated `x86_64-vM` of mamba's bug #3222 alike.  Level 1 requires nothing:
every x86-64 CPU qualifies, including hosts that report no `__archspec`, an
unknown new name, or pixi's `x86_64` baseline.  ppc64le has no generic level
names: its baseline 8 requires nothing (so mamba's bare `ppc64le` report gets
it) and levels 9 and 10 list `power9le`, `power10le` and any newer POWER.
"""

from __future__ import annotations

from dataclasses import dataclass

from .levels import LEVELS, Catalog, CatalogError
from .matching import SOLVERS, matches, portable

ANY = "*"
# The build tag of the unconditional level-1 build.  recipe/recipe.yaml derives every
# gate's build string from its matcher by the rule in build_tag(), so the variant
# files carry only (microarch_level, archspec_build); tests render the recipe and
# compare its build strings with GateBuild.build_string.
UNCONDITIONAL_TAG = Catalog.generic_name(LEVELS[0])


def build_tag(archspec_build: str, family: str = UNCONDITIONAL_TAG) -> str:
    """The build tag the recipe derives from a matcher: `x86*64*v3` -> `x86_64_v3`, `*` -> the family."""
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


def gate_builds(catalog: Catalog) -> list[GateBuild]:
    builds = [GateBuild(catalog.levels[0], catalog.family, ANY)]
    for level in catalog.levels[1:]:
        for name in catalog.names_at_least(level):
            matcher = generic_glob(name) if catalog.is_generic(name) else name
            builds.append(GateBuild(level, name, matcher))
    _check(catalog, builds)
    return builds


def _check(catalog: Catalog, builds: list[GateBuild]) -> None:
    """Each matcher must be portable, select exactly the names it is meant for, and yield its tag."""
    for b in builds:
        if build_tag(b.archspec_build, catalog.family) != b.tag:
            raise ValueError(f"gate matcher '{b.archspec_build}' would build as "
                             f"{build_tag(b.archspec_build, catalog.family)}, "
                             f"not {b.tag}: the recipe derives build tags from matchers")
        if b.archspec_build == ANY:
            continue
        if not portable(b.archspec_build):
            raise CatalogError(f"archspec {catalog.archspec_version}: the gate build for '{b.tag}' would need a "
                               "regex, which libmamba cannot match; gate.py must give it an exact or glob matcher")
        for solver in SOLVERS:
            hits = [n for n in catalog.names if matches(solver, b.archspec_build, n)]
            if hits != [b.tag]:
                others = ", ".join(n for n in hits if n != b.tag) or "nothing"
                raise CatalogError(
                    f"archspec {catalog.archspec_version}: the gate matcher '{b.archspec_build}' for '{b.tag}' "
                    f"also selects {others} under {solver}, so the gate could not tell them apart; "
                    "gate.py needs a matcher that selects only its own name before this archspec can be used")


def installable_levels(builds: list[GateBuild], reported: str | None, solver: str) -> list[int]:
    """The gate levels a host whose `__archspec` build string is `reported` can install.

    `reported` is None when the tool reports no `__archspec` at all.
    """
    return sorted({
        b.level for b in builds
        if b.archspec_build == ANY or (reported is not None and matches(solver, b.archspec_build, reported))
    })
