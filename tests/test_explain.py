"""`explain`: every solver error in tests/data/solver-errors/ gets the right diagnosis.

The corpus holds one file per cause and tool family, shaped like the real
messages (mamba #3222, #3698, conda-libmamba, conda classic, micromamba 2,
pixi); the rattler-*.txt files are captured from rattler itself, solving
against the project's channel (run this file as a script to recapture them).
expected.tsv names, per file, the --cpu given, the diagnosis, the gate levels
the failure is about and the CPU the diagnosis is about.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from microarch_level.channel import Unsatisfiable, archspec_package, base_virtual_packages, solve
from microarch_level.diagnoses import host_of
from microarch_level.explain import KINDS, diagnose
from microarch_level.levels import LEVELS, load_catalog
from microarch_level.solver_text import parse

CATALOG = load_catalog()
CORPUS = ROOT / "tests" / "data" / "solver-errors"
GATE = "_x86_64-microarch-level"
NEWER = "zen7"  # a CPU name this archspec does not know yet (asserted below)
FAMILIES = ("conda-classic", "conda", "micromamba", "mamba", "pixi", "rattler")


def corpus() -> list[dict]:
    lines = (CORPUS / "expected.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


ROWS = corpus()
IDS = [row["file"] for row in ROWS]


def diagnosis(row: dict):
    cpu = host_of(row["cpu"], "--cpu", CATALOG) if row["cpu"] != "-" else None
    return diagnose(parse((CORPUS / row["file"]).read_text()), CATALOG, cpu)


# --- the corpus --------------------------------------------------------------------

def test_the_corpus_lists_every_file_once():
    assert sorted(IDS) == sorted(p.name for p in CORPUS.glob("*.txt"))
    assert len(set(IDS)) == len(IDS)


def test_every_diagnosis_appears_in_the_corpus():
    assert set(KINDS) <= {row["kind"] for row in ROWS}
    assert "none" in {row["kind"] for row in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_each_error_gets_its_diagnosis(row):
    d = diagnosis(row)
    assert (d.kind if d else "none") == row["kind"]


@pytest.mark.parametrize("row", [r for r in ROWS if r["kind"] != "none"], ids=lambda r: r["file"])
def test_each_error_names_the_gate_levels_it_is_about(row):
    expected = [int(x) for x in row["requested"].split(",")] if row["requested"] != "-" else []
    assert diagnosis(row).requested == expected


@pytest.mark.parametrize("row", [r for r in ROWS if r["kind"] != "none"], ids=lambda r: r["file"])
def test_each_diagnosis_is_about_the_cpu_that_ran_the_solver(row):
    d = diagnosis(row)
    if row["host"] == "-":
        assert d.host is None
    else:
        assert (d.host.name or d.host.reported) == row["host"]
        assert d.host.level == CATALOG.names.get(row["host"])


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_the_tool_that_wrote_each_error_is_recognised(row):
    family = next(f for f in FAMILIES if row["file"].startswith(f + "-"))
    assert parse((CORPUS / row["file"]).read_text()).family == family


def test_colour_codes_do_not_hide_the_facts():
    row = next(r for r in ROWS if r["kind"] == "lower-pin-old-channel")
    text = (CORPUS / row["file"]).read_text()
    coloured = text.replace(GATE, f"\x1b[1m{GATE}\x1b[0m").replace("__archspec", "\x1b[31m__archspec\x1b[0m")
    cpu = host_of(row["cpu"], "--cpu", CATALOG) if row["cpu"] != "-" else None
    assert diagnose(parse(coloured), CATALOG, cpu).kind == row["kind"]


# --- rattler, live -------------------------------------------------------------------

def below_host() -> str:
    """A specific CPU at level 2, so that asking for level 3 is asking too much."""
    return next(n for n in CATALOG.names_at(LEVELS[1]) if not CATALOG.is_generic(n))


RATTLER_SOLVES = {  # corpus file -> (specs, __archspec build or None)
    "rattler-below.txt": lambda: ([f"{GATE}=={LEVELS[2]}"], below_host()),
    "rattler-new-cpu.txt": lambda: ([f"{GATE}=={LEVELS[1]}"], NEWER),
    "rattler-no-archspec.txt": lambda: ([f"{GATE}>={LEVELS[1]}"], None),
}
RATTLER_OVERRIDES = {  # corpus file -> CONDA_OVERRIDE_ARCHSPEC value
    "rattler-override-hyphen.txt": lambda: CATALOG.march[LEVELS[2]],  # gcc's spelling, x86-64-v3
    "rattler-override-level.txt": lambda: f"v{LEVELS[2]}",
}


def rattler_solve_error(channel: Path, specs: list[str], build: str | None) -> str:
    vps = base_virtual_packages() + ([archspec_package(build)] if build else [])
    try:
        solve([channel], specs, vps)
    except Unsatisfiable as exc:
        return str(exc) + "\n"
    raise AssertionError(f"rattler solved {specs} for __archspec {build}")


def rattler_override_error(value: str) -> str:
    code = ("from rattler import VirtualPackage, VirtualPackageOverrides\n"
            "VirtualPackage.detect(VirtualPackageOverrides.from_env())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": value})
    assert result.returncode != 0, f"rattler accepted CONDA_OVERRIDE_ARCHSPEC={value}"
    return result.stderr.strip().splitlines()[-1] + "\n"


def test_the_newer_cpu_name_is_unknown_to_this_archspec():
    assert NEWER not in CATALOG.names


@pytest.mark.parametrize("name", list(RATTLER_SOLVES))
def test_the_stored_rattler_solve_errors_are_what_rattler_says_today(channel, name):
    specs, build = RATTLER_SOLVES[name]()
    assert rattler_solve_error(channel, specs, build) == (CORPUS / name).read_text()


@pytest.mark.parametrize("name", list(RATTLER_OVERRIDES))
def test_the_stored_rattler_override_errors_are_what_rattler_says_today(name):
    assert rattler_override_error(RATTLER_OVERRIDES[name]()) == (CORPUS / name).read_text()


@pytest.mark.parametrize("name", [n for n, lv in CATALOG.names.items() if lv < LEVELS[-1]])
def test_rattler_refusing_a_level_above_the_cpu_is_explained_as_cpu_below(channel, name):
    want = CATALOG.names[name] + 1
    text = rattler_solve_error(channel, [f"{GATE}=={want}"], name)
    d = diagnose(parse(text), CATALOG, host_of(name, "--cpu", CATALOG))
    assert (d.kind, d.requested, d.host.name) == ("cpu-below", [want], name)


def test_rattler_refusing_a_cpu_newer_than_the_channel_is_explained_as_too_new(channel):
    text = rattler_solve_error(channel, [f"{GATE}>={LEVELS[1]}"], NEWER)
    assert diagnose(parse(text), CATALOG, host_of(NEWER, "--cpu", CATALOG)).kind == "cpu-too-new"


@pytest.mark.parametrize("level", LEVELS[1:])
def test_rattler_rejecting_a_misspelled_override_is_explained_with_archspecs_spelling(level):
    generic = CATALOG.generic_name(level)
    for value in (CATALOG.march[level], generic.upper()):
        d = diagnose(parse(rattler_override_error(value)), CATALOG)
        assert d.kind == "override-spelling"
        assert f"CONDA_OVERRIDE_ARCHSPEC={generic}" in d.actions[0], d.actions


# --- the command line ----------------------------------------------------------------

def first(kind: str) -> dict:
    return next(r for r in ROWS if r["kind"] == kind)


def cli_args(row: dict) -> list[str]:
    return ["--no-detect"] + (["--cpu", row["cpu"]] if row["cpu"] != "-" else [])


def test_explain_reads_stdin_when_no_file_is_given():
    row = first("hyphen-report")
    result = subprocess.run([sys.executable, "-m", "microarch_level", "explain", *cli_args(row)],
                            input=(CORPUS / row["file"]).read_text(), capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(hyphen-report)" in result.stdout


def test_explain_json_carries_the_diagnosis_and_the_cpu():
    row = first("cpu-below")
    result = run_cli("explain", "--json", *cli_args(row), str(CORPUS / row["file"]))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["kind"], out["host"]["name"], out["host"]["level"]) == ("cpu-below", row["host"],
                                                                       CATALOG.names[row["host"]])
    assert out["actions"] and out["summary"]


def test_text_with_nothing_recognisable_exits_1_with_one_line():
    row = first("none")
    result = run_cli("explain", "--no-detect", str(CORPUS / row["file"]))
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_file_is_a_usage_error():
    result = run_cli("explain", str(CORPUS / "no-such-error.txt"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_empty_cpu_is_a_usage_error():
    result = run_cli("explain", "--cpu", " ", str(CORPUS / first("cpu-below")["file"]))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_cpu_option_wins_over_the_cpu_the_text_reports():
    row = first("lower-pin-old-channel")  # the text reports a level-3 CPU
    cpu = next(n for n in CATALOG.names_at(LEVELS[0]) if not CATALOG.is_generic(n))
    result = run_cli("explain", "--json", "--cpu", cpu, str(CORPUS / row["file"]))
    assert json.loads(result.stdout)["host"]["name"] == cpu


def test_without_a_cpu_in_the_text_this_machines_override_is_used():
    row = first("gate-unsatisfied")  # the text names no CPU
    below = CATALOG.generic_name(LEVELS[1])
    result = run_cli("explain", "--json", str(CORPUS / row["file"]),
                     env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": below})
    out = json.loads(result.stdout)
    assert (out["kind"], out["host"]["name"]) == ("cpu-below", below)
    assert "CONDA_OVERRIDE_ARCHSPEC" in out["host"]["source"]


def recapture(channel: Path) -> None:
    """Rewrite the rattler-*.txt corpus files from rattler's current messages."""
    for name, case in RATTLER_SOLVES.items():
        (CORPUS / name).write_text(rattler_solve_error(channel, *case()))
    for name, value in RATTLER_OVERRIDES.items():
        (CORPUS / name).write_text(rattler_override_error(value()))


if __name__ == "__main__":
    recapture(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build_artifacts")
