"""`microarch-level matrix`: the compatibility table, computed from the channel and the samples."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DATA, load_samples, run_cli

from microarch_level.catalog.power import load_power_catalog
from microarch_level.tools.facts import MATRIX_STYLES


@pytest.fixture(scope="module")
def matrix(channel, pytestconfig):
    directory = pytestconfig.getoption("--cpuinfo-dir")
    result = run_cli("matrix", "--channel", str(channel), "--cpuinfo-dir", directory, "--format", "json")
    return result, load_samples(__import__("pathlib").Path(directory))


def test_every_cpu_gets_its_own_level_under_every_reporting_style(matrix):
    result, samples = matrix
    assert result.returncode == 0, result.stderr
    rows = {r["sample"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {s.id for s in samples}
    for s in samples:
        row = rows[s.id]
        assert (row["archspec"], row["level"]) == (s.archspec_host, s.level)
        assert [c["style"] for c in row["cells"]] == list(MATRIX_STYLES)
        for c in row["cells"]:
            assert c["ok"] and c["lower_pins_ok"], (s.id, c)
            assert c["level"] == (1 if c["style"] == "pixi-lock" else s.level), (s.id, c)


def test_mambas_hyphen_column_is_read_from_the_repodata_not_solved(matrix):
    result, _ = matrix
    for row in json.loads(result.stdout):
        cells = {c["style"]: c for c in row["cells"]}
        assert cells["mamba-hyphen"]["method"] == "repodata (libmamba matching)"
        assert "-" in cells["mamba-hyphen"]["reported"] or row["level"] == 1
        assert cells["conda"]["method"] == "rattler solve"


@pytest.mark.parametrize("fmt, marker", [("markdown", "| CPU sample |"), ("plain", "CPU sample  ")])
def test_the_table_formats_list_every_sample(channel, pytestconfig, fmt, marker):
    directory = pytestconfig.getoption("--cpuinfo-dir")
    result = run_cli("matrix", "--channel", str(channel), "--cpuinfo-dir", directory, "--format", fmt)
    assert result.returncode == 0
    assert marker in result.stdout
    for s in load_samples(__import__("pathlib").Path(directory)):
        assert s.id in result.stdout


def test_a_channel_missing_a_level_makes_the_matrix_fail(channel, pytestconfig, tmp_path):
    broken = tmp_path / "channel"
    shutil.copytree(channel, broken)
    repodata = broken / "noarch" / "repodata.json"
    data = json.loads(repodata.read_text())
    for key in ("packages", "packages.conda"):
        data[key] = {k: r for k, r in data[key].items()
                     if not (r["name"] == "_x86_64-microarch-level" and r["version"] == "4")}
    repodata.write_text(json.dumps(data))
    result = run_cli("matrix", "--channel", str(broken), "--cpuinfo-dir",
                     pytestconfig.getoption("--cpuinfo-dir"), "--format", "json")
    assert result.returncode == 1
    assert "do not get their level" in result.stderr
    failing = {r["sample"] for r in json.loads(result.stdout) for c in r["cells"] if not c["ok"]}
    assert failing and all(r["level"] == 4 for r in json.loads(result.stdout) if r["sample"] in failing)


@pytest.mark.parametrize("args, message", [
    (["--styles", "conda,nope"], "unknown column 'nope'"),
    (["--cpuinfo-dir", "/nonexistent"], "no such cpuinfo directory"),
    (["--channel", "/nonexistent"], "build the channel first"),
])
def test_bad_arguments_fail_in_one_line(channel, args, message):
    result = run_cli("matrix", "--channel", str(channel), *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_a_directory_without_samples_is_rejected(channel, tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here\n")
    result = run_cli("matrix", "--channel", str(channel), "--cpuinfo-dir", str(tmp_path))
    assert result.returncode == 2 and "no /proc/cpuinfo samples" in result.stderr


# --- ppc64le samples --------------------------------------------------------------------

POWER_DIR = DATA / "cpuinfo-ppc64le"
POWER_SAMPLES = load_samples(POWER_DIR)
POWER_BASELINE = load_power_catalog().levels[0]


@pytest.fixture(scope="module")
def power_matrix(channel):
    if not POWER_SAMPLES:
        pytest.skip(f"no POWER samples: {POWER_DIR}/expected.tsv not found")
    result = run_cli("matrix", "--channel", str(channel), "--cpuinfo-dir", str(POWER_DIR), "--format", "json")
    assert result.returncode == 0, result.stderr
    return {r["sample"]: r for r in json.loads(result.stdout)}


def test_a_power_sample_is_named_as_archspec_names_it(power_matrix):
    assert set(power_matrix) == {s.id for s in POWER_SAMPLES}
    for s in POWER_SAMPLES:
        assert (power_matrix[s.id]["archspec"], power_matrix[s.id]["level"]) == (s.archspec_host, s.level)


@pytest.mark.parametrize("style", ["conda", "rattler"])
def test_on_power_conda_and_rattler_report_archspecs_name_and_get_the_cpus_level(power_matrix, style):
    for s in POWER_SAMPLES:
        c = {c["style"]: c for c in power_matrix[s.id]["cells"]}[style]
        assert (c["reported"], c["level"], c["method"]) == (f"1={s.archspec_host}", s.level, "rattler solve"), c
        assert c["ok"] and c["lower_pins_ok"], c


@pytest.mark.parametrize("style", ["mamba", "mamba-hyphen", "pixi-lock"])
def test_on_power_mamba_and_pixis_lock_report_the_bare_machine_and_get_the_baseline(power_matrix, style):
    for s in POWER_SAMPLES:
        c = {c["style"]: c for c in power_matrix[s.id]["cells"]}[style]
        assert c["reported"] == ("0=ppc64le" if style == "pixi-lock" else "1=ppc64le"), c
        assert c["level"] == POWER_BASELINE and c["ok"], c


def test_a_directory_of_both_families_needs_family(channel, tmp_path):
    if not POWER_SAMPLES:
        pytest.skip("no POWER samples")
    x86 = load_samples(DATA / "cpuinfo")[0]
    for s in (x86, POWER_SAMPLES[0]):
        shutil.copy(s.path, tmp_path / s.id)
    mixed = run_cli("matrix", "--channel", str(channel), "--cpuinfo-dir", str(tmp_path))
    assert mixed.returncode == 2
    assert "several families (ppc64le, x86_64); choose one with --family" in mixed.stderr
    assert mixed.stderr.count("\n") == 1
    chosen = run_cli("matrix", "--channel", str(channel), "--cpuinfo-dir", str(tmp_path), "--family", "ppc64le",
                     "--format", "json")
    assert chosen.returncode == 0, chosen.stderr
    assert [r["sample"] for r in json.loads(chosen.stdout)] == [POWER_SAMPLES[0].id]


def test_a_family_with_no_samples_in_the_directory_is_refused(channel):
    result = run_cli("matrix", "--channel", str(channel), "--cpuinfo-dir", str(POWER_DIR), "--family", "x86_64")
    assert result.returncode == 2
    assert "no x86_64 samples in" in result.stderr and result.stderr.count("\n") == 1
