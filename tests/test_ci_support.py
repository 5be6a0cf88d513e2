"""`.ci_support/` is conda-smithy's: `generate --check` judges what its CI jobs build, not its bytes or names.

Every test starts from the files conda-smithy 2026.8.5 really wrote for this
feedstock (tests/data/conda-smithy/2026-12-06/rerendered, both families, under
smithy's own names); the stale cases from its earlier runs: early December
(2026-12/rerendered, one gate build per CPU name where the gate now has stem
globs) and November (2026-11/rerendered, x86-64 only, other names, with the
build_tag key the recipe dropped since).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import DATA, ROOT, run_cli

from microarch_level.catalog.families import catalogs
from microarch_level.catalog.gate import gate_builds
from microarch_level.feedstock.ci_support import CI_SUPPORT, FAMILY_KEY, LEVEL_KEY, MATCHER_KEY
from microarch_level.feedstock.pinning import narrowed

SMITHY_DATA = DATA / "conda-smithy"
RERENDERED = SMITHY_DATA / "2026-12-06" / "rerendered" / CI_SUPPORT
ONE_BUILD_PER_NAME = SMITHY_DATA / "2026-12" / "rerendered" / CI_SUPPORT
BEFORE_PPC64LE = SMITHY_DATA / "2026-11" / "rerendered" / CI_SUPPORT


def copy_tree(tmp_path: Path, ci_support: Path) -> Path:
    shutil.copytree(ROOT / "recipe", tmp_path / "recipe")
    shutil.copytree(ci_support, tmp_path / CI_SUPPORT)
    for path in (tmp_path / CI_SUPPORT).iterdir():
        path.chmod(0o644)
    return tmp_path


@pytest.fixture
def tree(tmp_path) -> Path:
    """Our recipe with the .ci_support conda-smithy really wrote from it."""
    return copy_tree(tmp_path, RERENDERED)


def job(tree: Path, level: int, family: str = "x86_64") -> Path:
    """The job file building `family`'s `level`, found by its contents (conda-smithy picks the names)."""
    for path in sorted((tree / CI_SUPPORT).glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if set(data[LEVEL_KEY]) == {str(level)} and set(data[FAMILY_KEY]) == {family}:
            return path
    raise LookupError(f"no job builds {family} level {level}")


def rel(path: Path) -> str:
    return f"{CI_SUPPORT}/{path.name}"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def save(path: Path, data: dict) -> None:
    path.write_text(yaml.dump(data, default_flow_style=False))


def rows(data: dict) -> list[tuple]:
    zipped = data["zip_keys"][0]
    return list(zip(*(data[k] for k in zipped)))


def set_rows(data: dict, new_rows: list[tuple]) -> dict:
    zipped = data["zip_keys"][0]
    for i, key in enumerate(zipped):
        data[key] = [r[i] for r in new_rows]
    return data


def check(tree: Path, *extra: str):
    return run_cli("generate", "--check", "--root", str(tree), *extra)


def test_the_check_passes_on_conda_smithys_real_rerender(tree):
    result = check(tree)
    assert result.returncode == 0, result.stderr
    assert "match archspec" in result.stdout


def test_the_names_are_conda_smithys_not_the_checks(tree):
    """A job renamed (as another set of looped variables would name it) still builds the same."""
    for path in (tree / CI_SUPPORT).glob("*.yaml"):
        path.rename(path.with_name(path.name.replace("microarch_family", "f").replace("microarch_level", "")))
    result = check(tree)
    assert result.returncode == 0, result.stderr


def test_the_files_conda_smithy_wrote_before_ppc64le_need_a_rerender(tmp_path):
    stale = copy_tree(tmp_path, BEFORE_PPC64LE)
    result = check(stale)
    assert result.returncode == 1
    assert f"unreadable: {CI_SUPPORT}/linux_64_microarch_level1.yaml (no list of {FAMILY_KEY} values; rerender" \
        in result.stderr
    for level, builds in ((8, 1), (9, 2), (10, 1)):
        assert f"missing: {CI_SUPPORT} (no job builds the {builds} ppc64le level-{level} builds; rerender" \
            in result.stderr


def test_the_files_conda_smithy_wrote_for_one_build_per_name_need_a_rerender(tmp_path):
    """The December capture lists zen, zen2 ... one by one where the gate now has one `zen*`."""
    stale = copy_tree(tmp_path, ONE_BUILD_PER_NAME)
    result = check(stale)
    assert result.returncode == 1
    for level in (2, 3):
        path = rel(job(stale, level))
        assert f"stale: {path} (has the level-{level} build zen2 (__archspec zen2), which archspec does not " \
               "call for" in result.stderr
        assert f"stale: {path} (lacks the level-{level} build zen_ (__archspec zen*); rerender" in result.stderr
    assert f"lacks the level-2 build x86_64_v_ (__archspec x86*64*v*)" in result.stderr
    assert rel(job(stale, 4)) not in result.stderr and rel(job(stale, 1)) not in result.stderr


def test_order_comments_and_pinning_keys_do_not_matter(tree):
    path = job(tree, 3)
    data = load(path)
    set_rows(data, list(reversed(rows(data))))
    data["docker_image"] = ["quay.io/condaforge/linux-anvil-x86_64:alma11"]
    data["cdt_name"] = ["conda"]
    path.write_text("# a comment conda-smithy never writes\n" + yaml.dump(data))
    result = check(tree)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("level", [2, 3, 4])
def test_a_missing_row_fails_naming_the_file_and_the_cpu(tree, level):
    path = job(tree, level)
    data = load(path)
    gone = next(r for r in rows(data) if r[0] == "haswell" or r[0] == "zen4")
    save(path, set_rows(data, [r for r in rows(data) if r != gone]))
    result = check(tree)
    assert result.returncode == 1
    line = next(x for x in result.stderr.splitlines() if "lacks" in x)
    assert f"{rel(path)}" in line and f"level-{level} build {gone[0]}" in line


def test_an_extra_row_fails_naming_the_file_and_the_row(tree):
    path = job(tree, 4)
    data = load(path)
    # haswell is level 3: a level-4 gate build for it would install on CPUs below level 4.
    save(path, set_rows(data, rows(data) + [("haswell", "x86_64", "4")]))
    result = check(tree)
    assert result.returncode == 1
    assert f"stale: {rel(path)} (has the level-4 build haswell (__archspec haswell), " \
           "which archspec does not call for" in result.stderr


def test_a_row_at_the_wrong_level_fails_naming_both_files(tree):
    path, other = job(tree, 3), job(tree, 2)
    data = load(path)
    moved = [(a, f, "2" if a == "haswell" else lv) for a, f, lv in rows(data)]
    save(path, set_rows(data, moved))
    result = check(tree)
    assert result.returncode == 1
    first, second = sorted([rel(path), rel(other)])
    assert f"{second} (repeats the level-2 build haswell (__archspec haswell) of {first}" in result.stderr
    assert f"{rel(path)} (lacks the level-3 build haswell" in result.stderr


@pytest.mark.parametrize("level, family, builds", [(4, "x86_64", "9 level-4"), (9, "ppc64le", "2 ppc64le level-9")])
def test_a_missing_job_fails_naming_the_builds(tree, level, family, builds):
    job(tree, level, family).unlink()
    result = check(tree)
    assert result.returncode == 1
    assert f"missing: {CI_SUPPORT} (no job builds the {builds} builds" in result.stderr


def test_a_ppc64le_row_in_the_wrong_family_fails_naming_the_file(tree):
    path = job(tree, 9, "ppc64le")
    data = load(path)
    save(path, set_rows(data, [(a, "x86_64", lv) for a, _, lv in rows(data)]))
    result = check(tree)
    assert result.returncode == 1
    assert f"missing: {CI_SUPPORT} (no job builds the 2 ppc64le level-9 builds" in result.stderr
    assert f"stale: {rel(path)} (has the level-9 build power9le (__archspec power9le), which archspec" \
        in result.stderr


def test_a_job_copied_under_another_name_fails_naming_the_copy(tree):
    source = job(tree, 4)
    copy = source.with_name("linux_64_microarch_level5.yaml")
    shutil.copy(source, copy)
    result = check(tree)
    assert result.returncode == 1
    first, second = sorted([rel(source), rel(copy)])
    assert f"stale: {second} (repeats the level-4 build zen4 (__archspec zen4) of {first}" in result.stderr


def test_a_row_listed_twice_in_one_job_fails(tree):
    path = job(tree, 2)
    data = load(path)
    save(path, set_rows(data, rows(data) + rows(data)[:1]))
    result = check(tree)
    assert result.returncode == 1
    assert f"stale: {rel(path)} (lists the level-2 build " in result.stderr and " 2 times; rerender" in result.stderr


def test_levels_not_zipped_with_matchers_are_refused(tree):
    path = job(tree, 1)
    data = load(path)
    data[LEVEL_KEY] = ["1", "2"]
    data["zip_keys"] = []
    save(path, data)
    result = check(tree)
    assert result.returncode == 1
    assert f"unreadable: {rel(path)} (microarch_level takes several values but is not zipped" in result.stderr


def test_a_cpu_archspec_gains_fails_in_every_job_that_must_name_it(tree, json_with_new_cpu):
    """zen7 descends from zen: `zen*` already stands for it at levels 2 and 3, level 4 lists it."""
    result = check(tree, "--archspec-json", str(json_with_new_cpu))
    assert result.returncode == 1
    assert f"stale: {rel(job(tree, 4))} (lacks the level-4 build zen7 (__archspec zen7)" in result.stderr
    for level in (1, 2, 3):
        assert rel(job(tree, level)) not in result.stderr


def test_the_generator_never_writes_ci_support(tree, json_with_new_cpu):
    before = {p.name: p.read_bytes() for p in (tree / CI_SUPPORT).iterdir()}
    assert run_cli("generate", "--root", str(tree), "--archspec-json", str(json_with_new_cpu)).returncode == 0
    assert {p.name: p.read_bytes() for p in (tree / CI_SUPPORT).iterdir()} == before
    still = check(tree, "--archspec-json", str(json_with_new_cpu))  # variants.yaml is fresh; the jobs need a rerender
    assert still.returncode == 1 and "variants.yaml" not in still.stderr and "rerender" in still.stderr


def test_the_committed_ci_support_is_in_conda_smithys_format():
    """One job per family and level, serialized and sorted the way conda-smithy writes them."""
    names = sorted(p.name for p in (ROOT / CI_SUPPORT).glob("*.yaml"))
    assert sorted(job(ROOT, level, f.name).name for f, c in catalogs() for level in c.levels) == names
    for name in names:
        text = (ROOT / CI_SUPPORT / name).read_text()
        data = yaml.safe_load(text)
        assert yaml.dump(data, default_flow_style=False) == text, name
        assert rows(data) == sorted(rows(data)), name  # smithy sorts each zipped group by its rows
    assert (ROOT / CI_SUPPORT / "README").read_text().startswith("This file is automatically generated by conda-smithy")


def test_pyyaml_reproduces_conda_smithys_bytes():
    """conda-smithy's files are PyYAML's default dump, so the committed ones are checked against one."""
    for path in [*RERENDERED.glob("*.yaml"), *BEFORE_PPC64LE.glob("*.yaml")]:
        assert yaml.dump(yaml.safe_load(path.read_text()), default_flow_style=False) == path.read_text()


def test_recipe_variants_zip_only_the_keys_the_recipe_uses(root):
    # Beside them, only the pinning's groups it narrows to one row (tests/test_pinning_groups.py).
    data = yaml.safe_load((root / "recipe" / "variants.yaml").read_text())
    assert sorted(k for k in data if k != "zip_keys" and k not in narrowed()) == sorted([MATCHER_KEY, FAMILY_KEY,
                                                                                          LEVEL_KEY])
    assert data["zip_keys"] == [sorted([MATCHER_KEY, FAMILY_KEY, LEVEL_KEY])]


def rendered_gate_builds(tree: Path) -> set[tuple[str, str]]:
    from rattler_build import Stage0Recipe, VariantConfig

    found = set()
    for config in sorted((tree / CI_SUPPORT).glob("linux_64_*.yaml")):
        for variant in Stage0Recipe.from_file(tree / "recipe" / "recipe.yaml").render(
                VariantConfig.from_file(str(config))):
            found.add((variant.recipe.package.name, str(variant.recipe.package.version), variant.recipe.build.string))
    return found


@pytest.mark.parametrize("family", ["x86_64", "ppc64le"])
def test_the_recipe_names_each_gate_build_as_gate_py_does(family):
    catalog = next(c for f, c in catalogs() if f.name == family)
    builds = rendered_gate_builds(ROOT)
    gates = {(v, s) for n, v, s in builds if n == f"_{family}-microarch-level"}
    assert gates == {(str(b.level), b.build_string(5)) for b in gate_builds(catalog)}
    flags = {v for n, v, s in builds if n == f"{family}-microarch-level"}
    assert flags == {str(level) for level in catalog.levels}


def test_committed_and_rerendered_jobs_render_the_same_builds(tree):
    assert rendered_gate_builds(tree) == rendered_gate_builds(ROOT)


def test_build_makes_the_same_packages_from_the_rerendered_jobs(tree, channel):
    from microarch_level.feedstock.channel import build_channel

    report = build_channel(tree, tree / "build_artifacts", run_tests=False)
    from_rerendered = sorted(p.name for p in report.packages)
    from_committed = sorted(p.name for p in channel.glob("*/*.conda"))
    expected = sum(len(gate_builds(c)) + len(c.levels) for _, c in catalogs())
    assert len(from_rerendered) == expected
    assert from_rerendered == from_committed
