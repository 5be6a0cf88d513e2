"""`benchmarks/run.py --quick` prints every row of the results table.

Structure only: benchmarks are not tests, so no time or ratio is ever asserted here,
and a verdict is only checked to be one of the words a verdict may be.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from shells import SHELLS

VERDICTS = ("met", "missed", "n/a")


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


@pytest.fixture(scope="module")
def tables(quick_run):
    return sections(quick_run)


def section(tables, prefix: str) -> list[list[str]]:
    matches = [rows for heading, rows in tables.items() if heading.startswith(prefix)]
    assert len(matches) == 1, f"no single section starting {prefix!r} in {list(tables)}"
    return matches[0]


def is_spread(cells: list[str]) -> bool:
    """Three cells reading as min, median, max of one measurement (or all `skipped`: shell not installed)."""
    if cells == ["skipped"] * 3:
        return True
    try:
        low, mid, high = (float(c) for c in cells)
    except ValueError:
        return False
    return low <= mid <= high


def test_the_output_names_the_machine_its_load_and_the_command(quick_run, tables):
    assert "Command: `" in quick_run and "benchmarks/run.py --quick --no-write" in quick_run
    machine = {row[0] for row in tables[""]}
    assert {"CPU", "archspec host", "cores", "load average at start", "load average at end", "OS / kernel",
            "Python", "archspec", "py-rattler"} <= machine
    assert {f"shell: {s}" for s in SHELLS} <= machine


def test_a_guard_row_with_min_median_max_for_every_shell_and_the_archspec_baseline(tables):
    rows = section(tables, "1.")
    guard = [r for r in rows if len(r) == 7]
    assert [r[0] for r in guard] == list(SHELLS)
    assert all(is_spread(r[1:4]) and (r[4].endswith("×") or r[4] == "n/a") and r[6] in VERDICTS for r in guard)
    baselines = [r for r in rows if len(r) == 4]
    assert [r[0].split(":")[0] for r in baselines] == ["archspec"] and is_spread(baselines[0][1:4])


def test_a_floor_row_for_every_shell_including_ksh93_and_mksh(tables):
    rows = section(tables, "2.")
    assert [r[0] for r in rows] == list(SHELLS)
    assert all(is_spread(r[2:5]) and (r[6].endswith("×") or r[6] == "n/a") for r in rows)
    assert dict((r[0], r[1]) for r in rows)["tcsh"] == "one `/bin/sh` running that `read` loop"


def test_a_256_processor_row_for_every_shell(tables):
    rows = section(tables, "3.")
    assert [r[0] for r in rows] == list(SHELLS)
    assert all(is_spread(r[1:4]) and is_spread(r[4:7]) and r[8] in VERDICTS for r in rows)


def test_a_flag_cycle_row_for_every_shell(tables):
    rows = section(tables, "4.")
    assert [r[0] for r in rows] == list(SHELLS)
    assert all(is_spread(r[1:4]) for r in rows)


def test_build_generate_and_solve_rows(tables):
    assert [r[0].split("`")[1] for r in section(tables, "5.")] == ["microarch-level build", "microarch-level generate"]
    solves = section(tables, "6.")
    assert len(solves) == 3 and solves[0][0].startswith("plain")


def test_every_target_of_the_issue_has_a_verdict(tables):
    rows = section(tables, "Targets")
    assert [(r[0].split(":")[0], r[1]) for r in rows] == (
        [("guard", s) for s in SHELLS] * 2 + [("flag cycle", s) for s in ("bash", "zsh")])
    assert all(r[-1] in VERDICTS for r in rows)


@pytest.mark.parametrize("shell", ("dash", "ksh93", "mksh"))
def test_dash_like_shells_are_also_judged_against_their_floor(tables, shell):
    row = next(r for r in section(tables, "Targets") if r[1] == shell)
    assert "its floor" in row[2] and "its floor" in row[3]


def test_instruction_counts_for_every_shell_or_the_reason_there_are_none(quick_run, tables):
    rows = section(tables, "7.")
    if not rows:
        assert "Skipped: valgrind not found on PATH." in quick_run
        return
    assert [r[0] for r in rows] == list(SHELLS)
    for shell, guard, floor, _ in rows:
        assert guard == floor == "n/a" or int(guard.replace(",", "")) > int(floor.replace(",", "")) > 0, shell


def test_a_rewrite_keeps_the_dated_sections_below_their_heading(root):
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        from run import DATED, keeping_dated
    finally:
        sys.path.remove(str(root / "benchmarks"))
    previous = f"# old run\n\n| a | 1 |\n\n{DATED}\n\n## 2026-12-06: a change\n\n| before | after |\n"
    kept = keeping_dated("# new run\n\n| a | 2 |\n", previous)
    assert kept.startswith("# new run\n\n| a | 2 |\n\n" + DATED)
    assert kept.endswith("## 2026-12-06: a change\n\n| before | after |\n")
    assert "# old run" not in kept
    assert keeping_dated("# new run\n", "# old run, nothing dated\n") == "# new run\n"


@pytest.mark.parametrize("with_upstream", [True, False])
def test_the_rerender_section_sets_upstream_beside_this_feedstock_when_both_were_rerendered(root, with_upstream):
    from types import SimpleNamespace

    sys.path.insert(0, str(root / "benchmarks"))
    import run as bench_run
    from smithy_rerender import Rerender

    ours, theirs = Rerender(100.0, 200.0, 2048.0, [], [48] * 55), Rerender(100.0, 400.0, 4096.0, [], [5120] * 71)
    m = SimpleNamespace(variants=bench_run.bench_rerender.VariantCount(48, 55, ("python", "libarrow")),
                        rerender=ours, upstream=theirs if with_upstream else None)
    rows = sections("\n".join(bench_run.rerender_section(m)))["9. Rerender"]
    assert rows[0] == ["48", "55", "2,640", "python, libarrow"]
    assert rows[1][1] == "48"
    assert [r[0] for r in rows[1:]] == (["this feedstock", "conda-forge/microarch-level-feedstock, right after",
                                         "this ÷ upstream"] if with_upstream else ["this feedstock"])
    if with_upstream:
        assert rows[2][1] == "5,120"
        assert rows[-1] == ["this ÷ upstream", "—", "1.00×", "0.50×", "0.50×", "—"]
