"""The ppc64le packages in the built channel, solved by rattler for a linux-ppc64le host.

Every archspec ppc64le name is a host: conda and rattler report the specific
name (`power9le`); mamba/micromamba report the bare machine `ppc64le`
(libmamba's get_archspec returns the platform's arch for anything but x86-64).
"""

from __future__ import annotations

import json

import pytest

from microarch_level.catalog.families import PPC64LE
from microarch_level.catalog.power import load_power_catalog
from microarch_level.tools.solve import Unsatisfiable, archspec_package, base_virtual_packages, solve

CATALOG = load_power_catalog()
LEVELS = CATALOG.levels
GATE = PPC64LE.gate
FLAGS = PPC64LE.flags
PLATFORMS = ("linux-ppc64le", "noarch")


def solved_level(channel, build: str | None, spec: str = GATE) -> int:
    vps = base_virtual_packages() + ([archspec_package(build)] if build is not None else [])
    records = solve([channel], [spec], vps, platforms=PLATFORMS)
    return int(str(next(r.version for r in records if r.name.normalized == GATE)))


def refusal(channel, build: str | None, spec: str) -> str | None:
    """The solver's refusal of `spec` on a host reporting `build`, or None when it installs."""
    try:
        solved_level(channel, build, spec)
    except Unsatisfiable as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("name", list(CATALOG.names))
def test_a_power_host_gets_its_own_generation_unpinned(channel, name):
    assert solved_level(channel, name) == CATALOG.names[name]


@pytest.mark.parametrize("name", list(CATALOG.names))
def test_every_lower_pin_installs_on_a_power_host(channel, name):
    for k in LEVELS:
        if k <= CATALOG.names[name]:
            assert solved_level(channel, name, f"{GATE}=={k}") == k


@pytest.mark.parametrize("name", list(CATALOG.names))
def test_a_pin_above_the_hosts_generation_is_refused_naming_archspec(channel, name):
    for k in LEVELS:
        if k > CATALOG.names[name]:
            text = refusal(channel, name, f"{GATE}=={k}")
            assert text is not None, f"{name} installed level {k}"
            assert "__archspec" in text and GATE in text, text
            # and the same host installs without the pin, from the same channel
            assert refusal(channel, name, GATE) is None


def test_mambas_bare_machine_report_gets_level_8_only(channel):
    assert solved_level(channel, "ppc64le") == LEVELS[0]
    assert [refusal(channel, "ppc64le", f"{GATE}=={k}") is None for k in LEVELS] == [True, False, False]


def test_a_host_reporting_no_archspec_gets_level_8_only(channel):
    assert solved_level(channel, None) == LEVELS[0]


def test_a_power_name_newer_than_the_channel_still_gets_level_8(channel):
    assert solved_level(channel, "power11le") == LEVELS[0]


@pytest.mark.parametrize("level", LEVELS)
def test_the_flag_package_installs_for_linux_ppc64le_and_exports_the_gate(channel, level):
    records = solve([channel], [f"{FLAGS}=={level}"], base_virtual_packages(), platforms=PLATFORMS)
    assert [str(r.version) for r in records if r.name.normalized == FLAGS] == [str(level)]
    repodata = json.loads((channel / "noarch" / "repodata.json").read_text())
    found = [r for r in repodata["packages.conda"].values() if r["name"] == FLAGS and r["version"] == str(level)]
    assert len(found) == 1 and found[0]["run_exports"] == {"strong": [f"{GATE} >={level}"]}


def test_the_x86_64_gate_never_installs_on_a_power_host(channel):
    with pytest.raises(Unsatisfiable):
        solve([channel], [f"{GATE}==2"], base_virtual_packages() + [archspec_package("power10le")],
              platforms=PLATFORMS)


def test_every_ppc64le_gate_dependency_leaves_the_archspec_version_open(channel):
    repodata = json.loads((channel / "noarch" / "repodata.json").read_text())
    gates = [r for r in repodata["packages.conda"].values() if r["name"] == GATE]
    assert sorted({int(r["version"]) for r in gates}) == list(LEVELS)
    for r in gates:
        for dep in r["depends"]:
            assert dep.split()[:2] == ["__archspec", "*"], dep
