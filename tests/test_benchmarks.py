"""`benchmarks/run.py --quick` prints every row of the results table.

Structure only: benchmarks are not tests, so no time or ratio is ever asserted here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SHELLS = ("bash", "dash", "zsh", "fish", "tcsh")
GATE_LEVELS = ("2", "3", "4")


def sections(text: str) -> dict[str, list[list[str]]]:
    """{heading ("" before the first): table rows as cell lists}, header and separator rows dropped."""
    found: dict[str, list[list[str]]] = {"": []}
    heading = ""
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:]
            found[heading] = []
        elif line.startswith("|---"):
            found[heading].pop()  # the row above a separator is a header
        elif line.startswith("| "):
            found[heading].append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return found


@pytest.fixture(scope="module")
def quick_run(root, channel):
    results = root / "benchmarks" / "RESULTS.md"
    before = results.read_bytes() if results.exists() else None
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "run.py"), "--quick", "--no-write",
                           "--channel", str(channel)], cwd=root, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (results.read_bytes() if results.exists() else None) == before, "--no-write changed RESULTS.md"
    return proc.stdout


def section(tables, prefix: str) -> list[list[str]]:
    matches = [rows for heading, rows in tables.items() if heading.startswith(prefix)]
    assert len(matches) == 1, f"no single section starting {prefix!r} in {list(tables)}"
    return matches[0]


def test_the_output_names_the_machine_and_the_command(quick_run):
    assert "Command: `" in quick_run and "benchmarks/run.py --quick --no-write" in quick_run
    machine = {row[0] for row in sections(quick_run)[""]}
    assert {"CPU", "cores", "OS / kernel", "Python", "archspec", "py-rattler"} <= machine
    assert {f"shell: {s}" for s in SHELLS} <= machine


def test_a_guard_row_for_every_shell_and_gate_level_and_both_baselines(quick_run):
    rows = section(sections(quick_run), "1.")
    guard = [r for r in rows if len(r) == 11]
    assert [(r[0], r[1]) for r in guard] == [(s, k) for s in SHELLS for k in GATE_LEVELS]
    assert all(cell for r in guard for cell in r)
    baselines = [r[0] for r in rows if len(r) == 2]
    assert [b.split(":")[0] for b in baselines] == ["archspec", "glibc"]


def test_a_flag_cycle_row_for_every_shell(quick_run):
    assert [r[0] for r in section(sections(quick_run), "2.")] == list(SHELLS)


def test_build_generate_and_solve_rows(quick_run):
    tables = sections(quick_run)
    assert [r[0].split("`")[1] for r in section(tables, "3.")] == ["microarch-level build", "microarch-level generate"]
    solves = section(tables, "4.")
    assert len(solves) == 3 and solves[0][0].startswith("plain")


def test_every_target_has_a_verdict(quick_run):
    rows = section(sections(quick_run), "Targets")
    assert [(r[0].split()[0], r[1]) for r in rows] == (
        [("≤", s) for s in ("bash", "dash")] + [("≥", s) for s in SHELLS] + [("256-proc", s) for s in SHELLS])
    assert all(r[-1] in ("met", "n/a") or r[-1].startswith("**MISSED**") for r in rows)
