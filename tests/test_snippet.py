"""`snippet`: the printed recipe additions build real per-level packages that install where they run.

The recipe-v1 snippet is pasted into a minimal downstream recipe that compiles
a small C program (a loop gcc vectorises, and a popcount) and built offline
with py-rattler-build against the project's channel, for every level, on
whatever machine runs the suite and without CONDA_OVERRIDE_ARCHSPEC: the flag
package sits in `host:`, so no build needs the CPU of its level.  Which
variants run the recipe's own tests is decided here, not by this machine:
level 1 (runs on every x86-64 CPU) does, the others are built with
`--test skip`, as the snippet tells maintainers to do above their CI machine.
The meta.yaml form is checked with rattler-build's conda_build_config reader
and conda-build's selector rule.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import DATA, require_data, run_cli

from microarch_level.catalog.families import FLAGS, GATE, OVERRIDE
from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.diagnostics.snippet import OFFSET, meta_yaml, parse_levels, recipe_v1
from microarch_level.feedstock.channel import build_machine_cpu
from microarch_level.tools.solve import archspec_package, base_virtual_packages, solve

CATALOG = load_catalog()
LEVELS_ASKED = [LEVELS[0], LEVELS[2], LEVELS[3]]  # 1, 3, 4: what conda-forge recommends
LEVELS_BUILT = list(LEVELS)                         # the recipe built for every level
TESTED_LEVELS = {LEVELS[0]}  # the variants whose recipe tests run: level 1 runs on any x86-64 CPU
PACKAGE = "demo-microarch"
SCHEMA = DATA / "schemas" / "recipe-v1.schema.json"

# A loop gcc vectorises at -O3 (pmulld from SSE4.1 at v2, ymm at v3, zmm at v4) and a popcount.
PROGRAM = r"""
#include <stdio.h>
void mul(int *restrict a, const int *restrict b, const int *restrict c, int n) {
    for (int i = 0; i < n; i++) a[i] = b[i] * c[i];
}
int bits(const unsigned *v, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += __builtin_popcount(v[i]);
    return s;
}
int main(void) {
    static int a[1024], b[1024], c[1024];
    for (int i = 0; i < 1024; i++) { b[i] = i; c[i] = 3; }
    mul(a, b, c, 1024);
    printf("%d %d\n", a[1023], bits((const unsigned *)a, 1024));
    return 0;
}
"""
EXPECTED_OUTPUT = "3069 " + str(sum(bin(3 * i).count("1") for i in range(1024)))

# The instructions only a given level's -march lets gcc emit here (objdump's AT&T syntax).
LEVEL_MARKERS = {LEVELS[1]: re.compile(r"\b(popcnt|pmulld)\b"), LEVELS[2]: re.compile(r"%ymm"),
                 LEVELS[3]: re.compile(r"%zmm")}
BINARY = Path("bin") / "demo-microarch"


def printed(*args: str) -> str:
    result = run_cli("snippet", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def split_v1(text: str) -> tuple[str, dict]:
    """The variants.yaml text and the recipe.yaml fragment of a printed recipe-v1 snippet."""
    variants, fragment = text.split("\n---\n")
    return variants, yaml.safe_load(fragment)


def assemble(text: str, directory: Path, *, flags_in: str = "host") -> Path:
    """A minimal downstream C recipe with the snippet merged in, as a maintainer would write it.

    `flags_in="build"` moves the flag package to `build:`, the legacy placement.
    """
    variants, fragment = split_v1(text)
    requirements = dict(fragment["requirements"])
    if flags_in != "host":
        requirements = {flags_in: requirements.pop("host")}
    recipe = {
        "context": {**fragment["context"]},
        "package": {"name": PACKAGE, "version": "1.0"},
        "build": {**fragment["build"],
                  "script": ["mkdir -p $PREFIX/bin $PREFIX/share/demo",
                             'printf "%s\\n" "$CFLAGS" > $PREFIX/share/demo/cflags',
                             f"${{CC:-gcc}} $CFLAGS -O3 -o $PREFIX/{BINARY} $RECIPE_DIR/demo.c"]},
        "requirements": requirements,
        "tests": [{"script": [f'test "$({BINARY.name})" = "{EXPECTED_OUTPUT}"']}],
        "about": {"summary": "a downstream package built per x86-64 level", "license": "MIT"},
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "variants.yaml").write_text(variants)
    (directory / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    (directory / "demo.c").write_text(PROGRAM)
    return directory


def build(recipe_dir: Path, output: Path, channel: Path, *, machine: str | None = None,
          platform: str = "linux-64") -> list[Path]:
    """Build every variant; the recipe's tests run for TESTED_LEVELS only, the others skip them."""
    from rattler_build import JinjaConfig, PlatformConfig, RenderConfig, Stage0Recipe, ToolConfiguration, VariantConfig

    if shutil.which("gcc") is None:
        pytest.skip("gcc not found on PATH: the demo recipe compiles C")
    pc = PlatformConfig(target_platform=platform)
    variants = VariantConfig.from_file_with_context(str(recipe_dir / "variants.yaml"), JinjaConfig(platform=pc))
    packages = []
    with build_machine_cpu(machine):
        for variant in Stage0Recipe.from_file(recipe_dir / "recipe.yaml").render(variants, RenderConfig(platform=pc)):
            tested = int(variant.variant["microarch_level"]) in TESTED_LEVELS
            tools = ToolConfiguration(test_strategy="native" if tested else "skip")
            result = variant.run_build(tool_config=tools, output_dir=output,
                                       channels=[channel.resolve().as_uri(), output.as_uri()], no_build_id=True)
            packages += [Path(p) for p in result.packages]
    return packages


def read_package(package: Path, tmp: Path) -> dict:
    """info/index.json, the CFLAGS the build recorded and the disassembly of the built program."""
    from rattler.package_streaming import extract

    dest = tmp / package.stem
    extract(package, dest)
    objdump = shutil.which("objdump")
    disassembly = None
    if objdump is not None:
        disassembly = subprocess.run([objdump, "-d", str(dest / BINARY)], capture_output=True, text=True,
                                     check=True).stdout
    return {"index": json.loads((dest / "info" / "index.json").read_text()),
            "cflags": (dest / "share" / "demo" / "cflags").read_text(), "disassembly": disassembly}


@pytest.fixture(scope="module")
def built(channel, tmp_path_factory) -> dict:
    """The snippet for every level, built on this machine as it is (no CONDA_OVERRIDE_ARCHSPEC)."""
    work = tmp_path_factory.mktemp("snippet")
    recipe_dir = assemble(printed("--levels", ",".join(map(str, LEVELS_BUILT))), work / "recipe")
    output = work / "output"
    packages = build(recipe_dir, output, channel)
    read = [read_package(p, work / "extracted") for p in packages]
    return {"output": output, "by_level": {r["index"]["build_number"] // OFFSET: r for r in read}}


# --- levels -------------------------------------------------------------------------

@pytest.mark.parametrize("level", LEVELS)
def test_levels_are_read_in_every_spelling(level):
    generic = CATALOG.generic_name(level)
    for text in (str(level), f"v{level}", generic, generic.upper(), CATALOG.march[level] if level > 1 else generic):
        assert parse_levels(text, CATALOG) == [level], text


def test_levels_are_sorted_and_deduplicated():
    text = f"v{LEVELS[3]}, {LEVELS[0]},{CATALOG.generic_name(LEVELS[3])}"
    assert parse_levels(text, CATALOG) == [LEVELS[0], LEVELS[3]]


def test_a_level_above_the_highest_is_rejected_with_a_suggestion():
    result = run_cli("snippet", "--levels", f"{LEVELS[0]},{LEVELS[-1] + 1}")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"did you mean 'v{LEVELS[-1]}'" in result.stderr


def test_a_cpu_name_is_rejected_with_its_level():
    name = next(n for n in CATALOG.names_at(LEVELS[2]) if not CATALOG.is_generic(n))
    result = run_cli("snippet", "--levels", name)
    assert result.returncode == 2
    assert f"did you mean 'v{LEVELS[2]}'" in result.stderr


def test_an_empty_entry_is_rejected():
    assert run_cli("snippet", "--levels", f"{LEVELS[0]},,{LEVELS[2]}").returncode == 2


# --- recipe v1 ----------------------------------------------------------------------------

@pytest.mark.parametrize("platform,expected", [("linux-64", LEVELS_ASKED), ("linux-aarch64", None), ("osx-64", None)])
def test_the_variant_key_exists_on_linux_x86_64_only(platform, expected):
    from rattler_build import JinjaConfig, PlatformConfig, VariantConfig

    variants, _ = split_v1(recipe_v1(CATALOG, LEVELS_ASKED))
    jinja = JinjaConfig(platform=PlatformConfig(target_platform=platform))
    config = VariantConfig.from_yaml_with_context(variants, jinja)
    assert config.to_dict().get("microarch_level") == expected


def test_the_assembled_recipe_validates_against_the_recipe_v1_schema(tmp_path):
    import jsonschema

    require_data(SCHEMA, "a schema")
    recipe = yaml.safe_load((assemble(recipe_v1(CATALOG, LEVELS_ASKED), tmp_path) / "recipe.yaml").read_text())
    jsonschema.validate(recipe, json.loads(SCHEMA.read_text()))


def test_the_recipe_builds_one_package_per_level_on_this_machine(built):
    assert sorted(built["by_level"]) == LEVELS_BUILT


@pytest.mark.parametrize("level", LEVELS_BUILT)
def test_each_package_depends_on_the_gate_at_its_level(built, level):
    depends = built["by_level"][level]["index"]["depends"]
    assert [d for d in depends if d.split()[0] == GATE] == [f"{GATE} >={level}"]


@pytest.mark.parametrize("level", LEVELS_BUILT)
def test_each_package_was_compiled_with_its_levels_march(built, level):
    assert f"-march={CATALOG.march[level]}" in built["by_level"][level]["cflags"].split()


@pytest.mark.parametrize("level", LEVELS_BUILT)
def test_each_binary_uses_the_instructions_of_its_level_and_none_above(built, level):
    disassembly = built["by_level"][level]["disassembly"]
    if disassembly is None:
        pytest.skip("objdump not found on PATH (binutils)")
    found = {lv for lv, marker in LEVEL_MARKERS.items() if marker.search(disassembly)}
    assert max(found, default=LEVELS[0]) == level, sorted(found)


def test_other_platforms_keep_the_plain_build_number(tmp_path):
    from rattler_build import JinjaConfig, PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

    recipe_dir = assemble(recipe_v1(CATALOG, LEVELS_ASKED), tmp_path)
    pc = PlatformConfig(target_platform="osx-64")
    variants = VariantConfig.from_file_with_context(str(recipe_dir / "variants.yaml"), JinjaConfig(platform=pc))
    rendered = Stage0Recipe.from_file(recipe_dir / "recipe.yaml").render(variants, RenderConfig(platform=pc))
    assert [(v.recipe.build.number, list(v.recipe.requirements.build)) for v in rendered] == [(0, [])]


def test_a_cpu_gets_the_highest_level_build_it_can_run(channel, built, sample):
    records = solve([channel, built["output"]], [PACKAGE],
                    base_virtual_packages() + [archspec_package(sample.archspec_host)])
    chosen = next(r for r in records if r.name.normalized == PACKAGE)
    assert chosen.build_number == OFFSET * max(lv for lv in LEVELS_BUILT if lv <= sample.level)


def test_the_top_level_builds_on_a_level_1_machine(channel, tmp_path):
    top = LEVELS[-1]
    recipe_dir = assemble(recipe_v1(CATALOG, [top]), tmp_path / "recipe")
    packages = build(recipe_dir, tmp_path / "out", channel, machine=CATALOG.generic_name(LEVELS[0]))
    assert [read_package(p, tmp_path / "x")["index"]["build_number"] for p in packages] == [top * OFFSET]


def test_the_legacy_build_placement_needs_the_override_named_in_the_snippet(channel, tmp_path):
    from rattler_build import BuildError

    top = LEVELS[-1]
    text = recipe_v1(CATALOG, [top])
    assert f"{OVERRIDE}=x86_64_vN" in text
    recipe_dir = assemble(text, tmp_path / "recipe", flags_in="build")
    # rattler-build's error says only "Failed to resolve dependencies"; the cause is shown by
    # contrast: the same recipe with the flag package in host builds there (test above), and
    # this one builds once the machine reports the top level.
    with pytest.raises(BuildError, match="resolve"):
        build(recipe_dir, tmp_path / "below", channel, machine=CATALOG.generic_name(top - 1))
    assert len(build(recipe_dir, tmp_path / "overridden", channel, machine=CATALOG.generic_name(top))) == 1


def test_the_flag_package_is_printed_under_host():
    _, fragment = split_v1(recipe_v1(CATALOG, LEVELS_ASKED))
    assert list(fragment["requirements"]) == ["host"]
    assert fragment["requirements"]["host"][0]["then"] == f"{FLAGS} ==${{{{ microarch_level }}}}"


def test_the_placement_is_explained_in_one_comment_line():
    for text in (recipe_v1(CATALOG, LEVELS_ASKED), meta_yaml(CATALOG, LEVELS_ASKED)):
        assert len([line for line in text.splitlines() if "#2105" in line and "run only" in line]) == 1


def test_no_test_advice_when_only_level_1_is_built():
    for text in (recipe_v1(CATALOG, [LEVELS[0]]), meta_yaml(CATALOG, [LEVELS[0]])):
        assert "# Tests:" not in text


# --- meta.yaml ----------------------------------------------------------------------------

def cbc_part(text: str) -> str:
    return text.split("# ---- recipe/meta.yaml")[0]


@pytest.mark.parametrize("platform,expected", [("linux-64", LEVELS_ASKED), ("osx-64", None), ("linux-aarch64", None)])
def test_conda_build_config_has_the_levels_on_linux_64_only(tmp_path, platform, expected):
    from rattler_build import JinjaConfig, PlatformConfig, VariantConfig

    cbc = tmp_path / "conda_build_config.yaml"
    cbc.write_text(cbc_part(meta_yaml(CATALOG, LEVELS_ASKED)))
    config = VariantConfig.from_conda_build_config(cbc, JinjaConfig(platform=PlatformConfig(target_platform=platform)))
    values = config.to_dict().get("microarch_level")
    assert (None if values is None else [int(v) for v in values]) == expected


SELECTOR = re.compile(r"^(.*?)\s*#\s*\[(.+)\]\s*$")


def selected(text: str, **namespace) -> list[str]:
    """The lines conda-build keeps: a `# [expr]` selector is a Python expression over the namespace."""
    kept = []
    for line in text.splitlines():
        m = SELECTOR.match(line)
        if m is None:
            kept.append(line)
        elif eval(m.group(2), {}, dict(namespace)):  # noqa: S307  (conda-build's own rule)
            kept.append(m.group(1))
    return kept


@pytest.mark.parametrize("level", LEVELS_ASKED)
def test_meta_yaml_keeps_one_offset_build_number_per_level(level):
    meta = meta_yaml(CATALOG, LEVELS_ASKED).split("# ---- recipe/meta.yaml")[1]
    numbers = [line for line in selected(meta, linux64=True, microarch_level=level) if "number:" in line]
    assert numbers == [f"  number: {{{{ build_number + {level * OFFSET} }}}}"]


def test_meta_yaml_keeps_the_plain_build_number_elsewhere():
    meta = meta_yaml(CATALOG, LEVELS_ASKED).split("# ---- recipe/meta.yaml")[1]
    kept = selected(meta, linux64=False, microarch_level=None)
    assert [line for line in kept if "number:" in line] == ["  number: {{ build_number }}"]
    assert not any("x86_64-microarch-level" in line and not line.lstrip().startswith("#") for line in kept)


def test_meta_yaml_requires_the_flag_package_in_host_at_the_variants_level():
    meta = meta_yaml(CATALOG, LEVELS_ASKED).split("# ---- recipe/meta.yaml")[1]
    kept = [line for line in selected(meta, linux64=True, microarch_level=3) if not line.lstrip().startswith("#")]
    requirement = kept.index(f"    - {FLAGS} {{{{ microarch_level }}}}")
    assert kept[requirement - 1] == "  host:"


def test_meta_yaml_advises_no_test_or_the_override_for_conda_builds_post_build_check():
    top = max(LEVELS_ASKED)
    advice = meta_yaml(CATALOG, LEVELS_ASKED).split("# Tests:")[1].split("# Limits:")[0]
    assert "--no-test" in advice and f"{OVERRIDE}={CATALOG.generic_name(top)}" in advice
    assert "even without a test section" in advice


def test_recipe_v1_advises_skipping_only_the_test_phase():
    advice = recipe_v1(CATALOG, LEVELS_ASKED).split("# Tests:")[1].split("# Limits:")[0]
    assert "--test skip" in advice and OVERRIDE not in advice
