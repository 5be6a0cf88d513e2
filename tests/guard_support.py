"""What the guard tests share: where the guard is, how to source it, controlled CPUs.

Every helper here makes the CPU the guard sees explicit: a real sample mounted
over /proc/cpuinfo, or glibc's report of a CPU emulated by qemu.  No verdict
depends on the machine running the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from shells import base_env

from microarch_level.catalog.families import GATE, OVERRIDE
from microarch_level.catalog.levels import LEVELS

GUARDED = LEVELS[1:]  # every x86-64 CPU reaches level 1, so that gate has no guard
WARNING = f"{GATE}: warning: this environment was built for x86-64 level"
LOADER = Path("/lib64/ld-linux-x86-64.so.2")
SEPARATOR = "@@"


# The strictest options each POSIX shell offers: a guard must survive them all.
STRICT = {
    "bash": "set -euo pipefail",
    "dash": "set -eu",
    "ksh93": "set -euo pipefail",
    "mksh": "set -euo pipefail",
    "zsh": "setopt err_exit err_return no_unset pipe_fail sh_word_split ksh_arrays extended_glob glob_subst "
           "rc_expand_param warn_create_global",
}


def guard(prefix: Path, suffix: str) -> Path:
    return prefix / "etc" / "conda" / "activate.d" / f"{GATE}_guard.{suffix}"


def quoted(sh, path: Path) -> str:
    """`path` as one word in `sh`'s syntax, whatever it holds (a `'` included)."""
    text = str(path)
    if sh.suffix == "fish":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if sh.suffix == "csh":
        return '"' + text + '"'
    return "'" + text.replace("'", "'\\''") + "'"


def source(sh, path: Path) -> str:
    """Source `path` as conda does: its environment exported as CONDA_PREFIX first."""
    return f"{sh.export_prefix(path)}{'.' if sh.suffix == 'sh' else 'source'} {quoted(sh, path)}"


def activate(sh, prefix: Path, then: str = "") -> str:
    """Source the guard, then show that the shell lives on and the next command's status is its own."""
    return f"{source(sh, guard(prefix, sh.suffix))}; false; echo next={sh.status}; {then}"


def expect_alive(result):
    assert "next=1" in result.stdout, (result.stdout, result.stderr)


def expect_only_the_warning(stderr: str, warned: bool):
    """Every line on stderr belongs to the guard's warning (no shell complaint beside it),
    and there is a warning exactly when `warned`."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert all(line.startswith((f"{GATE}: warning:", "  ")) for line in lines), stderr
    assert bool(lines) == warned, stderr


def expect_warning_exactly_below(result, warning: str, gate: str, level: int, cpu_level: int):
    """The guard of a level-`level` gate on a level-`cpu_level` CPU read from /proc/cpuinfo:
    one warning with the cause and the pin when the CPU is older, silence otherwise."""
    expect_alive(result)
    if cpu_level < level:
        assert f"{warning} {level} but this CPU is level {cpu_level} (from /proc/cpuinfo)" in result.stderr
        assert "Illegal instruction" in result.stderr
        assert f"'{gate}<={cpu_level}'" in result.stderr
        assert result.stderr.count("warning:") == 1
    else:
        assert result.stderr == ""


def set_override(sh, value: str) -> str:
    """A command setting CONDA_OVERRIDE_ARCHSPEC to `value` (no quote or newline in it)."""
    assert "'" not in value and "\n" not in value
    if sh.suffix == "fish":
        return f"set -gx {OVERRIDE} '{value}'"
    if sh.suffix == "csh":
        return f"setenv {OVERRIDE} '{value}'"
    return f"{OVERRIDE}='{value}'; export {OVERRIDE}"


def each_override(sh, path: Path, values: list[str]) -> str:
    """One script sourcing the guard once per override value, stderr onto stdout, SEPARATOR after each."""
    lines = []
    for value in values:
        if sh.suffix == "csh":
            lines.append(f"{set_override(sh, value)}\n{source(sh, path)} |& cat\necho '{SEPARATOR}'\n")
        else:
            lines.append(f"{set_override(sh, value)}; {source(sh, path)} 2>&1; echo '{SEPARATOR}'\n")
    return "".join(lines)


def split_outputs(stdout: str, count: int) -> list[str]:
    outputs = stdout.split(f"{SEPARATOR}\n")[:-1]
    assert len(outputs) == count, stdout[-2000:]
    return outputs


@pytest.fixture(scope="session")
def cpuinfo_at():
    """cpuinfo_at(level) -> a real CPU sample at exactly that level."""
    from conftest import DEFAULT_CPUINFO, load_samples

    samples = {s.level: s.path for s in load_samples(Path(os.environ.get("MICROARCH_LEVEL_CPUINFO", DEFAULT_CPUINFO)))}

    def pick(level: int) -> Path:
        if level not in samples:
            pytest.skip(f"no CPU sample at level {level}")
        return samples[level]

    return pick


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
    source_file = work / "fake.c"
    source_file.write_text(FAKE_LOADER_C)
    built = {}

    def emulated(model: str) -> tuple[Path, Path]:
        if model not in built:
            out = work / f"fake-{model or 'none'}"
            subprocess.run([gcc, "-static", "-O1", "-o", str(out), f'-DQEMU="{qemu}"', f'-DMODEL="{model}"',
                            f'-DLOADER="{real}"', str(source_file)], check=True, capture_output=True)
            built[model] = out
        return built[model], real

    return emulated


def run_with_glibc_only(sh, script: str, fake: Path, real: Path, env: dict | None = None,
                        timeout: int = 120) -> subprocess.CompletedProcess:
    """No /proc/cpuinfo flags, and ld.so replaced by the fake; the shell starts through the real loader."""
    mount = ('mount --bind /dev/null /proc/cpuinfo && mount --bind "$1" /lib64/ld-linux-x86-64.so.2 '
             '&& shift && exec "$@"')
    from microarch_level.diagnostics.cpuinfo import namespace

    prefix = namespace()
    if prefix is None:
        pytest.skip("unshare not found (util-linux)")
    return subprocess.run([*prefix, "sh", "-c", mount, "sh", str(fake), str(real), shutil.which(sh.argv[0]),
                           *sh.argv[1:], "-c", script], env=env or base_env(), capture_output=True, text=True,
                          timeout=timeout)
