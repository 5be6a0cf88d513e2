"""`microarch-level generate`: one generator, byte-identical, with a check mode that catches drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from microarch_level.levels import installed_json_path, installed_version, load_catalog
from microarch_level.render import CI_SUPPORT, OWNED_DIRS, VARIANTS, render_all


def copy_generated(root: Path, dest: Path) -> Path:
    """The repository's generated files (and only those) under `dest`."""
    for d in OWNED_DIRS:
        shutil.copytree(root / d, dest / d)
    (dest / VARIANTS).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / VARIANTS, dest / VARIANTS)
    return dest


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def json_with_new_cpu(tmp_path) -> Path:
    """archspec's data plus a CPU it does not know yet (a zen7 descending from zen6)."""
    data = json.loads(installed_json_path().read_text())
    zen6 = data["microarchitectures"]["zen6"]
    data["microarchitectures"]["zen7"] = {**zen6, "from": ["zen6"]}
    path = tmp_path / "microarchitectures.json"
    path.write_text(json.dumps(data))
    return path


def test_the_committed_files_match_the_installed_archspec(root):
    result = run_cli("generate", "--check", "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert f"match archspec {installed_version()}" in result.stdout


def test_generating_twice_is_byte_identical(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for target in (first, second):
        target.mkdir()
        assert run_cli("generate", "--root", str(target)).returncode == 0
    assert snapshot(first) == snapshot(second)
    assert snapshot(first)  # it wrote something


def test_generating_over_a_clean_tree_changes_nothing(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    result = run_cli("generate", "--root", str(tree))
    assert result.returncode == 0
    assert result.stdout.startswith("0 of ")
    assert snapshot(tree) == before


def test_every_generated_file_names_the_command_and_the_archspec_version():
    version = installed_version()
    for path, content in render_all(load_catalog()).items():
        assert "microarch-level generate" in content, path
        assert f"archspec {version}" in content, path


def test_check_fails_and_names_the_files_when_archspec_gains_a_cpu(root, tmp_path, json_with_new_cpu):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    result = run_cli("generate", "--check", "--root", str(tree), "--archspec-json", str(json_with_new_cpu))
    assert result.returncode == 1
    assert f"stale: {VARIANTS} (archspec adds zen7)" in result.stderr
    assert f"stale: {CI_SUPPORT}/linux_64_microarch_level4.yaml (archspec adds zen7)" in result.stderr
    assert "_x86_64-microarch-level/4/etc/conda/activate.d/_x86_64-microarch-level_guard.sh" in result.stderr
    assert snapshot(tree) == before  # --check changes nothing


def test_generating_from_new_data_adds_the_cpu_everywhere_it_belongs(root, tmp_path, json_with_new_cpu):
    tree = copy_generated(root, tmp_path / "tree")
    assert run_cli("generate", "--root", str(tree), "--archspec-json", str(json_with_new_cpu)).returncode == 0
    for level in (2, 3, 4):
        assert "- zen7\n" in (tree / CI_SUPPORT / f"linux_64_microarch_level{level}.yaml").read_text()
    assert "zen7" not in (tree / CI_SUPPORT / "linux_64_microarch_level1.yaml").read_text()
    check = run_cli("generate", "--check", "--root", str(tree), "--archspec-json", str(json_with_new_cpu))
    assert check.returncode == 0


def test_check_fails_on_a_hand_edited_file(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    edited = tree / CI_SUPPORT / "linux_64_microarch_level3.yaml"
    edited.write_text(edited.read_text().replace("- haswell\n", "", 1))
    result = run_cli("generate", "--check", "--root", str(tree))
    assert result.returncode == 1
    assert "stale: .ci_support/linux_64_microarch_level3.yaml" in result.stderr


def test_check_fails_on_a_file_the_generator_would_not_write(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    (tree / CI_SUPPORT / "linux_64_microarch_level5.yaml").write_text("microarch_level: ['5']\n")
    result = run_cli("generate", "--check", "--root", str(tree))
    assert result.returncode == 1
    assert "unexpected: .ci_support/linux_64_microarch_level5.yaml" in result.stderr
    assert run_cli("generate", "--root", str(tree)).returncode == 0
    assert not (tree / CI_SUPPORT / "linux_64_microarch_level5.yaml").exists()


def test_unreadable_archspec_data_fails_in_one_line_and_writes_nothing(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run_cli("generate", "--root", str(tree), "--archspec-json", str(broken))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot read archspec data" in result.stderr
    assert snapshot(tree) == before


def test_ci_support_files_follow_conda_smithy_conventions(root):
    import yaml

    files = sorted((root / CI_SUPPORT).glob("*.yaml"))
    assert [f.name for f in files] == [f"linux_64_microarch_level{lv}.yaml" for lv in (1, 2, 3, 4)]
    for f in files:
        data = yaml.safe_load(f.read_text())
        assert list(data) == sorted(data)
        assert all(isinstance(v, list) for v in data.values())
        for key in ("channel_sources", "channel_targets", "docker_image"):
            assert data[key], key
        zipped = data["zip_keys"][0]
        assert len({len(data[k]) for k in zipped}) == 1
        assert set(data["microarch_level"]) == {f.stem[-1]}
    assert "generated" in (root / CI_SUPPORT / "README").read_text()
