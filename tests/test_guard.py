"""The gate's runtime guard: warns exactly when this CPU is below the environment's level."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cpu_samples import first_block, many_processors
from guard_support import (  # noqa: F401
    GUARDED, STRICT, WARNING, activate, cpuinfo_at, each_override, emulated_loader, expect_alive,
    expect_warning_exactly_below, guard, run_with_glibc_only, source, split_outputs
)
from shells import POSIX, SHELLS, base_env, run, shell

from microarch_level.catalog.families import GATE
from microarch_level.catalog.levels import load_catalog
from microarch_level.catalog.spelling import UnknownName, normalize
from microarch_level.diagnostics.cpuinfo import mounted

CATALOG = load_catalog()


def test_the_level_1_gate_ships_no_guard(installed):
    assert not list((installed(1) / "etc" / "conda" / "activate.d").glob(f"{GATE}_guard.*"))
    assert list((installed(2) / "etc" / "conda" / "activate.d").glob(f"{GATE}_guard.*"))


@pytest.mark.parametrize("level", GUARDED)
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_guard_warns_exactly_when_the_cpu_sample_is_below_the_level(installed, sample, level, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(level)), cpuinfo=sample.path)
    expect_warning_exactly_below(result, WARNING, GATE, level, sample.level)


@pytest.mark.parametrize("cpu_level", [2, 4], ids=["below", "reaches"])
@pytest.mark.parametrize("shell_name", list(STRICT))
def test_guard_survives_the_strictest_shell_options(installed, cpuinfo_at, shell_name, cpu_level):
    sh = shell(shell_name)
    script = f"{STRICT[shell_name]}; {source(sh, guard(installed(3), sh.suffix))}; true; echo next=$?"
    result = run(sh, script, cpuinfo=cpuinfo_at(cpu_level))
    assert "next=0" in result.stdout, result.stderr  # errexit did not fire, the shell lives
    assert (WARNING in result.stderr) == (cpu_level < 3)
    assert "parameter not set" not in result.stderr and "unbound" not in result.stderr


@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_guard_leaves_no_variables_behind(installed, cpuinfo_at, shell_name):
    sh = shell(shell_name)
    listing = "set -n" if shell_name == "fish" else "set"
    for level in (2, 4):  # the quick path and the warning path
        result = run(sh, f"{source(sh, guard(installed(3), sh.suffix))}; {listing}", cpuinfo=cpuinfo_at(level))
        assert "_mal_" not in result.stdout


# --- CONDA_OVERRIDE_ARCHSPEC: it steers the solver, the real CPU decides ----------------
# The full table (every shell, every spelling, CPU below / at / above) is in
# test_guard_override.py; these are the single behaviours.

@pytest.mark.parametrize("text", ["zen7", "x86_64_v5", "x86_64_v0", "hasswell", "epyc", "v3"])
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_an_unknown_override_is_named_with_a_suggestion_in_the_one_warning_the_cpu_warrants(
        installed, cpuinfo_at, shell_name, text):
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(4)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=text), cpuinfo=cpuinfo_at(2))
    expect_alive(result)
    with pytest.raises(UnknownName) as refused:
        normalize(text, CATALOG)
    hint = refused.value.suggestion  # what `microarch-level normalize` suggests
    assert f"CONDA_OVERRIDE_ARCHSPEC='{text}' is not an x86-64 CPU name known to archspec" in result.stderr
    if hint and hint != "x86_64_v3":  # the shells share Python's prefix rule, not its difflib fallback
        assert f"did you mean '{hint}'?" in result.stderr
    assert "this CPU is level 2 (from /proc/cpuinfo)" in result.stderr
    assert result.stderr.count("warning:") == 1


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_an_unknown_override_on_a_cpu_that_reaches_the_level_is_silent(installed, cpuinfo_at, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(3)), env=base_env(CONDA_OVERRIDE_ARCHSPEC="zen7"), cpuinfo=cpuinfo_at(3))
    expect_alive(result)
    assert result.stderr == ""


INJECTIONS = ["$(touch {marker})", "`touch {marker}`", "x; touch {marker}", "x\ntouch {marker}",
              "'; touch {marker}; '", '"; touch {marker}; "', "* ? [a-z]", "${{HOME:?}}$(touch {marker})"]


@pytest.mark.parametrize("template", INJECTIONS)
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_override_values_are_data_never_code(installed, cpuinfo_at, tmp_path, shell_name, template):
    sh = shell(shell_name)
    marker = tmp_path / "pwned"
    value = template.format(marker=marker)
    result = run(sh, activate(sh, installed(3)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=value), cpuinfo=cpuinfo_at(2))
    expect_alive(result)
    assert not marker.exists()
    assert "is not an x86-64 CPU name" in result.stderr
    assert "this CPU is level 2 (from /proc/cpuinfo)" in result.stderr
    # a value holding anything a CPU name cannot hold is not echoed at all
    assert str(marker) not in result.stderr


# --- what is trusted and what is not --------------------------------------------

@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_the_guard_can_be_turned_off(installed, cpuinfo_at, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(4)), env=base_env(MICROARCH_LEVEL_GUARD="0"), cpuinfo=cpuinfo_at(2))
    expect_alive(result)
    assert result.stderr == ""


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_levels_cached_in_the_environment_are_not_trusted(installed, cpuinfo_at, shell_name):
    """SLURM's srun copies the login node's environment: only the CPU itself counts."""
    sh = shell(shell_name)
    planted = base_env(_mal_ok="1", _mal_cpu="4", _mal_flags=" avx512f ", _mal_need="1")
    result = run(sh, activate(sh, installed(4)), env=planted, cpuinfo=cpuinfo_at(3))
    assert "this CPU is level 3 (from /proc/cpuinfo)" in result.stderr


# --- process and file discipline -----------------------------------------------

def strace(sh, script: str, cpuinfo: Path, trace: str) -> list[str]:
    if shutil.which("strace") is None:
        pytest.skip("strace not found on PATH (install it, as .ci/run does)")
    log = subprocess.run(mounted(["strace", "-f", "-qq", "-e", f"trace={trace}", *sh.argv, "-c", script], cpuinfo),
                         env=base_env(), capture_output=True, text=True, timeout=60)
    return [line for line in log.stderr.splitlines() if "(" in line]


@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_the_common_path_starts_no_process(installed, cpuinfo_at, shell_name):
    sh = shell(shell_name)
    calls = strace(sh, source(sh, guard(installed(3), sh.suffix)), cpuinfo_at(4), "execve,fork,vfork,clone,clone3")
    assert [c for c in calls if "execve" in c][1:] == []  # only the shell itself
    # fish runs helper threads; a thread is not a process
    assert not [c for c in calls if ("fork" in c or "clone" in c) and "CLONE_THREAD" not in c]


@pytest.mark.parametrize("cpu_level", [2, 4])
@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_the_guard_writes_no_files(installed, cpuinfo_at, shell_name, cpu_level):
    sh = shell(shell_name)
    calls = strace(sh, source(sh, guard(installed(3), sh.suffix)), cpuinfo_at(cpu_level), "openat,open,creat")
    writes = [c for c in calls if any(flag in c for flag in ("O_WRONLY", "O_RDWR", "O_CREAT", "creat("))]
    assert [w for w in writes if "/dev/null" not in w and "/dev/tty" not in w] == []


# --- glibc's report when /proc/cpuinfo says nothing ---------------------------------

@pytest.mark.parametrize("model, cpu_level", [("Nehalem", 2), ("Haswell", 3)])
@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_without_cpuinfo_the_guard_asks_glibc_which_sees_an_emulated_cpu(installed, emulated_loader, shell_name,
                                                                        model, cpu_level):
    sh = shell(shell_name)
    fake, real = emulated_loader(model)
    for level in GUARDED:
        result = run_with_glibc_only(sh, activate(sh, installed(level)), fake, real)
        expect_alive(result)
        if cpu_level < level:
            assert f"this CPU is level {cpu_level} (from glibc's ld.so --help)" in result.stderr
        else:
            assert WARNING not in result.stderr, result.stderr


@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_when_nothing_is_known_the_guard_stays_silent(installed, emulated_loader, shell_name):
    sh = shell(shell_name)
    fake, real = emulated_loader("")
    result = run_with_glibc_only(sh, activate(sh, installed(4)), fake, real)
    expect_alive(result)
    assert result.stderr == ""


# --- real package managers ------------------------------------------------------

@pytest.mark.parametrize("tool, hook, override", [
    ("conda", '"{exe}" shell.bash hook', "x86_64_v4"),
    ("micromamba", '"{exe}" shell hook -s bash', "x86-64-v4"),
])
def test_real_activation_runs_the_guard_which_checks_the_cpu_not_the_override(installed, cpuinfo_at, tmp_path,
                                                                              tool, hook, override):
    from microarch_level.tools import runners

    exe = runners.find(tool)
    if exe is None:
        pytest.skip(f"{tool} not found on PATH (set MICROARCH_LEVEL_{tool.upper()})")
    script = f'eval "$({hook.format(exe=exe)})"; {tool} activate "{installed(4)}"; false; echo next=$?'
    env = base_env(CONDA_OVERRIDE_ARCHSPEC=override, MAMBA_ROOT_PREFIX=str(tmp_path))
    result = subprocess.run(mounted(["bash", "--norc", "-c", script], cpuinfo_at(2)), env=env,
                            capture_output=True, text=True, timeout=300)
    expect_alive(result)
    assert "this CPU is level 2 (from /proc/cpuinfo)" in result.stderr
    assert "CONDA_OVERRIDE_ARCHSPEC=x86_64_v4 claims level 4" in result.stderr


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_the_guard_reads_only_the_first_of_256_processors(installed, cpuinfo_at, tmp_path, shell_name):
    sh = shell(shell_name)
    big = tmp_path / "cpuinfo-256"
    big.write_text(many_processors(first_block(cpuinfo_at(3).read_text()), 256))
    for level in GUARDED:
        result = run(sh, activate(sh, installed(level)), cpuinfo=big)
        expect_alive(result)
        assert (f"this CPU is level 3 (from /proc/cpuinfo)" in result.stderr) == (level > 3)
