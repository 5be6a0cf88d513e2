"""`microarch-level check`: what environments made elsewhere need, hold, and whether they run on a CPU.

Everything checked is made here with the real tools (check_support.py):
prefixes installed by py-rattler, a pixi.lock written by py-rattler, a
conda-lock.yml written by conda-lock's models, an explicit file as `conda list
--explicit` writes it, all from packages py-rattler-build built from
`microarch-level snippet`'s recipe.  CPUs are the real samples in tests/data.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
from check_support import (
    DEMO, LOW, POWER, PPC_GATE, build_downstream, install_prefixes, run_many, solve_records, write_conda_lock,
    write_explicit, write_pixi_lock
)
from conftest import ROOT, load_samples, run_cli
from sysctl_standin import DATA as SYSCTL_DIR
from sysctl_standin import SYSCTL_LEVELS

from microarch_level.catalog.families import GATE
from microarch_level.catalog.levels import LEVELS, load_catalog

CATALOG = load_catalog()
X86_SAMPLES_DIR = ROOT / "tests" / "data" / "cpuinfo"
POWER_SAMPLES_DIR = ROOT / "tests" / "data" / "cpuinfo-ppc64le"
X86_SAMPLES = load_samples(X86_SAMPLES_DIR)
POWER_SAMPLES = load_samples(POWER_SAMPLES_DIR)
SCHEMA = ROOT / "docs" / "check.schema.json"
TOP = LEVELS[-1]
PIXI_DEFAULTS = ["__unix=0=0", "__linux=4.18", "__glibc=2.28"]  # pixi's linux-64 defaults besides __archspec


def generic(level: int) -> str:
    return CATALOG.generic_name(level)


def sample(level: int):
    """The first real x86-64 sample at `level`."""
    return next(s for s in X86_SAMPLES if s.level == level)


@pytest.fixture(scope="session")
def world(channel, tmp_path_factory) -> dict:
    """Every target, made once: prefixes, a pixi.lock, a conda-lock.yml, explicit files, a fleet."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not found on PATH: the snippet's demo recipe compiles C")
    work = tmp_path_factory.mktemp("check")
    downstream = build_downstream(channel, work / "build")
    channels = [channel, downstream]
    prefixes = {}
    for level in LEVELS:  # demo solved for each level's CPU: needs it and holds it
        jobs = {f"demo{level}": [DEMO]}
        if level == TOP:  # a package that needs 2, solved for a level-4 CPU; then with the gate pinned
            jobs.update({"low": [LOW], "low-pinned": [LOW, f"{GATE}<=2"]})
        prefixes.update(install_prefixes(channels, generic(level), jobs, work / f"on{level}"))
    baseline, top = solve_records(channels, [DEMO], "x86_64"), solve_records(channels, [DEMO], generic(TOP))
    low_top = solve_records(channels, [LOW], generic(TOP))
    power9 = solve_records(channels, [POWER], "power9le", subdir="linux-ppc64le")
    pixi = write_pixi_lock(work / "pixi.lock", {
        "default": {"linux-64": baseline, "p1": top, "p2": power9},
        "low": {"p1": low_top},
    }, {"linux-64": ("linux-64", [*PIXI_DEFAULTS, "__archspec=0=x86_64"]),
        "p1": ("linux-64", [*PIXI_DEFAULTS, f"__archspec=0={generic(TOP)}"]),
        "p2": ("linux-ppc64le", [*PIXI_DEFAULTS, "__archspec=0=power9le"])})
    conda_lock = write_conda_lock(work / "conda-lock.yml", {
        "linux-64": solve_records(channels, [DEMO], generic(3)), "linux-ppc64le": power9})
    explicit = write_explicit(work / "explicit.txt", prefixes["demo3"])
    fleet = work / "fleet"
    fleet.mkdir()
    for s in (sample(2), sample(3), sample(4), POWER_SAMPLES[0]):
        shutil.copy(s.path, fleet / s.path.name)
    return {"prefixes": prefixes, "pixi": pixi, "conda_lock": conda_lock, "explicit": explicit, "fleet": fleet,
            "pkgs_dirs": [downstream / "linux-64", channel / "noarch"], "work": work}


def check_json(*argv) -> tuple[int, dict]:
    (result,) = run_many([["check", *map(str, argv), "--format", "json"]])
    assert result["crashed"] is None, result["crashed"]
    assert result["status"] in (0, 1), result["stderr"]
    return result["status"], json.loads(result["stdout"])


def verdicts(document: dict) -> dict[tuple[str, str, str], str]:
    """(environment, platform, cpu id) -> verdict."""
    return {(e["environment"], e["platform"], v["cpu"]): v["verdict"]
            for e in document["environments"] for v in e["verdicts"]}


def by_target(document: dict) -> dict[str, dict]:
    return {e["target"]: e for e in document["environments"]}


@pytest.fixture(scope="module")
def prefixes_on_samples(world) -> dict:
    """The four demo prefixes checked against every real x86-64 sample, in one run."""
    paths = [world["prefixes"][f"demo{level}"] for level in LEVELS]
    status, document = check_json(*paths, "--cpuinfo-dir", X86_SAMPLES_DIR)
    return {"status": status, "document": document, "paths": paths}


# --- needs below / at / above each real CPU -----------------------------------------------

@pytest.mark.parametrize("cpu", X86_SAMPLES, ids=lambda s: s.id)
@pytest.mark.parametrize("level", LEVELS)
def test_a_prefix_runs_exactly_on_cpus_at_or_above_what_its_packages_need(prefixes_on_samples, cpu, level):
    env = by_target(prefixes_on_samples["document"])[str(prefixes_on_samples["paths"][level - 1])]
    verdict = {v["cpu"]: v["verdict"] for v in env["verdicts"]}[cpu.id]
    assert env["needs"]["level"] == level
    assert verdict == ("runs" if level <= cpu.level else "will-not-run")


@pytest.mark.parametrize("cpu", X86_SAMPLES, ids=lambda s: s.id)
def test_each_sample_is_read_at_archspecs_level(prefixes_on_samples, cpu):
    levels = {c["id"]: c["level"] for c in prefixes_on_samples["document"]["cpus"]}
    assert levels[cpu.id] == cpu.level


def test_the_fleet_fails_when_one_environment_does_not_run_somewhere(prefixes_on_samples):
    assert prefixes_on_samples["status"] == 1 and prefixes_on_samples["document"]["ok"] is False


def test_the_packages_needing_the_level_are_named_highest_first(world):
    _, document = check_json(world["prefixes"][f"demo{TOP}"], "--cpu", generic(TOP))
    (env,) = document["environments"]
    assert [(p["name"], p["level"], p["requires"]) for p in env["needs"]["packages"]] == \
        [(DEMO, TOP, f"{GATE} >={TOP}")]
    assert env["holds"]["gate"]["level"] == TOP and not env["holds"]["over_pinned"]


def test_a_baseline_environment_runs_everywhere_and_exits_0(world):
    status, document = check_json(world["prefixes"]["demo1"], "--cpuinfo-dir", X86_SAMPLES_DIR)
    assert status == 0 and document["ok"]
    assert {v for v in verdicts(document).values()} == {"runs"}


# --- the over-pinned gate ------------------------------------------------------------------

def test_rattlers_solver_maximises_the_gate_beyond_what_the_packages_need(world):
    """The issue's claim, seen: demo-low needs 2, solved for a level-4 CPU the gate is 4."""
    _, document = check_json(world["prefixes"]["low"], "--cpu", generic(TOP))
    (env,) = document["environments"]
    assert (env["needs"]["level"], env["holds"]["gate"]["level"]) == (2, TOP)


@pytest.mark.parametrize("level", [3, 2])
def test_an_over_pinned_gate_is_above_a_cpu_its_packages_run_on(world, level):
    cpu = sample(level)
    status, document = check_json(world["prefixes"]["low"], "--cpuinfo", cpu.path)
    (env,) = document["environments"]
    assert status == 1
    assert env["holds"]["over_pinned"] is True
    assert [v["verdict"] for v in env["verdicts"]] == ["gate-above-cpu"]


def test_the_over_pinned_advice_names_the_pin_that_gets_the_needed_level(world):
    _, document = check_json(world["prefixes"]["low"], "--cpu", generic(TOP))
    (env,) = document["environments"]
    assert f"`{GATE}<=2`" in env["holds"]["lower"]


def test_that_pin_really_gets_the_level_the_packages_need(world):
    status, document = check_json(world["prefixes"]["low-pinned"], "--cpuinfo", sample(2).path)
    (env,) = document["environments"]
    assert (env["holds"]["gate"]["level"], env["holds"]["over_pinned"], status) == (2, False, 0)


# --- pixi.lock -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pixi_on_fleet(world) -> tuple[int, dict]:
    return check_json(world["pixi"], "--cpuinfo-dir", world["fleet"])


def test_every_environment_and_gated_platform_of_a_pixi_lock_is_checked(pixi_on_fleet):
    _, document = pixi_on_fleet
    assert sorted((e["environment"], e["platform"]) for e in document["environments"]) == \
        [("default", "linux-64"), ("default", "p1"), ("default", "p2"), ("low", "p1")]


def test_the_lock_platforms_virtual_packages_say_what_it_was_solved_for(pixi_on_fleet):
    _, document = pixi_on_fleet
    solved = {(e["environment"], e["platform"]): e["solved_for"] for e in document["environments"]}
    assert solved[("default", "p1")] == f"0={generic(TOP)}"
    assert solved[("default", "linux-64")] == "0=x86_64"


def test_a_pixi_lock_solved_for_level_4_does_not_run_on_level_3(pixi_on_fleet):
    _, document = pixi_on_fleet
    assert verdicts(document)[("default", "p1", sample(3).id)] == "will-not-run"
    assert verdicts(document)[("default", "p1", sample(4).id)] == "runs"


def test_a_pixi_lock_solved_for_the_baseline_runs_on_every_x86_machine(pixi_on_fleet):
    _, document = pixi_on_fleet
    assert {verdicts(document)[("default", "linux-64", s.id)] for s in (sample(2), sample(3), sample(4))} == {"runs"}


def test_a_locked_over_pinned_gate_is_reported_per_machine(pixi_on_fleet):
    _, document = pixi_on_fleet
    got = {s.level: verdicts(document)[("low", "p1", s.id)] for s in (sample(2), sample(3), sample(4))}
    assert got == {2: "gate-above-cpu", 3: "gate-above-cpu", 4: "runs"}


# --- ppc64le -------------------------------------------------------------------------------

@pytest.mark.parametrize("cpu", POWER_SAMPLES, ids=lambda s: s.id)
def test_a_power_environment_is_judged_by_the_power_generation(world, cpu):
    _, document = check_json(world["pixi"], "--cpuinfo", cpu.path)
    env = next(e for e in document["environments"] if e["platform"] == "p2")
    assert (env["family"], env["needs"]["level"], env["holds"]["gate"]["name"]) == ("ppc64le", 9, PPC_GATE)
    assert [v["verdict"] for v in env["verdicts"]] == ["runs" if cpu.level >= 9 else "will-not-run"]


def test_an_x86_environment_is_another_familys_on_a_power_machine(pixi_on_fleet):
    _, document = pixi_on_fleet
    assert verdicts(document)[("default", "p1", POWER_SAMPLES[0].id)] == "other-family"


# --- conda-lock.yml ------------------------------------------------------------------------

def test_a_conda_lock_file_is_read_per_platform(world):
    _, document = check_json(world["conda_lock"], "--cpuinfo-dir", world["fleet"])
    envs = {e["platform"]: e for e in document["environments"]}
    assert (envs["linux-64"]["needs"]["level"], envs["linux-64"]["holds"]["gate"]["level"]) == (3, 3)
    assert envs["linux-ppc64le"]["needs"]["level"] == 9
    got = {s.level: verdicts(document)[("main", "linux-64", s.id)] for s in (sample(2), sample(3), sample(4))}
    assert got == {2: "will-not-run", 3: "runs", 4: "runs"}


# --- explicit spec files -------------------------------------------------------------------

def test_an_explicit_file_alone_tells_only_that_no_package_needs_more_than_its_gate(world):
    _, document = check_json(world["explicit"], "--cpuinfo-dir", world["fleet"])
    (env,) = document["environments"]
    assert env["needs"]["known"] is False and env["holds"]["gate"]["level"] == 3
    got = {s.level: verdicts(document)[(env["environment"], env["platform"], s.id)]
           for s in (sample(2), sample(3), sample(4))}
    assert got == {2: "unknown", 3: "runs", 4: "runs"}


def test_an_explicit_file_with_its_records_is_judged_like_its_prefix(world):
    dirs = [a for d in world["pkgs_dirs"] for a in ("--pkgs-dir", d)]
    _, document = check_json(world["explicit"], *dirs, "--cpuinfo", sample(2).path)
    (env,) = document["environments"]
    assert env["needs"]["level"] == 3 and env["needs"]["packages"][0]["name"] == DEMO
    assert [v["verdict"] for v in env["verdicts"]] == ["will-not-run"]


# --- output formats ------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["pixi", "conda_lock", "explicit", "low"])
def test_the_json_output_validates_against_the_committed_schema(world, target):
    path = world["prefixes"][target] if target in world["prefixes"] else world[target]
    _, document = check_json(path, "--cpuinfo-dir", world["fleet"])
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_the_schema_rejects_a_verdict_it_does_not_define(pixi_on_fleet):
    _, document = pixi_on_fleet
    broken = json.loads(json.dumps(document))
    broken["environments"][0]["verdicts"][0]["verdict"] = "probably"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA.read_text()))


def test_the_fleet_table_has_a_column_per_machine_and_a_row_per_environment(world):
    (result,) = run_many([["check", str(world["pixi"]), "--cpuinfo-dir", str(world["fleet"])]])
    lines = result["stdout"].splitlines()
    assert result["status"] == 1
    for name in sorted(p.name for p in world["fleet"].iterdir()):
        assert name in lines[0]
    rows = lines[2:lines.index("")]  # the header, its rule, one row per environment, then the notes
    assert [row.split()[1:3] for row in rows] == [["default", "linux-64"], ["default", "p1"], ["default", "p2"],
                                                 ["low", "p1"]]


def test_plain_output_is_one_line_per_environment_and_cpu(world):
    (result,) = run_many([["check", str(world["pixi"]), "--cpuinfo-dir", str(world["fleet"]), "--format", "plain"]])
    rows = [line.split("\t") for line in result["stdout"].splitlines()]
    assert len(rows) == 4 * 4 and all(len(r) == 8 for r in rows)


# --- CPU names: what normalize reads ------------------------------------------------------

SPELLINGS = ["x86-64-v3", "v3", " Haswell", "X86_64_V2", "4", "POWER9", "pwr9", "power10le"]
REFUSED = ["zen99", "-3", "", "v7", "aarch64"]


def test_cpu_names_are_read_as_normalize_reads_them(world):
    runs = run_many([["normalize", name] for name in SPELLINGS] +
                    [["check", str(world["pixi"]), "--cpu", name, "--format", "json"] for name in SPELLINGS])
    normalized, checked = runs[:len(SPELLINGS)], runs[len(SPELLINGS):]
    for name, n, c in zip(SPELLINGS, normalized, checked):
        assert n["status"] == 0 and c["status"] in (0, 1), (name, c["stderr"])
        cpu = json.loads(c["stdout"])["cpus"][0]
        assert f"{cpu['name']} {cpu['level']}" == n["stdout"].strip(), name


def test_cpu_names_normalize_refuses_are_refused_with_its_message(world):
    runs = run_many([["normalize", name] for name in REFUSED] +
                    [["check", str(world["prefixes"]["demo1"]), "--cpu", name] for name in REFUSED])
    for name, n, c in zip(REFUSED, runs[:len(REFUSED)], runs[len(REFUSED):]):
        assert (n["status"], c["status"], c["stdout"]) == (2, 2, ""), name
        assert c["stderr"].split(": ", 1)[1] == n["stderr"].split(": ", 1)[1], name


# --- bad input -----------------------------------------------------------------------------

def _bad_inputs(world) -> dict[str, tuple[list[str], int, str]]:
    """name -> (argv, status, a word the one line must contain)."""
    d = world["work"] / "bad"
    d.mkdir(exist_ok=True)
    pixi_text = Path(world["pixi"]).read_text()
    (d / "truncated.lock").write_text(pixi_text[: len(pixi_text) // 2].rsplit("\n", 3)[0] + "\n  - conda: ht")
    (d / "foreign.lock").write_text("version: 9\nenvironments:\n  default: {}\n")
    (d / "environment.yml").write_text("name: x\ndependencies:\n  - python\n")
    conda_lock_text = Path(world["conda_lock"]).read_text()
    (d / "truncated-conda-lock.yml").write_text(conda_lock_text[: len(conda_lock_text) // 2])
    (d / "future-conda-lock.yml").write_text(conda_lock_text.replace("version: 1\n", "version: 7\n", 1))
    (d / "binary").write_bytes(b"\x7fELF\0\0\0")
    (d / "empty").write_text("")
    (d / "explicit-garbage.txt").write_text("@EXPLICIT\nnot a url at all\n")
    (d / "not-an-env").mkdir(exist_ok=True)
    for name, edit in (("malformed-depends", lambda r: {**r, "depends": [f"{GATE} >=three"]}),
                       ("depends-not-a-list", lambda r: {**r, "depends": f"{GATE} >=3"}),
                       ("no-level", lambda r: {**r, "depends": [f"{GATE} >=7,<3"]}),
                       ("truncated-record", None)):
        prefix = d / name
        if not prefix.exists():
            shutil.copytree(world["prefixes"]["demo3"], prefix, symlinks=True)
        record = next((prefix / "conda-meta").glob(f"{DEMO}-*.json"))
        text = record.read_text()
        record.write_text(text[: len(text) // 2] if edit is None else json.dumps(edit(json.loads(text))))
    unreadable = d / "unreadable-record"
    if not unreadable.exists():
        shutil.copytree(world["prefixes"]["demo1"], unreadable, symlinks=True)
        (unreadable / "conda-meta" / "zz-a-directory.json").mkdir()  # read_text fails as it would without permission
    fifo_record = d / "fifo-record"
    if not fifo_record.exists():
        shutil.copytree(world["prefixes"]["demo1"], fifo_record, symlinks=True)
        os.mkfifo(fifo_record / "conda-meta" / "zz-a-fifo.json")
    if not (d / "fifo.lock").exists():
        os.mkfifo(d / "fifo.lock")
        (d / "zero.lock").symlink_to("/dev/zero")
    good = str(world["prefixes"]["demo1"])
    cases = {
        "a FIFO as the lock file": ([str(d / "fifo.lock")], 1, "not a regular file"),
        "/dev/zero as the lock file": ([str(d / "zero.lock")], 1, "not a regular file"),
        "a record that is a FIFO": ([str(fifo_record)], 1, "cannot read"),
        "truncated pixi.lock": ([str(d / "truncated.lock")], 2, "pixi.lock"),
        "foreign lock version": ([str(d / "foreign.lock")], 2, "pixi.lock"),
        "environment.yml": ([str(d / "environment.yml")], 2, "none of the files"),
        "truncated conda-lock.yml": ([str(d / "truncated-conda-lock.yml")], 2, "conda-lock.yml"),
        "unknown conda-lock version": ([str(d / "future-conda-lock.yml")], 2, "version"),
        "binary file": ([str(d / "binary")], 2, "binary"),
        "empty file": ([str(d / "empty")], 2, "empty"),
        "explicit file with a non-URL": ([str(d / "explicit-garbage.txt")], 2, "line 2"),
        "missing path": ([str(d / "absent")], 2, "no such file"),
        "prefix without conda-meta": ([str(d / "not-an-env")], 2, "conda-meta"),
        "malformed depends": ([str(d / "malformed-depends")], 2, "malformed depends"),
        "depends not a list": ([str(d / "depends-not-a-list")], 2, "malformed depends"),
        "a constraint no level meets": ([str(d / "no-level")], 2, "admits no"),
        "truncated record": ([str(d / "truncated-record")], 2, "not JSON"),
        "a record that cannot be read": ([str(unreadable)], 1, "cannot read"),
        "unknown CPU": ([good, "--cpu", "zen99"], 2, "did you mean"),
        "cpuinfo that is none": ([good, "--cpuinfo", str(d / "environment.yml")], 2, "not a /proc/cpuinfo"),
        "empty fleet": ([good, "--cpuinfo-dir", str(d / "not-an-env")], 2, "no /proc/cpuinfo"),
        "pkgs-dir missing": ([str(world["explicit"]), "--pkgs-dir", str(d / "absent")], 2, "--pkgs-dir"),
        "record missing from pkgs-dir": ([str(world["explicit"]), "--pkgs-dir", str(d / "not-an-env")], 2,
                                         "no record"),
        "no environment for the CPU": ([good, "--cpu", "power9le"], 2, "nothing to check"),
        "bad format": ([good, "--format", "yaml"], 2, "invalid choice"),
    }
    return cases


def test_every_bad_input_gets_one_line_its_status_and_no_output(world):
    cases = _bad_inputs(world)
    results = run_many([["check", *argv] for argv, _, _ in cases.values()])
    for (name, (_, status, word)), result in zip(cases.items(), results):
        assert result["crashed"] is None, f"{name}: {result['crashed']}"
        assert (result["status"], result["stdout"]) == (status, ""), f"{name}: {result}"
        assert result["stderr"].count("\n") == 1 and result["stderr"].startswith("microarch-level check: "), \
            f"{name}: {result['stderr']!r}"
        assert word in result["stderr"], f"{name}: {result['stderr']!r}"


def test_a_full_stdout_is_one_line_and_status_1(world):
    import subprocess
    import sys

    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "microarch_level", "check", str(world["pixi"]), "--cpuinfo-dir",
                               str(world["fleet"])], stdout=full, stderr=subprocess.PIPE, text=True, timeout=600)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "No space left" in proc.stderr


def test_without_a_cpu_named_it_judges_this_machine(world):
    """This machine's /proc/cpuinfo is a level-2 sample here (a private mount), whatever the real CPU."""
    import shlex
    import subprocess
    import sys

    from mounts import private_mounts

    cpu = sample(2)
    argv = [*private_mounts(f"mount --bind {shlex.quote(str(cpu.path))} /proc/cpuinfo"),
            sys.executable, "-m", "microarch_level", "check", str(world["prefixes"]["demo3"]), "--format", "json"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    document = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr
    assert [(c["id"], c["level"]) for c in document["cpus"]] == [("this machine", 2)]
    assert [v["verdict"] for v in document["environments"][0]["verdicts"]] == ["will-not-run"]


def _lock_with(path: Path, platforms: list[str]) -> Path:
    """A pixi.lock written by py-rattler with one record per platform (the record's own subdir)."""
    from rattler import BuildString, PackageRecord, RepoDataRecord

    records = {}
    for platform in platforms:
        package = PackageRecord("tool", "1.0", BuildString("h0_0"), 0, platform, depends=[f"{GATE} >=3"],
                                sha256=bytes(32), md5=bytes(16))
        url = f"https://conda.anaconda.org/conda-forge/{platform}/tool-1.0-h0_0.conda"
        records[platform] = [RepoDataRecord(package, "tool-1.0-h0_0.conda", url,
                                            "https://conda.anaconda.org/conda-forge/")]
    return write_pixi_lock(path, {"default": records}, {p: (p, []) for p in platforms})


def test_platforms_whose_packages_carry_no_gate_are_listed_as_not_checked(tmp_path):
    lock = _lock_with(tmp_path / "pixi.lock", ["linux-64", "osx-arm64"])
    _, document = check_json(lock, "--cpu", "x86_64_v3")
    assert [(e["environment"], e["platform"], e["needs"]["level"]) for e in document["environments"]] == \
        [("default", "linux-64", 3)]
    assert [(s["environment"], s["platform"]) for s in document["skipped"]] == [("default", "osx-arm64")]


def test_a_lock_with_no_gated_platform_is_refused(tmp_path):
    lock = _lock_with(tmp_path / "pixi.lock", ["osx-arm64", "win-64"])
    (result,) = run_many([["check", str(lock), "--cpu", "x86_64_v3"]])
    assert (result["status"], result["stdout"]) == (2, "")
    assert "no linux-64 or linux-ppc64le environment" in result["stderr"]


# --- an Intel Mac's sysctl capture, wherever a /proc/cpuinfo is accepted --------------------

def test_prefixes_are_judged_against_intel_macs_sysctl_captures_like_cpuinfo_samples(world):
    paths = [world["prefixes"][f"demo{level}"] for level in LEVELS]
    _, document = check_json(*paths, "--cpuinfo-dir", SYSCTL_DIR)
    assert {c["id"]: c["level"] for c in document["cpus"]} == SYSCTL_LEVELS  # the arm64 capture is no x86 CPU
    for level, path in zip(LEVELS, paths):
        verdict = {v["cpu"]: v["verdict"] for v in by_target(document)[str(path)]["verdicts"]}
        assert verdict == {c: ("runs" if level <= lv else "will-not-run") for c, lv in SYSCTL_LEVELS.items()}


def test_one_sysctl_capture_is_read_by_cpuinfo(world):
    _, document = check_json(world["prefixes"]["demo3"], "--cpuinfo", SYSCTL_DIR / "darwin-mojave-ivybridge")
    assert [(c["id"], c["level"]) for c in document["cpus"]] == [("darwin-mojave-ivybridge", 2)]


def test_an_apple_silicon_capture_is_refused_in_one_line(world):
    result = run_cli("check", str(world["prefixes"]["demo3"]), "--cpuinfo", str(SYSCTL_DIR / "darwin-bigsur-m1"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "sysctl capture" in result.stderr
