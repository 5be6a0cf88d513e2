"""The flag package's scripts, one behaviour at a time (test_activation_protocol.py replays conda)."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from shells import POSIX, SHELLS, base_env, run, shell

from microarch_level.catalog.families import FLAGS, X86_64
from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.runtime.flag_scripts import flag_vars

CATALOG = load_catalog()
FLAG_VARS = flag_vars(X86_64)
STATE_PREFIX = X86_64.state_prefix
NAMES = [v.name for v in FLAG_VARS]


def script(prefix: Path, kind: str, suffix: str, first: bool = False) -> Path:
    return prefix / "etc" / "conda" / f"{kind}.d" / f"{'+' if first else '~'}{FLAGS}.{suffix}"


def activate(sh, prefix: Path) -> str:
    """What an activation sources of this package: its first and its last activate.d script."""
    return f"{sh.source(script(prefix, 'activate', sh.suffix, first=True))}; " \
           f"{sh.source(script(prefix, 'activate', sh.suffix))}"


def deactivate(sh, prefix: Path) -> str:
    return sh.source(script(prefix, "deactivate", sh.suffix))


def expected_flag(var: str, level: int) -> str:
    """The specification, written out independently of the generator."""
    march = CATALOG.march[level]
    return {"CARGO_BUILD_RUSTFLAGS": f"-C target-cpu={march}", "RUSTFLAGS": f"-C target-cpu={march}",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS": f"-C target-cpu={march}",
            "GOAMD64": f"v{level}"}.get(var, f"-march={march}")


def dump_env(sh) -> str:
    """Print the exported environment NUL-separated, whatever the shell."""
    return "env -0; printf '\\n@@\\n'"


def environments(result) -> list[dict[str, str]]:
    """Parse the `env -0` dumps of a run into dicts (shell bookkeeping variables dropped, and
    CONDA_PREFIX, which the harness exports before sourcing as conda does)."""
    dumps = result.stdout.split("\n@@\n")[:-1]
    parsed = []
    for dump in dumps:
        entries = [e for e in dump.split("\0") if e]
        env = dict(e.split("=", 1) for e in entries)
        for noise in ("PWD", "OLDPWD", "SHLVL", "_", "fish_greeting", "CONDA_PREFIX"):
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


def flags_only(env: dict[str, str]) -> dict[str, str | None]:
    return {name: env.get(name) for name in NAMES}


@pytest.mark.parametrize("level", LEVELS[1:])
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_activation_appends_the_levels_flags(installed, shell_name, level):
    sh = shell(shell_name)
    start = base_env(CFLAGS="-O2 -pipe", FFLAGS="", RUSTFLAGS="-C opt-level=3", GOAMD64="v1")
    before, after = run_steps(sh, [activate(sh, installed(level))], start)
    for var in NAMES:
        flag, old = expected_flag(var, level), before.get(var)
        if var == "GOAMD64":
            assert after[var] == flag
        elif var == "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS":
            assert var not in after, "created a variable cargo reads before CARGO_BUILD_RUSTFLAGS"
        else:
            assert after[var] == (f"{old} {flag}" if old else flag), var


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_rust_flags_go_to_cargo_build_rustflags_without_creating_rustflags(installed, shell_name):
    sh = shell(shell_name)
    rpath = "-C link-arg=-Wl,-rpath,/opt/env/lib"
    _, after = run_steps(sh, [activate(sh, installed(3))], base_env(CARGO_BUILD_RUSTFLAGS=rpath))
    assert after["CARGO_BUILD_RUSTFLAGS"] == f"{rpath} {expected_flag('RUSTFLAGS', 3)}"
    assert "RUSTFLAGS" not in after


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_level_1_keeps_an_existing_march_and_adds_nothing_for_rust(installed, shell_name):
    sh = shell(shell_name)
    start = base_env(CFLAGS="-march=nocona -mtune=haswell -O2", CXXFLAGS="-O2", GOAMD64="v3")
    before, after = run_steps(sh, [activate(sh, installed(1))], start)
    assert after["CFLAGS"] == before["CFLAGS"]
    assert after["CXXFLAGS"] == f"-O2 {expected_flag('CXXFLAGS', 1)}"
    assert after["GOAMD64"] == "v3"
    assert "CARGO_BUILD_RUSTFLAGS" not in after


VALUES = {
    "unset": None,
    "empty": "",
    "plain": "-O2 -pipe",
    "awkward": "-I'/a b' -DX=\"y z\" $HOME `x` * ? [x] \\ end! #%/",
    "newline": "-O2\n-g -march=x86-64-v3",
    "trailing-newline": "-O2\n",
}


@pytest.mark.parametrize("start", list(VALUES))
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_deactivation_restores_every_variable_byte_for_byte(installed, shell_name, start):
    sh = shell(shell_name)
    prefix = installed(3)
    env = base_env()
    if VALUES[start] is not None:
        env.update({var: VALUES[start] for var in NAMES})
    before, active, after = run_steps(sh, [activate(sh, prefix), deactivate(sh, prefix)], env)
    assert flags_only(active) != flags_only(before)
    assert after == before


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_activating_twice_neither_duplicates_flags_nor_loses_the_originals(installed, shell_name):
    sh = shell(shell_name)
    prefix = installed(3)
    before, once, twice, undone = run_steps(sh, [activate(sh, prefix), activate(sh, prefix), deactivate(sh, prefix)],
                                            base_env(CFLAGS="-O2"))
    assert twice == once
    assert undone == before


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_flags_a_user_appends_after_the_token_survive_its_removal(installed, shell_name):
    sh = shell(shell_name)
    prefix = installed(3)
    append = {"sh": 'export CFLAGS="$CFLAGS -g"', "fish": 'set -gx CFLAGS "$CFLAGS -g"',
              "csh": "setenv CFLAGS $CFLAGS:q' -g'"}[sh.suffix]
    *_, after = run_steps(sh, [activate(sh, prefix), append, deactivate(sh, prefix)], base_env(CFLAGS="-O2"))
    assert after["CFLAGS"] == "-O2 -g"


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_deactivating_what_was_never_activated_changes_nothing(installed, shell_name):
    sh = shell(shell_name)
    before, after = run_steps(sh, [deactivate(sh, installed(2))], base_env(CFLAGS="-O2 -march=x86-64-v2", GOAMD64="v2"))
    assert after == before


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_state_is_one_marker_per_variable_and_gone_after_deactivation(installed, shell_name):
    sh = shell(shell_name)
    prefix = installed(2)
    _, active, after = run_steps(sh, [activate(sh, prefix), deactivate(sh, prefix)], base_env(GOAMD64="v1"))
    assert {k: v for k, v in active.items() if k.startswith(STATE_PREFIX)} == {
        **{f"{STATE_PREFIX}{v}": "unset:2" for v in ("CFLAGS", "CXXFLAGS", "CPPFLAGS", "FFLAGS", "FCFLAGS",
                                                    "CARGO_BUILD_RUSTFLAGS")},
        f"{STATE_PREFIX}GOAMD64": "replaced:2", f"{STATE_PREFIX}GOAMD64_WAS": "v1"}
    assert not [k for k in after if k.startswith(STATE_PREFIX)]


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_conda_build_reports_every_change_on_stderr(installed, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(2)), env=base_env(CONDA_BUILD="1", CFLAGS="-O2"))
    lines = result.stderr.splitlines()
    assert f"x86_64-microarch-level: CFLAGS: '-O2' -> '-O2 {expected_flag('CFLAGS', 2)}'" in lines
    assert "x86_64-microarch-level: GOAMD64: unset -> 'v2'" in lines
    assert len(lines) == len([v for v in FLAG_VARS if not v.only_if_set])


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_activation_and_deactivation_are_silent_outside_conda_build(installed, shell_name):
    sh = shell(shell_name)
    prefix = installed(4)
    result = run(sh, f"{activate(sh, prefix)}; {deactivate(sh, prefix)}", env=base_env(CFLAGS="-O2"))
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


@pytest.mark.parametrize("shell_name", POSIX)
def test_set_eu_survives_a_closed_stderr(installed, shell_name):
    sh = shell(shell_name)
    prefix = installed(3)
    result = run(sh, f"set -eu; exec 2>&-; {activate(sh, prefix)}; {deactivate(sh, prefix)}; echo done", env=base_env())
    assert (result.returncode, result.stdout) == (0, "done\n")


@pytest.mark.parametrize("shell_name", POSIX)
def test_a_failed_report_write_never_fails_activation_under_set_eu(installed, shell_name):
    sh = shell(shell_name)
    prefix = installed(3)
    result = run(sh, f"set -eu; exec 2>/dev/full; {activate(sh, prefix)}; {deactivate(sh, prefix)}; echo done",
                 env=base_env(CONDA_BUILD="1"))
    assert (result.returncode, result.stdout) == (0, "done\n")


def test_mksh_without_path_needs_only_builtins(installed):
    sh = shell("mksh")
    prefix = installed(3)
    result = run(sh, f"set -eu; {activate(sh, prefix)}; echo \"[$CFLAGS]\"; {deactivate(sh, prefix)}; "
                     "echo \"[${CFLAGS-unset}]\"", env={"CONDA_BUILD": "1", "CFLAGS": "-O2"})
    assert (result.returncode, result.stdout) == (0, f"[-O2 {expected_flag('CFLAGS', 3)}]\n[-O2]\n")


def test_zsh_warn_create_global_inside_a_function_prints_nothing(installed):
    sh = shell("zsh")
    prefix = installed(3)
    result = run(sh, f"setopt warn_create_global; f() {{ {activate(sh, prefix)}; {deactivate(sh, prefix)}; }}; f",
                 env=base_env(CFLAGS="-O2", GOAMD64="v2"))
    assert (result.returncode, result.stderr) == (0, "")


def test_no_script_opens_a_file_for_writing(installed, tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace not found on PATH (install it, as .ci/run does)")
    sh = shell("bash")
    prefix = installed(3)
    log = tmp_path / "trace"
    subprocess.run(["strace", "-f", "-qq", "-o", str(log), "-e", "trace=openat,open,creat", *sh.argv, "-c",
                    f"{activate(sh, prefix)}; {deactivate(sh, prefix)}"], env=base_env(CONDA_BUILD="1"),
                   capture_output=True, text=True, timeout=60, check=True)
    writes = [line for line in log.read_text().splitlines()
              if ("O_WRONLY" in line or "O_RDWR" in line or "creat(" in line) and '"/dev/' not in line]
    assert writes == []


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


# --- Rust: the target CPU reaches cargo, and conda-forge's linker flags stay -----

CRATE = {"Cargo.toml": '[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n',
         "src/main.rs": 'fn main() { println!("{}", cfg!(target_feature = "avx2")); }\n'}


@pytest.fixture(scope="module")
def cargo_build(installed, tmp_path_factory):
    """`cargo build` of a dependency-free crate with conda-forge-style CARGO_BUILD_RUSTFLAGS and level 3 activated."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo not found on PATH (Debian package cargo, as .ci/run installs)")
    work = tmp_path_factory.mktemp("crate")
    for name, text in CRATE.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    sh = shell("bash")
    env = base_env(CARGO_HOME=str(work / "cargo-home"), CARGO_BUILD_RUSTFLAGS="-C link-arg=-Wl,-rpath,/opt/conda-env/lib",
                   RUSTUP_HOME=str(Path.home() / ".rustup"))
    env["PATH"] = f"{Path(cargo).parent}:{env['PATH']}"
    result = subprocess.run(
        [*sh.argv, "-c", f"{activate(sh, installed(3))}; cargo build --offline -q && ./target/debug/probe"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return work / "target" / "debug" / "probe", result.stdout


def test_cargo_compiles_for_the_levels_cpu(cargo_build):
    assert cargo_build[1] == "true\n"  # cfg!(target_feature = "avx2"): level 3's target-cpu reached rustc


def test_cargo_keeps_conda_forge_rust_linker_flags(cargo_build):
    if shutil.which("readelf") is None:
        pytest.skip("readelf not found on PATH (binutils)")
    dynamic = subprocess.run(["readelf", "-d", str(cargo_build[0])], capture_output=True, text=True, check=True).stdout
    assert "/opt/conda-env/lib" in dynamic
