"""Installing the gate, and a package built against it, with the real package managers.

conda, mamba, micromamba and pixi run through their command lines
(microarch_level.runners), offline, from the project channel plus the
downstream channel the tests build.  Each tool is found by
MICROARCH_LEVEL_<TOOL> or on PATH; a missing tool skips its tests.

The CPU is given by CONDA_OVERRIDE_ARCHSPEC, spelled each way a CPU reaches
`__archspec` in practice: the sample's archspec name (conda), the generic
x86_64_vN (mamba >= 1.5.10), mamba 1.5.3-1.5.9's x86_64-vN and gcc's
x86-64-vN -- where the tool takes the spelling.  mamba/micromamba 1.x have no
override: for them (and for every tool) the host tests expect this machine's
own level as the tool sees it: /proc/cpuinfo for archspec-based tools, the
real CPU (CPUID, as glibc's loader reports it) for mamba's own detection.  pixi's lock-file solve ignores the machine, so a pixi workspace
gets what the baseline `__archspec` gets; `pixi exec` solves for the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import install_support as support
from microarch_level import runners
from microarch_level.levels import LEVELS, load_catalog
from microarch_level.tools import STYLES, TOOLS, style_of

CATALOG = load_catalog()

# How CONDA_OVERRIDE_ARCHSPEC spells a sample's CPU, from the catalog and tools.STYLES.
SPELLINGS = {
    "archspec-name": lambda sample: sample.archspec_host,
    "generic": lambda sample: CATALOG.generic_name(sample.level),
    "mamba-hyphen": lambda sample: STYLES["mamba-hyphen"].report(CATALOG, sample.archspec_host)[1],
    "gcc-hyphen": lambda sample: CATALOG.march[sample.level],
}
FIRST_SPELLING = next(iter(SPELLINGS))

over_drivers = pytest.mark.parametrize("driver_key", list(runners.DRIVERS))
over_tools = pytest.mark.parametrize("tool", TOOLS)
over_spellings = pytest.mark.parametrize("spelling", list(SPELLINGS))

MAMBA_DETECTION_NOTE = ("mamba's own CPU detection tests fewer flags than the psABI and may disagree with "
                        "/proc/cpuinfo on unusual VMs")


@pytest.fixture(scope="module")
def downstream(channel, tmp_path_factory) -> Path:
    return support.downstream_channel(channel, tmp_path_factory)


_FOUND: dict[str, tuple[Path, str]] = {}


def installed_tool(tool: str) -> tuple[Path, str]:
    """(executable, version) of `tool`, or skip the test when it is not installed."""
    if tool not in _FOUND:
        exe = runners.find(tool)
        if exe is None:
            pytest.skip(runners.missing(tool))
        _FOUND[tool] = (exe, runners.version(tool, exe))
    return _FOUND[tool]


_OUTCOMES: dict[tuple, runners.Outcome] = {}


class Case:
    """One tool run against one CPU: `get(scenario)` creates that environment (once) and returns the Outcome."""

    def __init__(self, driver_key: str, exe: Path, archspec: str | None, channels: list[Path], factory):
        self.driver_key, self.exe, self.archspec, self.channels, self.factory = (
            driver_key, exe, archspec, channels, factory)
        self.specs = support.scenarios(LEVELS)

    def get(self, scenario: str) -> runners.Outcome:
        specs = self.specs[scenario]
        key = (self.driver_key, str(self.exe), self.archspec, tuple(specs), tuple(map(str, self.channels)))
        if key not in _OUTCOMES:
            work = self.factory.mktemp(f"{self.driver_key}-{scenario}")
            _OUTCOMES[key] = runners.create(self.driver_key, self.exe, self.channels, specs,
                                            archspec=self.archspec, workdir=work / "run")
        return _OUTCOMES[key]


@pytest.fixture
def overridden(driver_key, spelling, sample, channel, downstream, tmp_path_factory) -> tuple[Case, int]:
    """The tool run with CONDA_OVERRIDE_ARCHSPEC set to the sample's CPU, and the level it must get."""
    driver = runners.DRIVERS[driver_key]
    exe, tool_version = installed_tool(driver.tool)
    mode = driver.override_mode(tool_version)
    value = SPELLINGS[spelling](sample)
    if mode == runners.NONE:
        pytest.skip(f"{driver.tool} {tool_version} has no CONDA_OVERRIDE_ARCHSPEC: only the host tests apply")
    if mode == runners.IGNORED and spelling != FIRST_SPELLING:
        pytest.skip(f"{driver_key}'s lock-file solve ignores CONDA_OVERRIDE_ARCHSPEC: one spelling is enough")
    if mode == runners.NAMES and value not in CATALOG.names:
        pytest.skip(f"{driver_key} {tool_version} rejects CONDA_OVERRIDE_ARCHSPEC={value}: archspec has no such name")
    if mode == runners.IGNORED:
        report = driver.style(tool_version).report(CATALOG, sample.archspec_host)
    else:
        report = ("1", value)
    case = Case(driver_key, exe, value, [channel, downstream], tmp_path_factory)
    return case, support.report_level(CATALOG, report)


@pytest.fixture
def host(driver_key, channel, downstream, tmp_path_factory) -> tuple[Case, int]:
    """The tool run with no override, and the level it must get by its own way of seeing this CPU."""
    driver = runners.DRIVERS[driver_key]
    exe, tool_version = installed_tool(driver.tool)
    style = driver.style(tool_version)
    level = support.level_seen_by(CATALOG, style.detection)
    if level is None:
        pytest.skip(f"this machine's level by {style.detection} is unknown (unreadable, or glibc < 2.33)")
    report = style.report(CATALOG, CATALOG.generic_name(level))
    return Case(driver_key, exe, None, [channel, downstream], tmp_path_factory), support.report_level(CATALOG, report)


# --- the CPU given by CONDA_OVERRIDE_ARCHSPEC, for every sample -------------------

@over_spellings
@over_drivers
def test_unpinned_gate_installs_exactly_the_cpus_level(overridden):
    case, level = overridden
    support.check_unpinned_gate(case.get, level)


@over_spellings
@over_drivers
def test_every_pin_up_to_the_cpus_level_installs_that_level(overridden):
    case, level = overridden
    support.check_pins_up_to_level(case.get, level, LEVELS)


@over_spellings
@over_drivers
def test_a_pin_above_the_cpus_level_is_an_unsatisfiable_solve(overridden):
    case, level = overridden
    support.check_pins_above_level(case.get, level, LEVELS)


@over_spellings
@over_drivers
def test_downstream_resolves_to_the_build_for_the_highest_level_the_cpu_reaches(overridden):
    case, level = overridden
    support.check_downstream_build(case.get, level)


@over_spellings
@over_drivers
def test_downstream_depends_on_the_gate_through_the_run_export(overridden):
    case, level = overridden
    support.check_downstream_depends(case.get, level)


# --- the tool's own view of this machine ---------------------------------------

def _own_report(driver_key: str) -> str:
    """What the tool itself says about this CPU, for assertion messages."""
    driver = runners.DRIVERS[driver_key]
    exe, tool_version = installed_tool(driver.tool)
    try:
        reported = runners.reported_archspec(driver.tool, exe)
    except runners.RunnerError as exc:
        reported = f"unknown ({exc})"
    note = f"; {MAMBA_DETECTION_NOTE}" if driver.tool in ("mamba", "micromamba") else ""
    return f"{driver.tool} {tool_version} reports __archspec {reported}{note}"


def check_with_own_report(driver_key: str, check, *args) -> None:
    """Run a shared check; on failure, add what the tool itself reports for this CPU."""
    try:
        check(*args)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_own_report(driver_key)}") from None


@over_drivers
def test_on_this_machine_the_unpinned_gate_installs_its_level(driver_key, host):
    case, level = host
    check_with_own_report(driver_key, support.check_unpinned_gate, case.get, level)


@over_drivers
def test_on_this_machine_every_pin_up_to_its_level_installs(driver_key, host):
    case, level = host
    check_with_own_report(driver_key, support.check_pins_up_to_level, case.get, level, LEVELS)


@over_drivers
def test_on_this_machine_a_pin_above_its_level_is_an_unsatisfiable_solve(driver_key, host):
    case, level = host
    check_with_own_report(driver_key, support.check_pins_above_level, case.get, level, LEVELS)


@over_drivers
def test_on_this_machine_downstream_resolves_to_the_highest_build_it_reaches(driver_key, host):
    case, level = host
    check_with_own_report(driver_key, support.check_downstream_build, case.get, level)


@over_drivers
def test_on_this_machine_downstream_depends_on_the_gate_through_the_run_export(driver_key, host):
    case, level = host
    support.check_downstream_depends(case.get, level)


# --- what the tool reports as __archspec -------------------------------------

@over_tools
def test_the_tool_reports_an_archspec_of_this_machines_level(tool):
    exe, tool_version = installed_tool(tool)
    style = style_of(tool, tool_version)
    level = support.level_seen_by(CATALOG, style.detection)
    if level is None:
        pytest.skip(f"this machine's level by {style.detection} is unknown (unreadable, or glibc < 2.33)")
    expected = style.report(CATALOG, CATALOG.generic_name(level))
    reported = runners.reported_archspec(tool, exe)
    note = f" ({MAMBA_DETECTION_NOTE})" if tool in ("mamba", "micromamba") else ""
    assert (reported is None) == (expected is None), f"{tool} {tool_version} reports {reported}{note}"
    assert support.report_level(CATALOG, reported) == support.report_level(CATALOG, expected), \
        f"{tool} {tool_version} reports {reported}{note}"


@over_tools
def test_the_tool_reports_the_overridden_archspec_verbatim(tool, sample):
    exe, tool_version = installed_tool(tool)
    if runners.DRIVERS[tool].override_mode(tool_version) != runners.VERBATIM:
        pytest.skip(f"{tool} {tool_version} does not take CONDA_OVERRIDE_ARCHSPEC verbatim")
    reported = runners.reported_archspec(tool, exe, {runners.OVERRIDE: sample.archspec_host})
    assert reported == ("1", sample.archspec_host)


# --- reading the tools' output (documented formats; no tool needed) -------------

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


def test_a_missing_tool_names_the_variable_that_points_at_it(monkeypatch, tmp_path):
    monkeypatch.setenv(runners.env_var("micromamba"), str(tmp_path / "nowhere"))
    assert runners.find("micromamba") is None
    assert runners.missing("micromamba") == (f"micromamba not found: MICROARCH_LEVEL_MICROMAMBA="
                                             f"{tmp_path / 'nowhere'} is not an executable")
