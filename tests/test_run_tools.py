"""`make test-tools` (tests/run_tools.py): a tool named by MICROARCH_LEVEL_<TOOL> must have been tested.

No real package manager is needed: a stand-in executable answers `--version`
like conda does, and an empty --cpuinfo-dir makes every sample test skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import run_tools
import tool_runs
from install_support import DOES_NOT_APPLY

ONE_TEST_PER_TOOL = "test_the_tool_reports_the_overridden_archspec_verbatim"


@pytest.fixture
def stand_in(tmp_path) -> Path:
    """An executable that says it is conda 26.7.1 and refuses everything else."""
    exe = tmp_path / "conda"
    exe.write_text('#!/bin/sh\ncase "$1" in --version) echo "conda 26.7.1";; *) exit 1;; esac\n')
    exe.chmod(0o755)
    return exe


def run_tools_with(tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess:
    empty = tmp_path / "no-samples"
    empty.mkdir()
    # CI=true makes an empty sample directory fail collection (conftest): these runs are about the skips.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MICROARCH_LEVEL_") and k != "CI"}
    return subprocess.run([sys.executable, str(run_tools.__file__), "--cpuinfo-dir", str(empty), "-q",
                           "-k", ONE_TEST_PER_TOOL], capture_output=True, text=True, timeout=600,
                          env={**environ, **env})


def test_a_named_tool_whose_tests_all_skipped_fails_the_run_naming_it_and_why(tmp_path, stand_in):
    result = run_tools_with(tmp_path, {"MICROARCH_LEVEL_CONDA": str(stand_in)})
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"make test-tools: conda named by MICROARCH_LEVEL_CONDA={stand_in}: none of its")
    assert "no CPU samples" in last


def test_the_run_ends_with_a_line_per_tool_with_its_version_counts_and_levels(tmp_path, stand_in):
    lines = run_tools_with(tmp_path, {"MICROARCH_LEVEL_CONDA": str(stand_in)}).stdout.splitlines()
    tail = lines[lines.index("==== make test-tools: each tool and solver ====") + 1:]
    assert tail[0] == (f"conda 26.7.1 ({stand_in}): 0 passed, 0 failed, 1 skipped; "
                       "levels: host none, override none, emulated none")
    assert [line.split(" ")[0] for line in tail[:4]] == ["conda", "mamba", "micromamba", "pixi"]


def test_tools_nobody_named_may_skip(tmp_path):
    result = run_tools_with(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith("make test-tools:")]


def entry(passed=0, failed=0, skipped: dict[str, int] | None = None) -> dict:
    skipped = skipped or {}
    return {"counts": {"passed": passed, "failed": failed, "skipped": sum(skipped.values())}, "reasons": skipped}


CONDA = tool_runs.Tool("conda", Path("/opt/conda/bin/conda"), "26.7.1")


def test_skips_for_cases_the_version_does_not_have_are_accepted():
    tested = entry(passed=90, skipped={f"{DOES_NOT_APPLY}conda 26.7.1 does not take it verbatim": 10})
    assert run_tools.problem("conda", "/opt/conda/bin/conda", CONDA, tested) is None


def test_any_other_skip_of_a_named_tool_is_a_problem():
    tested = entry(passed=5, skipped={"this machine's level by CPUID is unknown": 3})
    found = run_tools.problem("conda", "/opt/conda/bin/conda", CONDA, tested)
    assert found == ("conda named by MICROARCH_LEVEL_CONDA=/opt/conda/bin/conda: 3 of its tests could not run "
                     "(this machine's level by CPUID is unknown)")


def test_a_named_tool_that_is_not_there_is_a_problem():
    assert "not an executable" in run_tools.problem("conda", "/nowhere/conda", None, None)


def test_a_named_tool_none_of_whose_tests_were_selected_is_a_problem():
    assert "none of its tests were selected" in run_tools.problem("conda", "/opt/conda/bin/conda", CONDA, None)


def test_a_tool_nobody_named_is_never_a_problem():
    assert run_tools.problem("conda", None, None, entry(skipped={"conda not found on PATH": 40})) is None


def test_each_conda_solver_gets_its_own_line_after_the_tools_own_tests():
    entries = {"rattler": entry(passed=3), "": entry(passed=1), "libmamba": entry(failed=2)}
    lines = run_tools.tool_lines("conda", CONDA, entries)
    assert [line.split(" (")[0] for line in lines] == [
        "conda 26.7.1", "conda 26.7.1 --solver libmamba", "conda 26.7.1 --solver rattler"]
    assert "0 passed, 2 failed, 0 skipped" in lines[1]


def test_the_levels_covered_are_listed_for_each_way_the_cpu_was_given():
    levels = {"override": [1, 2, 3, 4], "emulated": [1, 3], "host": [4]}
    assert run_tools.levels_text(levels) == "host 4, override 1-4, emulated 1,3"
    assert run_tools.levels_text({}) == "host none, override none, emulated none"


COVERING_TEST = """
import install_support
import pytest

@pytest.mark.parametrize("driver_key", ["conda-libmamba", "micromamba"])
@pytest.mark.parametrize("level", [2, 3])
def test_covering(driver_key, level, request):
    install_support.covers(request, install_support.OVERRIDE, level)
    assert (driver_key, level) != ("micromamba", 3)
"""


def test_the_tally_counts_each_solver_and_the_levels_only_passing_tests_covered(tmp_path):
    (tmp_path / "test_covering.py").write_text(COVERING_TEST)
    out = tmp_path / "tally.json"
    tests = Path(run_tools.__file__).parent
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "run_tools", "-p", "no:randomly",
                    "-p", "no:cacheprovider", str(tmp_path / "test_covering.py")],
                   cwd=tmp_path, capture_output=True, text=True, timeout=120,
                   env={**os.environ, run_tools.TALLY: str(out),
                        "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])})
    tally = json.loads(out.read_text())
    assert tally["conda"]["libmamba"]["counts"] == {"passed": 2}
    assert tally["conda"]["libmamba"]["levels"] == {"override": [2, 3]}
    assert tally["micromamba"][""]["counts"] == {"passed": 1, "failed": 1}
    assert tally["micromamba"][""]["levels"] == {"override": [2]}
