"""The built channel: what each host can install, checked with rattler's solver and the repodata."""

from __future__ import annotations

import json
import re

import pytest

from microarch_level.catalog.families import FLAGS, GATE
from microarch_level.catalog.gate import gate_builds
from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.catalog.matching import SOLVERS, matches
from microarch_level.tools.solve import Unsatisfiable, archspec_package, base_virtual_packages, solve

CATALOG = load_catalog()
CEP26_BUILD = re.compile(r"^[A-Za-z0-9_.+]+$")
PUBLISHED_BUILD_NUMBERS = range(0, 5)


def gate_level(channel, build: str | None, spec: str = GATE, version: str = "1") -> int:
    vps = base_virtual_packages() + ([archspec_package(build, version)] if build is not None else [])
    records = solve([channel], [spec], vps)
    return int(str(next(r.version for r in records if r.name.normalized == GATE)))


def pin_installs(channel, build: str | None, k: int, version: str = "1") -> bool:
    try:
        gate_level(channel, build, f"{GATE}=={k}", version)
        return True
    except Unsatisfiable:
        return False


@pytest.fixture(scope="module")
def repodata(channel) -> dict:
    return json.loads((channel / "noarch" / "repodata.json").read_text())


@pytest.fixture(scope="module")
def records(repodata) -> list[dict]:
    return list(repodata["packages"].values()) + list(repodata["packages.conda"].values())


@pytest.mark.parametrize("name", list(CATALOG.names))
def test_a_host_gets_exactly_its_own_level_unpinned(channel, name):
    assert gate_level(channel, name) == CATALOG.names[name]


@pytest.mark.parametrize("name", list(CATALOG.names))
def test_every_pin_up_to_the_hosts_level_installs_and_none_above(channel, name):
    level = CATALOG.names[name]
    assert {k: pin_installs(channel, name, k) for k in LEVELS} == {k: k <= level for k in LEVELS}


def test_pixis_baseline_archspec_gets_level_1_only(channel):
    assert gate_level(channel, "x86_64", version="0") == 1
    assert [pin_installs(channel, "x86_64", k, version="0") for k in LEVELS] == [True, False, False, False]


def test_a_host_reporting_no_archspec_gets_level_1_only(channel):
    assert gate_level(channel, None) == 1
    assert [pin_installs(channel, None, k) for k in LEVELS] == [True, False, False, False]


def test_a_cpu_name_newer_than_the_channel_and_under_no_glob_still_gets_level_1(channel):
    assert gate_level(channel, "novalake") == 1


def test_a_cpu_name_newer_than_the_channel_gets_the_levels_of_the_glob_of_its_stem(channel):
    """`zen*` stands for zen and its descendants at the levels zen reaches; zen7's own level is not known."""
    assert gate_level(channel, "zen7") == CATALOG.level_of("zen")


@pytest.mark.parametrize("level", LEVELS[1:])
@pytest.mark.parametrize("solver", SOLVERS)
def test_mambas_hyphenated_report_matches_a_build_at_every_reachable_level(records, level, solver):
    """mamba 1.5.3-1.5.9 report `x86_64-v3`; rattler cannot even represent it, so match by semantics."""
    reported = f"x86_64-v{level}"
    reachable = set()
    for r in records:
        if r["name"] != GATE:
            continue
        deps = [d.split() for d in r["depends"] if d.startswith("__archspec")]
        if not deps or any(len(d) == 3 and matches(solver, d[2], reported) for d in deps):
            reachable.add(int(r["version"]))
    assert reachable == set(range(1, level + 1))


def test_every_gate_dependency_leaves_the_archspec_version_open_and_uses_no_regex(records):
    for r in records:
        for dep in r["depends"]:
            name, version, build = dep.split()
            assert (name, version) == ("__archspec", "*"), dep
            assert not (build.startswith("^") and build.endswith("$")), dep


def test_build_strings_follow_cep26_and_supersede_the_published_builds(records):
    for r in records:
        assert CEP26_BUILD.match(r["build"]), r["build"]
        assert r["build_number"] > max(PUBLISHED_BUILD_NUMBERS)
        assert r["build"].startswith(f"{r['build_number']}_")
        assert r["noarch"] == "generic"


def test_there_is_one_gate_build_per_level_and_matcher(records):
    by_level = {}
    for r in records:
        if r["name"] == GATE:
            by_level.setdefault(int(r["version"]), []).append(r["build"])
    assert sorted(by_level) == list(LEVELS)
    for level, builds in by_level.items():
        assert len(builds) == len(set(builds))
        assert len(builds) == len([b for b in gate_builds(CATALOG) if b.level == level])


@pytest.mark.parametrize("level", LEVELS)
def test_the_flag_package_exports_a_lower_bound_on_the_gate(records, level):
    flags = [r for r in records if r["name"] == FLAGS and r["version"] == str(level)]
    assert len(flags) == 1
    assert flags[0]["run_exports"] == {"strong": [f"{GATE} >={level}"]}
    assert flags[0]["depends"] == []
