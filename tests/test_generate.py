"""`microarch-level generate`: one generator, byte-identical, with a check mode that catches drift."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import pytest
from conftest import run_cli

from microarch_level.catalog.families import GATE, catalogs
from microarch_level.catalog.levels import installed_version, load_catalog
from microarch_level.feedstock.ci_support import CI_SUPPORT, job_of, read_jobs
from microarch_level.feedstock.render import OWNED_DIRS, SCRIPTS, VARIANTS, render_all
from microarch_level.runtime.activation import GUARD_RARE_SH
from microarch_level.runtime.shell_template import DELIMITERS, render


def copy_generated(root: Path, dest: Path) -> Path:
    """The repository's generated files, and conda-smithy's CI jobs made from them, under `dest`."""
    for d in (*OWNED_DIRS, CI_SUPPORT):
        shutil.copytree(root / d, dest / d)
    (dest / VARIANTS).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / VARIANTS, dest / VARIANTS)
    return dest


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


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
    for path, content in render_all([c for _, c in catalogs()]).items():
        assert "microarch-level generate" in content, path
        assert f"archspec {version}" in content, path


@pytest.mark.parametrize("delimiter", sorted(DELIMITERS.values()))
def test_no_template_delimiter_survives_in_a_generated_file(delimiter):
    """Every Jinja tag was rendered: none is left in a script (nor shell text that looks like one)."""
    for path, content in render_all([c for _, c in catalogs()]).items():
        assert delimiter not in content, path


def test_a_template_given_too_little_data_is_refused_naming_the_value():
    with pytest.raises(jinja2.UndefinedError, match="'gate' is undefined"):
        render("guard.csh.in", header="# a header", level=2)


def test_check_fails_and_names_the_files_when_archspec_gains_a_cpu(root, tmp_path, json_with_new_cpu):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    result = run_cli("generate", "--check", "--root", str(tree), "--archspec-json", str(json_with_new_cpu))
    assert result.returncode == 1
    assert f"stale: {VARIANTS} (archspec adds zen7)" in result.stderr
    level4 = job_of(read_jobs(tree), "x86_64", 4)
    assert f"stale: {level4} (lacks the level-4 build zen7" in result.stderr
    assert f"{GATE}/4/{GUARD_RARE_SH}" in result.stderr  # the sh guard's table of CPU names
    assert snapshot(tree) == before  # --check changes nothing


def test_generating_from_new_data_adds_the_cpu_at_every_level_it_reaches(root, tmp_path, json_with_new_cpu):
    import yaml

    tree = copy_generated(root, tmp_path / "tree")
    assert run_cli("generate", "--root", str(tree), "--archspec-json", str(json_with_new_cpu)).returncode == 0
    data = yaml.safe_load((tree / VARIANTS).read_text())
    levels = {lv for lv, m in zip(data["microarch_level"], data["archspec_build"]) if m == "zen7"}
    assert levels == {"2", "3", "4"}
    assert (tree / SCRIPTS / GATE / "4").is_dir()


def test_check_fails_on_a_hand_edited_file(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    edited = tree / VARIANTS
    edited.write_text(edited.read_text().replace("- haswell\n", "", 1))
    result = run_cli("generate", "--check", "--root", str(tree))
    assert result.returncode == 1
    assert f"stale: {VARIANTS}" in result.stderr


def test_check_fails_on_a_file_the_generator_would_not_write(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    stray = tree / SCRIPTS / GATE / "5" / "etc" / "conda" / "activate.d" / "guard.sh"
    stray.parent.mkdir(parents=True)
    stray.write_text("echo stray\n")
    result = run_cli("generate", "--check", "--root", str(tree))
    assert result.returncode == 1
    assert f"unexpected: {stray.relative_to(tree).as_posix()}" in result.stderr
    assert run_cli("generate", "--root", str(tree)).returncode == 0
    assert not stray.exists() and not (tree / SCRIPTS / GATE / "5").exists()


def test_unreadable_archspec_data_fails_in_one_line_and_writes_nothing(root, tmp_path):
    tree = copy_generated(root, tmp_path / "tree")
    before = snapshot(tree)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run_cli("generate", "--root", str(tree), "--archspec-json", str(broken))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot read archspec data" in result.stderr
    assert snapshot(tree) == before
