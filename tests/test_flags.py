"""The flag package's activation: flags for its level, and an exact restore on deactivation."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from microarch_level.activation import FLAG_VARS, STACK_VAR
from microarch_level.levels import LEVELS, load_catalog
from shells import SHELLS, base_env, run, shell

CATALOG = load_catalog()
NAMES = [v.name for v in FLAG_VARS]
APPENDED = [v.name for v in FLAG_VARS if v.append]


def script(prefix: Path, kind: str, suffix: str) -> Path:
    return prefix / "etc" / "conda" / f"{kind}.d" / f"~x86_64-microarch-level.{suffix}"


def expected_flag(var: str, level: int) -> str:
    """The specification, written out independently of the generator."""
    march = CATALOG.march[level]
    return {"RUSTFLAGS": f"-C target-cpu={march}", "GOAMD64": f"v{level}"}.get(var, f"-march={march}")


def dump_env(sh) -> str:
    """Print the exported environment NUL-separated, whatever the shell."""
    return "env -0; printf '\\n@@\\n'" if sh.name != "tcsh" else "env -0; printf '\\n@@\\n'"


def environments(result) -> list[dict[str, str]]:
    """Parse the `env -0` dumps of a run into dicts (shell bookkeeping variables dropped)."""
    dumps = result.stdout.split("\n@@\n")[:-1]
    parsed = []
    for dump in dumps:
        entries = [e for e in dump.split("\0") if e]
        env = dict(e.split("=", 1) for e in entries)
        for noise in ("PWD", "OLDPWD", "SHLVL", "_", "fish_greeting"):
            env.pop(noise, None)
        parsed.append(env)
    return parsed


def run_steps(sh, steps: list[str], env: dict[str, str]) -> list[dict[str, str]]:
    """Run `steps` in one shell process, dumping the environment before and after each."""
    body = "; ".join([dump_env(sh)] + [f"{step}; {dump_env(sh)}" for step in steps])
    result = run(sh, body, env=env)
    envs = environments(result)
    assert len(envs) == len(steps) + 1, (result.stdout[-500:], result.stderr)
    return envs


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_activation_appends_the_levels_flags(installed, shell_name, level):
    sh = shell(shell_name)
    prefix = installed(level)
    start = base_env(CFLAGS="-O2 -pipe", FFLAGS="", RUSTFLAGS="-C opt-level=3")
    before, after = run_steps(sh, [sh.source(script(prefix, "activate", sh.suffix))], start)
    for var in NAMES:
        flag = expected_flag(var, level)
        old = before.get(var)
        appended = var in APPENDED and old
        assert after[var] == (f"{old} {flag}" if appended else flag), var
    assert after[STACK_VAR] == str(level)


VALUES = {
    "unset": None,
    "empty": "",
    "plain": "-O2 -pipe",
    "awkward": "-I'/a b' -DX=\"y z\" $HOME `x` * ? [x] \\ end",
}


@pytest.mark.parametrize("start", list(VALUES))
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_deactivation_restores_every_variable_byte_for_byte(installed, shell_name, start):
    sh = shell(shell_name)
    prefix = installed(3)
    env = base_env()
    if VALUES[start] is not None:
        env.update({var: VALUES[start] for var in NAMES})
    before, active, after = run_steps(sh, [sh.source(script(prefix, "activate", sh.suffix)),
                                          sh.source(script(prefix, "deactivate", sh.suffix))], env)
    assert active != before
    assert after == before


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_activating_twice_neither_duplicates_flags_nor_loses_the_originals(installed, shell_name):
    sh = shell(shell_name)
    prefix = installed(3)
    act, deact = (sh.source(script(prefix, kind, sh.suffix)) for kind in ("activate", "deactivate"))
    before, once, twice, undone_once, undone = run_steps(sh, [act, act, deact, deact], base_env(CFLAGS="-O2"))
    assert twice["CFLAGS"] == once["CFLAGS"] == f"-O2 {expected_flag('CFLAGS', 3)}"
    assert twice[STACK_VAR] == "3 3"
    assert {k: v for k, v in undone_once.items() if k != STACK_VAR} == {k: v for k, v in once.items() if k != STACK_VAR}
    assert undone == before


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_stacked_environments_swap_levels_and_unwind_in_order(installed, shell_name):
    sh = shell(shell_name)
    outer, inner = installed(3), installed(4)
    steps = [sh.source(script(outer, "activate", sh.suffix)), sh.source(script(inner, "activate", sh.suffix)),
             sh.source(script(inner, "deactivate", sh.suffix)), sh.source(script(outer, "deactivate", sh.suffix))]
    before, l3, l4, back3, back = run_steps(sh, steps, base_env(CXXFLAGS="-O3"))
    assert l4["CXXFLAGS"] == f"-O3 {expected_flag('CXXFLAGS', 4)}"  # replaced, not -v3 -v4
    assert l4["GOAMD64"] == "v4" and l4[STACK_VAR] == "3 4"
    assert back3 == l3
    assert back == before


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_deactivating_what_was_never_activated_changes_nothing(installed, shell_name):
    sh = shell(shell_name)
    before, after = run_steps(sh, [sh.source(script(installed(2), "deactivate", sh.suffix))],
                              base_env(CFLAGS="-O2", GOAMD64="v1"))
    assert after == before


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_conda_build_reports_every_change_on_stderr(installed, shell_name):
    sh = shell(shell_name)
    result = run(sh, sh.source(script(installed(2), "activate", sh.suffix)), env=base_env(CONDA_BUILD="1", CFLAGS="-O2"))
    lines = result.stderr.splitlines()
    assert f"x86_64-microarch-level: CFLAGS: '-O2' -> '-O2 {expected_flag('CFLAGS', 2)}'" in lines
    assert f"x86_64-microarch-level: GOAMD64: unset -> 'v2'" in lines
    assert len(lines) == len(NAMES)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_activation_is_silent_outside_conda_build(installed, shell_name):
    sh = shell(shell_name)
    result = run(sh, sh.source(script(installed(4), "activate", sh.suffix)), env=base_env(CFLAGS="-O2"))
    assert (result.returncode, result.stderr) == (0, "")


# --- the flags take effect, and the guard's warning is warranted -----------------

PROGRAM = r"""
#include <stdio.h>
int main(void) {
    volatile double a = 1.5, b = 2.25;   /* -march=x86-64-v3 turns these into VEX (AVX) instructions */
    double x[64];
    for (int i = 0; i < 64; i++) x[i] = a * i + b;
    double s = 0;
    for (int i = 0; i < 64; i++) s += x[i];
    printf("%.1f\n", s);
    return 0;
}
"""


@pytest.fixture(scope="module")
def level3_program(installed, tmp_path_factory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found on PATH")
    work = tmp_path_factory.mktemp("prog")
    (work / "p.c").write_text(PROGRAM)
    act = script(installed(3), "activate", "sh")
    build = subprocess.run(["bash", "--norc", "-c", f'. "{act}"; gcc $CFLAGS -O2 -static -o p p.c && echo "$CFLAGS"'],
                           cwd=work, env=base_env(), capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    assert f"-march={CATALOG.march[3]}" in build.stdout
    return work / "p"


def qemu(cpu: str, program: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("qemu-x86_64") or shutil.which("qemu-x86_64-static")
    if exe is None:
        pytest.skip("qemu-x86_64 not found on PATH (Debian package qemu-user)")
    return subprocess.run([exe, "-cpu", cpu, str(program)], capture_output=True, text=True, timeout=60)


def test_a_program_built_with_level_3_flags_runs_on_a_level_3_cpu(level3_program):
    result = qemu("Haswell", level3_program)
    assert (result.returncode, result.stdout) == (0, f"{sum(1.5 * i + 2.25 for i in range(64)):.1f}\n")


def test_a_program_built_with_level_3_flags_dies_of_sigill_on_a_level_2_cpu(level3_program):
    assert qemu("Nehalem", level3_program).returncode == -signal.SIGILL
