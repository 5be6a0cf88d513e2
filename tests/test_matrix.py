"""`microarch-level matrix`: the compatibility table, computed from the channel and the samples."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import load_samples, run_cli
from microarch_level.tools import MATRIX_STYLES


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
