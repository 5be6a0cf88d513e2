"""Levels come from archspec's data and agree with archspec's own answers."""

from __future__ import annotations

import archspec.cpu
import pytest

from microarch_level.cpuinfo import first_flags
from microarch_level.levels import FAMILY, LEVELS, CatalogError, build_catalog


def test_the_catalog_holds_every_x86_64_name_archspec_knows(catalog):
    expected = {n for n, t in archspec.cpu.TARGETS.items() if t.family.name == FAMILY}
    assert set(catalog.names) == expected


def test_each_level_is_the_highest_generic_level_among_the_name_and_its_ancestors(catalog):
    targets = archspec.cpu.TARGETS
    for name, level in catalog.names.items():
        reached = [lv for lv in LEVELS if targets[name] >= targets[catalog.generic_name(lv)]]
        assert level == max(reached), name


def test_each_level_needs_every_feature_of_the_level_below(catalog):
    for level in LEVELS[1:]:
        assert set(catalog.level_features[level - 1]) <= set(catalog.level_features[level])
        assert catalog.new_features(level)


def test_the_newest_names_are_known(catalog):
    for name, level in {"alderlake": 3, "arrowlake_s": 3, "zen6": 4, "cannonlake": 4}.items():
        assert catalog.names[name] == level


def test_march_names_come_from_archspecs_gcc_table(catalog):
    assert catalog.march == {1: "x86-64", 2: "x86-64-v2", 3: "x86-64-v3", 4: "x86-64-v4"}


def test_the_sample_host_has_the_expected_level(catalog, sample):
    assert catalog.names[sample.archspec_host] == sample.level


def test_the_level_from_the_samples_flags_is_the_expected_level(catalog, sample):
    assert catalog.level_from_flags(first_flags(sample.path.read_text())) == sample.level


def test_data_without_the_generic_levels_is_refused():
    data = {"microarchitectures": {"x86_64": {"from": [], "vendor": "generic", "features": []}}}
    with pytest.raises(CatalogError, match="lacks the generic levels"):
        build_catalog(data, "0")


def test_data_with_a_parent_cycle_is_refused():
    data = {"microarchitectures": {"x86_64": {"from": ["a"]}, "a": {"from": ["x86_64"]}}}
    with pytest.raises(CatalogError, match="cycle"):
        build_catalog(data, "0")
