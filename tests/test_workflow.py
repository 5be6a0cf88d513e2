"""The GitHub Actions workflow that runs the install tests with real package managers.

Linted with the GitHub workflow JSON schema (check-jsonschema's vendored copy)
and zizmor, offline; both come pinned from PyPI into .venv.  (actionlint's
PyPI package downloads its binary from GitHub at install time, which this
network does not allow.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from microarch_level import runners
from microarch_level.tools import MATRIX_STYLES

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "install-matrix.yml"
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
TEST_FILE = re.compile(r"\btests/test_\w+\.py\b")


def linter(name: str) -> str:
    """The linter next to this Python (the project venv), else on PATH; skip when neither."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found next to {sys.executable} or on PATH (make installs it into .venv)")
    return found


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def matrix_entries(workflow) -> list[dict]:
    return [entry for job in workflow["jobs"].values()
            for entry in job.get("strategy", {}).get("matrix", {}).get("include", [])]


def steps(workflow) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_the_workflow_matches_githubs_workflow_schema():
    result = subprocess.run([linter("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             str(WORKFLOW)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_workflow():
    result = subprocess.run([linter("zizmor"), "--offline", "--no-progress", "--color", "never", str(WORKFLOW)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_commit(workflow):
    uses = [step["uses"] for step in steps(workflow) if "uses" in step]
    assert uses
    assert [u for u in uses if not PINNED_ACTION.match(u)] == []


def test_every_job_pins_a_known_tool_and_its_version(workflow):
    entries = matrix_entries(workflow)
    assert entries
    for entry in entries:
        assert entry["tool"] in {d.tool for d in runners.DRIVERS.values()}, entry
        assert runners.parse_version_output(entry["tool"], f"{entry['tool']} {entry['version']}"), entry


def test_the_jobs_cover_every_reporting_style_a_maintainer_sees(workflow):
    covered = {d.style(str(entry["version"])).key
               for entry in matrix_entries(workflow)
               for d in runners.DRIVERS.values() if d.tool == entry["tool"]}
    assert set(MATRIX_STYLES) <= covered


def test_the_workflow_runs_install_test_files_that_exist(workflow):
    named = {m for step in steps(workflow) for m in TEST_FILE.findall(step.get("run", ""))}
    assert named >= {"tests/test_install_rattler.py", "tests/test_install_tools.py"}
    assert [n for n in named if not (ROOT / n).is_file()] == []
