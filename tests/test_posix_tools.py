"""The activation scripts assume no GNU tool: every program they start, with busybox's on PATH.

macOS has BSD tools, not GNU's, and no /proc.  These tests run the flag package's
activation and deactivation (with CONDA_BUILD=1, so its report lines are printed) and
the gate's guard in every shell under `strace -f -e execve`, with PATH holding only
busybox's applets (POSIX tools without GNU options).  They prove: the scripts start no
program but `printf` (where the shell has no builtin one: mksh, tcsh) and /bin/sh (the
csh guard), the one started is found on PATH (busybox's), and with it the flags and the
report are what the GNU run gives.  They cannot prove how Apple's own sh (bash 3.2),
BSD printf or Apple's clang behave: that needs a Mac.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from guard_support import cpuinfo_at  # noqa: F401
from shells import SHELLS, base_env, shell
from test_flags import activate, deactivate, expected_flag

from microarch_level.catalog.families import FLAGS, GATE
from microarch_level.diagnostics.cpuinfo import mounted

EXECVE = re.compile(r'^\d+\s+execve\("([^"]+)", .* = 0$')


@pytest.fixture(scope="session")
def busybox_path(tmp_path_factory) -> Path:
    """A directory holding every busybox applet and nothing else."""
    busybox = shutil.which("busybox")
    if busybox is None or shutil.which("strace") is None:
        pytest.skip("busybox or strace not found on PATH")
    d = tmp_path_factory.mktemp("busybox")
    for applet in subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split():
        (d / applet).symlink_to(busybox)
    return d


def programs_started(sh, script: str, path: Path, cpuinfo: Path, log: Path) -> tuple[list[str], subprocess.CompletedProcess]:
    """Every program `script` started (the shell itself excluded) and the run, with PATH=`path`."""
    argv = mounted([shutil.which("strace"), "-f", "-qq", "-e", "trace=execve", "-o", str(log),
                    shutil.which(sh.argv[0]), *sh.argv[1:], "-c", script], cpuinfo)
    result = subprocess.run(argv, env=base_env(PATH=str(path), CONDA_BUILD="1", CFLAGS="-O2"),
                            capture_output=True, text=True, timeout=120)
    started = [m.group(1) for line in log.read_text().splitlines() if (m := EXECVE.match(line))]
    return started[1:], result


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_activation_starts_only_printf_and_sh_and_works_with_busybox_ones(installed, busybox_path, cpuinfo_at,
                                                                          tmp_path, shell_name):
    sh = shell(shell_name)
    prefix = installed(3)
    guard = prefix / "etc" / "conda" / "activate.d" / f"{GATE}_guard.{sh.suffix}"
    script = f"{activate(sh, prefix)}; {sh.source(guard)}; echo \"[$CFLAGS]\"; {deactivate(sh, prefix)}; " \
             f"echo \"[$CFLAGS]\""
    started, result = programs_started(sh, script, busybox_path, cpuinfo_at(4), tmp_path / "execve.log")
    assert all(p == "/bin/sh" or Path(p).parent == busybox_path for p in started), started
    assert {Path(p).name for p in started} <= {"printf", "sh"}, started
    assert result.stdout.splitlines() == [f"[-O2 {expected_flag('CFLAGS', 3)}]", "[-O2]"], result
    assert f"{FLAGS}: CFLAGS: '-O2' -> '-O2 {expected_flag('CFLAGS', 3)}'" in result.stderr.splitlines(), result
