"""`microarch-level snippet --levels 1,3,4`: what a downstream recipe adds to build per level.

Adopting microarch builds takes four coordinated edits (a Linux-x86-64-only
variant key, a build-number offset per level so the highest level a CPU
reaches wins, the flag package in `host:` requirements, and a plan for the
tests of levels above the CI machine); getting one wrong silently ships
unoptimised or uninstallable builds.  This prints all four for recipe v1
(rattler-build) or meta.yaml (conda-build), from the levels the maintainer picks.

Why `host:` (conda-forge.github.io#2105): a strong run-export of a `build:`
dependency lands in host and run, of a `host:` dependency in run only, and
both tools run the host environment's activation scripts during the build.
So under `host:` the flags are set and the package depends on the gate, but
the gate never enters the host environment, and a level-4 variant builds on
a level-3 CI machine.  Only running the built code needs the CPU.
"""

from __future__ import annotations

import sys

from ..catalog.families import FAMILIES, OVERRIDE, Family, by_name
from ..catalog.levels import Catalog
from ..catalog.spelling import UnknownName, key, names_by_key, normalize_in

HELP = "print the recipe additions a downstream package needs to build per microarchitecture level"
KEY = "microarch_level"
OFFSET = 100  # build number offset per level: level N builds get number + N * OFFSET
FORMATS = ("recipe-v1", "meta-yaml")


def add_arguments(parser) -> None:
    parser.add_argument("--levels", required=True, metavar="LIST",
                        help="comma-separated levels to build, in any spelling (1,3,4 or v1,v3,v4 or x86-64-v3; "
                             "ppc64le: 8,9,10 or power9)")
    parser.add_argument("--family", choices=[f.name for f in FAMILIES], default=FAMILIES[0].name,
                        help=f"the CPU family (default: {FAMILIES[0].name}); print once per family to build several")
    parser.add_argument("--format", choices=FORMATS, default="recipe-v1",
                        help="recipe-v1 (recipe.yaml + variants.yaml, default) or meta-yaml "
                             "(meta.yaml + conda_build_config.yaml)")


def parse_levels(text: str, catalog: Catalog) -> list[int]:
    """'1, v3,x86-64-v4' -> [1, 3, 4] ('8,power9' -> [8, 9] for ppc64le); a CPU name or an unknown
    level is an error naming the fix."""
    levels = set()
    example = ",".join(map(str, catalog.levels))
    for item in text.split(","):
        if not item.strip():
            raise ValueError(f"empty entry in --levels '{text}'; expected e.g. {example}")
        try:
            n = normalize_in(item, catalog, allow_level=True)
        except UnknownName as exc:
            raise ValueError(str(exc)) from None
        # a name of the catalog that is no level's own name (a level's spellings normalize to those)
        if key(item) in names_by_key(catalog) and not catalog.is_generic(n.name):
            spelled = f"v{n.level}" if catalog.generic_names else str(n.level)
            raise ValueError(f"'{item.strip()}' is a CPU, not a level; did you mean '{spelled}' "
                             f"(the level of {n.name})?")
        levels.add(n.level)
    return sorted(levels)


def _offsets(levels: list[int]) -> str:
    return ", ".join(f"level {lv} -> {lv * OFFSET}" for lv in levels)


WHY_HOST = ("# In host, not build: a strong run_export from host lands in run only, so the gate stays out "
            "of the host env and every level builds on any CI machine (conda-forge.github.io#2105).")


def _test_note(catalog: Catalog, family: Family, levels: list[int], tool: str) -> list[str]:
    """What to do with the tests of levels above the CI machine; nothing when only the baseline is built."""
    above = [lv for lv in levels if lv > catalog.levels[0]]
    if not above:
        return []
    top = max(above)
    lines = ["# Tests: a level-N build's code needs a CPU at level N (else SIGILL), and so does its test",
             f"# environment (it installs {family.gate} >=N).  On a CI machine below level {top}, skip the tests of",
             "# the levels above the machine; lower levels keep theirs."]
    if tool == "rattler-build":
        lines += ["# rattler-build: build those variants with `--test skip`; nothing else needs the CPU."]
    else:
        lines += ["# conda-build 26.7.1 also checks after the build that the run requirements install on this",
                  "# machine, even without a test section: build those variants with `--no-test`, or set",
                  f"# {OVERRIDE}={catalog.level_name(top)} for them (their tests must not run the built code)."]
    return lines


def _limits(catalog: Catalog, family: Family, tool: str) -> list[str]:
    """Where host placement is not the whole answer, and the legacy `build:` form with its workaround."""
    lines = ["# Limits: a noarch output gets no gate from either placement (only `noarch` run_exports reach",
             "# it), so microarch variants are for compiled outputs only.  With multiple outputs, put the",
             "# flag package in the host requirements of each compiled output (there is no top-level one).",
             "# A host dependency that is itself a level-N build brings the gate into the host env again.",
             f"# Legacy: {family.flags} under build: also works, but its run_export then puts the gate into the",
             f"# host env, so a level above the CI machine only builds with {OVERRIDE}={family.name_pattern} set",
             f"# for that variant ({'--test skip' if tool == 'rattler-build' else '--no-test'} as above)."]
    return lines


def _flags_note(catalog: Catalog, family: Family) -> str:
    return (f"    # Sets CFLAGS etc. to {catalog.flag_template.replace('{name}', family.march_pattern)}; "
            f"makes the package depend on {family.gate} >=N.")


def recipe_v1(catalog: Catalog, levels: list[int], family: Family | None = None) -> str:
    family = family or by_name(catalog.family)
    listed = ", ".join(map(str, levels))
    out = [f"# {family.label} microarchitecture builds for levels {listed} "
           f"({', '.join(catalog.march[lv] for lv in levels)}).",
           f"# Printed by `microarch-level snippet` (archspec {catalog.archspec_version}).",
           "",
           "# ---- recipe/variants.yaml: add this key ----",
           f"{KEY}:",
           f"  - if: {family.v1_selector}",
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
           "  host:",
           _flags_note(catalog, family),
           f"    {WHY_HOST}",
           f"    - if: {family.v1_selector}",
           f"      then: {family.flags} ==${{{{ {KEY} }}}}",
           ]
    notes = _test_note(catalog, family, levels, "rattler-build")
    return "\n".join(out + ([""] + notes if notes else []) + [""] + _limits(catalog, family, "rattler-build")) + "\n"


def meta_yaml(catalog: Catalog, levels: list[int], family: Family | None = None) -> str:
    family = family or by_name(catalog.family)
    sel = family.meta_selector
    out = [f"# {family.label} microarchitecture builds for levels {', '.join(map(str, levels))} "
           f"({', '.join(catalog.march[lv] for lv in levels)}).",
           f"# Printed by `microarch-level snippet` (archspec {catalog.archspec_version}).",
           "",
           "# ---- recipe/conda_build_config.yaml: add this key ----",
           f"{KEY}:  # [{sel}]"]
    out += [f"  - {lv}  # [{sel}]" for lv in levels]
    out += ["",
            "# ---- recipe/meta.yaml: merge these lines ----",
            "{% set build_number = 0 %}",
            "",
            "build:",
            f"  # +{OFFSET} per level, so a solver picks the highest level the CPU reaches.",
            f"  number: {{{{ build_number }}}}  # [not {sel if ' ' not in sel else f'({sel})'}]"]
    out += [f"  number: {{{{ build_number + {lv * OFFSET} }}}}  # [{sel} and {KEY} == {lv}]" for lv in levels]
    out += ["",
            "requirements:",
            "  host:",
            _flags_note(catalog, family),
            f"    {WHY_HOST}",
            f"    - {family.flags} {{{{ {KEY} }}}}  # [{sel}]"]
    notes = _test_note(catalog, family, levels, "conda-build")
    return "\n".join(out + ([""] + notes if notes else []) + [""] + _limits(catalog, family, "conda-build")) + "\n"


def run(args) -> int:
    from ..errors import UsageError

    family = by_name(args.family)
    catalog = family.catalog(None)
    try:
        levels = parse_levels(args.levels, catalog)
    except ValueError as exc:
        raise UsageError(f"--levels: {exc}") from None
    render = recipe_v1 if args.format == "recipe-v1" else meta_yaml
    sys.stdout.write(render(catalog, levels, family))
    return 0
