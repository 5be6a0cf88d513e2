"""`.ci_support/` is conda-smithy's: `generate --check` judges what its CI jobs build, not its bytes.

Every test starts from the files conda-smithy 2026.8.5 really wrote for this
feedstock (../shared/conda-smithy/rerendered), copied into a temporary tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli
from microarch_level.ci_support import CI_SUPPORT, MATCHER_KEY, LEVEL_KEY, job_file
from microarch_level.gate import gate_builds
from microarch_level.levels import LEVELS

RERENDERED = ROOT.parent / "shared" / "conda-smithy" / "rerendered" / CI_SUPPORT
# The key the recipe stopped using after that rerender (it derives the build tag now).
DROPPED_KEY = "build_tag"


@pytest.fixture(scope="module")
def rerendered() -> Path:
    if not RERENDERED.is_dir():
        pytest.skip(f"conda-smithy's real output is not available: {RERENDERED}")
    return RERENDERED


@pytest.fixture
def tree(tmp_path, rerendered) -> Path:
    """A feedstock as conda-smithy just left it: our recipe, its .ci_support."""
    shutil.copytree(ROOT / "recipe", tmp_path / "recipe")
    shutil.copytree(rerendered, tmp_path / CI_SUPPORT)
    for path in (tmp_path / CI_SUPPORT).iterdir():
        path.chmod(0o644)
    return tmp_path


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


def as_rerendered_without_build_tag(data: dict) -> dict:
    """What conda-smithy writes once recipe/variants.yaml no longer has build_tag: the same, minus that key.

    conda-smithy keeps only the variant keys the recipe uses, sorts each zipped
    group by its rows' values (archspec_build first, unchanged here) and dumps with
    PyYAML's default dumper (configure_feedstock.py: sort_config,
    dump_subspace_config_files); re-dumping its real files reproduces their bytes.
    """
    data = dict(data)
    data.pop(DROPPED_KEY)
    data["zip_keys"] = [[k for k in group if k != DROPPED_KEY] for group in data["zip_keys"]]
    return data


def test_the_check_passes_on_the_files_conda_smithy_wrote(tree):
    result = check(tree)
    assert result.returncode == 0, result.stderr
    assert "match archspec" in result.stdout


def test_the_check_passes_on_what_the_next_rerender_writes(tree):
    for level in LEVELS:
        save(tree, level, as_rerendered_without_build_tag(load(tree, level)))
    result = check(tree)
    assert result.returncode == 0, result.stderr


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
    save(tree, 4, set_rows(data, rows(data) + [("haswell", "haswell", "4")]))
    result = check(tree)
    assert result.returncode == 1
    assert f"stale: {job_file(4)} (has the level-4 build haswell (__archspec haswell), " \
           "which archspec does not call for" in result.stderr


def test_a_row_at_the_wrong_level_fails_naming_the_file_and_the_row(tree):
    data = load(tree, 3)
    moved = [(a, t, "2" if a == "zen2" else lv) for a, t, lv in rows(data)]
    save(tree, 3, set_rows(data, moved))
    result = check(tree)
    assert result.returncode == 1
    assert f"{job_file(3)} (has the level-2 build zen2 (__archspec zen2) in the level-3 job" in result.stderr
    assert f"{job_file(3)} (lacks the level-3 build zen2" in result.stderr


def test_a_missing_job_fails_naming_the_file(tree):
    (tree / job_file(4)).unlink()
    result = check(tree)
    assert result.returncode == 1
    assert f"missing: {job_file(4)} (9 level-4 builds" in result.stderr


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
    assert sorted(k for k in data if k != "zip_keys") == sorted([MATCHER_KEY, LEVEL_KEY])
    assert data["zip_keys"] == [sorted([MATCHER_KEY, LEVEL_KEY])]


def rendered_gate_builds(tree: Path) -> set[tuple[str, str]]:
    from rattler_build import Stage0Recipe, VariantConfig

    found = set()
    for config in sorted((tree / CI_SUPPORT).glob("linux_64_*.yaml")):
        for variant in Stage0Recipe.from_file(tree / "recipe" / "recipe.yaml").render(
                VariantConfig.from_file(str(config))):
            found.add((variant.recipe.package.name, str(variant.recipe.package.version), variant.recipe.build.string))
    return found


def test_the_recipe_names_each_gate_build_as_gate_py_does(catalog):
    builds = rendered_gate_builds(ROOT)
    gates = {(v, s) for n, v, s in builds if n == "_x86_64-microarch-level"}
    assert gates == {(str(b.level), b.build_string(5)) for b in gate_builds(catalog)}


def test_committed_and_rerendered_jobs_render_the_same_builds(tree):
    assert rendered_gate_builds(tree) == rendered_gate_builds(ROOT)


def test_build_makes_the_same_64_packages_from_the_rerendered_jobs(tree, channel, catalog):
    from microarch_level.channel import build_channel

    report = build_channel(tree, tree / "build_artifacts", run_tests=False)
    from_rerendered = sorted(p.name for p in report.packages)
    from_committed = sorted(p.name for p in channel.glob("*/*.conda"))
    assert len(from_rerendered) == 64 == len(gate_builds(catalog)) + 4
    assert from_rerendered == from_committed
