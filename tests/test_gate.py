"""The gate's builds: each level installs on exactly the CPUs at or above it, under every solver,
with globs only where they stay safe for CPU names a later archspec may add."""

from __future__ import annotations

import json

import pytest

from microarch_level.catalog.gate import (ANY, GateBuild, all_generic_levels, check_builds, gate_builds,
                                          level_matchers, spellings)
from microarch_level.catalog.levels import LEVELS, CatalogError, build_catalog, installed_json_path, load_catalog
from microarch_level.catalog.matching import SOLVERS, matches
from microarch_level.catalog.power import load_power_catalog

CATALOG = load_catalog()
CATALOGS = [CATALOG, load_power_catalog()]


def with_cpu(name: str, parent: str) -> dict:
    """archspec's data plus a CPU `name` derived from `parent` (a CPU a later archspec might add)."""
    data = json.loads(installed_json_path().read_text())
    data["microarchitectures"][name] = {**data["microarchitectures"][parent], "from": [parent]}
    return build_catalog(data, "test")


def stem_globs(catalog) -> dict[int, list[str]]:
    return {lv: [m for m in level_matchers(catalog, lv) if m.endswith(ANY) and not m.startswith("x86")]
            for lv in catalog.levels[1:]}


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda c: c.family)
@pytest.mark.parametrize("solver", SOLVERS)
def test_each_level_selects_every_spelling_at_or_above_it_once_and_none_below(catalog, solver):
    builds = gate_builds(catalog)
    for level in catalog.levels[1:]:
        mine = [b.archspec_build for b in builds if b.level == level]
        for report, lv in spellings(catalog).items():
            hits = [m for m in mine if matches(solver, m, report)]
            assert len(hits) == (lv >= level), (level, report, hits)


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda c: c.family)
def test_the_baseline_is_one_unconditional_build(catalog):
    assert [b for b in gate_builds(catalog) if b.level == catalog.levels[0]] == [
        GateBuild(catalog.levels[0], catalog.family, ANY)]


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda c: c.family)
def test_build_tags_are_unique_within_a_level(catalog):
    builds = gate_builds(catalog)
    for level in catalog.levels:
        tags = [b.tag for b in builds if b.level == level]
        assert len(tags) == len(set(tags)), level


def test_one_glob_stands_for_every_generic_level_at_the_lowest_conditional_level_only():
    for level in LEVELS[1:]:
        assert (all_generic_levels(CATALOG) in level_matchers(CATALOG, level)) == (level == LEVELS[1])
    generic = {s for s, lv in spellings(CATALOG).items()
               if lv > LEVELS[0] and (s not in CATALOG.names or CATALOG.is_generic(s))}
    for solver in SOLVERS:
        assert {s for s in spellings(CATALOG) if matches(solver, all_generic_levels(CATALOG), s)} == generic


def test_the_all_levels_glob_comes_from_the_generic_level_names_and_exists_only_where_they_do():
    assert all_generic_levels(CATALOG) == "x86*64*v*"
    assert all_generic_levels(load_power_catalog()) is None


@pytest.mark.parametrize("report", ["x86_64", "x86-64"])
def test_no_level_1_report_matches_the_all_levels_glob(report):
    """libmamba reports plain `x86_64` below level 2 (get_archspec_x86_64), conda archspec's names."""
    assert not any(matches(solver, all_generic_levels(CATALOG), report) for solver in SOLVERS)


def test_a_prefix_glob_selects_only_its_stem_and_the_stems_archspec_descendants():
    found = stem_globs(CATALOG)
    assert any(found.values())
    for level, globs in found.items():
        for glob in globs:
            stem = glob[:-1]
            assert stem in CATALOG.names and CATALOG.level_of(stem) >= level
            for name in CATALOG.names:
                if matches("libmamba", glob, name):
                    assert name == stem or stem in CATALOG.ancestors[name], (glob, name)


def test_no_prefix_glob_where_its_stem_is_below_the_level():
    for level, globs in stem_globs(CATALOG).items():
        assert all(CATALOG.level_of(g[:-1]) >= level for g in globs)
        below = [n for n in CATALOG.names_at_least(level) if any(
            matches("libmamba", f"{n}*", m) and CATALOG.level_of(m) < level for m in CATALOG.names)]
        assert not set(globs) & {f"{n}*" for n in below}


def test_a_later_descendant_named_under_a_stem_joins_its_glob_and_gets_its_own_build_above():
    newer = with_cpu("zen7", "zen6")
    globs = stem_globs(newer)
    for level in newer.levels[1:]:
        matchers = level_matchers(newer, level)
        if "zen*" in globs[level]:
            assert "zen7" not in matchers
        else:
            assert "zen7" in matchers
    assert "zen*" in globs[LEVELS[1]] and "zen*" not in globs[LEVELS[-1]]


def test_a_name_under_a_stem_that_does_not_descend_from_it_ends_the_stems_glob():
    """A Zen-named CPU derived from x86_64_v2 (not from zen) would make `zen*` select a level-2 CPU."""
    newer = with_cpu("zenlite", "x86_64_v2")
    for level in newer.levels[1:]:
        assert "zen*" not in level_matchers(newer, level)
    assert {b.level for b in gate_builds(newer) if b.archspec_build == "zenlite"} == {LEVELS[1]}


@pytest.mark.parametrize("matcher", ["*lake*", "*lake", "sky*"])
def test_check_refuses_a_glob_that_is_not_one_name_and_its_descendants(matcher):
    """Even when every name it selects today is at level 3: a later name could be below it."""
    level = LEVELS[2]
    assert all(CATALOG.level_of(n) >= level for n in CATALOG.names if matches("libmamba", matcher, n))
    builds = [b for b in gate_builds(CATALOG) if not (b.level == level and
                                                      any(matches("libmamba", matcher, n) for n in
                                                          CATALOG.names if matches("libmamba", b.archspec_build, n)))]
    builds.append(GateBuild(level, matcher.replace("*", "_"), matcher))
    with pytest.raises(CatalogError, match="one archspec name and its descendants"):
        check_builds(CATALOG, builds)


def test_check_refuses_the_all_levels_glob_above_the_lowest_level():
    level = LEVELS[2]
    builds = [b for b in gate_builds(CATALOG) if not (b.level == level and b.archspec_build.startswith("x86"))]
    builds.append(GateBuild(level, all_generic_levels(CATALOG).replace("*", "_"), all_generic_levels(CATALOG)))
    with pytest.raises(CatalogError, match=f"also selects x86_64_v2.*below level {level}"):
        check_builds(CATALOG, builds)


def test_check_refuses_a_name_selected_twice_at_a_level():
    level = LEVELS[2]
    builds = gate_builds(CATALOG) + [GateBuild(level, "zen2", "zen2")]
    with pytest.raises(CatalogError, match="'zen2' .* selected by 2 level-3 gate matchers"):
        check_builds(CATALOG, builds)


def test_check_refuses_a_level_that_misses_a_name():
    builds = [b for b in gate_builds(CATALOG) if (b.level, b.archspec_build) != (LEVELS[-1], "icelake")]
    with pytest.raises(CatalogError, match="'icelake' .* selected by 0 level-4 gate matchers"):
        check_builds(CATALOG, builds)
