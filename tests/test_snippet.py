"""`snippet`: the printed recipe additions build real per-level packages that install where they run.

The recipe-v1 snippet is pasted into a minimal recipe in a temporary
directory and built offline with py-rattler-build against the project's
channel, as a downstream feedstock would; the meta.yaml form is checked with
rattler-build's conda_build_config reader and conda-build's selector rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli
from microarch_level.channel import archspec_package, base_virtual_packages, solve
from microarch_level.levels import LEVELS, load_catalog
from microarch_level.snippet import OFFSET, meta_yaml, parse_levels, recipe_v1

CATALOG = load_catalog()
GATE = "_x86_64-microarch-level"
LEVELS_ASKED = [LEVELS[0], LEVELS[2], LEVELS[3]]  # 1, 3, 4: what conda-forge recommends
PACKAGE = "demo-microarch"
SCHEMA = ROOT.parent / "shared" / "schemas" / "recipe-v1.schema.json"


def printed(*args: str) -> str:
    result = run_cli("snippet", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def split_v1(text: str) -> tuple[str, dict]:
    """The variants.yaml text and the recipe.yaml fragment of a printed recipe-v1 snippet."""
    variants, fragment = text.split("\n---\n")
    return variants, yaml.safe_load(fragment)


def assemble(text: str, directory: Path) -> Path:
    """A minimal downstream recipe with the snippet merged in, as a maintainer would write it."""
    variants, fragment = split_v1(text)
    recipe = {
        "context": {**fragment["context"]},
        "package": {"name": PACKAGE, "version": "1.0"},
        "build": {**fragment["build"],
                  "script": ["mkdir -p $PREFIX/share/demo", 'printf "%s\\n" "$CFLAGS" > $PREFIX/share/demo/cflags']},
        "requirements": fragment["requirements"],
        "about": {"summary": "a downstream package built per x86-64 level", "license": "MIT"},
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "variants.yaml").write_text(variants)
    (directory / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    return directory


def build(recipe_dir: Path, output: Path, channel: Path, platform: str = "linux-64") -> list[Path]:
    from rattler_build import (JinjaConfig, PlatformConfig, RenderConfig, Stage0Recipe, ToolConfiguration,
                               VariantConfig)

    pc = PlatformConfig(target_platform=platform)
    variants = VariantConfig.from_file_with_context(str(recipe_dir / "variants.yaml"), JinjaConfig(platform=pc))
    packages = []
    for variant in Stage0Recipe.from_file(recipe_dir / "recipe.yaml").render(variants, RenderConfig(platform=pc)):
        result = variant.run_build(tool_config=ToolConfiguration(test_strategy="skip"), output_dir=output,
                                   channels=[channel.resolve().as_uri(), output.as_uri()], no_build_id=True)
        packages += [Path(p) for p in result.packages]
    return packages


def read_package(package: Path, tmp: Path) -> tuple[dict, str]:
    """(info/index.json, the CFLAGS the build recorded) of a built .conda file."""
    from rattler.package_streaming import extract

    dest = tmp / package.stem
    extract(package, dest)
    return json.loads((dest / "info" / "index.json").read_text()), (dest / "share" / "demo" / "cflags").read_text()


@pytest.fixture(scope="module")
def built(channel, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("snippet")
    recipe_dir = assemble(printed("--levels", ",".join(map(str, LEVELS_ASKED))), work / "recipe")
    output = work / "output"
    packages = build(recipe_dir, output, channel)
    return {"output": output, "packages": {p: read_package(p, work / "extracted") for p in packages}}


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

    if not SCHEMA.exists():
        pytest.skip(f"schema not available: {SCHEMA}")
    recipe = yaml.safe_load((assemble(recipe_v1(CATALOG, LEVELS_ASKED), tmp_path) / "recipe.yaml").read_text())
    jsonschema.validate(recipe, json.loads(SCHEMA.read_text()))


def test_the_recipe_builds_one_package_per_level(built):
    numbers = sorted(index["build_number"] for index, _ in built["packages"].values())
    assert numbers == [lv * OFFSET for lv in LEVELS_ASKED]


def test_each_package_depends_on_the_gate_at_its_level(built):
    for index, _ in built["packages"].values():
        level = index["build_number"] // OFFSET
        assert f"{GATE} >={level}" in index["depends"]


def test_each_package_was_compiled_with_its_levels_march(built):
    for index, cflags in built["packages"].values():
        level = index["build_number"] // OFFSET
        assert f"-march={CATALOG.march[level]}" in cflags.split()


def test_other_platforms_keep_the_plain_build_number(tmp_path):
    from rattler_build import JinjaConfig, PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

    recipe_dir = assemble(recipe_v1(CATALOG, LEVELS_ASKED), tmp_path)
    pc = PlatformConfig(target_platform="osx-64")
    variants = VariantConfig.from_file_with_context(str(recipe_dir / "variants.yaml"), JinjaConfig(platform=pc))
    rendered = Stage0Recipe.from_file(recipe_dir / "recipe.yaml").render(variants, RenderConfig(platform=pc))
    assert [(v.recipe.build.number, list(v.recipe.requirements.build)) for v in rendered] == [(0, [])]


@pytest.mark.parametrize("level", LEVELS)
def test_a_cpu_gets_the_highest_level_build_it_can_run(channel, built, level):
    host = CATALOG.names_at(level)[0]
    records = solve([channel, built["output"]], [PACKAGE], base_virtual_packages() + [archspec_package(host)])
    chosen = next(r for r in records if r.name.normalized == PACKAGE)
    assert chosen.build_number == OFFSET * max(lv for lv in LEVELS_ASKED if lv <= level)


def test_the_top_level_builds_on_a_lower_ci_machine_with_the_notes_override(channel, tmp_path, monkeypatch):
    from rattler_build import BuildError

    top = max(LEVELS_ASKED)
    text = recipe_v1(CATALOG, [top])
    override = re.search(r"CONDA_OVERRIDE_ARCHSPEC=(\S+)", text).group(1)
    recipe_dir = assemble(text, tmp_path / "recipe")
    monkeypatch.setenv("CONDA_OVERRIDE_ARCHSPEC", CATALOG.generic_name(top - 1))  # a CI machine one level short
    with pytest.raises(BuildError, match="resolve"):
        build(recipe_dir, tmp_path / "below", channel)
    monkeypatch.setenv("CONDA_OVERRIDE_ARCHSPEC", override)
    assert len(build(recipe_dir, tmp_path / "overridden", channel)) == 1


def test_no_ci_note_when_only_level_1_is_built():
    assert "CONDA_OVERRIDE_ARCHSPEC" not in recipe_v1(CATALOG, [LEVELS[0]])


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


def test_meta_yaml_requires_the_flag_package_at_the_variants_level():
    meta = meta_yaml(CATALOG, LEVELS_ASKED).split("# ---- recipe/meta.yaml")[1]
    assert "    - x86_64-microarch-level {{ microarch_level }}" in selected(meta, linux64=True, microarch_level=3)


def test_both_formats_print_the_same_ci_note():
    def note(text):
        return [line for line in text.splitlines() if "CONDA_OVERRIDE_ARCHSPEC" in line]

    assert note(meta_yaml(CATALOG, LEVELS_ASKED)) == note(recipe_v1(CATALOG, LEVELS_ASKED)) != []
