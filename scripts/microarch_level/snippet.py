"""`microarch-level snippet --levels 1,3,4`: what a downstream recipe adds to build per level.

Adopting microarch builds takes four coordinated edits (a Linux-x86-64-only
variant key, a build-number offset per level so the highest level a CPU
reaches wins, the flag package in `build:` requirements, and a plan for CI
machines below the top level); getting one wrong silently ships unoptimised
or uninstallable builds.  This prints all four for recipe v1 (rattler-build)
or meta.yaml (conda-build), from the levels the maintainer picks.
"""

from __future__ import annotations

import sys

from .activation import FLAGS, GATE
from .levels import LEVELS, Catalog, load_catalog
from .overrides import VARIABLE
from .spelling import UnknownName, normalize

HELP = "print the recipe additions a downstream package needs to build per x86-64 level"
KEY = "microarch_level"
OFFSET = 100  # build number offset per level: level N builds get number + N * OFFSET
FORMATS = ("recipe-v1", "meta-yaml")


def add_arguments(parser) -> None:
    parser.add_argument("--levels", required=True, metavar="LIST",
                        help="comma-separated levels to build, in any spelling (1,3,4 or v1,v3,v4 or x86-64-v3)")
    parser.add_argument("--format", choices=FORMATS, default="recipe-v1",
                        help="recipe-v1 (recipe.yaml + variants.yaml, default) or meta-yaml "
                             "(meta.yaml + conda_build_config.yaml)")


def parse_levels(text: str, catalog: Catalog) -> list[int]:
    """'1, v3,x86-64-v4' -> [1, 3, 4]; a CPU name or an unknown level is an error naming the fix."""
    levels = set()
    for item in text.split(","):
        if not item.strip():
            raise ValueError(f"empty entry in --levels '{text}'; expected e.g. 1,3,4")
        try:
            n = normalize(item, catalog, allow_level=True)
        except UnknownName as exc:
            raise ValueError(str(exc)) from None
        if not catalog.is_generic(n.name):
            raise ValueError(f"'{item.strip()}' is a CPU, not a level; did you mean 'v{n.level}' "
                             f"(the level of {n.name})?")
        levels.add(n.level)
    return sorted(levels)


def _offsets(levels: list[int]) -> str:
    return ", ".join(f"level {lv} -> {lv * OFFSET}" for lv in levels)


def _ci_note(catalog: Catalog, levels: list[int], prefix: str) -> list[str]:
    top = max(levels)
    if top == LEVELS[0]:
        return []
    return [f"{prefix}CI machines below level {top} cannot run the level-{top} build: the flag package's",
            f"{prefix}run_export puts '{GATE} >={top}' into its host and test environments, which then",
            f"{prefix}do not solve there.  For that build only, set {VARIABLE}={catalog.generic_name(top)}",
            f"{prefix}in the build's environment and skip the tests that run the built code",
            f"{prefix}(rattler-build: --test skip; conda-build: --no-test).  Lower levels keep their tests."]


def recipe_v1(catalog: Catalog, levels: list[int]) -> str:
    listed = ", ".join(map(str, levels))
    out = [f"# x86-64 microarchitecture builds for levels {listed} "
           f"({', '.join(catalog.march[lv] for lv in levels)}).",
           f"# Printed by `microarch-level snippet` (archspec {catalog.archspec_version}).",
           "",
           "# ---- recipe/variants.yaml: add this key ----",
           f"{KEY}:",
           "  - if: linux and x86_64",
           f"    then: [{listed}]",
           "---",
           "# ---- recipe/recipe.yaml: merge these keys ----",
           "context:",
           "  build_number: 0",
           "",
           "build:",
           f"  # +{OFFSET} per level, so a solver picks the highest level the CPU reaches:",
           f"  # {_offsets(levels)}; other platforms keep build_number.",
           f"  number: ${{{{ build_number + {OFFSET} * ({KEY} | int) if {KEY} is defined else build_number }}}}",
           "",
           "requirements:",
           "  build:",
           "    # Compiles with -march=x86-64-vN and, through its run_export, makes the",
           f"    # package depend on {GATE} >=N, so it only installs where it runs.",
           "    - if: linux and x86_64",
           f"      then: {FLAGS} ==${{{{ {KEY} }}}}",
           ]
    notes = _ci_note(catalog, levels, "# ")
    return "\n".join(out + ([""] + notes if notes else [])) + "\n"


def meta_yaml(catalog: Catalog, levels: list[int]) -> str:
    out = [f"# x86-64 microarchitecture builds for levels {', '.join(map(str, levels))} "
           f"({', '.join(catalog.march[lv] for lv in levels)}).",
           f"# Printed by `microarch-level snippet` (archspec {catalog.archspec_version}).",
           "",
           "# ---- recipe/conda_build_config.yaml: add this key ----",
           f"{KEY}:  # [linux64]"]
    out += [f"  - {lv}  # [linux64]" for lv in levels]
    out += ["",
            "# ---- recipe/meta.yaml: merge these lines ----",
            "{% set build_number = 0 %}",
            "",
            "build:",
            f"  # +{OFFSET} per level, so a solver picks the highest level the CPU reaches.",
            "  number: {{ build_number }}  # [not linux64]"]
    out += [f"  number: {{{{ build_number + {lv * OFFSET} }}}}  # [linux64 and {KEY} == {lv}]" for lv in levels]
    out += ["",
            "requirements:",
            "  build:",
            f"    # -march=x86-64-vN, and a run_export on {GATE} >=N.",
            f"    - {FLAGS} {{{{ {KEY} }}}}  # [linux64]"]
    notes = _ci_note(catalog, levels, "# ")
    return "\n".join(out + ([""] + notes if notes else [])) + "\n"


def run(args) -> int:
    from .errors import UsageError

    catalog = load_catalog()
    try:
        levels = parse_levels(args.levels, catalog)
    except ValueError as exc:
        raise UsageError(f"--levels: {exc}") from None
    render = recipe_v1 if args.format == "recipe-v1" else meta_yaml
    sys.stdout.write(render(catalog, levels))
    return 0
