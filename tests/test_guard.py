"""The gate's runtime guard: warns exactly when this CPU is below the environment's level."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from microarch_level.cpuinfo import mounted
from microarch_level.levels import LEVELS, load_catalog
from microarch_level.spelling import normalize, suggest
from shells import POSIX, SHELLS, base_env, run, shell

CATALOG = load_catalog()
GUARDED = LEVELS[1:]  # every x86-64 CPU reaches level 1, so that gate has no guard
WARNING = "_x86_64-microarch-level: warning: this environment was built for x86-64 level"
LOADER = Path("/lib64/ld-linux-x86-64.so.2")


def guard(prefix: Path, suffix: str) -> Path:
    return prefix / "etc" / "conda" / "activate.d" / f"_x86_64-microarch-level_guard.{suffix}"


def activate(sh, prefix: Path, then: str = "") -> str:
    """Source the guard, then show that the shell lives on and the next command's status is its own."""
    return f"{sh.source(guard(prefix, sh.suffix))}; false; echo next={sh.status}; {then}"


def expect_alive(result):
    assert "next=1" in result.stdout, (result.stdout, result.stderr)


def test_the_level_1_gate_ships_no_guard(installed):
    assert not list((installed(1) / "etc" / "conda" / "activate.d").glob("_x86_64-microarch-level_guard.*"))
    assert list((installed(2) / "etc" / "conda" / "activate.d").glob("_x86_64-microarch-level_guard.*"))


@pytest.mark.parametrize("level", GUARDED)
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_guard_warns_exactly_when_the_cpu_sample_is_below_the_level(installed, sample, level, shell_name):
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(level)), cpuinfo=sample.path)
    expect_alive(result)
    if sample.level < level:
        assert f"{WARNING} {level} but this CPU is level {sample.level} (from /proc/cpuinfo)" in result.stderr
        assert "Illegal instruction" in result.stderr
        assert f"'_x86_64-microarch-level<={sample.level}'" in result.stderr
        assert result.stderr.count("warning:") == 1
    else:
        assert result.stderr == ""


STRICT = {
    "bash": "set -euo pipefail",
    "dash": "set -eu",
    "zsh": "setopt err_exit err_return no_unset pipe_fail sh_word_split ksh_arrays extended_glob glob_subst "
           "rc_expand_param warn_create_global",
}


@pytest.mark.parametrize("cpu_level", [2, 4], ids=["below", "reaches"])
@pytest.mark.parametrize("shell_name", list(STRICT))
def test_guard_survives_the_strictest_shell_options(installed, cpuinfo_at, shell_name, cpu_level):
    sh = shell(shell_name)
    script = f"{STRICT[shell_name]}; {sh.source(guard(installed(3), sh.suffix))}; true; echo next=$?"
    result = run(sh, script, cpuinfo=cpuinfo_at(cpu_level))
    assert "next=0" in result.stdout, result.stderr  # errexit did not fire, the shell lives
    assert (WARNING in result.stderr) == (cpu_level < 3)
    assert "parameter not set" not in result.stderr and "unbound" not in result.stderr


@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_guard_leaves_no_variables_behind(installed, cpuinfo_at, shell_name):
    sh = shell(shell_name)
    listing = "set -n" if shell_name == "fish" else "set"
    for level in (2, 4):  # the quick path and the warning path
        result = run(sh, f"{sh.source(guard(installed(3), sh.suffix))}; {listing}", cpuinfo=cpuinfo_at(level))
        assert "_mal_" not in result.stdout


@pytest.fixture(scope="session")
def cpuinfo_at(tmp_path_factory):
    """cpuinfo_at(level) -> a real CPU sample at exactly that level."""
    from conftest import load_samples, DEFAULT_CPUINFO

    samples = {s.level: s.path for s in load_samples(Path(os.environ.get("MICROARCH_LEVEL_CPUINFO", DEFAULT_CPUINFO)))}

    def pick(level: int) -> Path:
        if level not in samples:
            pytest.skip(f"no CPU sample at level {level}")
        return samples[level]

    return pick


# --- CONDA_OVERRIDE_ARCHSPEC ---------------------------------------------------

def respellings(name: str) -> list[str]:
    return sorted({name, name.upper(), name.replace("_", "-"), name.replace("x86_64_", "x86_64-"),
                   f"  {name}\t", name.title().replace("_", " ")})


OVERRIDES = [(text, name) for name in CATALOG.names for text in respellings(name)]


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_every_spelling_of_every_name_in_the_override_is_the_cpu(installed, shell_name):
    """One shell process per shell walks all names and spellings; each must match Python's reading."""
    sh = shell(shell_name)
    level = 3
    path = guard(installed(level), sh.suffix)
    if sh.suffix == "sh":
        loop = "".join(f"CONDA_OVERRIDE_ARCHSPEC='{t}'; export CONDA_OVERRIDE_ARCHSPEC; . '{path}' 2>&1; echo '@@'\n"
                       for t, _ in OVERRIDES)
    elif sh.suffix == "fish":
        loop = "".join(f"set -gx CONDA_OVERRIDE_ARCHSPEC '{t}'; source '{path}' 2>&1; echo '@@'\n" for t, _ in OVERRIDES)
    else:
        loop = "".join(f"setenv CONDA_OVERRIDE_ARCHSPEC '{t}'\nsource '{path}' |& cat\necho '@@'\n" for t, _ in OVERRIDES)
    result = run(sh, loop, timeout=300)
    outputs = result.stdout.split("@@\n")[:-1]
    assert len(outputs) == len(OVERRIDES), result.stderr
    for (text, name), out in zip(OVERRIDES, outputs):
        assert normalize(text, CATALOG).name == name
        if CATALOG.names[name] < level:
            assert f"this CPU is level {CATALOG.names[name]} (from CONDA_OVERRIDE_ARCHSPEC={name})" in out, text
        else:
            assert out == "", (text, out)


@pytest.mark.parametrize("text", ["zen7", "x86_64_v5", "hasswell", "epyc", "v3"])
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_an_unknown_override_warns_once_with_a_suggestion_and_falls_back_to_the_cpu(installed, cpuinfo_at,
                                                                                   shell_name, text):
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(4)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=text), cpuinfo=cpuinfo_at(2))
    expect_alive(result)
    hint = suggest(text, CATALOG)
    unknown = f"CONDA_OVERRIDE_ARCHSPEC='{text}' is not an x86-64 CPU name known to archspec"
    assert unknown in result.stderr
    if hint and hint != "x86_64_v3":  # the shells share Python's prefix rule, not its difflib fallback
        assert f"did you mean '{hint}'?" in result.stderr
    assert "this CPU is level 2 (from /proc/cpuinfo)" in result.stderr
    assert result.stderr.count("warning:") == 2


INJECTIONS = ["$(touch {marker})", "`touch {marker}`", "x; touch {marker}", "x\ntouch {marker}",
              "'; touch {marker}; '", '"; touch {marker}; "', "* ? [a-z]", "${{HOME:?}}$(touch {marker})"]


@pytest.mark.parametrize("template", INJECTIONS)
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_override_values_are_data_never_code(installed, tmp_path, shell_name, template):
    sh = shell(shell_name)
    marker = tmp_path / "pwned"
    value = template.format(marker=marker)
    result = run(sh, activate(sh, installed(3)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=value))
    expect_alive(result)
    assert not marker.exists()
    assert "is not an x86-64 CPU name" in result.stderr
    warning = [line for line in result.stderr.splitlines() if "CONDA_OVERRIDE_ARCHSPEC=" in line]
    assert len(warning) == 1  # control characters are not echoed into the terminal


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
    calls = strace(sh, sh.source(guard(installed(3), sh.suffix)), cpuinfo_at(4), "execve,fork,vfork,clone,clone3")
    assert [c for c in calls if "execve" in c][1:] == []  # only the shell itself
    # fish runs helper threads; a thread is not a process
    assert not [c for c in calls if ("fork" in c or "clone" in c) and "CLONE_THREAD" not in c]


@pytest.mark.parametrize("cpu_level", [2, 4])
@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_the_guard_writes_no_files(installed, cpuinfo_at, shell_name, cpu_level):
    sh = shell(shell_name)
    calls = strace(sh, sh.source(guard(installed(3), sh.suffix)), cpuinfo_at(cpu_level), "openat,open,creat")
    writes = [c for c in calls if any(flag in c for flag in ("O_WRONLY", "O_RDWR", "O_CREAT", "creat("))]
    assert [w for w in writes if "/dev/null" not in w and "/dev/tty" not in w] == []


# --- glibc's report when /proc/cpuinfo says nothing ---------------------------------

FAKE_LOADER_C = r"""
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc; (void)argv;
    char *args[] = {QEMU, "-cpu", MODEL, LOADER, "--help", 0};
    if (MODEL[0] == 0) return 1;   /* "nothing known": no glibc report at all */
    execv(QEMU, args);
    return 127;
}
"""


@pytest.fixture(scope="session")
def emulated_loader(tmp_path_factory):
    """emulated(model) -> (static fake loader, copy of the real loader) running ld.so under `qemu -cpu model`.

    Mounted over /lib64/ld-linux-x86-64.so.2 in a private namespace, it makes glibc's
    self-report describe an emulated CPU, the only way to show an older CPU to CPUID.
    """
    qemu = shutil.which("qemu-x86_64-static")
    gcc = shutil.which("gcc")
    if qemu is None:
        pytest.skip("qemu-x86_64-static not found on PATH (Debian package qemu-user-static)")
    if gcc is None:
        pytest.skip("gcc not found on PATH")
    work = tmp_path_factory.mktemp("loader")
    real = work / "ld-real.so"
    shutil.copy2(LOADER.resolve(), real)
    source = work / "fake.c"
    source.write_text(FAKE_LOADER_C)
    built = {}

    def emulated(model: str) -> tuple[Path, Path]:
        if model not in built:
            out = work / f"fake-{model or 'none'}"
            subprocess.run([gcc, "-static", "-O1", "-o", str(out), f'-DQEMU="{qemu}"', f'-DMODEL="{model}"',
                            f'-DLOADER="{real}"', str(source)], check=True, capture_output=True)
            built[model] = out
        return built[model], real

    return emulated


def run_with_glibc_only(sh, script: str, fake: Path, real: Path) -> subprocess.CompletedProcess:
    """No /proc/cpuinfo flags, and ld.so replaced by the fake; the shell starts through the real loader."""
    mount = ('mount --bind /dev/null /proc/cpuinfo && mount --bind "$1" /lib64/ld-linux-x86-64.so.2 '
             '&& shift && exec "$@"')
    return subprocess.run(["unshare", "-m", "sh", "-c", mount, "sh", str(fake), str(real), shutil.which(sh.argv[0]),
                           *sh.argv[1:], "-c", script], env=base_env(), capture_output=True, text=True, timeout=120)


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

def test_conda_activate_runs_the_guard(installed, tmp_path):
    from microarch_level import runners

    exe = runners.find("conda")
    if exe is None:
        pytest.skip("conda not found on PATH (set MICROARCH_LEVEL_CONDA)")
    script = f'eval "$("{exe}" shell.bash hook)"; conda activate "{installed(4)}"; false; echo next=$?'
    result = subprocess.run(["bash", "--norc", "-c", script], env=base_env(CONDA_OVERRIDE_ARCHSPEC="x86_64_v2"),
                            capture_output=True, text=True, timeout=300)
    expect_alive(result)
    assert "this CPU is level 2 (from CONDA_OVERRIDE_ARCHSPEC=x86_64_v2)" in result.stderr


def test_micromamba_activate_runs_the_guard(installed, tmp_path):
    from microarch_level import runners

    exe = runners.find("micromamba")
    if exe is None:
        pytest.skip("micromamba not found on PATH (set MICROARCH_LEVEL_MICROMAMBA)")
    script = f'eval "$("{exe}" shell hook -s bash)"; micromamba activate "{installed(4)}"; false; echo next=$?'
    result = subprocess.run(["bash", "--norc", "-c", script],
                            env=base_env(CONDA_OVERRIDE_ARCHSPEC="x86-64-v2", MAMBA_ROOT_PREFIX=str(tmp_path)),
                            capture_output=True, text=True, timeout=300)
    expect_alive(result)
    assert "this CPU is level 2 (from CONDA_OVERRIDE_ARCHSPEC=x86_64_v2)" in result.stderr


def many_processors(sample: Path, count: int, dest: Path) -> Path:
    """`sample`'s first processor block repeated `count` times, renumbered like a real kernel's."""
    block = sample.read_text().split("\n\n")[0].strip("\n")
    blocks = []
    for n in range(count):
        lines = [f"processor\t: {n}" if line.startswith("processor") else line for line in block.splitlines()]
        blocks.append("\n".join(lines))
    dest.write_text("\n\n".join(blocks) + "\n\n")
    return dest


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_the_guard_reads_only_the_first_of_256_processors(installed, cpuinfo_at, tmp_path, shell_name):
    sh = shell(shell_name)
    big = many_processors(cpuinfo_at(3), 256, tmp_path / "cpuinfo-256")
    for level in GUARDED:
        result = run(sh, activate(sh, installed(level)), cpuinfo=big)
        expect_alive(result)
        assert (f"this CPU is level 3 (from /proc/cpuinfo)" in result.stderr) == (level > 3)
