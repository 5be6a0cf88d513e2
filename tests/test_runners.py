"""The driver of the real package managers, checked without them: command lines, tool facts, skips.

No conda, mamba, micromamba or pixi runs here.  The command line each version
gets is a pure function of tools.FACTS (tested as a table); the facts are
checked against what the real captures in tests/data/solver-errors-real/
prove (which override a version honoured, what it reported, which failure
format was captured for it); and the real-tool tests are run in a
subprocess with no tool reachable, to see them skip naming the executable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import install_support as support
import pytest
import tool_runs
from conftest import DATA
from refusal import ARCHSPEC, classify

from microarch_level.catalog.families import GATE
from microarch_level.catalog.levels import load_catalog
from microarch_level.tools import facts as tools
from microarch_level.tools import runners

CATALOG = load_catalog()
ROOT = Path(__file__).resolve().parents[1]
REAL = DATA / "solver-errors-real"
# The machine the captures were made on (README there): x86-64 level 3, archspec `zen2`.
CAPTURE_HOST = "zen2"

WORK = Path("/scratch/run")
URL = "file:///srv/channel"
SPEC = f"{GATE}==4"
MAMBA_CREATE = ["create", "--yes", "--prefix", "/scratch/run/prefix"]
CHANNEL_AND_SPEC = ["--override-channels", "--channel", URL, SPEC]


def argv(driver_key: str, tool: str, version: str) -> list[str]:
    found = tool_runs.Tool(tool, Path(f"/opt/{tool}/bin/{tool}"), version)
    return tool_runs.command_line(driver_key, found, WORK, [URL], [SPEC])[1:]


# --- the command line each version gets ----------------------------------------

@pytest.mark.parametrize("driver_key, tool, version, expected", [
    ("conda-classic", "conda", "23.11.0",
     [*MAMBA_CREATE, "--solver", "classic", "--offline", "--override-channels", "--json", "--channel", URL, SPEC]),
    ("conda-classic", "conda", "26.7.1",
     [*MAMBA_CREATE, "--solver", "classic", "--offline", "--override-channels", "--json", "--channel", URL, SPEC]),
    ("conda-libmamba", "conda", "26.7.1",
     [*MAMBA_CREATE, "--solver", "libmamba", "--override-channels", "--json", "--channel", URL, SPEC]),
    ("conda-rattler", "conda", "26.7.1",
     [*MAMBA_CREATE, "--solver", "rattler", "--offline", "--override-channels", "--json", "--channel", URL, SPEC]),
    ("micromamba", "micromamba", "1.5.8", [*MAMBA_CREATE, "--override-channels", "--json", "--channel", URL, SPEC]),
    ("micromamba", "micromamba", "2.0.5", [*MAMBA_CREATE, *CHANNEL_AND_SPEC]),
    ("micromamba", "micromamba", "2.1.1", [*MAMBA_CREATE, *CHANNEL_AND_SPEC]),
    ("micromamba", "micromamba", "2.2.0", [*MAMBA_CREATE, "--offline", *CHANNEL_AND_SPEC]),
    ("micromamba", "micromamba", "2.3.2", [*MAMBA_CREATE, "--offline", *CHANNEL_AND_SPEC]),
    ("mamba", "mamba", "1.5.8", [*MAMBA_CREATE, "--override-channels", "--json", "--channel", URL, SPEC]),
    ("mamba", "mamba", "2.0.5", [*MAMBA_CREATE, *CHANNEL_AND_SPEC]),
    ("mamba", "mamba", "2.2.0", [*MAMBA_CREATE, "--offline", *CHANNEL_AND_SPEC]),
    ("pixi", "pixi", "0.41.4", ["install"]),
    ("pixi-exec", "pixi", "0.41.4", ["exec", "--channel", URL, "--spec", SPEC, "true"]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_each_tool_version_gets_its_command_line(driver_key, tool, version, expected):
    assert argv(driver_key, tool, version) == expected


def test_offline_is_passed_exactly_where_the_version_loads_local_channels_offline():
    for row in tools.FACTS:
        for key, driver in tool_runs.DRIVERS.items():
            if driver.tool == row.tool and driver.offline_args:
                loads = tools.offline_local(row.tool, row.first, driver.solver)
                assert ("--offline" in argv(key, row.tool, row.first)) == bool(loads), (key, row)


def test_conda_libmamba_is_never_run_offline():
    """Offline, conda-libmamba-solver reads a file:// channel only from an already cached index (SOLVER_FACTS)."""
    assert tools.solver_facts("conda", "libmamba").offline_local is False
    assert "--offline" not in argv("conda-libmamba", "conda", "26.7.1")


def test_conda_is_driven_with_each_solver_the_table_knows_and_the_solver_is_in_the_key():
    keys = {d.solver: key for key, d in tool_runs.DRIVERS.items() if d.tool == "conda"}
    assert keys == {s: f"conda-{s}" for s in tools.solvers("conda")} and set(keys) == {"classic", "libmamba", "rattler"}


def test_a_missing_solver_is_told_by_condas_own_message():
    said = ("CondaValueError: You have chosen a non-default solver backend (rattler) but it was not recognized. "
            "Choose one of: classic, libmamba")
    outcome = tool_runs.Outcome("conda-rattler", tool_runs.FAILED, output=f"\n{said}\n")
    assert tool_runs.solver_missing(outcome) == said
    parser = "conda create: error: argument --solver: invalid choice: 'libmamba' (choose from 'classic', 'rattler')"
    assert tool_runs.solver_missing(tool_runs.Outcome("conda-libmamba", tool_runs.FAILED, output=parser)) == parser
    assert tool_runs.solver_missing(tool_runs.Outcome("conda-classic", tool_runs.FAILED, output="PackagesNotFound")) \
        is None


# --- the user's configuration and caches are never read --------------------------

@pytest.mark.parametrize("key", [k for k, d in tool_runs.DRIVERS.items() if d.tool in ("conda", "mamba", "micromamba")])
def test_a_run_reads_only_its_own_home_condarc_and_package_cache(key, monkeypatch):
    for name, value in (("HOME", "/home/user"), ("CONDARC", "/home/user/.condarc"), ("MAMBARC", "/home/user/.mambarc"),
                        ("CONDA_PKGS_DIRS", "/home/user/pkgs"), ("CONDA_SOLVER", "classic"),
                        ("CONDA_PREFIX", "/home/user/env"), ("MAMBA_ROOT_PREFIX", "/home/user/mm"),
                        ("CONDA_OVERRIDE_ARCHSPEC", "zen4"), ("XDG_CONFIG_HOME", "/home/user/.config")):
        monkeypatch.setenv(name, value)
    values = tool_runs._places(WORK)
    env = tool_runs.run_env(tool_runs.DRIVERS[key], values, "haswell")
    assert not [v for v in env.values() if "/home/user" in v]
    assert (env["HOME"], env["CONDARC"], env["CONDA_PKGS_DIRS"]) == (
        f"{WORK}/home", f"{WORK}/condarc", f"{WORK}/pkgs")
    assert env["CONDA_OVERRIDE_ARCHSPEC"] == "haswell" and "CONDA_SOLVER" not in env
    assert "pkgs_dirs: [/scratch/run/pkgs]" in tool_runs.CONDARC.format(**values)


def test_a_driver_refuses_another_tool():
    with pytest.raises(runners.RunnerError, match="runs micromamba, not conda"):
        tool_runs.command_line("micromamba", tool_runs.Tool("conda", Path("conda"), "26.7.1"), WORK, [URL], [SPEC])


# --- the facts table -------------------------------------------------------------

@pytest.mark.parametrize("tool", tools.TOOLS)
def test_each_tools_rows_start_at_zero_and_ascend(tool):
    firsts = [tools.parse_version(row.first) for row in tools.FACTS if row.tool == tool]
    assert firsts[0] == (0,) and firsts == sorted(set(firsts))


@pytest.mark.parametrize("tool, version, style, override, offline_local", [
    ("conda", "22.9.0", "conda-old", tools.NO_OVERRIDE, True),
    ("conda", "23.3.1", "conda", tools.VERBATIM, True),
    ("conda", "26.7.1", "conda", tools.VERBATIM, True),
    ("micromamba", "1.5.1", "mamba-old", tools.NO_OVERRIDE, False),
    ("micromamba", "1.5.8", "mamba-hyphen", tools.NO_OVERRIDE, False),
    ("micromamba", "1.5.10", "mamba", tools.NO_OVERRIDE, False),
    ("micromamba", "2.0.0rc5", "mamba", tools.VERBATIM, False),
    ("micromamba", "2.0.5", "mamba", tools.VERBATIM, False),
    ("micromamba", "2.2.0", "mamba", tools.VERBATIM, True),
    ("mamba", "1.5.8", "mamba-hyphen", tools.NO_OVERRIDE, False),
    ("mamba", "2.3.0", "mamba", tools.VERBATIM, True),
    ("pixi", "0.41.4", "rattler", tools.NAMES, None),
])
def test_the_facts_per_version(tool, version, style, override, offline_local):
    row = tools.facts(tool, version)
    assert (row.style, row.override, row.offline_local) == (style, override, offline_local)


def test_a_drivers_own_solve_overrides_the_tools_facts():
    assert tool_runs.DRIVERS["pixi"].style("0.41.4").key == "pixi-lock"
    assert tool_runs.DRIVERS["pixi"].override_mode("0.41.4") == tools.IGNORED
    assert tool_runs.DRIVERS["pixi-exec"].override_mode("0.41.4") == tools.NAMES


def test_the_labels_carry_the_tables_thresholds():
    assert tools.STYLES["mamba-hyphen"].label == "mamba/micromamba 1.5.3-1.5.9 (x86_64-vN, bug #3222)"
    assert tools.STYLES["mamba"].label.startswith("mamba/micromamba >= 1.5.10 ")
    assert tools.STYLES["conda-old"].label.startswith("conda < 23.3 ")
    assert "mamba/micromamba >= 2.0.0" in tools.STYLES["mamba"].note


@pytest.mark.parametrize("tool, version, fixed", [
    ("micromamba", "1.5.8", "1.5.10"), ("mamba", "1.5.1", "1.5.10"), ("conda", "22.9.0", "23.3"),
])
def test_advice_names_the_first_version_that_reports_right(tool, version, fixed):
    assert tools.advice(tool, version).endswith(f"upgrade to {tool} >= {fixed}")


def test_no_advice_for_a_version_that_reports_right():
    assert [tools.advice(t, v) for t, v in [("conda", "26.7.1"), ("micromamba", "2.0.5"), ("pixi", "0.41.4")]] == \
        [None, None, None]


# --- the facts against the real captures ----------------------------------------

CAPTURE_NAME = re.compile(r"^(?P<tool>[a-z]+)-(?P<version>\d[\d.]*\d)-(?P<rest>.*)-pin(?P<pin>\d)\.(?P<ext>txt|json)$")


def captures() -> list[re.Match]:
    found = [CAPTURE_NAME.match(p.name) for p in sorted(REAL.glob("*"))] if REAL.is_dir() else []
    return [m for m in found if m]


needs_captures = pytest.mark.skipif(not captures(), reason=f"no real solver outputs in {REAL}")


@needs_captures
def test_the_driver_asks_each_captured_version_for_a_captured_format():
    formats: dict[tuple[str, str], set[str]] = {}
    for m in captures():
        formats.setdefault((m["tool"], m["version"]), set()).add(m["ext"])
    asked = {key: {tools.JSON: "json", tools.TEXT: "txt"}[tools.facts(*key).errors] for key in formats}
    assert {key: asked[key] in exts for key, exts in formats.items()} == {key: True for key in formats}


@needs_captures
def test_every_overridden_refusal_proves_its_version_honours_the_override():
    host_level = CATALOG.names[CAPTURE_HOST]
    for m in (m for m in captures() if "-override-" in f"-{m['rest']}-"):
        value = m["rest"].split("override-", 1)[1]
        pin = int(m["pin"])
        # the host reaches the pin, the overridden CPU does not: only the override can refuse it
        assert support.report_level(CATALOG, ("1", value)) < pin <= host_level, m.string
        assert classify((REAL / m.string).read_text(), GATE).kind == ARCHSPEC, m.string
        assert tools.facts(m["tool"], m["version"]).override == tools.VERBATIM, m.string


@needs_captures
def test_micromamba_158_reported_what_its_style_says():
    report = tools.style_of("micromamba", "1.5.8").report(CATALOG, CAPTURE_HOST)
    assert f"__archspec={report[0]}={report[1]}" == "__archspec=1=x86_64-v3"
    assert any(m["tool"] == "micromamba" and m["version"] == "1.5.8" and report[1] in m["rest"] for m in captures())


@needs_captures
def test_conda_2671_reported_what_its_style_says():
    report = tools.style_of("conda", "26.7.1").report(CATALOG, CAPTURE_HOST)
    assert f"__archspec=={report[0]}={report[1]}" in (REAL / "conda-26.7.1-classic-zen2-pin4.json").read_text()


# --- the must-fail check refuses to pass when nothing was tested --------------------

MICROMAMBA_205_PIN3 = REAL / "micromamba-2.0.5-override-x86_64_v2-pin3.txt"
ISSUE_NOT_LOADED = f"    └─ {GATE} =* * does not exist (perhaps a typo or a missing channel).\n"  # quoted in issue 11


def failed(output: str) -> tool_runs.Outcome:
    return tool_runs.Outcome("micromamba", tool_runs.failure_status(output), output=output, returncode=1)


def installed_gate(level: int) -> tool_runs.Outcome:
    return tool_runs.Outcome("micromamba", tool_runs.INSTALLED, [tool_runs.Installed(GATE, str(level), f"{level}_x86_64_v2")])


def scenario_getter(unpinned: tool_runs.Outcome, pinned: tool_runs.Outcome):
    return lambda scenario: unpinned if scenario == support.UNPINNED else pinned


@needs_captures
def test_a_real_refusal_with_the_channel_loaded_passes_the_must_fail_check():
    get = scenario_getter(installed_gate(2), failed(MICROMAMBA_205_PIN3.read_text()))
    support.check_pins_above_level(get, 2, [3])


@needs_captures
def test_a_pin_whose_package_does_not_exist_fails_the_must_fail_check():
    header = MICROMAMBA_205_PIN3.read_text().splitlines()[1]   # "error    libmamba Could not solve ..."
    get = scenario_getter(installed_gate(2), failed(f"{header}\n{ISSUE_NOT_LOADED}"))
    with pytest.raises(AssertionError, match="channel-not-loaded"):
        support.check_pins_above_level(get, 2, [3])


@needs_captures
def test_a_refusal_without_a_loaded_channel_fails_the_must_fail_check():
    get = scenario_getter(failed(ISSUE_NOT_LOADED), failed(MICROMAMBA_205_PIN3.read_text()))
    with pytest.raises(AssertionError, match="nothing was tested"):
        support.check_pins_above_level(get, 2, [3])


# --- finding a tool, or skipping without it ----------------------------------------

@pytest.mark.parametrize("tool", tools.TOOLS)
def test_a_missing_tool_skips_naming_its_executable_and_variable(tool, monkeypatch):
    monkeypatch.delenv(runners.env_var(tool), raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        support.require(tool, None)
    assert str(skipped.value) == f"{tool} not found on PATH (set {runners.env_var(tool)})"


def test_a_tool_named_by_its_variable_but_missing_fails_the_test(monkeypatch, tmp_path):
    monkeypatch.setenv(runners.env_var("micromamba"), str(tmp_path / "nowhere"))
    assert tool_runs.locate("micromamba") is None
    with pytest.raises(pytest.fail.Exception) as failed:
        support.require("micromamba", None)
    assert str(failed.value) == (f"micromamba not found: MICROARCH_LEVEL_MICROMAMBA="
                                 f"{tmp_path / 'nowhere'} is not an executable")


def run_real_tool_tests(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """tests/test_install_tools.py in a subprocess where no package manager can be found."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(runners.ENV_PREFIX)}
    env["PATH"] = str(tmp_path)  # an empty directory
    return subprocess.run([sys.executable, "-m", "pytest", "tests/test_install_tools.py", "-p", "no:randomly",
                           "-p", "no:cacheprovider", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_without_the_tools_every_real_tool_test_skips_naming_the_missing_executable(tmp_path):
    result = run_real_tool_tests(tmp_path, "-q", "-rs")
    reasons = re.findall(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", result.stdout, re.MULTILINE)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?\d+ skipped in .*", summary), result.stdout[-3000:] + result.stderr[-2000:]
    assert sorted(set(reasons)) == sorted(f"{t} not found on PATH (set {runners.env_var(t)})" for t in tools.TOOLS)


def test_every_real_tool_test_id_names_the_tool_and_its_version(tmp_path):
    result = run_real_tool_tests(tmp_path, "--collect-only", "-q")
    ids = [line for line in result.stdout.splitlines() if line.startswith("tests/")]
    assert ids, result.stdout[-3000:] + result.stderr[-2000:]
    labels = [f"{key}-missing" for key in tool_runs.DRIVERS] + [f"{tool}-missing" for tool in tools.TOOLS]
    assert [i for i in ids if not any(label in i for label in labels)] == []


# --- reading the tools' output (formats from their sources; no tool needed) ----------

@pytest.mark.parametrize("tool, text, expected", [
    ("conda", "conda 24.11.3\n", "24.11.3"),
    ("mamba", "mamba 1.5.8\nconda 23.11.0\n", "1.5.8"),
    ("mamba", "2.0.5\n", "2.0.5"),
    ("micromamba", "1.5.8\n", "1.5.8"),
    ("micromamba", "2.0.0rc5\n", "2.0.0rc5"),
    ("pixi", "pixi 0.41.4\n", "0.41.4"),
], ids=["conda", "mamba-1", "mamba-2", "micromamba-1", "micromamba-rc", "pixi"])
def test_version_output_is_read_for_each_tool(tool, text, expected):
    assert runners.parse_version_output(tool, text) == expected


def test_version_output_of_another_program_is_not_a_version():
    assert runners.parse_version_output("mamba", "conda 23.11.0\n") is None


@pytest.mark.parametrize("document", [
    {"virtual_pkgs": [["__unix", "0", "0"], ["__archspec", "1", "haswell"]]},
    {"virtual packages": ["__unix=0=0", "__archspec=1=haswell"]},
    {"virtual_packages": ["__unix=0=0", "__archspec=1=haswell"]},
], ids=["conda-and-mamba-1", "micromamba-and-mamba-2", "pixi"])
def test_the_archspec_virtual_package_is_read_from_each_info_format(document):
    assert runners.parse_virtual_packages(document)["__archspec"] == ("1", "haswell")


def test_info_without_virtual_packages_is_a_one_line_error():
    with pytest.raises(runners.RunnerError) as exc:
        runners.parse_virtual_packages({"platform": "linux-64"})
    assert "\n" not in str(exc.value)


# --- one new behaviour is one new row of tools.FACTS --------------------------------

PACKAGE = ROOT / "scripts" / "microarch_level"


def thresholds() -> set[str]:
    """Every version at which a tool's behaviour changes, and the last version before it."""
    firsts = {row.first for row in tools.FACTS if row.first != "0"}
    return firsts | {tools._before(v) for v in firsts if tools._before(v)}


@pytest.mark.parametrize("threshold", sorted(thresholds()))
def test_a_version_threshold_is_written_only_in_the_facts_table(threshold):
    exact = re.compile(rf"(?<![\d.]){re.escape(threshold)}(?!\.?\d)")
    elsewhere = [path.name for path in sorted(PACKAGE.rglob("*")) if path.is_file() and path.name != "facts.py"
                 and path.suffix in (".py", ".in") and exact.search(path.read_text(encoding="utf-8"))]
    assert elsewhere == []


# A behaviour no release has (micromamba reporting archspec's names, as conda does): one row.
NEW_ROW = tools.ToolFacts("micromamba", "3.0.0", "conda", tools.VERBATIM, True, tools.TEXT,
                          seen="hypothetical, for this test")


@pytest.fixture
def new_row(monkeypatch):
    """tools.FACTS with NEW_ROW added, and the styles derived from it, for the length of one test."""
    table = (*tools.FACTS, NEW_ROW)
    monkeypatch.setattr(tools, "FACTS", table)
    for key, style in tools.styles(table).items():
        monkeypatch.setitem(tools.STYLES, key, style)


def _doctor_label():
    from microarch_level.diagnostics import doctor

    return next(row["label"] for row in doctor.gather(CATALOG)["styles"] if row["style"] == "conda")


def _matrix_legend():
    from microarch_level.catalog.families import X86_64
    from microarch_level.diagnostics import matrix

    return matrix.render([], ["conda"], "plain", X86_64)


def _explain_style():
    from microarch_level.diagnostics.diagnoses import reporting_style
    from microarch_level.tools.solver_text import parse

    return reporting_style(parse("micromamba version : 3.1.0\nerror    libmamba Could not solve for environment specs\n"))


@pytest.mark.parametrize("seen, expected", [
    pytest.param(lambda: tools.style_of("micromamba", "3.1.0").key, "conda", id="tools.style_of"),
    pytest.param(lambda: tool_runs.DRIVERS["micromamba"].style("3.1.0").key, "conda", id="the-drivers-style"),
    pytest.param(lambda: argv("micromamba", "micromamba", "3.1.0"), [*MAMBA_CREATE, "--offline", *CHANNEL_AND_SPEC],
                 id="the-command-line"),
    pytest.param(lambda: tools.STYLES["conda"].label, "conda >= 23.3; micromamba >= 3.0.0 (archspec name)",
                 id="the-styles-label"),
    pytest.param(lambda: "micromamba >= 3.0.0" in _matrix_legend(), True, id="matrix-legend"),
    pytest.param(lambda: "micromamba >= 3.0.0" in _doctor_label(), True, id="doctor-styles"),
    pytest.param(lambda: _explain_style().key, "conda", id="explain-reporting-style"),
])
def test_a_new_row_reaches_every_consumer_of_the_facts(seen, expected, new_row):
    assert seen() == expected


# --- qemu user mode: the CPU a tool that reads CPUID sees ------------------------------

def test_qemu_presents_levels_1_to_3_and_the_wrapper_runs_a_program_as_that_cpu(tmp_path):
    import shutil

    from microarch_level.catalog.families import X86_64
    from microarch_level.diagnostics.probe import probe_glibc

    if shutil.which(support.QEMU) is None:
        pytest.skip(f"{support.QEMU} not found on PATH (install qemu-user, as .ci/run does)")
    models = support.emulated_levels(CATALOG)
    assert {1, 2, 3} <= set(models), models
    for level, model in models.items():
        wrapped = support.emulated(tool_runs.Tool("ld.so", Path(X86_64.loader), "0"), model, tmp_path / model)
        assert probe_glibc(CATALOG, [str(wrapped.exe)]).level == level, model
