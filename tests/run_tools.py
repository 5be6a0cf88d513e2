"""`make test-tools`: the install tests with the real package managers, and a verdict per tool and solver.

Runs tests/test_install_tools.py (pytest arguments are passed on), counts each
test's outcome under the tool it drives and, for conda, the solver it asks
for, and ends with one line per tool version and solver: passed, failed,
skipped, and the levels its passing tests covered -- on this machine (host),
through CONDA_OVERRIDE_ARCHSPEC (override) and under qemu user mode
(emulated).  The fixtures say which level a test covers
(install_support.covers).  A tool named by MICROARCH_LEVEL_<TOOL> was asked
for, so it must have been tested: when none of its selected tests ran, or
one skipped for any reason but a case its version or this machine does not
have (install_support.does_not_apply), the run fails with one line naming the
tool and why.  A tool found on PATH but not named may skip: nobody asked.

usage: python tests/run_tools.py [PYTEST ARGS...]
As a pytest plugin (-p run_tools, TALLY=<file>) it writes the counts as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TESTS = ROOT / "tests" / "test_install_tools.py"
TALLY = "MICROARCH_LEVEL_TOOL_TALLY"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


# --- inside pytest: each selected test's outcome, under its tool and solver -------------

NO_SOLVER = ""   # a test of the tool itself (what it reports), not of one of its solvers


def unit_of(item) -> tuple[str, str] | None:
    """(tool, solver) a test drives: its `tool` parameter (NO_SOLVER), or its `driver_key`'s tool and solver."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "tool" in params:
        return params["tool"], NO_SOLVER
    if "driver_key" in params:
        import tool_runs

        driver = tool_runs.DRIVERS[params["driver_key"]]
        return driver.tool, driver.solver or NO_SOLVER
    return None


class Tally:
    def __init__(self, out: Path):
        self.out = out
        self.units: dict[str, tuple[str, str]] = {}   # node id -> (tool, solver)
        self.outcome: dict[str, str] = {}      # node id -> passed / failed / skipped
        self.reason: dict[str, str] = {}       # node id -> why it skipped
        self.covered: dict[str, list] = {}     # node id -> [how, level] of a passed test

    def pytest_collection_finish(self, session):
        self.units = {item.nodeid: unit for item in session.items if (unit := unit_of(item)) is not None}

    def pytest_runtest_logreport(self, report):
        nodeid = report.nodeid
        if nodeid not in self.units or self.outcome.get(nodeid) == FAILED:
            return
        if report.failed:
            self.outcome[nodeid] = FAILED
        elif report.skipped:
            self.outcome[nodeid] = SKIPPED
            self.reason[nodeid] = report.longrepr[2].removeprefix("Skipped: ") if isinstance(
                report.longrepr, tuple) else str(report.longrepr)
        elif report.when == "call":
            self.outcome[nodeid] = PASSED
            import install_support

            self.covered[nodeid] = dict(report.user_properties).get(install_support.COVERS)

    def pytest_sessionfinish(self, session):
        tally: dict[str, dict[str, dict]] = {}
        for nodeid, (tool, solver) in self.units.items():
            entry = tally.setdefault(tool, {}).setdefault(solver, {"counts": Counter(), "reasons": Counter(),
                                                                   "levels": {}})
            outcome = self.outcome.get(nodeid, "not run")
            entry["counts"][outcome] += 1
            if outcome == SKIPPED:
                entry["reasons"][self.reason[nodeid]] += 1
            if self.covered.get(nodeid):
                how, level = self.covered[nodeid]
                entry["levels"].setdefault(how, set()).add(level)
        for solvers in tally.values():
            for entry in solvers.values():
                entry["levels"] = {how: sorted(levels) for how, levels in entry["levels"].items()}
        self.out.write_text(json.dumps(tally, indent=1))


def pytest_configure(config):
    if os.environ.get(TALLY):
        config.pluginmanager.register(Tally(Path(os.environ[TALLY])), "run_tools_tally")


# --- the verdict ----------------------------------------------------------------

def levels_text(levels: dict[str, list[int]]) -> str:
    """'host 4, override 1-4, emulated 1-3': the levels passing tests covered, each way a CPU was given."""
    import install_support

    def span(found: list[int]) -> str:
        if not found:
            return "none"
        runs, start = [], found[0]
        for previous, level in zip(found, found[1:] + [None]):
            if level != previous + 1:
                runs.append(str(start) if start == previous else f"{start}-{previous}")
                start = level
        return ",".join(runs)

    return ", ".join(f"{how} {span(levels.get(how, []))}" for how in install_support.COVERAGE)


def tool_line(tool: str, found, entry: dict, solver: str = NO_SOLVER) -> str:
    """'conda 26.7.1 --solver libmamba (…/conda): 203 passed, 0 failed, 5 skipped; levels: host 4, …'."""
    import tool_runs

    counts = Counter(entry.get("counts", {}))
    how = f" --solver {solver}" if solver else ""
    if isinstance(found, tool_runs.Tool):
        what = f"{tool} {found.version}{how} ({found.exe})"
    elif found is None:
        what = f"{tool}{how} (not installed: {tool_runs.missing(tool)})"
    else:
        what = f"{tool}{how} (version unreadable: {found})"
    return (f"{what}: {counts[PASSED]} passed, {counts[FAILED]} failed, {counts[SKIPPED]} skipped; "
            f"levels: {levels_text(entry.get('levels', {}))}")


def tool_lines(tool: str, found, entries: dict[str, dict]) -> list[str]:
    """One line per solver of `tool` in the tally (`entries`: solver -> entry), the tool's own tests first."""
    solvers = sorted(entries, key=lambda solver: (solver != NO_SOLVER, solver)) or [NO_SOLVER]
    return [tool_line(tool, found, entries.get(solver, {}), solver) for solver in solvers]


def merged(entries: dict[str, dict]) -> dict | None:
    """One tool's entries (one per solver) as one; None when it has none."""
    if not entries:
        return None
    counts, reasons = Counter(), Counter()
    for entry in entries.values():
        counts.update(entry["counts"])
        reasons.update(entry["reasons"])
    return {"counts": counts, "reasons": reasons}


def problem(tool: str, named: str | None, found, entry: dict | None) -> str | None:
    """Why a tool named by MICROARCH_LEVEL_<TOOL> was not tested, in one line; None when it was (or was not named).

    `found` is what install_support.locate(tool) returned; `entry` the tool's tally, all solvers merged."""
    import install_support
    import tool_runs

    if not named:
        return None
    who = f"{tool} named by {tool_runs.env_var(tool)}={named}"
    if found is None:
        return f"{who}: that is not an executable"
    if not isinstance(found, tool_runs.Tool):
        return f"{who}: its version cannot be read: {found}"
    if entry is None:
        return f"{who}: none of its tests were selected (PYTEST_ARGS?) or collected"
    counts, reasons = Counter(entry["counts"]), Counter(entry["reasons"])
    if counts[PASSED] + counts[FAILED] == 0:
        why = next(iter(reasons), "none of them ran")
        return f"{who}: none of its {sum(counts.values())} tests ran ({why})"
    unexpected = {r: n for r, n in reasons.items() if not r.startswith(install_support.DOES_NOT_APPLY)}
    if unexpected:
        reason, n = max(unexpected.items(), key=lambda kv: kv[1])
        others = sum(unexpected.values()) - n
        more = f"; {others} more for other reasons" if others else ""
        return f"{who}: {n} of its tests could not run ({reason}){more}"
    return None


def main(args: list[str], tests: Path = INSTALL_TESTS) -> int:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]
    import install_support
    import run_suite
    import tool_runs

    from microarch_level.tools.facts import TOOLS

    with tempfile.TemporaryDirectory(prefix="microarch-level-test-tools-") as tmp:
        tally_file = Path(tmp) / "tally.json"
        command = [sys.executable, "-c", run_suite.PYTEST, str(ROOT / "tests"), "-p", "run_tools",
                   str(tests), "-v", "-rs", "-p", "no:randomly", *args]
        status = subprocess.run(command, cwd=ROOT, env={**os.environ, TALLY: str(tally_file)}).returncode
        if not tally_file.exists():
            print(f"make test-tools: pytest exited {status} before counting any test")
            return status or 1
        tally = json.loads(tally_file.read_text())
    print("\n==== make test-tools: each tool and solver ====")
    problems = []
    for tool in TOOLS:
        found = install_support.locate(tool)
        entries = tally.get(tool, {})
        print("\n".join(tool_lines(tool, found, entries)))
        why = problem(tool, os.environ.get(tool_runs.env_var(tool)), found, merged(entries))
        if why:
            problems.append(why)
    for line in problems:
        print(f"make test-tools: {line}")
    return status or (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
