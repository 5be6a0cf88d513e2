"""`make test`: the whole suite as this machine is, then the tests that read the CPU seeing a level-2 one.

The suite must give the same verdicts on every x86-64 machine.  The first run
sees this machine's own /proc/cpuinfo (a copy of it, mounted over it) and
records every test during which some process opened it (tests/cpu_reads.py:
the test, a fixture it uses, or before the first test: every test).  The
second run puts a real level-2 /proc/cpuinfo sample over /proc/cpuinfo for
pytest and every process it starts (rattler-build's and rattler's CPU
detection included), in a private mount namespace (cpuinfo.mounted), and runs
exactly those tests: the others never looked at the CPU the mount changes.
Both runs must pass, and every test of the second must have the same outcome
in both: a test passing in one and skipped in the other means its verdict
depends on the host CPU.

When no mount namespace can be made (no unshare, not root, no sudo -n, user
namespaces disabled) the second run is skipped with a loud message, and that
is a failure under CI=true: CI must prove the suite on a level-2 CPU.

usage: python tests/run_suite.py [PYTEST ARGS...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from microarch_level.catalog.levels import load_catalog  # noqa: E402
from microarch_level.diagnostics.cpuinfo import first_flags, mount_problem, mounted  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
import cpu_reads  # noqa: E402

LEVEL2_SAMPLE = Path(os.environ.get("MICROARCH_LEVEL_TEST_CPU",
                                    ROOT / "tests" / "data" / "cpuinfo" / "linux-rhel7-ivybridge"))
# pytest with tests/ importable, so that `-p cpu_reads` loads before conftest.py.
PYTEST = "import sys; sys.path.insert(0, sys.argv.pop(1)); import pytest; sys.exit(pytest.main(sys.argv[1:]))"
SEEN_LEVEL = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "from microarch_level.diagnostics.cpuinfo import read_flags; from microarch_level.catalog.levels import load_catalog; "
              "print(load_catalog().level_from_flags(read_flags()))")


def outcomes(junit: Path) -> dict[str, str]:
    """test id -> passed / skipped / failed / error, from pytest's --junitxml report."""
    result = {}
    if not junit.exists():  # pytest died before writing it; its exit status says so
        return result
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        kinds = [child.tag for child in case if child.tag in ("skipped", "failure", "error")]
        result[test_id] = {"skipped": "skipped", "failure": "failed", "error": "error"}.get(
            kinds[0] if kinds else "", "passed")
    return result


def junit_id(nodeid: str) -> str:
    """A pytest node id as its junit report names it (classname::name, as `outcomes` reads it)."""
    names = nodeid.split("::")
    names[0] = names[0].removesuffix(".py").replace("/", ".")
    return f"{'.'.join(names[:-1])}::{names[-1]}"


def run_pytest(label: str, argv_prefix: list[str], args: list[str], junit: Path, env: dict[str, str]) -> int:
    print(f"\n==== make test, run {label} ====", flush=True)
    command = [*argv_prefix, sys.executable, "-c", PYTEST, str(ROOT / "tests"), "-p", "cpu_reads",
               f"--junitxml={junit}", *args]
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **env}).returncode


def level2_problem(sample: Path, level: int) -> str | None:
    """Why the level-2 run cannot happen here, or None when a process under the mount sees `level`."""
    problem = mount_problem()
    if problem is not None:
        return problem
    probe = subprocess.run(mounted([sys.executable, "-c", SEEN_LEVEL, str(ROOT / "scripts")], sample),
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return next((line for line in probe.stderr.splitlines() if line.strip()), f"exit {probe.returncode}")
    if probe.stdout.strip() != str(level):
        return f"a process under the mount saw level {probe.stdout.strip()}, not {level}"
    return None


def differences(first: dict[str, str], second: dict[str, str], compared: set[str] | None = None) -> list[str]:
    """Each test of `compared` (by default, of either run) whose outcome differs between the runs."""
    lines = []
    for test_id in sorted(set(first) | set(second) if compared is None else compared):
        a, b = first.get(test_id, "absent"), second.get(test_id, "absent")
        if a != b:
            lines.append(f"  {test_id}: {a} as the machine is, {b} on the level-2 CPU")
    return lines


def summary(label: str, results: dict[str, str]) -> str:
    counts = Counter(results.values())
    return f"{label}: " + ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped"))


def main(args: list[str]) -> int:
    catalog = load_catalog()
    level = catalog.level_from_flags(first_flags(LEVEL2_SAMPLE.read_text()))
    with tempfile.TemporaryDirectory(prefix="microarch-level-test-") as tmp:
        as_is, level2, readers = Path(tmp) / "as-is.xml", Path(tmp) / "level2.xml", Path(tmp) / "readers.txt"
        problem = level2_problem(LEVEL2_SAMPLE, level)
        if problem is not None:
            status = run_pytest("1 of 2: this machine as it is", [], args, as_is, {})
            print(f"\n!!!! make test: SKIPPED the run on a level-{level} CPU ({LEVEL2_SAMPLE.name} over "
                  f"/proc/cpuinfo): {problem}", flush=True)
            if os.environ.get("CI") == "true":
                print("!!!! CI=true: the level-2 run is required; failing.")
                return 1
            return status
        host = Path(tmp) / "host-cpuinfo"
        host.write_bytes(Path("/proc/cpuinfo").read_bytes())
        status = run_pytest("1 of 2: this machine as it is", mounted([], host), args, as_is,
                            {cpu_reads.RECORD: str(readers)})
        if readers.exists():
            read_cpu = readers.read_text().splitlines()
            only = {cpu_reads.ONLY: str(readers)}
            print(f"\n{len(read_cpu)} tests read the CPU (tests/cpu_reads.py): the level-{level} run runs those")
        else:  # the first run died before writing it: nothing says which tests read the CPU
            read_cpu, only = None, {}
            print(f"\n!!!! the first run recorded no CPU reads: the level-{level} run runs every test")
        if read_cpu == []:
            return status
        second = run_pytest(f"2 of 2: {LEVEL2_SAMPLE.name} (level {level}) as /proc/cpuinfo",
                            mounted([], LEVEL2_SAMPLE), args, level2, only)
        first_results, second_results = outcomes(as_is), outcomes(level2)
        print("\n==== make test: both runs ====")
        print(summary("this machine as it is", first_results))
        print(summary(f"{LEVEL2_SAMPLE.name} (level {level}), the tests that read the CPU", second_results))
        diff = differences(first_results, second_results,
                           None if read_cpu is None else {junit_id(nodeid) for nodeid in read_cpu})
        if diff:
            print(f"{len(diff)} tests have another outcome on the level-{level} CPU (a host-dependent verdict):")
            print("\n".join(diff))
        return status or second or (1 if diff else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
