"""`make test`'s two runs (tests/run_suite.py): outcomes read from pytest's own junit report, compared per test."""

from __future__ import annotations

import subprocess
import sys

import run_suite

TESTS = '''
import os, pytest
def test_always(): pass
def test_only_when_asked():
    if os.environ.get("ASK") != "1": pytest.skip("not asked")
def test_fails_when_asked():
    assert os.environ.get("ASK") != "1"
'''


def junit_of(tmp_path, name: str, ask: str):
    (tmp_path / "test_sample.py").write_text(TESTS)
    report = tmp_path / f"{name}.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                    str(tmp_path / "test_sample.py")], cwd=tmp_path, env={"ASK": ask, "PATH": ""},
                   capture_output=True)
    return run_suite.outcomes(report)


def test_outcomes_are_read_per_test_from_pytests_junit_report(tmp_path):
    assert sorted(junit_of(tmp_path, "a", "1").values()) == ["failed", "passed", "passed"]
    assert sorted(junit_of(tmp_path, "b", "0").values()) == ["passed", "passed", "skipped"]


def test_a_test_with_another_outcome_in_the_second_run_is_named(tmp_path):
    first, second = junit_of(tmp_path, "a", "0"), junit_of(tmp_path, "b", "1")
    named = run_suite.differences(first, second)
    assert len(named) == 2
    assert any("test_only_when_asked: skipped as the machine is, passed on the level-2 CPU" in n for n in named)
    assert any("test_fails_when_asked: passed as the machine is, failed on the level-2 CPU" in n for n in named)


def test_equal_runs_have_no_differences(tmp_path):
    assert run_suite.differences(junit_of(tmp_path, "a", "0"), junit_of(tmp_path, "b", "0")) == []


def test_a_run_that_wrote_no_report_has_no_outcomes(tmp_path):
    assert run_suite.outcomes(tmp_path / "missing.xml") == {}


def test_only_the_tests_the_second_run_was_given_are_compared(tmp_path):
    first, second = junit_of(tmp_path, "a", "0"), junit_of(tmp_path, "b", "1")
    asked = {test_id for test_id in second if test_id.endswith("test_always")}
    assert run_suite.differences(first, {k: v for k, v in second.items() if k in asked}, asked) == []


def test_a_test_the_second_run_was_given_but_did_not_run_is_named(tmp_path):
    first = junit_of(tmp_path, "a", "0")
    missing = next(test_id for test_id in first if test_id.endswith("test_always"))
    assert run_suite.differences(first, {}, {missing}) == [
        f"  {missing}: passed as the machine is, absent on the level-2 CPU"]
