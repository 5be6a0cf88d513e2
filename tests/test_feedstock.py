"""A feedstock conda-forge would merge: lint-clean, and nothing of the project lost to a rerender.

What conda-smithy writes comes from its real run on this feedstock
(tests/data/conda-smithy/2026-11/rerender-diffstat.txt); the rules come from its source
(conda_smithy/configure_feedstock.py: `_ignore_match`, `render_readme`;
conda_smithy/linter/conda_recipe_v1_linter.py and lints.py; messages CF-005).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import PurePosixPath

import pytest
import yaml
from conftest import DATA, ROOT, require_data

SMITHY = DATA / "conda-smithy" / "2026-11"
# conda-smithy's own: it rewrites these on every rerender, and the project checks their meaning
# (.ci_support, ci_support.py) or their content (.github/CODEOWNERS, below).
SMITHY_OWNED = (".ci_support", ".github/CODEOWNERS")
WORKFLOWS = ".github/workflows"
GITHUB_HANDLE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
GITHUB_TEAM = re.compile(r"conda-forge/[a-z0-9_.-]+")
# conda-forge's order of a multi-output recipe v1 (conda_recipe_v1_linter.py).
MULTI_OUTPUT_ORDER = ["$schema", "schema_version", "context", "recipe", "source", "build", "outputs", "about", "extra"]


@pytest.fixture(scope="module")
def smithy_writes() -> list[str]:
    """Every path the real rerender changed or added."""
    diffstat = require_data(SMITHY / "rerender-diffstat.txt", "conda-smithy's real output")
    return [line.split("|")[0].strip() for line in diffstat.read_text().splitlines() if "|" in line]


@pytest.fixture(scope="module")
def recipe() -> dict:
    return yaml.safe_load((ROOT / "recipe" / "recipe.yaml").read_text())


@pytest.fixture(scope="module")
def forge_config() -> dict:
    return yaml.safe_load((ROOT / "conda-forge.yml").read_text())


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if (ROOT / p).exists()]


def skipped_by(path: str, skip_render: list[str]) -> bool:
    """conda-smithy's rule: a path is left alone when it, or any folder above it, is listed."""
    return bool({path, *map(str, PurePosixPath(path).parents)} & set(skip_render))


def test_no_workflow_besides_the_one_conda_smithy_writes(smithy_writes):
    allowed = {PurePosixPath(p).name for p in smithy_writes if p.startswith(f"{WORKFLOWS}/")}
    assert allowed == {"conda-build.yml"}
    present = sorted(p.name for p in (ROOT / WORKFLOWS).glob("*")) if (ROOT / WORKFLOWS).exists() else []
    assert [p for p in present if p not in allowed] == []


def test_no_file_names_a_workflow_conda_smithy_does_not_write(smithy_writes):
    allowed = {p for p in smithy_writes if p.startswith(f"{WORKFLOWS}/")}
    named = {(path, m) for path in tracked_files() if not path.endswith((".conda", ".png"))
             for m in re.findall(rf"{re.escape(WORKFLOWS)}/[\w.-]+\.ya?ml", (ROOT / path).read_text(errors="replace"))}
    assert {(path, m) for path, m in named if m not in allowed} == set()


def test_every_project_file_a_rerender_would_replace_is_in_skip_render(smithy_writes, forge_config):
    skip = forge_config["skip_render"]
    tracked = tracked_files()
    replaced = {t for t in tracked for w in smithy_writes if t == w}
    assert {"README.md", "LICENSE.txt", ".gitignore"} <= replaced  # what the real rerender replaced
    exposed = [t for t in replaced if not skipped_by(t, skip) and not any(skipped_by(t, [o]) for o in SMITHY_OWNED)]
    assert exposed == []


def test_skip_render_leaves_conda_smithys_ci_files_to_it(forge_config):
    for path in (".ci_support/linux_64_microarch_level1.yaml", f"{WORKFLOWS}/conda-build.yml", ".scripts/build_steps.sh"):
        assert not skipped_by(path, forge_config["skip_render"]), path


def test_gitignore_keeps_new_project_files_visible_to_git():
    new_files = ["scripts/microarch_level/new_module.py", "tests/test_new.py", "benchmarks/new.py", "docs/new.md"]
    result = subprocess.run(["git", "check-ignore", "--no-index", *new_files], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout == ""


def test_recipe_license_file_is_a_real_file_in_recipe(recipe):
    license_file = ROOT / "recipe" / recipe["about"]["license_file"]
    assert license_file.parent == ROOT / "recipe"
    assert license_file.is_file() and not license_file.is_symlink()


def test_the_packages_carry_the_projects_license(recipe):
    packaged = (ROOT / "recipe" / recipe["about"]["license_file"]).read_text()
    assert packaged == (ROOT / "LICENSE.txt").read_text()
    assert packaged.startswith("BSD 3-Clause License") and recipe["about"]["license"] == "BSD-3-Clause"


def test_recipe_maintainers_are_github_accounts_or_conda_forge_teams(recipe):
    maintainers = recipe["extra"]["recipe-maintainers"]
    assert maintainers
    bad = [m for m in maintainers if not (GITHUB_HANDLE.fullmatch(m) or GITHUB_TEAM.fullmatch(m))]
    assert bad == []


def test_codeowners_is_what_conda_smithy_writes_for_the_maintainers(recipe):
    """conda-smithy writes it with README.md, which skip_render keeps, so it is kept by hand in its format."""
    expected = "*" + "".join(f" @{m}" for m in sorted(set(recipe["extra"]["recipe-maintainers"])))
    assert (ROOT / ".github" / "CODEOWNERS").read_text() == expected


def test_recipe_sections_are_in_conda_forges_multi_output_order(recipe):
    assert list(recipe) == sorted(recipe, key=MULTI_OUTPUT_ORDER.index)


def test_about_names_homepage_license_and_summary(recipe):
    for key in ("homepage", "license", "summary"):
        assert recipe["about"].get(key), key


def test_every_output_has_tests(recipe):
    assert [o["package"]["name"] for o in recipe["outputs"] if not o.get("tests")] == []


def test_recipe_name_and_build_number_pass_conda_forges_lint(recipe):
    assert re.fullmatch(r"[a-z0-9_\-.]+", recipe["recipe"]["name"])
    assert recipe["build"]["number"] is not None and recipe["build"]["noarch"] in ("python", "generic")
