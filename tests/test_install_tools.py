"""Installing the gate, and a package built against it, with the real package managers.

conda, mamba, micromamba and pixi run through their command lines
(tests/tool_runs.py) from the project channel plus the downstream
channel the tests build; each version gets the command line tools.FACTS
says it needs (`--offline` only where it loads file:// channels offline).
Each tool is found by MICROARCH_LEVEL_<TOOL> or on PATH, and its version is
read once, at collection: every test id names it (`micromamba-2.0.5`,
`conda-missing`).  A missing tool skips its tests with the executable named;
a MICROARCH_LEVEL_<TOOL> that names nothing runnable fails them.
`make test-tools` runs this file; test_runners.py checks the driver itself.

The CPU is given by CONDA_OVERRIDE_ARCHSPEC, spelled each way a CPU reaches
`__archspec` in practice: the sample's archspec name (conda), the generic
x86_64_vN (mamba >= 1.5.10), mamba 1.5.3-1.5.9's x86_64-vN and gcc's
x86-64-vN -- where the tool takes the spelling.  mamba/micromamba 1.x have no
override: for them (and for every tool) the host tests expect this machine's
own level as the tool sees it: /proc/cpuinfo for archspec-based tools, the
real CPU (CPUID, as glibc's loader reports it) for mamba's own detection.  pixi's lock-file solve ignores the machine, so a pixi workspace
gets what the baseline `__archspec` gets; `pixi exec` solves for the machine.

conda runs once per solver (tools.SOLVER_FACTS: conda-classic, conda-libmamba,
conda-rattler in the ids).  Versions that read the CPU only by CPUID (mamba and
micromamba 1.x) also run under qemu user mode as a CPU of each level a qemu
model presents.  No run reads the user's HOME, condarc or package cache
(tool_runs.run_env); a run under a poisoned one proves it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import install_support as support
import pytest
import tool_runs

from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.tools import runners
from microarch_level.tools.facts import CPUID, STYLES, TOOLS, style_of

CATALOG = load_catalog()

# How CONDA_OVERRIDE_ARCHSPEC spells a sample's CPU, from the catalog and tools.STYLES.
SPELLINGS = {
    "archspec-name": lambda sample: sample.archspec_host,
    "generic": lambda sample: CATALOG.generic_name(sample.level),
    "mamba-hyphen": lambda sample: STYLES["mamba-hyphen"].report(CATALOG, sample.archspec_host)[1],
    "gcc-hyphen": lambda sample: CATALOG.march[sample.level],
}
FIRST_SPELLING = next(iter(SPELLINGS))

# Each tool, located and its version read once: a tool_runs.Tool, None (not installed) or the RunnerError.
FOUND = {tool: support.locate(tool) for tool in TOOLS}


def version_id(key: str, tool: str) -> str:
    """'micromamba-2.0.5', 'pixi-exec-0.41.4', 'conda-missing': what ran, in the test id."""
    found = FOUND[tool]
    if isinstance(found, tool_runs.Tool):
        return f"{key}-{found.version}"
    return f"{key}-{'missing' if found is None else 'unreadable'}"


over_drivers = pytest.mark.parametrize("driver_key", list(tool_runs.DRIVERS),
                                       ids=[version_id(k, d.tool) for k, d in tool_runs.DRIVERS.items()])
over_tools = pytest.mark.parametrize("tool", TOOLS, ids=[version_id(t, t) for t in TOOLS])
over_spellings = pytest.mark.parametrize("spelling", list(SPELLINGS))

MAMBA_DETECTION_NOTE = ("mamba's own CPU detection tests fewer flags than the psABI and may disagree with "
                        "/proc/cpuinfo on unusual VMs")


def installed_tool(tool: str) -> tool_runs.Tool:
    """The located tool, or skip (not installed) / fail (named but not runnable) the test."""
    return support.require(tool, FOUND[tool])


def channels(request) -> list[Path]:
    """The project channel and the downstream channel, built only once a tool was found."""
    channel = request.getfixturevalue("channel")
    return [channel, support.downstream_channel(channel, request.getfixturevalue("tmp_path_factory"))]


_OUTCOMES: dict[tuple, tool_runs.Outcome] = {}


class Case:
    """One tool run against one CPU: `get(scenario)` creates that environment (once) and returns the Outcome."""

    def __init__(self, driver_key: str, tool: tool_runs.Tool, archspec: str | None, channels: list[Path], factory):
        self.driver_key, self.tool, self.archspec, self.channels, self.factory = (
            driver_key, tool, archspec, channels, factory)
        self.specs = support.scenarios(LEVELS)

    def get(self, scenario: str) -> tool_runs.Outcome:
        specs = self.specs[scenario]
        key = (self.driver_key, str(self.tool.exe), self.archspec, tuple(specs), tuple(map(str, self.channels)))
        if key not in _OUTCOMES:
            work = self.factory.mktemp(f"{self.driver_key}-{scenario}")
            _OUTCOMES[key] = tool_runs.create(self.driver_key, self.tool, self.channels, specs,
                                            archspec=self.archspec, workdir=work / "run")
        return _OUTCOMES[key]

    def require_solver(self) -> None:
        """Skip when the driver's solver is not installed, as conda itself says (tools.SOLVER_MISSING)."""
        solver = tool_runs.DRIVERS[self.driver_key].solver
        said = solver and tool_runs.solver_missing(self.get(support.UNPINNED))
        if said:
            support.does_not_apply(f"{self.tool} has no {solver} solver here: it said '{said}'")


@pytest.fixture
def overridden(driver_key, spelling, sample, request, tmp_path_factory) -> tuple[Case, int]:
    """The tool run with CONDA_OVERRIDE_ARCHSPEC set to the sample's CPU, and the level it must get."""
    driver = tool_runs.DRIVERS[driver_key]
    tool = installed_tool(driver.tool)
    mode = driver.override_mode(tool.version)
    value = SPELLINGS[spelling](sample)
    if mode == tool_runs.NONE:
        support.does_not_apply(f"{driver.tool} {tool.version} has no CONDA_OVERRIDE_ARCHSPEC: only the host tests apply")
    if mode == tool_runs.IGNORED and spelling != FIRST_SPELLING:
        support.does_not_apply(f"{driver_key}'s lock-file solve ignores CONDA_OVERRIDE_ARCHSPEC: one spelling is enough")
    if mode == tool_runs.NAMES and value not in CATALOG.names:
        support.does_not_apply(f"{driver_key} {tool.version} rejects CONDA_OVERRIDE_ARCHSPEC={value}: archspec has no such name")
    if mode == tool_runs.IGNORED:
        report = driver.style(tool.version).report(CATALOG, sample.archspec_host)
    else:
        report = ("1", value)
    case = Case(driver_key, tool, value, channels(request), tmp_path_factory)
    case.require_solver()
    level = support.report_level(CATALOG, report)
    if mode != tool_runs.IGNORED:
        support.covers(request, support.OVERRIDE, level)
    return case, level


@pytest.fixture
def host(driver_key, request, tmp_path_factory) -> tuple[Case, int]:
    """The tool run with no override, and the level it must get by its own way of seeing this CPU."""
    driver = tool_runs.DRIVERS[driver_key]
    tool = installed_tool(driver.tool)
    style = driver.style(tool.version)
    level = support.level_seen_by(CATALOG, style.detection)
    if level is None:
        pytest.skip(f"this machine's level by {style.detection} is unknown (unreadable, or glibc < 2.33)")
    report = style.report(CATALOG, CATALOG.generic_name(level))
    case = Case(driver_key, tool, None, channels(request), tmp_path_factory)
    case.require_solver()
    level = support.report_level(CATALOG, report)
    support.covers(request, support.HOST, level)
    return case, level


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
    tool = installed_tool(tool_runs.DRIVERS[driver_key].tool)
    try:
        reported = reported_archspec(tool)
    except runners.RunnerError as exc:
        reported = f"unknown ({exc})"
    note = f"; {MAMBA_DETECTION_NOTE}" if tool.name in ("mamba", "micromamba") else ""
    return f"{tool.name} {tool.version} reports __archspec {reported}{note}"


def reported_archspec(found: tool_runs.Tool, env: dict | None = None):
    """What `found` reports as __archspec, asked with a private HOME and condarc (never the user's)."""
    with tempfile.TemporaryDirectory(prefix="microarch-probe-") as scratch:
        private = tool_runs.private_overrides(Path(scratch))
        return runners.reported_archspec(found.name, found.exe, {**private, **(env or {})},
                                         tool_version=found.version)


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
def test_the_tool_reports_an_archspec_of_this_machines_level(tool, request):
    found = installed_tool(tool)
    style = style_of(tool, found.version)
    level = support.level_seen_by(CATALOG, style.detection)
    if level is None:
        pytest.skip(f"this machine's level by {style.detection} is unknown (unreadable, or glibc < 2.33)")
    support.covers(request, support.HOST, level)
    expected = style.report(CATALOG, CATALOG.generic_name(level))
    reported = reported_archspec(found)
    note = f" ({MAMBA_DETECTION_NOTE})" if tool in ("mamba", "micromamba") else ""
    assert (reported is None) == (expected is None), f"{found} reports {reported}{note}"
    assert support.report_level(CATALOG, reported) == support.report_level(CATALOG, expected), \
        f"{found} reports {reported}{note}"


@over_tools
def test_the_tool_reports_the_overridden_archspec_verbatim(tool, sample, request):
    found = installed_tool(tool)
    if found.facts.override != tool_runs.VERBATIM:
        support.does_not_apply(f"{tool} {found.version} does not take CONDA_OVERRIDE_ARCHSPEC verbatim")
    support.covers(request, support.OVERRIDE, sample.level)
    reported = reported_archspec(found, {tool_runs.OVERRIDE: sample.archspec_host})
    assert reported == ("1", sample.archspec_host), f"{found}"


# --- tools that read the CPU themselves, at every level qemu user mode presents ---------

EMULATED_LEVELS = LEVELS
CPUID_DRIVERS = [k for k, d in tool_runs.DRIVERS.items() if d.tool in ("mamba", "micromamba")]


@pytest.fixture
def emulated_case(driver_key, level, request, tmp_path_factory) -> tuple[Case, int]:
    """The tool run by qemu as a CPU of `level` (no override: it reads CPUID), and the level it must get."""
    driver = tool_runs.DRIVERS[driver_key]
    tool = installed_tool(driver.tool)
    style = driver.style(tool.version)
    if style.detection != CPUID or driver.override_mode(tool.version) != tool_runs.NONE:
        support.does_not_apply(f"{tool} reads CONDA_OVERRIDE_ARCHSPEC (or not CPUID): the override tests cover "
                               f"every level; emulation is for versions that only read CPUID (micromamba 1.x)")
    if shutil.which(support.QEMU) is None:
        pytest.skip(f"{support.QEMU} not found on PATH (install qemu-user, as .ci/run does)")
    models = support.emulated_levels(CATALOG)
    if level not in models:
        support.does_not_apply(f"no qemu CPU model presents level {level} here (tried {', '.join(support.QEMU_MODELS)};"
                               f" qemu's TCG has no AVX-512)")
    wrapped = support.emulated(tool, models[level], tmp_path_factory.mktemp(f"qemu-{models[level]}"))
    try:
        runners.version(tool.name, wrapped.exe)
    except runners.RunnerError as exc:
        pytest.skip(f"qemu cannot run {tool} as {models[level]}: {exc}")
    report = style.report(CATALOG, CATALOG.generic_name(level))
    expected = support.report_level(CATALOG, report)
    support.covers(request, support.EMULATED, expected)
    return Case(driver_key, wrapped, None, channels(request), tmp_path_factory), expected


over_cpuid_drivers = pytest.mark.parametrize("driver_key", CPUID_DRIVERS,
                                             ids=[version_id(k, tool_runs.DRIVERS[k].tool) for k in CPUID_DRIVERS])
over_emulated_levels = pytest.mark.parametrize("level", EMULATED_LEVELS, ids=[f"emulated-level{k}" for k in LEVELS])


@over_emulated_levels
@over_cpuid_drivers
def test_emulated_the_tool_reports_the_cpus_level(driver_key, level, emulated_case):
    case, expected = emulated_case
    reported = reported_archspec(case.tool)
    assert support.report_level(CATALOG, reported) == expected, f"{case.tool} reports {reported}"


@over_emulated_levels
@over_cpuid_drivers
def test_emulated_unpinned_gate_installs_exactly_the_cpus_level(driver_key, level, emulated_case):
    case, expected = emulated_case
    support.check_unpinned_gate(case.get, expected)


@over_emulated_levels
@over_cpuid_drivers
def test_emulated_every_pin_up_to_the_cpus_level_installs_that_level(driver_key, level, emulated_case):
    case, expected = emulated_case
    support.check_pins_up_to_level(case.get, expected, LEVELS)


@over_emulated_levels
@over_cpuid_drivers
def test_emulated_a_pin_above_the_cpus_level_is_an_unsatisfiable_solve(driver_key, level, emulated_case):
    case, expected = emulated_case
    support.check_pins_above_level(case.get, expected, LEVELS)


@over_emulated_levels
@over_cpuid_drivers
def test_emulated_downstream_resolves_to_the_build_for_the_highest_level_the_cpu_reaches(driver_key, level,
                                                                                        emulated_case):
    case, expected = emulated_case
    support.check_downstream_build(case.get, expected)


# --- the user's own configuration and caches change nothing ----------------------

POISONED_CONDARC = """\
pkgs_dirs: [{home}/pkgs]
envs_dirs: [{home}/envs]
channels: [file://{home}/no-such-channel]
override_channels_enabled: false
offline: true
solver: no-such-solver
"""
PRIVATE_DRIVERS = [k for k, d in tool_runs.DRIVERS.items() if d.private_config]


@pytest.mark.parametrize("driver_key", PRIVATE_DRIVERS,
                         ids=[version_id(k, tool_runs.DRIVERS[k].tool) for k in PRIVATE_DRIVERS])
def test_a_poisoned_user_condarc_and_cache_change_nothing(driver_key, host, tmp_path, monkeypatch):
    """The user's HOME, condarc, package cache and solver would each break the run if read; results match."""
    case, _ = host
    home = tmp_path / "user"
    (home / "pkgs").mkdir(parents=True)
    (home / "pkgs" / "urls.txt").write_text("file:///poisoned/x86_64-microarch-level-4-0.conda\n")
    (home / ".condarc").write_text(POISONED_CONDARC.format(home=home))
    before = sorted(p.relative_to(home) for p in home.rglob("*"))
    for name, value in (("HOME", home), ("CONDARC", home / ".condarc"), ("MAMBARC", home / ".condarc"),
                        ("CONDA_PKGS_DIRS", home / "pkgs"), ("MAMBA_ROOT_PREFIX", home / "root"),
                        ("CONDA_SOLVER", "no-such-solver"), ("XDG_CONFIG_HOME", home)):
        monkeypatch.setenv(name, str(value))
    for scenario in (support.UNPINNED, support.pin(LEVELS[0])):
        clean = case.get(scenario)
        poisoned = tool_runs.create(driver_key, case.tool, case.channels, case.specs[scenario],
                                    workdir=tmp_path / scenario)
        assert (poisoned.status, support.gate_level(poisoned)) == (clean.status, support.gate_level(clean)), \
            poisoned.summary()
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == before, "the run wrote into the user's HOME"
