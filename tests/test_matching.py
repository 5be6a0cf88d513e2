"""The solver matching rules the project relies on, checked against the real rattler where it can be."""

from __future__ import annotations

import json

import pytest

from microarch_level.catalog.gate import all_generic_levels, gate_builds
from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.catalog.matching import SOLVERS, matches, portable

CATALOG = load_catalog()
MATCHERS = sorted({b.archspec_build for b in gate_builds(CATALOG) if b.dependency})
REPORTS = sorted(set(CATALOG.names) | {f"x86_64-v{lv}" for lv in LEVELS[1:]} | {f"x86-64-v{lv}" for lv in LEVELS[1:]}
                 | {"x86_64", "zen7"})


@pytest.fixture(scope="module")
def archspec_record(tmp_path_factory):
    """A real rattler PackageRecord for `__archspec` with any build string, hyphens included.

    rattler's BuildString type refuses '-' (CEP 26), but records read from an
    index.json keep what the file says, which is what a solver compares.
    """
    from rattler import PackageRecord

    work = tmp_path_factory.mktemp("records")

    def make(build: str):
        path = work / f"{build}.json"
        path.write_text(json.dumps({"name": "__archspec", "version": "1", "build": build, "build_number": 0,
                                    "depends": [], "subdir": "linux-64"}))
        return PackageRecord.from_index_json(str(path))

    return make


@pytest.mark.parametrize("pattern", MATCHERS)
def test_the_rattler_rules_agree_with_rattlers_own_matcher(archspec_record, pattern):
    from rattler import MatchSpec

    spec = MatchSpec(f"__archspec * {pattern}")
    for report in REPORTS:
        assert matches("rattler", pattern, report) == spec.matches(archspec_record(report)), (pattern, report)


@pytest.mark.parametrize("level", LEVELS[2:])
def test_a_generic_levels_glob_matches_every_spelling_of_its_level_and_nothing_else(level):
    pattern = f"x86*64*v{level}"
    assert pattern in MATCHERS
    for solver in SOLVERS:
        hits = {r for r in REPORTS if matches(solver, pattern, r)}
        assert hits == {f"x86_64_v{level}", f"x86_64-v{level}", f"x86-64-v{level}"}, solver


def test_the_all_levels_glob_matches_every_spelling_of_every_level_above_the_baseline():
    assert all_generic_levels(CATALOG) in MATCHERS
    for solver in SOLVERS:
        hits = {r for r in REPORTS if matches(solver, all_generic_levels(CATALOG), r)}
        assert hits == {f"x86{a}64{b}v{lv}" for lv in LEVELS[1:] for a, b in (("_", "_"), ("_", "-"), ("-", "-"))}


def test_libmamba_does_not_read_regular_expressions():
    assert matches("conda-classic", "^(haswell|zen)$", "zen")
    assert not matches("libmamba", "^(haswell|zen)$", "zen")
    assert not portable("^(haswell|zen)$") and all(portable(m) for m in MATCHERS)


def test_an_unknown_solver_is_refused():
    with pytest.raises(ValueError, match="unknown solver"):
        matches("pip", "*", "x")
