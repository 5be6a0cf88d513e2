"""`.ci_support/` is conda-smithy's: `generate --check` judges what its CI jobs build, not its bytes.

Every test starts from the files conda-smithy 2026.8.5 really wrote for this
feedstock (tests/data/conda-smithy/2026-11/rerendered, x86-64 only, with the build_tag
key the recipe dropped since), brought up to date the way its next rerender
updates them: each job holds the rows of recipe/variants.yaml at its level.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import DATA, ROOT, require_data, run_cli

from microarch_level.catalog.families import catalogs
from microarch_level.catalog.gate import gate_builds
from microarch_level.feedstock.ci_support import CI_SUPPORT, FAMILY_KEY, LEVEL_KEY, MATCHER_KEY, ZIPPED, job_file

LEVELS = [level for _, c in catalogs() for level in c.levels]
PPC_LEVELS = [level for f, c in catalogs() if f.name == "ppc64le" for level in c.levels]

RERENDERED = DATA / "conda-smithy" / "2026-11" / "rerendered" / CI_SUPPORT
# The key the recipe stopped using after that rerender (it derives the build tag now).
DROPPED_KEY = "build_tag"


@pytest.fixture(scope="module")
def rerendered() -> Path:
    return require_data(RERENDERED, "conda-smithy's real output")


@pytest.fixture
def stale_tree(tmp_path, rerendered) -> Path:
    """A feedstock as conda-smithy left it before ppc64le: our recipe, its .ci_support."""
    shutil.copytree(ROOT / "recipe", tmp_path / "recipe")
    shutil.copytree(rerendered, tmp_path / CI_SUPPORT)
    for path in (tmp_path / CI_SUPPORT).iterdir():
        path.chmod(0o644)
    return tmp_path


@pytest.fixture
def tree(stale_tree) -> Path:
    """The same feedstock after the next rerender (see as_next_rerender)."""
    variants = yaml.safe_load((stale_tree / "recipe" / "variants.yaml").read_text())
    pinning = load(stale_tree, 1)
    for level in LEVELS:
        save(stale_tree, level, as_next_rerender(pinning, variants, level))
    return stale_tree


def load(tree: Path, level: int) -> dict:
    return yaml.safe_load((tree / job_file(level)).read_text())


def save(tree: Path, level: int, data: dict) -> None:
    (tree / job_file(level)).write_text(yaml.dump(data, default_flow_style=False))


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


def as_next_rerender(pinning: dict, variants: dict, level: int) -> dict:
    """What conda-smithy writes for `level` from today's recipe/variants.yaml.

    conda-smithy keeps the pinning keys (docker_image, channel_*), only the variant
    keys the recipe uses (so build_tag goes, microarch_family comes), sorts each
    zipped group by its rows' values and dumps with PyYAML's default dumper
    (configure_feedstock.py: sort_config, dump_subspace_config_files); re-dumping
    its real files reproduces their bytes.
    """
    data = {k: v for k, v in pinning.items() if k not in (DROPPED_KEY, "zip_keys", *ZIPPED)}
    at = sorted(r for r in zip(*(variants[k] for k in ZIPPED)) if r[ZIPPED.index(LEVEL_KEY)] == str(level))
    data.update({key: [r[i] for r in at] for i, key in enumerate(ZIPPED)})
    data["zip_keys"] = [list(ZIPPED)]
    return data


def test_the_check_passes_on_what_the_next_rerender_writes(tree):
    result = check(tree)
    assert result.returncode == 0, result.stderr
    assert "match archspec" in result.stdout


def test_the_files_conda_smithy_wrote_before_ppc64le_need_a_rerender(stale_tree):
    result = check(stale_tree)
    assert result.returncode == 1
    assert f"unreadable: {job_file(1)} (no list of {FAMILY_KEY} values; rerender" in result.stderr
    for level in PPC_LEVELS:
        assert f"missing: {job_file(level)} (" in result.stderr


def test_rerendered_files_differ_in_bytes_but_not_in_meaning(tree, rerendered):
    text = (rerendered / "linux_64_microarch_level3.yaml").read_text()
    assert "GENERATED" not in text and "alma10" in text  # smithy's bytes: no header, pinning's image
    assert check(tree).returncode == 0


def test_order_comments_and_pinning_keys_do_not_matter(tree):
    data = load(tree, 3)
    set_rows(data, list(reversed(rows(data))))
    data["docker_image"] = ["quay.io/condaforge/linux-anvil-x86_64:alma11"]
    data["cdt_name"] = ["conda"]
    (tree / job_file(3)).write_text("# a comment conda-smithy never writes\n" + yaml.dump(data))
    result = check(tree)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("level", [2, 3, 4])
def test_a_missing_row_fails_naming_the_file_and_the_cpu(tree, level):
    data = load(tree, level)
    gone = next(r for r in rows(data) if r[0] == "haswell" or r[0] == "zen4")
    save(tree, level, set_rows(data, [r for r in rows(data) if r != gone]))
    result = check(tree)
    assert result.returncode == 1
    line = next(x for x in result.stderr.splitlines() if "lacks" in x)
    assert f"{job_file(level)}" in line and f"level-{level} build {gone[0]}" in line


def test_an_extra_row_fails_naming_the_file_and_the_row(tree):
    data = load(tree, 4)
    # haswell is level 3: a level-4 gate build for it would install on CPUs below level 4.
    save(tree, 4, set_rows(data, rows(data) + [("haswell", "x86_64", "4")]))
    result = check(tree)
    assert result.returncode == 1
    assert f"stale: {job_file(4)} (has the level-4 build haswell (__archspec haswell), " \
           "which archspec does not call for" in result.stderr


def test_a_row_at_the_wrong_level_fails_naming_the_file_and_the_row(tree):
    data = load(tree, 3)
    moved = [(a, f, "2" if a == "zen2" else lv) for a, f, lv in rows(data)]
    save(tree, 3, set_rows(data, moved))
    result = check(tree)
    assert result.returncode == 1
    assert f"{job_file(3)} (has the level-2 build zen2 (__archspec zen2) in the level-3 job" in result.stderr
    assert f"{job_file(3)} (lacks the level-3 build zen2" in result.stderr


@pytest.mark.parametrize("level, builds", [(4, 9), (9, 2)])
def test_a_missing_job_fails_naming_the_file(tree, level, builds):
    (tree / job_file(level)).unlink()
    result = check(tree)
    assert result.returncode == 1
    assert f"missing: {job_file(level)} ({builds} level-{level} builds" in result.stderr


def test_a_ppc64le_row_in_the_wrong_family_fails_naming_the_file(tree):
    data = load(tree, 9)
    save(tree, 9, set_rows(data, [(a, "x86_64", lv) for a, _, lv in rows(data)]))
    result = check(tree)
    assert result.returncode == 1
    assert f"{job_file(9)} (lacks the ppc64le level-9 build power9le (__archspec power9le)" in result.stderr


def test_a_job_for_a_level_archspec_lacks_fails_naming_the_file(tree):
    shutil.copy(tree / job_file(4), tree / CI_SUPPORT / "linux_64_microarch_level5.yaml")
    result = check(tree)
    assert result.returncode == 1
    assert f"unexpected: {CI_SUPPORT}/linux_64_microarch_level5.yaml" in result.stderr


def test_levels_not_zipped_with_matchers_are_refused(tree):
    data = load(tree, 1)
    data[LEVEL_KEY] = ["1", "2"]
    data["zip_keys"] = []
    save(tree, 1, data)
    result = check(tree)
    assert result.returncode == 1
    assert f"unreadable: {job_file(1)} (microarch_level takes several values but is not zipped" in result.stderr


def test_a_cpu_archspec_gains_fails_in_every_job_it_belongs_to(tree, json_with_new_cpu):
    result = check(tree, "--archspec-json", str(json_with_new_cpu))
    assert result.returncode == 1
    for level in (2, 3, 4):
        assert f"stale: {job_file(level)} (lacks the level-{level} build zen7 (__archspec zen7)" in result.stderr
    assert job_file(1) not in result.stderr


def test_the_generator_never_writes_ci_support(tree, json_with_new_cpu):
    before = {p.name: p.read_bytes() for p in (tree / CI_SUPPORT).iterdir()}
    assert run_cli("generate", "--root", str(tree), "--archspec-json", str(json_with_new_cpu)).returncode == 0
    assert {p.name: p.read_bytes() for p in (tree / CI_SUPPORT).iterdir()} == before
    still = check(tree, "--archspec-json", str(json_with_new_cpu))  # variants.yaml is fresh; the jobs need a rerender
    assert still.returncode == 1 and "variants.yaml" not in still.stderr and "rerender" in still.stderr


def test_the_committed_ci_support_is_in_conda_smithys_format():
    """One file per level, named, serialized and sorted the way conda-smithy writes them."""
    names = sorted(p.name for p in (ROOT / CI_SUPPORT).glob("*.yaml"))
    assert names == sorted(job_file(level).removeprefix(f"{CI_SUPPORT}/") for level in LEVELS)
    for name in names:
        text = (ROOT / CI_SUPPORT / name).read_text()
        data = yaml.safe_load(text)
        assert yaml.dump(data, default_flow_style=False) == text, name
        assert rows(data) == sorted(rows(data)), name  # smithy sorts each zipped group by its rows
    assert (ROOT / CI_SUPPORT / "README").read_text().startswith("This file is automatically generated by conda-smithy")


def test_pyyaml_reproduces_conda_smithys_bytes(rerendered):
    """The premise of the transformation above: smithy's files are PyYAML's default dump."""
    for path in rerendered.glob("*.yaml"):
        assert yaml.dump(yaml.safe_load(path.read_text()), default_flow_style=False) == path.read_text()


def test_recipe_variants_zip_only_the_keys_the_recipe_uses(root):
    data = yaml.safe_load((root / "recipe" / "variants.yaml").read_text())
    assert sorted(k for k in data if k != "zip_keys") == sorted([MATCHER_KEY, FAMILY_KEY, LEVEL_KEY])
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


def test_build_makes_the_same_71_packages_from_the_rerendered_jobs(tree, channel):
    from microarch_level.feedstock.channel import build_channel

    report = build_channel(tree, tree / "build_artifacts", run_tests=False)
    from_rerendered = sorted(p.name for p in report.packages)
    from_committed = sorted(p.name for p in channel.glob("*/*.conda"))
    expected = sum(len(gate_builds(c)) + len(c.levels) for _, c in catalogs())
    assert len(from_rerendered) == 71 == expected
    assert from_rerendered == from_committed
