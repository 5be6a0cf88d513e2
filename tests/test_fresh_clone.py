"""The suite works on a fresh clone with nothing beside it, as on GitHub or a maintainer's laptop.

The current commit is cloned into an empty temporary directory (nothing beside it,
no build_artifacts/, no venv); this venv's Python runs the clone's own code
(its scripts/ first on PYTHONPATH) and the clone's tests: the whole suite
collects, and the tests reading each kind of data in tests/data/ pass there
without a skip (with this checkout's channel, when built, rather than building
one).  Uncommitted changes are not in the clone: commit first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

# Whole files reading each kind of data in tests/data/ (fast ones: no channel to build).
SUBSET = [
    "tests/test_levels.py",          # cpuinfo/ (its samples parametrise it)
    "tests/test_power_cpuinfo.py",   # cpuinfo-ppc64le/
    "tests/test_schemas.py",         # schemas/
    "tests/test_refusal.py",         # solver-errors-real/
    "tests/test_runners.py",         # solver-errors-real/
    "tests/test_feedstock.py",       # conda-smithy/
]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (or no git): nothing to clone")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    dest = tmp_path_factory.mktemp("fresh") / "microarch-level"
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", head.stdout.strip()],
                   cwd=dest, check=True)
    assert not (dest.parent / "shared").exists() and not (dest / "build_artifacts").exists()
    return dest


def pytest_in(clone: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MICROARCH_LEVEL_", "PYTEST_"))}
    env["PYTHONPATH"] = str(clone / "scripts")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=900)


def test_the_clone_runs_its_own_code(clone):
    env = {**os.environ, "PYTHONPATH": str(clone / "scripts")}
    where = subprocess.run([sys.executable, "-c", "import microarch_level; print(microarch_level.__file__)"],
                           cwd=clone, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(clone)


def test_the_whole_suite_collects_in_the_clone(clone):
    result = pytest_in(clone, "--collect-only", "-q")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " collected" in result.stdout.splitlines()[-1] and "error" not in result.stdout.splitlines()[-1]


def test_the_tests_reading_tests_data_pass_in_the_clone_without_a_skip(clone):
    built = ROOT / "build_artifacts"  # this checkout's channel, when built, saves building the clone's
    channel = ["--channel", str(built)] if (built / "noarch" / "repodata.json").exists() else []
    result = pytest_in(clone, "-q", "-rs", *channel, *SUBSET)
    summary = result.stdout.splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "skipped" not in summary and "deselected" not in summary, result.stdout[-3000:]
