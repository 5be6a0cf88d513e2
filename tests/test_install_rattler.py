"""Installing the gate, and a package built against it, with rattler on every CPU sample.

Each sample is a real /proc/cpuinfo.  Its CPU reaches rattler two ways:
- `detected`: the sample is mounted over /proc/cpuinfo in a private mount
  namespace and `rattler.VirtualPackage.detect()` reads it (archspec-rs);
- every report another tool would make for that CPU (microarch_level.tools.facts.STYLES:
  conda's archspec name, mamba's generic x86_64_vN, pixi's lock-file baseline, ...).
mamba 1.5.3-1.5.9's `x86_64-vN` cannot be a rattler build string (CEP 26), so
test_channel.py checks it by matching semantics and test_install_tools.py with
the real tools.  Each identity is solved and installed into real prefixes.
"""

from __future__ import annotations

import re
from pathlib import Path

import install_support as support
import pytest

from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.tools.solve import base_virtual_packages
from microarch_level.tools.facts import STYLES

CATALOG = load_catalog()
CEP26_BUILD = re.compile(r"^[A-Za-z0-9_.+]+$")
DETECTED = "detected"


def _representable(style) -> bool:
    reports = (style.report(CATALOG, name) for name in CATALOG.names)
    return all(r is None or CEP26_BUILD.match(r[1]) for r in reports)


IDENTITIES = [DETECTED] + [key for key, style in STYLES.items() if _representable(style)]


@pytest.fixture(scope="module")
def downstream(channel, tmp_path_factory) -> Path:
    return support.downstream_channel(channel, tmp_path_factory)


@pytest.fixture(scope="module")
def mount():
    return support.mount_command()


_DETECTED: dict[Path, list | Exception] = {}


@pytest.fixture
def detected(sample, mount) -> list[list[str]]:
    """The virtual packages rattler detects with `sample` mounted over /proc/cpuinfo."""
    if mount is None:
        pytest.skip("mounting a CPU sample over /proc/cpuinfo needs unshare and root (or sudo -n)")
    if sample.path not in _DETECTED:
        try:
            _DETECTED[sample.path] = support.detect_with_sample(sample.path, mount)
        except RuntimeError as exc:
            _DETECTED[sample.path] = exc
    found = _DETECTED[sample.path]
    if isinstance(found, Exception):
        pytest.skip(str(found))
    return found


def _as_lists(packages) -> list[list[str]]:
    return [[p.name.normalized, str(p.version), str(p.build_string)] for p in packages]


def identity_packages(identity: str, sample, request) -> list[list[str]]:
    if identity == DETECTED:
        return request.getfixturevalue("detected")
    report = STYLES[identity].report(CATALOG, sample.archspec_host)
    archspec = [] if report is None else [["__archspec", report[0], report[1]]]
    return _as_lists(base_virtual_packages()) + archspec


def expected_level(identity: str, sample) -> int:
    if identity == DETECTED:
        return sample.level
    return support.report_level(CATALOG, STYLES[identity].report(CATALOG, sample.archspec_host))


_OUTCOMES: dict[tuple, dict] = {}


@pytest.fixture
def get(identity, sample, request, channel, downstream, tmp_path_factory):
    """scenario -> tool_runs.Outcome for this identity; one worker run per distinct set of virtual packages."""
    packages = identity_packages(identity, sample, request)
    key = (Path(channel).resolve(), downstream, tuple(map(tuple, packages)))
    if key not in _OUTCOMES:
        _OUTCOMES[key] = support.rattler_run([channel, downstream], packages, support.scenarios(LEVELS),
                                             tmp_path_factory.mktemp("rattler"))
    return _OUTCOMES[key].__getitem__


over_identities = pytest.mark.parametrize("identity", IDENTITIES)


def test_rattler_detects_the_samples_cpu(sample, detected):
    archspec = [build for name, _, build in detected if name == "__archspec"]
    assert archspec == [sample.archspec_host]


@over_identities
def test_unpinned_gate_installs_exactly_the_cpus_level(identity, sample, get):
    support.check_unpinned_gate(get, expected_level(identity, sample))


@over_identities
def test_every_pin_up_to_the_cpus_level_installs_that_level(identity, sample, get):
    support.check_pins_up_to_level(get, expected_level(identity, sample), LEVELS)


@over_identities
def test_a_pin_above_the_cpus_level_is_an_unsatisfiable_solve(identity, sample, get):
    support.check_pins_above_level(get, expected_level(identity, sample), LEVELS)


@over_identities
def test_downstream_resolves_to_the_build_for_the_highest_level_the_cpu_reaches(identity, sample, get):
    support.check_downstream_build(get, expected_level(identity, sample))


@over_identities
def test_downstream_depends_on_the_gate_through_the_run_export(identity, sample, get):
    support.check_downstream_depends(get, expected_level(identity, sample))


@over_identities
def test_the_installed_downstream_build_was_compiled_for_its_level(identity, sample, get):
    outcome = get(support.DOWNSTREAM_SCENARIO)
    assert outcome.ok, outcome.summary()
    level = support.downstream_level(expected_level(identity, sample))
    cflags = (outcome.prefix / support.CFLAGS_FILE).read_text().split()
    assert [f for f in cflags if f.startswith("-march=")] == [f"-march={CATALOG.march[level]}"]

