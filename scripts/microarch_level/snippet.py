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


WHY_HOST = ("# In host, not build: a strong run_export from host lands in run only, so the gate stays out "
            "of the host env and every level builds on any CI machine (conda-forge.github.io#2105).")


def _test_note(catalog: Catalog, levels: list[int], tool: str) -> list[str]:
    """What to do with the tests of levels above the CI machine; nothing when only level 1 is built."""
    above = [lv for lv in levels if lv > LEVELS[0]]
    if not above:
        return []
    top = max(above)
    lines = ["# Tests: a level-N build's code needs a CPU at level N (else SIGILL), and so does its test",
             f"# environment (it installs {GATE} >=N).  On a CI machine below level {top}, skip the tests of",
             "# the levels above the machine; lower levels keep theirs."]
    if tool == "rattler-build":
        lines += ["# rattler-build: build those variants with `--test skip`; nothing else needs the CPU."]
    else:
        lines += ["# conda-build 26.7.1 also checks after the build that the run requirements install on this",
                  "# machine, even without a test section: build those variants with `--no-test`, or set",
                  f"# {VARIABLE}={catalog.generic_name(top)} for them (their tests must not run the built code)."]
    return lines


def _limits(tool: str) -> list[str]:
    """Where host placement is not the whole answer, and the legacy `build:` form with its workaround."""
    lines = ["# Limits: a noarch output gets no gate from either placement (only `noarch` run_exports reach",
             "# it), so microarch variants are for compiled outputs only.  With multiple outputs, put the",
             "# flag package in the host requirements of each compiled output (there is no top-level one).",
             "# A host dependency that is itself a level-N build brings the gate into the host env again.",
             f"# Legacy: {FLAGS} under build: also works, but its run_export then puts the gate into the",
             f"# host env, so a level above the CI machine only builds with {VARIABLE}=x86_64_vN set",
             f"# for that variant ({'--test skip' if tool == 'rattler-build' else '--no-test'} as above)."]
    return lines


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
           "  host:",
           f"    # Sets CFLAGS etc. to -march=x86-64-vN; makes the package depend on {GATE} >=N.",
           f"    {WHY_HOST}",
           "    - if: linux and x86_64",
           f"      then: {FLAGS} ==${{{{ {KEY} }}}}",
           ]
    notes = _test_note(catalog, levels, "rattler-build")
    return "\n".join(out + ([""] + notes if notes else []) + [""] + _limits("rattler-build")) + "\n"


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
            "  host:",
            f"    # Sets CFLAGS etc. to -march=x86-64-vN; makes the package depend on {GATE} >=N.",
            f"    {WHY_HOST}",
            f"    - {FLAGS} {{{{ {KEY} }}}}  # [linux64]"]
    notes = _test_note(catalog, levels, "conda-build")
    return "\n".join(out + ([""] + notes if notes else []) + [""] + _limits("conda-build")) + "\n"


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
