"""`explain`: every solver error, real or shaped like real ones, gets the right diagnosis.

tests/data/solver-errors-real/ holds what conda 26.7.1 and micromamba 1.5.8 /
2.0.5 really printed; tests/data/solver-errors-real/expected.tsv names, per
file and situation (an override in explain's own environment, a CPU sample
mounted as this machine's, --cpu), the tool, the diagnosis, the CPU and the fix.
tests/data/solver-errors/ holds one file per cause and writer (the tool): the
rattler-*.txt files are captured from rattler itself, solving against the
project's channel (run this file as a script to recapture them), the others
are shaped like public reports (see its README).  Its expected.tsv names, per
file, the --cpu given, the diagnosis, the gate levels the failure is about
and the CPU the diagnosis is about.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, ROOT, captures, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microarch_level.catalog.families import GATE
from microarch_level.catalog.gate import gate_builds
from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.catalog.matching import matches
from microarch_level.diagnostics import diagnoses
from microarch_level.diagnostics.cpuinfo import mounted
from microarch_level.diagnostics.diagnoses import host_of
from microarch_level.diagnostics.explain import DIAGNOSIS_KINDS, diagnose
from microarch_level.tools.solve import Unsatisfiable, archspec_package, base_virtual_packages, solve
from microarch_level.tools.overrides import closest
from microarch_level.tools.solver_text import WRITERS, parse

CATALOG = load_catalog()
CORPUS = DATA / "solver-errors"
REAL = DATA / "solver-errors-real"
REAL_EXPECTED = REAL / "expected.tsv"
REAL_2026_12 = DATA / "solver-errors-real-2026-12"
CPUINFO = DATA / "cpuinfo"
NEWER = "novalake"  # a CPU name this archspec does not know yet, under no gate glob (asserted below)
WRITER_KEYS = ("conda-classic", "conda-libmamba", "conda-rattler", "conda", "micromamba", "mamba", "pixi", "rattler")
CAN_MOUNT = os.geteuid() == 0 and shutil.which("unshare") is not None
SOURCES = {"text": diagnoses.FROM_TEXT, "env": diagnoses.FROM_ENV, "machine": diagnoses.FROM_MACHINE,
           "option": diagnoses.FROM_OPTION}


def table(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


ROWS = table(CORPUS / "expected.tsv")
IDS = [row["file"] for row in ROWS]
REAL_ROWS = table(REAL_EXPECTED)


def diagnosis(row: dict):
    cpu = host_of(row["cpu"], "--cpu", CATALOG) if row["cpu"] != "-" else None
    return diagnose(parse((CORPUS / row["file"]).read_text()), CATALOG, cpu)


# --- the corpus --------------------------------------------------------------------

def test_the_corpus_lists_every_file_once():
    assert sorted(IDS) == sorted(p.name for p in CORPUS.glob("*.txt"))
    assert len(set(IDS)) == len(IDS)


# Verdicts on what a channel holds come only with the channel (tested below with one); "solved" from a success.
NEEDS_CHANNEL = {"lower-pin-old-channel", "cpu-too-new"}


def test_every_diagnosis_appears_in_the_corpus():
    assert set(DIAGNOSIS_KINDS) - NEEDS_CHANNEL - {"solved"} <= {row["kind"] for row in ROWS + REAL_ROWS}
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
    writer = next(w for w in WRITER_KEYS if row["file"].startswith(w + "-"))
    assert parse((CORPUS / row["file"]).read_text()).writer == writer


@pytest.mark.parametrize("row", [r for r in ROWS if r["kind"] != "none"], ids=lambda r: r["file"])
def test_each_diagnosis_names_the_tool_that_wrote_the_text(row):
    writer = next(w for w in WRITER_KEYS if row["file"].startswith(w + "-"))
    assert diagnosis(row).tool.startswith(WRITERS[writer].label)


def test_colour_codes_do_not_hide_the_facts():
    row = next(r for r in ROWS if r["kind"] == "cpu-not-in-text")
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


def test_the_newer_cpu_name_is_unknown_to_this_archspec_and_no_gate_glob_selects_it():
    assert NEWER not in CATALOG.names
    assert not [b for b in gate_builds(CATALOG) if b.dependency and matches("rattler", b.archspec_build, NEWER)]


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


def test_a_cpu_name_archspec_does_not_know_is_never_blamed_on_the_channel(channel):
    text = rattler_solve_error(channel, [f"{GATE}>={LEVELS[1]}"], NEWER)
    d = diagnose(parse(text), CATALOG, host_of(NEWER, "--cpu", CATALOG))
    assert d.kind == "unknown-cpu" and "regenerate" not in d.summary + "".join(d.actions)
    assert f"'{closest(NEWER, CATALOG)}'" in d.summary


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


def test_the_cpu_the_text_reports_decides_and_the_cpu_option_is_shown_beside_it():
    row = first("cpu-not-in-text")  # the text reports a level-3 CPU
    cpu = next(n for n in CATALOG.names_at(LEVELS[0]) if not CATALOG.is_generic(n))
    out = json.loads(run_cli("explain", "--json", "--cpu", cpu, str(CORPUS / row["file"])).stdout)
    assert (out["host"]["name"], out["decided_by"], out["real"]["name"]) == (row["host"], "text", cpu)


def test_the_cpu_option_decides_when_the_text_shows_none():
    row = first("cpu-not-shown")
    out = json.loads(run_cli("explain", "--json", "--cpu", row["cpu"], str(CORPUS / row["file"])).stdout)
    assert (out["host"]["name"], out["decided_by"]) == (row["cpu"], "option")


def test_without_a_cpu_in_the_text_this_machines_override_is_used():
    row = first("gate-unsatisfied")  # the text names no CPU
    below = CATALOG.generic_name(LEVELS[1])
    result = run_cli("explain", "--json", str(CORPUS / row["file"]),
                     env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": below})
    out = json.loads(result.stdout)
    assert (out["kind"], out["host"]["name"]) == ("cpu-below", below)
    assert "CONDA_OVERRIDE_ARCHSPEC" in out["host"]["source"]


# --- what real package managers printed (tests/data/solver-errors-real) ---------------------

def explain_cli(path: Path, override: str = "-", machine: str = "-", cpu: str = "-") -> dict:
    """`explain --json PATH` with `override` in its environment, `machine` (a CPU sample) as this machine's
    /proc/cpuinfo and `--cpu cpu` ('-': none of these); the parsed diagnosis."""
    env = {k: v for k, v in os.environ.items() if k != "CONDA_OVERRIDE_ARCHSPEC"}
    if override != "-":
        env["CONDA_OVERRIDE_ARCHSPEC"] = override
    argv = [sys.executable, "-m", "microarch_level", "explain", "--json", str(path)]
    argv += ["--cpu", cpu] if cpu != "-" else []
    if machine != "-":
        if not CAN_MOUNT:
            pytest.skip("needs root and unshare to mount a CPU sample over /proc/cpuinfo")
        argv = mounted(argv, CPUINFO / machine)
    elif override == "-" and cpu == "-":
        argv.append("--no-detect")  # this machine's CPU must not decide the verdict
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def explain_real(row: dict) -> dict:
    """`explain --json` on a real capture, in the situation the row describes."""
    return explain_cli(REAL / row["file"], row["override"], row["machine"], row["cpu"])


def real_id(row: dict) -> str:
    situation = [f"{k}={row[k]}" for k in ("override", "machine", "cpu") if row[k] != "-"]
    return f"{row['file']}[{','.join(situation) or 'text only'}]"


def test_every_real_capture_has_expected_diagnoses():
    captured = {p.name for p in captures(REAL)}
    assert captured and captured == {row["file"] for row in REAL_ROWS}


@pytest.mark.parametrize("row", REAL_ROWS, ids=real_id)
def test_each_real_capture_gets_its_cause_cpu_and_level(row):
    d = explain_real(row)
    assert (d["kind"], d["requested"]) == (row["kind"], [int(x) for x in row["requested"].split(",")])
    if row["host"] == "-":
        assert d["host"] is None
    else:
        host = d["host"]
        assert (host["name"], host["level"], host["source"]) == (row["host"], int(row["level"]),
                                                                 SOURCES[row["source"]])


@pytest.mark.parametrize("row", REAL_ROWS, ids=real_id)
def test_each_real_capture_gets_its_fix(row):
    actions = "\n".join(explain_real(row)["actions"])
    for fix in row["fix"].split(";"):
        assert fix in actions, actions


@pytest.mark.parametrize("row", REAL_ROWS, ids=real_id)
def test_each_real_capture_names_the_tool_and_the_version_it_shows(row):
    d = explain_real(row)
    assert d["writer"] == row["writer"] and d["tool"].startswith(WRITERS[row["writer"]].label)
    assert d["tool"].endswith(f"version {row['version']}" if row["version"] != "-" else "version not shown")


@pytest.mark.parametrize("row", [r for r in REAL_ROWS if r["source"] in ("env", "machine")], ids=real_id)
def test_a_text_without_the_cpu_says_so_and_names_the_cpu_it_assumed(row):
    note = explain_real(row)["notes"][0]
    assert note.startswith("the text does not show which CPU") and SOURCES[row["source"]] in note


def test_the_override_in_explains_environment_is_what_decides_when_the_text_shows_no_cpu():
    name = "micromamba-2.0.5-override-x86_64_v2-pin3.txt"
    unset = next(r for r in REAL_ROWS if r["file"] == name and r["override"] == r["machine"] == r["cpu"] == "-")
    set_ = next(r for r in REAL_ROWS if r["file"] == name and r["override"] != "-")
    assert (explain_real(unset)["host"], explain_real(set_)["host"]["source"]) == (None, diagnoses.FROM_ENV)


# conda-rattler-solver prints conda's progress, then rattler's own message (conda_rattler_solver/solver.py).
CONDA_FRAME = ("Channels:\n - build_artifacts\nPlatform: linux-64\nTarget prefix: <dry run>\n"
               "Collecting package metadata (repodata.json): done\nSolving environment: failed\n\n")


def test_conda_rattler_solvers_tree_is_read_with_the_override_in_explains_environment(channel, tmp_path):
    below = CATALOG.generic_name(LEVELS[1])
    text = tmp_path / "conda-rattler.txt"
    text.write_text(CONDA_FRAME + rattler_solve_error(channel, [f"{GATE}=={LEVELS[2]}"], below))
    d = explain_cli(text, override=below)
    assert (d["writer"], d["kind"], d["requested"]) == ("conda-rattler", "cpu-below", [LEVELS[2]])
    assert (d["host"]["name"], d["host"]["source"]) == (below, diagnoses.FROM_ENV)
    assert f"{GATE}<={LEVELS[1]}" in "\n".join(d["actions"])


def test_conda_rattler_solvers_tree_never_calls_an_unseen_cpu_one_that_can_run_it(channel, tmp_path):
    below = CATALOG.generic_name(LEVELS[1])
    text = tmp_path / "conda-rattler.txt"
    text.write_text(CONDA_FRAME + rattler_solve_error(channel, [f"{GATE}=={LEVELS[2]}"], below))
    d = explain_cli(text, cpu=CATALOG.generic_name(LEVELS[2]))
    assert d["kind"] != "tool-report" and "can run it" not in d["summary"]


# --- which source decided, one verdict per situation (tests/data/solver-errors-real-2026-12) ----------------

# The override case, as conda 26.7.1 (both solvers, both formats) and micromamba 2.0.5 printed it: the solver
# saw x86_64_v2 because CONDA_OVERRIDE_ARCHSPEC=x86_64_v2 was set, on a level-4 machine, pin ==3.
OVERRIDE_CASE = [REAL_2026_12 / f"conda-26.7.1-a-v2-pin3-{form}.txt"
                 for form in ("classic-human", "classic-human-quiet", "classic-json", "rattler-human", "rattler-json")]
OVERRIDE_CASE += [REAL / "conda-26.7.1-classic-override-x86_64_v2-pin3.txt",
                  REAL / "micromamba-2.0.5-override-x86_64_v2-pin3.txt"]
TERMINAL_ONLY = REAL_2026_12 / "conda-26.7.1-a-v2-pin3-classic-human-as-terminal-shows.txt"
FLAG_SOLVES = sorted(REAL_2026_12.glob("conda-26.7.1-d-flag4-*.txt"))
SAW = CATALOG.generic_name(LEVELS[1])                    # x86_64_v2, the override of the captures
LEVEL4_MACHINE = "linux-centos7-cascadelake"             # a level-4 sample, as the captures' machine was
LEVEL4_NAME = "cascadelake"


def explain_any(path: Path, *args: str, override: str | None = None, machine: str | None = None):
    """`explain --json PATH ARGS` with `override` in its environment and `machine` mounted; the process."""
    env = {k: v for k, v in os.environ.items() if k != "CONDA_OVERRIDE_ARCHSPEC"}
    if override is not None:
        env["CONDA_OVERRIDE_ARCHSPEC"] = override
    argv = [sys.executable, "-m", "microarch_level", "explain", "--json", str(path), *args]
    if machine is not None:
        if not CAN_MOUNT:
            pytest.skip("needs root and unshare to mount a CPU sample over /proc/cpuinfo")
        argv = mounted(argv, CPUINFO / machine)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def verdict(result) -> tuple:
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    return d["kind"], d["decided_by"], tuple(d["requested"]), d["host"]["name"], d["actions"][0]


@pytest.fixture(scope="module")
def rattler_override_text(channel, tmp_path_factory) -> Path:
    """conda-rattler-solver's text for the same case, made with py-rattler against this project's channel."""
    path = tmp_path_factory.mktemp("rattler-made") / "conda-rattler-v2-pin3.txt"
    path.write_text(CONDA_FRAME + rattler_solve_error(channel, [f"{GATE}=={LEVELS[2]}"], SAW))
    return path


def test_one_situation_gets_one_verdict_and_one_advice_whatever_the_solver_or_format(rattler_override_text):
    seen = {p.name: verdict(explain_any(p, override=SAW, machine=LEVEL4_MACHINE))
            for p in [*OVERRIDE_CASE, rattler_override_text]}
    assert len(set(seen.values())) == 1, seen
    kind, decided_by, requested, host, first = next(iter(seen.values()))
    assert (kind, decided_by, requested, host) == ("cpu-below", "override", (LEVELS[2],), SAW)
    assert first.startswith(f"CONDA_OVERRIDE_ARCHSPEC={SAW}") and LEVEL4_NAME in first


def test_with_cpu_named_every_text_of_the_situation_gets_the_same_verdict(rattler_override_text):
    seen = {p.name: verdict(explain_any(p, "--no-detect", "--cpu", SAW))[:4]
            for p in [*OVERRIDE_CASE, rattler_override_text]}
    assert set(seen.values()) == {("cpu-below", "option", (LEVELS[2],), SAW)}, seen


@pytest.mark.parametrize("path", OVERRIDE_CASE, ids=lambda p: p.name)
def test_from_another_shell_the_first_advice_is_about_the_override_and_names_this_cpu(path):
    d = json.loads(explain_any(path, machine=LEVEL4_MACHINE).stdout)
    assert "CONDA_OVERRIDE_ARCHSPEC" in d["actions"][0] and LEVEL4_NAME in d["actions"][0], d["actions"]


@pytest.mark.parametrize("path", [p for p in OVERRIDE_CASE if "classic" in p.name], ids=lambda p: p.name)
def test_the_real_cpu_is_shown_beside_the_one_the_solver_saw(path):
    d = json.loads(explain_any(path, override=SAW, machine=LEVEL4_MACHINE).stdout)
    assert (d["host"]["name"], d["real"]["name"], d["real"]["level"]) == (SAW, LEVEL4_NAME, LEVELS[-1])


def test_an_override_archspec_does_not_know_is_the_cause_with_the_nearest_name(channel, tmp_path):
    unknown = NEWER  # not zen9: `zen*` would let the level-3 gate install
    assert unknown not in CATALOG.names
    # conda passes the override verbatim as __archspec (facts.STYLES): its classic solver then names it where the
    # captures name x86_64_v2; conda-rattler-solver's tree, made here by py-rattler, names no CPU.
    texts = []
    for capture in OVERRIDE_CASE[:3]:
        texts.append(tmp_path / capture.name)
        texts[-1].write_text(capture.read_text().replace(SAW, unknown))
    texts.append(tmp_path / f"conda-rattler-{unknown}.txt")
    texts[-1].write_text(CONDA_FRAME + rattler_solve_error(channel, [f"{GATE}=={LEVELS[2]}"], unknown))
    results = [explain_any(t, override=unknown, machine=LEVEL4_MACHINE) for t in texts]
    assert len({verdict(r)[:3] + verdict(r)[4:] for r in results}) == 1, [r.stdout for r in results]
    d = json.loads(results[0].stdout)
    assert (d["kind"], d["decided_by"]) == ("override-spelling", "override")
    assert d["actions"][0] == f"set CONDA_OVERRIDE_ARCHSPEC={closest(unknown, CATALOG)}"
    assert LEVEL4_NAME in "".join(d["actions"]) and not any("regenerate" in r.stdout for r in results)


@pytest.mark.parametrize("name", ["haswel", "power9le", "zen9", "v7"])
def test_cpu_refuses_what_normalize_refuses(name):
    result = run_cli("explain", "--no-detect", "--cpu", name, str(OVERRIDE_CASE[0]))
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "regenerate" not in result.stderr


def test_a_misspelled_cpu_gets_normalizes_suggestion():
    explain = run_cli("explain", "--no-detect", "--cpu", "haswel", str(OVERRIDE_CASE[0]))
    normalize = run_cli("normalize", "--cpu", "haswel")
    assert normalize.returncode == 2 and "did you mean 'haswell'" in explain.stderr
    assert explain.stderr.split(": ", 1)[1] == normalize.stderr.split(": ", 1)[1]


@pytest.mark.parametrize("spelling", ["x86-64-v3", "X86_64_V3", "v3", "3", "Haswell"])
def test_cpu_takes_normalizes_spellings(spelling):
    text = REAL_2026_12 / "conda-26.7.1-a-v2-pin3-rattler-human.txt"  # shows no CPU: --cpu decides
    d = json.loads(run_cli("explain", "--json", "--no-detect", "--cpu", spelling, str(text)).stdout)
    assert d["host"]["name"] == run_cli("normalize", spelling).stdout.split()[0]


# --- a list of builds in a text is what the text shows -------------------------------------------------------

PARTIAL = REAL / "micromamba-1.5.8-x86_64-v3-pin4.json"  # one build of level 4, of the channel's nine


@pytest.mark.parametrize("cpu", [n for n in ("icelake", "zen4", "sapphirerapids", "x86_64_v4")])
def test_a_partial_list_of_builds_is_never_read_as_the_channel(cpu):
    result = run_cli("explain", "--json", "--no-detect", "--cpu", cpu, str(PARTIAL))
    d = json.loads(result.stdout)
    assert d["kind"] == "cpu-not-in-text" and "regenerate" not in result.stdout
    assert any("--channel" in a for a in d["actions"])


@pytest.mark.parametrize("cpu", ["icelake", "zen4"])
def test_with_the_channel_a_cpu_it_has_builds_for_is_not_called_too_new(channel, cpu):
    d = json.loads(run_cli("explain", "--json", "--no-detect", "--cpu", cpu, "--channel", str(channel),
                           str(PARTIAL)).stdout)
    assert d["kind"] == "cpu-not-shown" and d["channel"] == str(channel)


def test_a_one_line_excerpt_is_not_a_lower_pin_on_an_old_channel(tmp_path):
    excerpt = tmp_path / "excerpt.txt"
    excerpt.write_text(f"nothing provides __archspec * haswell needed by {GATE}-{LEVELS[2]}-5_haswell\n")
    d = json.loads(run_cli("explain", "--json", "--no-detect", "--cpu", "zen4", str(excerpt)).stdout)
    assert d["kind"] == "cpu-not-in-text"


def per_name_channel(directory: Path, text: str) -> Path:
    """A channel holding exactly the gate builds `text` shows, one archspec name each (the design of
    conda-forge's gate before this feedstock), as repodata a solver reads."""
    facts = parse(text)
    packages = {}
    for i, req in enumerate(facts.requirements):
        level = req.gate_levels[0]
        packages[f"{GATE}-{level}-{i}_{req.build}.conda"] = {
            "name": GATE, "version": str(level), "build": f"{i}_{req.build}", "build_number": i,
            "depends": [f"__archspec 1 {req.build}"], "subdir": "noarch", "noarch": "generic"}
    (directory / "noarch").mkdir(parents=True)
    (directory / "noarch" / "repodata.json").write_text(json.dumps(
        {"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": packages}))
    return directory


@pytest.mark.parametrize("name, kind", [("conda-libmamba-lower-pin.txt", "lower-pin-old-channel"),
                                        ("mamba-lower-pin.txt", "lower-pin-old-channel"),
                                        ("conda-libmamba-new-cpu.txt", "cpu-too-new")])
def test_a_channel_verdict_comes_with_the_channel(tmp_path, name, kind):
    ch = per_name_channel(tmp_path / "channel", (CORPUS / name).read_text())
    d = json.loads(run_cli("explain", "--json", "--no-detect", "--channel", ch.as_uri(), str(CORPUS / name)).stdout)
    assert (d["kind"], d["channel"]) == (kind, str(ch))


def test_the_local_channel_the_text_names_is_read(channel, tmp_path):
    text = tmp_path / "partial.json"
    text.write_text(json.dumps({"solver_problems": json.loads(PARTIAL.read_text())["solver_problems"]
                                + [f"channel: {channel.resolve().as_uri()}"], "success": False}))
    d = json.loads(run_cli("explain", "--json", "--no-detect", "--cpu", "icelake", str(text)).stdout)
    assert (d["kind"], d["channel"]) == ("cpu-not-shown", str(channel.resolve()))


# --- texts without __archspec, and solves that worked ------------------------------------------------------

def test_conda_classic_as_a_terminal_shows_it_gets_the_next_step():
    result = run_cli("explain", "--no-detect", str(TERMINAL_ONLY))
    assert result.returncode == 1 and result.stdout == ""
    line, = result.stderr.strip().splitlines()
    assert "--json" in line and "microarch-level doctor" in line


def test_the_next_step_names_the_override_set_in_this_shell():
    env = {**os.environ, "CONDA_OVERRIDE_ARCHSPEC": SAW}
    result = run_cli("explain", str(TERMINAL_ONLY), env=env)
    assert result.returncode == 1 and f"CONDA_OVERRIDE_ARCHSPEC={SAW}" in result.stderr


@pytest.mark.parametrize("path", FLAG_SOLVES, ids=lambda p: p.name)
def test_a_solve_that_worked_is_explained_as_one(path):
    result = run_cli("explain", "--json", "--no-detect", "--cpu", LEVEL4_NAME, str(path))
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert (d["kind"], d["requested"]) == ("solved", [LEVELS[-1]])
    assert "flag package" in d["summary"] and CATALOG.march[LEVELS[-1]] in d["summary"]
    assert "failure" not in result.stdout


@pytest.mark.parametrize("path", FLAG_SOLVES, ids=lambda p: p.name)
def test_a_flag_package_above_the_cpu_is_said_to_build_code_that_will_not_run_here(path):
    low = next(n for n in CATALOG.names_at(LEVELS[1]) if not CATALOG.is_generic(n))
    d = json.loads(run_cli("explain", "--json", "--no-detect", "--cpu", low, str(path)).stdout)
    assert "NOT" in d["summary"] and f"<={LEVELS[1]}" in d["actions"][0]


# --- a CPU name is never made of punctuation or escapes --------------------------------------------

NASTY = [":", "\\n", "\n", "\r", "\t", "'", '"', "\\", "\x1b[31m", "\x1b]0;owned\x07", "\x07", "\x00", "\x7f",
         "\u009b", ";", ",", "=", "]", "[", "|", "*", ".", "/", "@", "$(", "`", "%s", "{}", " ", "\u2502", "é"]
NAME_CHARS = set("".join(CATALOG.names)) | set("-") | set(string.ascii_letters + string.digits)
REAL_TEXTS = [p.read_text() for d in (REAL, REAL_2026_12) for p in captures(d)]


def fuzzed():
    """A real capture with nasty fragments injected, most of them right after `__archspec` reports."""
    @st.composite
    def build(draw):
        text = draw(st.sampled_from(REAL_TEXTS + [(CORPUS / r["file"]).read_text() for r in ROWS]))
        anchors = [m.end() for m in re.finditer(r"__archspec[= ]+[0-9.*=]*[ =]?[A-Za-z0-9_]*", text)]
        for _ in range(draw(st.integers(1, 6))):
            cut = draw(st.sampled_from(anchors) if anchors and draw(st.booleans())
                       else st.integers(0, len(text)))
            cut -= draw(st.integers(0, 3))
            text = text[:max(cut, 0)] + draw(st.sampled_from(NASTY)) + text[max(cut, 0):]
        return text
    return build()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzed())
def test_no_diagnosis_reports_a_cpu_name_made_of_punctuation_or_escapes(text):
    d = diagnose(parse(text), CATALOG)
    if d is not None and d.host is not None:
        assert set(d.host.reported) <= NAME_CHARS, d.host.reported
        assert d.host.name is None or d.host.name in CATALOG.names
    for version, build in parse(text).reported:
        assert set(build) <= NAME_CHARS and set(version) <= set("0123456789."), (version, build)


def recapture(channel: Path) -> None:
    """Rewrite the rattler-*.txt corpus files from rattler's current messages."""
    for name, case in RATTLER_SOLVES.items():
        (CORPUS / name).write_text(rattler_solve_error(channel, *case()))
    for name, value in RATTLER_OVERRIDES.items():
        (CORPUS / name).write_text(rattler_override_error(value()))


if __name__ == "__main__":
    recapture(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build_artifacts")
