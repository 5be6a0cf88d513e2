"""Levels come from archspec's data and agree with archspec's own answers."""

from __future__ import annotations

import os

import archspec.cpu
import pytest
from conftest import run_cli

from microarch_level.catalog.levels import FAMILY, LEVELS, CatalogError, build_catalog
from microarch_level.diagnostics.cpuinfo import first_flags


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


def test_the_catalog_reads_the_data_archspec_reads_from_archspec_cpu_dir(json_with_new_cpu):
    """archspec.cpu detects the host from $ARCHSPEC_CPU_DIR/microarchitectures.json when it is set;
    the catalog reads that same data, so a CPU only it knows is a name the CLI accepts."""
    assert run_cli("normalize", "zen7").returncode == 2
    result = run_cli("normalize", "zen7", env={**os.environ, "ARCHSPEC_CPU_DIR": str(json_with_new_cpu.parent)})
    assert (result.returncode, result.stdout.split()) == (0, ["zen7", "4"]), result.stderr


def test_an_archspec_cpu_dir_without_data_is_refused_in_one_line(tmp_path):
    result = run_cli("normalize", "zen4", env={**os.environ, "ARCHSPEC_CPU_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip() == (f"microarch-level normalize: cannot read archspec data "
                                      f"{tmp_path / 'microarchitectures.json'}: No such file or directory")
