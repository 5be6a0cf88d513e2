"""`make test`'s second run picks the tests that read the CPU by watching them (tests/cpu_reads.py).

One small suite, run once under the recorder with a copy of this machine's
/proc/cpuinfo mounted over it: each test below checks one way of reading the
CPU (or of not reading it) against what the recorder charged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cpu_reads
import pytest
import run_suite
from conftest import DATA

from microarch_level.diagnostics.cpuinfo import mount_problem, mounted

SAMPLE = DATA / "cpuinfo" / "linux-rhel7-ivybridge"

AT_IMPORT = {
    "test_at_import.py": '''
with open("/proc/cpuinfo") as f:
    TEXT = f.read()

def test_one():
    pass
''',
    "test_elsewhere.py": "def test_two():\n    pass\n",
}

SUITE = {
    "test_ways.py": '''
import subprocess, sys, pytest
import archspec.cpu

@pytest.fixture(scope="session")
def cpu_text():
    with open("/proc/cpuinfo") as f:
        return f.read()

def test_child_process():
    subprocess.run(["cat", "/proc/cpuinfo"], stdout=subprocess.DEVNULL, check=True)

def test_in_process():
    open("/proc/cpuinfo").close()

def test_fixture_first(cpu_text):
    pass

def test_fixture_again(cpu_text):
    pass

def test_archspec_first():
    archspec.cpu.host()

def test_archspec_again():
    archspec.cpu.host()

def test_own_sample(own_sample_argv):
    subprocess.run(own_sample_argv, stdout=subprocess.DEVNULL, check=True)

def test_nothing():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    if n == 2:
        open("/proc/cpuinfo").close()

class TestGroup:
    def test_in_a_class(self):
        open("/proc/cpuinfo").close()
''',
    "conftest.py": '''
import json, os, pytest

@pytest.fixture
def own_sample_argv():
    return json.loads(os.environ["OWN_SAMPLE_ARGV"])
''',
}


def pytest_in(directory: Path, prefix: list[str], env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    command = [*prefix, sys.executable, "-c", run_suite.PYTEST, str(Path(__file__).parent), "-p", "cpu_reads",
               "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", **env})


def record(top: Path, files: dict[str, str], junit: Path | None = None) -> set[str]:
    """The node ids the recorder charged in one run of `files`, with a copy of /proc/cpuinfo mounted over it."""
    problem = mount_problem()
    if problem is not None:
        pytest.skip(f"no private mount namespace to mount a copy of /proc/cpuinfo: {problem}")
    for name, text in files.items():
        (top / name).write_text(text)
    host = top / "host-cpuinfo"
    host.write_bytes(Path("/proc/cpuinfo").read_bytes())
    readers = top / "readers.txt"
    own = mounted(["cat", "/proc/cpuinfo"], SAMPLE)
    junit_args = [f"--junitxml={junit}"] if junit else []
    result = pytest_in(top, mounted([], host), {cpu_reads.RECORD: str(readers), "OWN_SAMPLE_ARGV": json.dumps(own)},
                       *junit_args, *(name for name in files if name.startswith("test_")))
    assert result.returncode == 0, result.stdout + result.stderr
    return set(readers.read_text().splitlines())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """(readers, junit outcomes, the suite's directory) of one recorded run of SUITE."""
    top = tmp_path_factory.mktemp("cpu-reads")
    junit = top / "junit.xml"
    readers = record(top, SUITE, junit)
    return readers, run_suite.outcomes(junit), top


@pytest.mark.parametrize("way", ["test_child_process", "test_in_process", "test_param[2]",
                                 "TestGroup::test_in_a_class"])
def test_a_test_that_opens_proc_cpuinfo_reads_the_cpu(recorded, way):
    assert f"test_ways.py::{way}" in recorded[0]


def test_every_test_using_a_fixture_that_read_the_cpu_reads_it(recorded):
    assert {"test_ways.py::test_fixture_first", "test_ways.py::test_fixture_again"} <= recorded[0]


def test_archspecs_cached_host_is_charged_to_every_caller(recorded):
    assert {"test_ways.py::test_archspec_first", "test_ways.py::test_archspec_again"} <= recorded[0]


def test_a_read_before_the_first_test_charges_every_test(tmp_path):
    """A module read on import may be kept by every module that imported it: no test is spared."""
    assert record(tmp_path, AT_IMPORT) == {"test_at_import.py::test_one", "test_elsewhere.py::test_two"}


@pytest.mark.parametrize("way", ["test_nothing", "test_param[1]", "test_own_sample"])
def test_a_test_that_never_opens_this_machines_cpuinfo_does_not_read_it(recorded, way):
    assert f"test_ways.py::{way}" not in recorded[0]


def test_the_readers_are_named_as_the_junit_report_names_them(recorded):
    readers, outcomes, _ = recorded
    assert {run_suite.junit_id(nodeid) for nodeid in readers} <= set(outcomes)


def test_the_second_run_runs_exactly_the_readers(recorded):
    readers, _, top = recorded
    listed = top / "listed.txt"
    listed.write_text("test_ways.py::test_in_process\ntest_ways.py::TestGroup::test_elsewhere\n")
    result = pytest_in(top, [], {cpu_reads.ONLY: str(listed)}, "--collect-only", "test_ways.py")
    collected = {line for line in result.stdout.splitlines() if "::" in line}
    assert collected == {"test_ways.py::test_in_process"}, result.stdout


def test_recording_refuses_a_file_of_procfs_itself():
    """procfs's own files are the whole machine's: other processes' opens would be charged too."""
    assert "is procfs's own" in cpu_reads.watchable_problem("/proc/version")


def test_recording_watches_a_file_mounted_over_procfs(tmp_path):
    (tmp_path / "cpuinfo").write_text("flags : sse\n")
    assert cpu_reads.watchable_problem(str(tmp_path / "cpuinfo")) is None
