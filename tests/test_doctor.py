"""`doctor`: never crashes, and reports the right levels, whatever the machine looks like.

Each real CPU sample is mounted over /proc/cpuinfo in a private mount
namespace (cpuinfo.namespace), /proc/cpuinfo is emptied or /proc hidden, PATH is
stripped of package managers, and a real environment is installed with
py-rattler from the project's channel for --prefix.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DATA, ROOT, load_samples
from sysctl_standin import SYSCTL_LEVELS, SYSCTL_NAMES, sysctl_bin  # noqa: F401

from microarch_level.catalog.families import FEATURES, FLAGS, GATE, GENERATION, PPC64LE, X86_64
from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.catalog.power import load_power_catalog
from microarch_level.diagnostics import doctor as doctor_module
from microarch_level.diagnostics import doctor_view, probe
from microarch_level.diagnostics.cpuinfo import mount_problem, mounted, namespace
from microarch_level.tools import overrides
from microarch_level.tools.facts import STYLES
from microarch_level.tools.solve import archspec_package, base_virtual_packages, install, solve

CATALOG = load_catalog()
CPUINFO = ROOT / "tests" / "data" / "cpuinfo"
DEPENDENT = "needs-level-3"
DEPENDENT_LEVEL = LEVELS[2]
DOCTOR = [sys.executable, "-m", "microarch_level", "doctor"]
# The same route (root, sudo -n or a user namespace) as `make test`'s level-2 run, so both runs agree.
needs_mount = pytest.mark.skipif(mount_problem() is not None,
                                 reason=f"no private mount namespace here: {mount_problem()}")
HIDE_PROC = 'mount -t tmpfs none /proc && exec "$@"'


def run(argv: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def doctor(*args: str, cpuinfo: Path | None = None, hide_proc: bool = False, env: dict | None = None):
    """Run `doctor --json ARGS` where `cpuinfo` is /proc/cpuinfo (or /proc is hidden); (process, report)."""
    argv = [*DOCTOR, "--json", *args]
    if cpuinfo is not None:
        argv = mounted(argv, cpuinfo)
    elif hide_proc:
        argv = [*namespace(), "sh", "-c", HIDE_PROC, "sh", *argv]
    result = run(argv, env)
    assert result.returncode in (0, 1), result.stderr  # 1: the --prefix environment will not run here
    return json.loads(result.stdout)


def style(report: dict, key: str) -> dict:
    return next(r for r in report["styles"] if r["style"] == key)


def gate_level(channel: Path, build: str, version: str) -> int:
    records = solve([channel], [GATE], base_virtual_packages() + [archspec_package(build, version)])
    return int(str(next(r.version for r in records if r.name.normalized == GATE)))


# --- real CPU samples --------------------------------------------------------------------

@needs_mount
def test_proc_cpuinfo_is_read_as_archspec_reads_it(sample):
    cpu = doctor(cpuinfo=sample.path)["cpu"]
    assert (cpu["proc_cpuinfo"]["archspec_host"], cpu["proc_cpuinfo"]["level"]) == (sample.archspec_host,
                                                                                    sample.level)
    assert (cpu["level"], cpu["level_source"]) == (sample.level, "/proc/cpuinfo")


@needs_mount
def test_each_tool_family_installs_what_a_real_solve_installs(sample, channel):
    for row in doctor(cpuinfo=sample.path)["styles"]:
        if row["reported"] is None or "-" in row["reported"]:  # rattler cannot hold mamba's hyphen
            continue
        version, build = row["reported"].split("=", 1)
        assert row["installs"] == gate_level(channel, build, version), row


@needs_mount
def test_file_reading_tools_see_the_sample_and_cpuid_tools_see_the_real_cpu(sample):
    report = doctor(cpuinfo=sample.path)
    assert style(report, "conda")["reported"] == f"1={sample.archspec_host}"
    assert style(report, "rattler")["installs"] == sample.level
    glibc = report["cpu"]["glibc"]["level"]
    if glibc is not None:
        assert style(report, "mamba")["reported"] == f"1={CATALOG.generic_name(glibc)}"


@needs_mount
def test_the_cpu_blind_styles_install_level_1_on_every_sample(sample):
    report = doctor(cpuinfo=sample.path)
    for key in ("mamba-old", "pixi-lock", "conda-old"):
        assert style(report, key)["installs"] == LEVELS[0]


# --- missing sources ---------------------------------------------------------------------------

@needs_mount
def test_an_empty_proc_cpuinfo_falls_back_to_glibc():
    cpu = doctor(cpuinfo=Path("/dev/null"))["cpu"]
    assert cpu["proc_cpuinfo"]["usable"] is False
    assert "no CPU flags" in cpu["proc_cpuinfo"]["note"]
    assert cpu["level"] == cpu["glibc"]["level"]
    assert cpu["level_source"] == ("glibc" if cpu["glibc"]["level"] is not None else None)


@needs_mount
def test_a_machine_without_proc_still_gets_a_report():
    cpu = doctor(hide_proc=True)["cpu"]
    assert cpu["proc_cpuinfo"]["readable"] is False
    assert "cannot be read" in cpu["proc_cpuinfo"]["note"]


def test_a_path_without_package_managers_finds_none():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROARCH_LEVEL_")}
    report = doctor(env={**env, "PATH": str(Path(sys.executable).parent.parent / "no-such-bin")})
    assert report["tools_error"] is None
    assert [(t["tool"], t["found"]) for t in report["tools"]] == [(t, False) for t in ("conda", "mamba",
                                                                                       "micromamba", "pixi")]


def scripted_tool(directory: Path, name: str, version_output: str, info_json: dict | None) -> Path:
    """An executable standing in for a package manager that is not installable here."""
    info = f"echo '{json.dumps(info_json)}'" if info_json is not None else "exit 3"
    script = directory / name
    script.write_text(f"#!/bin/sh\ncase \"$1\" in\n  --version) printf '{version_output}\\n' ;;\n"
                      f"  info) {info} ;;\n  *) exit 2 ;;\nesac\n")
    script.chmod(0o755)
    return script


def path_with(directory: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROARCH_LEVEL_")}
    return {**env, "PATH": str(directory)}


def test_a_package_manager_on_path_is_run_and_its_report_checked(tmp_path):
    pytest.importorskip("microarch_level.tools.runners")
    hyphen = CATALOG.generic_name(LEVELS[2]).replace("x86_64_", "x86_64-")
    scripted_tool(tmp_path, "mamba", "mamba 1.5.8\\nconda 24.3.0",
                  {"virtual_pkgs": [["__archspec", "1", hyphen], ["__unix", "0", "0"]]})
    report = doctor(env=path_with(tmp_path))
    mamba = next(t for t in report["tools"] if t["tool"] == "mamba")
    assert (mamba["version"], mamba["style"], mamba["reported"]) == ("1.5.8", "mamba-hyphen", f"1={hyphen}")
    assert mamba["installs"] == LEVELS[2]
    assert "#3222" in mamba["advice"] and mamba["advice"] in report["advice"]


def test_a_broken_package_manager_is_a_finding_not_a_crash(tmp_path):
    pytest.importorskip("microarch_level.tools.runners")
    scripted_tool(tmp_path, "conda", "conda 24.11.0", None)
    conda = next(t for t in doctor(env=path_with(tmp_path))["tools"] if t["tool"] == "conda")
    assert conda["found"] is True and "exited 3" in conda["error"]


def test_a_missing_loader_is_a_finding_not_a_crash(tmp_path):
    g = probe.probe_glibc(CATALOG, [str(tmp_path / "ld-linux-x86-64.so.2")])
    assert (g.available, g.level) == (False, None)
    assert "cannot run" in g.note


def test_a_loader_without_hwcaps_gives_no_level():
    g = probe.probe_glibc(CATALOG, [shutil.which("true")])
    assert (g.available, g.level) == (False, None)


QEMU = shutil.which("qemu-x86_64")


@pytest.mark.skipif(QEMU is None or not Path(X86_64.loader).exists(), reason="needs qemu-user and glibc's loader")
@pytest.mark.parametrize("model", ["qemu64", "Nehalem", "Haswell"])
def test_glibcs_level_is_read_from_its_hwcaps_report(model):
    """qemu models named after archspec CPUs have that CPU's level; qemu64 is the x86-64 baseline."""
    expected = CATALOG.names.get(model.lower(), LEVELS[0])
    assert probe.probe_glibc(CATALOG, [QEMU, "-cpu", model, X86_64.loader]).level == expected


# --- CONDA_OVERRIDE_ARCHSPEC -------------------------------------------------------------------

def with_override(value: str) -> dict:
    return doctor(env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": value})


def test_a_hyphenated_override_is_refused_by_rattler_and_taken_verbatim_by_conda():
    level = LEVELS[2]
    value = CATALOG.march[level]  # gcc's x86-64-v3
    report = with_override(value)
    assert (report["cpu"]["override"]["name"], report["cpu"]["override"]["level"]) == (
        CATALOG.generic_name(level), level)
    assert f"did you mean '{CATALOG.generic_name(level)}'" in style(report, "rattler")["error"]
    assert style(report, "conda")["reported"] == f"1={value}"


def test_a_bare_level_override_is_not_a_cpu_name():
    report = with_override(f"v{LEVELS[2]}")
    assert report["cpu"]["override"]["name"] is None
    assert "is a level" in report["cpu"]["override"]["problem"]
    assert style(report, "conda")["installs"] == LEVELS[0]


def test_an_unknown_override_falls_back_to_level_1_where_taken_verbatim():
    report = with_override("novalake")  # under no gate glob's stem (zen7 would get zen*'s levels)
    assert "novalake" not in CATALOG.names
    assert [style(report, k)["installs"] for k in ("conda", "mamba")] == [LEVELS[0], LEVELS[0]]


def test_tools_that_ignore_the_override_keep_their_own_report():
    report = with_override(CATALOG.generic_name(LEVELS[1]))
    plain = doctor()
    for key in ("mamba-hyphen", "mamba-old", "pixi-lock"):
        assert style(report, key)["reported"] == style(plain, key)["reported"]
        assert style(report, key)["override"] == "ignored"


@needs_mount
def test_an_override_above_the_cpu_is_flagged():
    low = next(s for s in _samples() if s.level < LEVELS[-1])
    high = CATALOG.generic_name(LEVELS[-1])
    report = doctor(cpuinfo=low.path, env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": high})
    assert any(f"CONDA_OVERRIDE_ARCHSPEC={high}" in a and "crash" in a for a in report["advice"])


def rattler_accepts(value: str) -> bool:
    code = ("from rattler import VirtualPackage, VirtualPackageOverrides\n"
            "VirtualPackage.detect(VirtualPackageOverrides.from_env())\n")
    return run([sys.executable, "-c", code], env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": value}).returncode == 0


@pytest.mark.parametrize("value", ["x86_64_v3", "x86-64-v3", "X86_64_V3", "Haswell", "haswell", "v3", "zen7", "0"])
def test_the_rattler_reading_matches_py_rattler(value):
    assert (overrides.read("rattler", value, CATALOG).error is None) == rattler_accepts(value)


def test_the_override_readings_agree_with_the_runners_driver_table():
    import tool_runs

    value = CATALOG.generic_name(LEVELS[2])
    cases = [("conda-classic", "24.11.0"), ("conda-libmamba", "22.9.0"), ("mamba", "2.0.5"), ("mamba", "1.5.8"), ("mamba", "1.5.1"),
             ("micromamba", "2.3.0"), ("pixi", "0.41.4"), ("pixi-exec", "0.41.4")]
    for key, version in cases:
        d = tool_runs.DRIVERS[key]
        reading = overrides.read(d.style(version).key, value, CATALOG)
        assert reading.used == (d.override_mode(version) in (tool_runs.VERBATIM, tool_runs.NAMES)), (key, version)


# --- --prefix -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prefix(channel, tmp_path_factory) -> Path:
    """A real environment: the gate at level 3 and a package that needs it, installed by rattler."""
    from rattler_build import PlatformConfig, RenderConfig, Stage0Recipe, ToolConfiguration

    work = tmp_path_factory.mktemp("doctor-prefix")
    recipe = (f"package:\n  name: {DEPENDENT}\n  version: '1.0'\nbuild:\n  noarch: generic\n  script:\n"
              f"    - mkdir -p $PREFIX/share\nrequirements:\n  run:\n    - {GATE} >={DEPENDENT_LEVEL}\n")
    (work / "recipe").mkdir()
    (work / "recipe" / "recipe.yaml").write_text(recipe)
    out = work / "out"
    pc = PlatformConfig(target_platform="linux-64")
    for variant in Stage0Recipe.from_file(work / "recipe" / "recipe.yaml").render(None, RenderConfig(platform=pc)):
        variant.run_build(tool_config=ToolConfiguration(test_strategy="skip"), output_dir=out,
                          channels=[channel.resolve().as_uri(), out.as_uri()], no_build_id=True)
    host = CATALOG.generic_name(DEPENDENT_LEVEL)
    records = solve([channel, out], [DEPENDENT, f"{GATE}=={DEPENDENT_LEVEL}"],
                    base_virtual_packages() + [archspec_package(host)])
    env = work / "env"
    install(records, env)
    return env


def _samples():
    return load_samples(Path(os.environ.get("MICROARCH_LEVEL_CPUINFO", CPUINFO)))


@needs_mount
def test_the_prefixs_gate_is_checked_against_each_cpu(sample, prefix):
    env = doctor("--prefix", str(prefix), cpuinfo=sample.path)["prefix"]
    assert env["gate"]["level"] == DEPENDENT_LEVEL
    assert env["status"] == ("ok" if sample.level >= DEPENDENT_LEVEL else "too-high")


def test_the_packages_that_need_the_gate_are_listed(prefix):
    env = doctor("--prefix", str(prefix))["prefix"]
    assert [(d["name"], d["requirement"]) for d in env["dependents"]] == [(DEPENDENT, f"{GATE} >={DEPENDENT_LEVEL}")]


@needs_mount
def test_a_cpu_below_the_prefix_gets_advice_naming_what_would_crash(prefix):
    low = next(s for s in _samples() if s.level < DEPENDENT_LEVEL)
    advice = doctor("--prefix", str(prefix), cpuinfo=low.path)["advice"]
    assert any(DEPENDENT in a and f"{GATE}<={low.level}" in a for a in advice), advice


def write_records(prefix: Path, records: list) -> Path:
    (prefix / "conda-meta").mkdir(parents=True)
    for i, record in enumerate(records):
        text = record if isinstance(record, str) else json.dumps(record)
        (prefix / "conda-meta" / f"record-{i}.json").write_text(text)
    return prefix


def test_only_dependencies_on_the_gate_itself_count(tmp_path):
    prefix = write_records(tmp_path, [
        {"name": "a", "version": "1", "build": "0", "depends": [f"{GATE}>={LEVELS[1]}"]},
        {"name": "b", "version": "1", "build": "0", "depends": [f"{GATE}-extra >={LEVELS[1]}"]},
        {"name": "c", "version": "1", "build": "0", "depends": [f"conda-forge::{GATE} {LEVELS[2]}.*"]},
    ])
    names = [d["name"] for d in doctor("--prefix", str(prefix))["prefix"]["dependents"]]
    assert names == ["a", "c"]


def test_unreadable_records_are_listed_not_fatal(tmp_path):
    prefix = write_records(tmp_path, ["{not json", {"version": "1"}])
    env = doctor("--prefix", str(prefix))["prefix"]
    assert (env["status"], sorted(env["unreadable"])) == ("no-gate", ["record-0.json", "record-1.json"])


def test_an_environment_without_the_gate_needs_no_level(tmp_path):
    (tmp_path / "conda-meta").mkdir()
    (tmp_path / "conda-meta" / "zlib-1.3-0.json").write_text(json.dumps(
        {"name": "zlib", "version": "1.3", "build": "0", "depends": []}))
    assert doctor("--prefix", str(tmp_path))["prefix"]["status"] == "no-gate"


def test_an_environment_with_the_ppc64le_gate_is_named_as_another_familys(tmp_path):
    prefix = write_records(tmp_path, [
        {"name": "_ppc64le-microarch-level", "version": "10", "build": "5_power10le", "depends": []}])
    env = doctor("--prefix", str(prefix))["prefix"]
    assert (env["status"], env["other_gates"]) == ("other-family", [{"name": "_ppc64le-microarch-level", "level": 10}])


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_a_path_that_is_not_an_environment_is_a_one_line_usage_error(tmp_path, make):
    result = run([*DOCTOR, "--prefix", str(make(tmp_path))])
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


def gate_record(prefix: Path, text: str, mode: int = 0o644) -> Path:
    """A conda-meta record for the level-4 gate holding `text`, next to a package that needs level 4."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    level = LEVELS[-1]
    record = meta / f"{GATE}-{level}-5_{CATALOG.generic_name(level)}.json"
    record.write_text(text)
    record.chmod(mode)
    (meta / "needs-level-4-1.0-0.json").write_text(json.dumps(
        {"name": "needs-level-4", "version": "1.0", "build": "0", "depends": [f"{GATE} >={level}"]}))
    return record


def full_gate_record() -> str:
    level = LEVELS[-1]
    return json.dumps({"name": GATE, "version": str(level), "build": f"5_{CATALOG.generic_name(level)}",
                       "depends": []})


def test_a_truncated_gate_record_is_unreadable_not_absent(tmp_path):
    record = gate_record(tmp_path, full_gate_record()[:40])
    result = run([*DOCTOR, "--json", "--prefix", str(tmp_path)])
    assert result.returncode == 1, result.stderr
    env = json.loads(result.stdout)["prefix"]
    assert env["status"] == "unreadable"
    assert [r["file"] for r in env["gate_unreadable"]] == [f"conda-meta/{record.name}"]
    assert "not valid JSON" in env["gate_unreadable"][0]["problem"]


@pytest.mark.parametrize("fmt", ["plain", "table"])
def test_a_truncated_gate_record_is_named_in_the_text_and_never_called_harmless(tmp_path, fmt):
    record = gate_record(tmp_path, full_gate_record()[:40])
    result = run([*DOCTOR, "--format", fmt, "--prefix", str(tmp_path)])
    assert result.returncode == 1
    assert f"conda-meta/{record.name}" in result.stdout and "cannot be read" in result.stdout
    assert "nothing here needs" not in result.stdout


def test_packages_needing_a_gate_that_is_not_recorded_are_never_called_harmless(tmp_path):
    prefix = write_records(tmp_path, [{"name": "a", "version": "1", "build": "0", "depends": [f"{GATE} >={LEVELS[-1]}"]}])
    result = run([*DOCTOR, "--format", "plain", "--prefix", str(prefix)])
    assert "nothing here needs" not in result.stdout and "incomplete" in result.stdout


def as_nobody() -> list[str] | None:
    """How to run a command as user nobody here, or None (not root, no setpriv, no such user)."""
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]


def test_a_gate_record_another_user_cannot_read_is_unreadable(tmp_path_factory):
    prefix_cmd = as_nobody()
    if prefix_cmd is None:
        pytest.skip("needs root, setpriv and a 'nobody' user to read a mode-0600 record as another user")
    if run([*prefix_cmd, sys.executable, "-c", "import microarch_level"]).returncode != 0:
        pytest.skip(f"user nobody cannot run {sys.executable} from {ROOT}")
    top = tmp_path_factory.mktemp("shared-prefix")
    for d in (top, *top.parents):
        if d == Path(d.anchor):
            break
        d.chmod(d.stat().st_mode | 0o005)  # let nobody walk to the environment
    record = gate_record(top / "env", full_gate_record(), mode=0o600)
    (top / "env").chmod(0o755)
    (top / "env" / "conda-meta").chmod(0o755)
    result = run([*prefix_cmd, *DOCTOR, "--json", "--prefix", str(top / "env")])
    assert result.returncode == 1, result.stderr
    env = json.loads(result.stdout)["prefix"]
    assert (env["status"], env["gate_unreadable"]) == ("unreadable", [{"file": f"conda-meta/{record.name}",
                                                                        "problem": "permission denied"}])
    assert doctor("--prefix", str(top / "env"))["prefix"]["gate"]["level"] == LEVELS[-1]  # its owner reads it


# --- --prefix: the exit code a script relies on (docs/doctor.md) ------------------------------

def sample_at(level: int):
    return next(s for s in _samples() if s.level == level)


def doctor_exit(prefix: Path, level: int, fmt: str) -> tuple[int, str]:
    """doctor's exit code and output for `prefix` where a CPU sample of `level` is /proc/cpuinfo."""
    result = run(mounted([*DOCTOR, "--format", fmt, "--prefix", str(prefix)], sample_at(level).path))
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, result.stdout


@needs_mount
@pytest.mark.parametrize("fmt", ["json", "plain"])
@pytest.mark.parametrize("cpu_level, code", [(DEPENDENT_LEVEL - 1, 1), (DEPENDENT_LEVEL, 0), (DEPENDENT_LEVEL + 1, 0)],
                         ids=["below", "at", "above"])
def test_the_exit_code_says_whether_the_environment_runs_on_this_cpu(prefix, cpu_level, code, fmt):
    returncode, out = doctor_exit(prefix, cpu_level, fmt)
    assert returncode == code
    verdict = json.loads(out)["prefix"]["verdict"] if fmt == "json" else \
        next(line for line in out.splitlines() if line.startswith("prefix verdict:")).split(": ")[1]
    assert verdict == ("runs-here" if code == 0 else "will-not-run")


@pytest.fixture(scope="module")
def flag_prefix(channel, tmp_path_factory) -> Path:
    """A real environment holding only the flag package at level 3, installed by rattler."""
    records = solve([channel], [f"{FLAGS}=={DEPENDENT_LEVEL}"], base_virtual_packages())
    assert [r.name.normalized for r in records] == [FLAGS]
    env = tmp_path_factory.mktemp("flag-prefix") / "env"
    install(records, env)
    return env


@needs_mount
@pytest.mark.parametrize("cpu_level, code", [(DEPENDENT_LEVEL - 1, 1), (DEPENDENT_LEVEL, 0)], ids=["below", "at"])
def test_the_flag_packages_level_is_what_its_compilers_build_for(flag_prefix, cpu_level, code):
    returncode, out = doctor_exit(flag_prefix, cpu_level, "json")
    env = json.loads(out)["prefix"]
    assert returncode == code
    assert (env["flags"]["level"], env["flags"]["compiler_flags"]) == (DEPENDENT_LEVEL,
                                                                         f"-march={CATALOG.march[DEPENDENT_LEVEL]}")


@needs_mount
def test_an_environment_with_only_the_flag_package_is_never_called_level_free(flag_prefix):
    _, out = doctor_exit(flag_prefix, DEPENDENT_LEVEL - 1, "plain")
    assert "nothing here needs" not in out and f"-march={CATALOG.march[DEPENDENT_LEVEL]}" in out


def test_a_gate_record_whose_version_is_no_level_is_invalid(tmp_path):
    gate_record(tmp_path, full_gate_record().replace(f'"version": "{LEVELS[-1]}"', '"version": "7"'))
    result = run([*DOCTOR, "--format", "plain", "--prefix", str(tmp_path)])
    assert result.returncode == 1
    assert "gate level 7" not in result.stdout and "invalid" in result.stdout
    env = json.loads(run([*DOCTOR, "--json", "--prefix", str(tmp_path)]).stdout)["prefix"]
    assert (env["status"], env["gate"], env["verdict"]) == ("invalid", None, "cannot-tell")


def fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def endless(path: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate(1 << 40)  # a sparse terabyte: reading it all would never end


@pytest.mark.parametrize("make", [fifo, dev_zero, endless], ids=["fifo", "dev-zero", "endless"])
def test_reading_the_gate_record_never_blocks(tmp_path, make):
    make(gate_record(tmp_path, full_gate_record()))
    result = subprocess.run([*DOCTOR, "--json", "--prefix", str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    env = json.loads(result.stdout)["prefix"]
    assert (env["status"], env["verdict"]) == ("unreadable", "cannot-tell")


# --- output -------------------------------------------------------------------------------

def test_piped_output_is_one_fact_per_line():
    result = run(DOCTOR)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(line.split(" ", 1)[0].rstrip(":") in ("archspec", "cpu", "style", "tool", "prefix", "advice")
               for line in lines), lines
    assert sum(line.startswith("style ") for line in lines) == len(STYLES)


def test_a_terminal_gets_aligned_tables():
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(DOCTOR, cwd=ROOT, stdout=follower, stderr=subprocess.PIPE, timeout=300)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    assert proc.returncode == 0, proc.stderr
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    header = next(line for line in text.splitlines() if line.strip().startswith("tools "))
    rule = text.splitlines()[text.splitlines().index(header) + 1]
    assert set(rule.strip()) == {"-", " "}
    column = header.index("__archspec")
    for label in (s.label for s in STYLES.values()):
        row = next(line for line in text.splitlines() if line.strip().startswith(label))
        assert row[column - 2:column] == "  " and row[column] != " ", row


TITLE = "x86\x1b]0;owned\x07\x1b[2J\r"  # sets the terminal title, clears the screen, rewinds the line


@pytest.mark.parametrize("fmt", ["plain", "table"])
def test_control_characters_from_the_environment_reach_the_terminal_escaped(fmt):
    result = run([*DOCTOR, "--format", fmt], env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": TITLE})
    assert result.returncode == 0, result.stderr
    assert not any(c in result.stdout for c in "\x1b\x07\r"), repr(result.stdout)
    assert "x86\\x1b]0;owned\\x07" in result.stdout


def test_json_output_escapes_control_characters_and_keeps_the_value():
    result = run([*DOCTOR, "--json"], env={**os.environ, "CONDA_OVERRIDE_ARCHSPEC": TITLE})
    assert not any(c in result.stdout for c in "\x1b\x07\r")
    assert json.loads(result.stdout)["cpu"]["override"]["value"] == TITLE


# --- a POWER machine (platform.machine() = ppc64le), its real samples mounted -------------

POWER_SAMPLES = load_samples(DATA / "cpuinfo-ppc64le")
POWER = load_power_catalog()
POWER_GATE = PPC64LE.gate
# doctor as it runs on a ppc64le machine: only platform.machine() differs from this host.
ON_PPC64LE = ("import platform, sys; platform.machine = lambda: 'ppc64le'; "
              "from microarch_level.cli import main; sys.exit(main(sys.argv[1:]))")


def power_doctor(cpuinfo: Path, *args: str) -> dict:
    result = run(mounted([sys.executable, "-c", ON_PPC64LE, "doctor", "--json", *args], cpuinfo))
    report = json.loads(result.stdout)
    assert result.returncode == (1 if report.get("prefix", {}).get("verdict", "runs-here") != "runs-here" else 0)
    return report


def power_sample(level: int):
    found = next((s for s in POWER_SAMPLES if s.level == level), None)
    if found is None:
        pytest.skip(f"no POWER{level} sample")
    return found


@pytest.mark.parametrize(("machine", "family"), [("ppc64le", "ppc64le"), ("x86_64", "x86_64")])
def test_the_family_judged_is_the_machines(machine, family):
    assert doctor_module.machine_family(machine).name == family


@needs_mount
@pytest.mark.parametrize("power", POWER_SAMPLES, ids=lambda s: s.id)
def test_on_power_the_cpu_line_gives_archspecs_name_and_the_generation(power):
    report = power_doctor(power.path)
    proc = report["cpu"]["proc_cpuinfo"]
    assert report["family"] == "ppc64le"
    assert (proc["archspec_host"], proc["generation"], proc["level"]) == (power.archspec_host, power.level,
                                                                          power.level)
    assert (report["cpu"]["level"], report["cpu"]["level_source"]) == (power.level, "/proc/cpuinfo")


@needs_mount
@pytest.mark.parametrize("power", POWER_SAMPLES, ids=lambda s: s.id)
def test_on_power_conda_gets_the_generation_and_mamba_the_baseline(power):
    report = power_doctor(power.path)
    assert (style(report, "conda")["reported"], style(report, "conda")["installs"]) == \
        (f"1={power.archspec_host}", power.level)
    for key in ("mamba", "mamba-hyphen", "mamba-old"):
        assert (style(report, key)["reported"], style(report, key)["installs"]) == ("1=ppc64le", POWER.levels[0])


@needs_mount
@pytest.mark.parametrize("env_level", POWER.levels)
def test_doctor_prefix_on_power_judges_a_ppc64le_environment_against_the_cpus_generation(tmp_path, env_level):
    power9 = power_sample(9)
    prefix = write_records(tmp_path / "env", [
        {"name": POWER_GATE, "version": str(env_level), "build": f"0_power{env_level}le", "depends": []},
        {"name": "fast", "version": "1", "build": "0", "depends": [f"{POWER_GATE} >={env_level}"]}])
    report = power_doctor(power9.path, "--prefix", str(prefix))
    env = report["prefix"]
    assert (env["gate"]["level"], env["cpu_level"]) == (env_level, 9)
    assert env["status"] == ("ok" if env_level <= 9 else "too-high")
    pinned = [a for a in report["advice"] if f"'{POWER_GATE}<=9'" in a and "fast" in a]
    assert bool(pinned) == (env_level > 9), report["advice"]


@needs_mount
def test_doctor_prefix_on_power_names_an_x86_64_environment_as_another_familys(tmp_path):
    prefix = write_records(tmp_path / "env", [
        {"name": GATE, "version": "3", "build": "3_x86_64_v3", "depends": []}])
    env = power_doctor(power_sample(9).path, "--prefix", str(prefix))["prefix"]
    assert (env["status"], env["other_gates"]) == ("other-family", [{"name": GATE, "level": 3}])


# --- an Intel Mac (platform.system() = Darwin): /proc hidden, a sysctl stand-in on PATH ----

# doctor as it runs on macOS: only platform.system() differs from this host, so archspec
# and doctor read the CPU from `sysctl` (the stand-in answering from a real capture).
ON_DARWIN = ("import platform, sys; platform.system = lambda: 'Darwin'; "
             "from microarch_level.cli import main; sys.exit(main(sys.argv[1:]))")


def darwin_doctor(standin: Path, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    argv = [*namespace(), "sh", "-c", HIDE_PROC, "sh", sys.executable, "-c", ON_DARWIN, "doctor", *args]
    result = run(argv, env={**os.environ, "PATH": f"{standin}:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result, result.stdout


@needs_mount
@pytest.mark.parametrize("capture", sorted(SYSCTL_LEVELS))
def test_on_an_intel_mac_doctor_shows_the_sysctl_source_and_its_level(sysctl_bin, capture):
    report = json.loads(darwin_doctor(sysctl_bin(DATA / "sysctl-darwin" / capture), "--json")[1])
    cpu = report["cpu"]
    assert cpu["sysctl"]["available"] is True
    assert (cpu["sysctl"]["level"], cpu["level"], cpu["level_source"]) == (SYSCTL_LEVELS[capture],) * 2 + ("sysctl",)
    assert cpu["proc_cpuinfo"]["archspec_host"] == SYSCTL_NAMES[capture]  # archspec's own Darwin reading
    assert f"cpu sysctl: {cpu['sysctl']['flags']} feature words, level {SYSCTL_LEVELS[capture]}" in \
        darwin_doctor(sysctl_bin(DATA / "sysctl-darwin" / capture), "--format", "plain")[1]


@needs_mount
def test_on_an_apple_silicon_shell_doctor_says_sysctl_tells_no_level(sysctl_bin):
    report = json.loads(darwin_doctor(sysctl_bin(DATA / "sysctl-darwin" / "darwin-bigsur-m1"), "--json")[1])
    sysctl = report["cpu"]["sysctl"]
    assert sysctl["level"] is None and "Apple Silicon" in sysctl["note"]
    assert report["cpu"]["level_source"] != "sysctl"


def test_on_linux_doctor_reads_no_sysctl():
    report = doctor()
    assert report["cpu"]["sysctl"] is None


@dataclass(frozen=True)
class MadeUpReading:
    """What a made-up CPU source finds: a level."""

    level: int

    def section(self) -> dict:
        return {"level": self.level}


def test_a_new_cpu_source_is_its_entry_in_sources_and_its_wording_in_views(monkeypatch):
    """A source doctor never heard of, trusted before the others: doctor reads it, takes its level and
    shows it in its report, its plain lines and its table, from those two entries alone."""
    made_up = probe.CpuSource("made_up", "made-up", "made_up", "a made-up source", (FEATURES, GENERATION), None,
                              lambda catalog: MadeUpReading(catalog.levels[1]), lambda found: found.level)
    monkeypatch.setattr(probe, "SOURCES", (made_up, *probe.SOURCES))
    monkeypatch.setitem(doctor_view.VIEWS, "made_up", lambda section: ("what it read", str(section["level"])))
    report = doctor_module.gather(CATALOG)
    assert report["cpu"]["made_up"] == {"level": CATALOG.levels[1]}
    assert (report["cpu"]["level"], report["cpu"]["level_source"]) == (CATALOG.levels[1], "made-up")
    assert f"cpu made-up: what it read, level {CATALOG.levels[1]}" in doctor_view.plain(report).splitlines()
    assert any(line.split() == ["a", "made-up", "source", "what", "it", "read", str(CATALOG.levels[1])]
               for line in doctor_view.table(report).splitlines())
