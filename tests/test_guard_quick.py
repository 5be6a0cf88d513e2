"""The guard's quick checks: where each shell finds its own, and how little it reads.

On a CPU that reaches the level, each shell runs only its quick check: bash one
buffered read in the sh guard itself, zsh a file of zsh syntax installed next to
it (share/_x86_64-microarch-level/guard-quick.zsh, named by the installed prefix),
fish its own guard.  These tests watch the system calls (strace) on a real CPU
sample mounted over /proc/cpuinfo, so no verdict depends on the machine running them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from guard_support import (  # noqa: F401
    GUARDED, WARNING, activate, cpuinfo_at, expect_alive, expect_warning_exactly_below, guard, source
)
from shells import SHELLS, base_env, run, shell

from microarch_level.diagnostics.cpuinfo import mounted
from microarch_level.runtime.activation import GUARD_QUICK_ZSH

# A buffered read takes at least this many bytes of /proc/cpuinfo per system call on
# average (fish reads 128 bytes from each line's start, bash, zsh and ksh93 more); dash
# and mksh read a byte per call.
BUFFERED = 16


def traced(sh, script: str, cpuinfo: Path) -> list[str]:
    """The shell's openat and read calls, each with the path of its file descriptor (strace -y)."""
    if shutil.which("strace") is None:
        pytest.skip("strace not found on PATH (install it, as .ci/run does)")
    log = subprocess.run(mounted(["strace", "-f", "-qq", "-y", "-e", "trace=openat,read", *sh.argv, "-c", script],
                                 cpuinfo), env=base_env(), capture_output=True, text=True, timeout=60)
    return [line for line in log.stderr.splitlines() if "(" in line]


def cpuinfo_reads(calls: list[str]) -> list[str]:
    return [c for c in calls if re.match(r"read\(\d+</proc/cpuinfo>", c)]


@pytest.mark.parametrize("shell_name", ["bash", "zsh", "ksh93", "fish"])
def test_a_cpu_reaching_the_level_costs_a_few_buffered_reads_of_cpuinfo(installed, cpuinfo_at, shell_name):
    sh = shell(shell_name)
    calls = traced(sh, source(sh, guard(installed(4), sh.suffix)), cpuinfo_at(4))
    reads = cpuinfo_reads(calls)
    text = cpuinfo_at(4).read_text()
    through_flags = text.index("\n", text.index("\nflags") + 1) + 1
    assert 0 < len(reads) <= through_flags // BUFFERED, reads[:20]


def test_zsh_runs_the_quick_check_installed_under_its_own_prefix(installed, cpuinfo_at):
    """The sh guard names the file by the prefix rattler installed it into (relocated from the build's)."""
    sh = shell("zsh")
    quick = installed(3) / GUARD_QUICK_ZSH
    assert quick.is_file()
    calls = traced(sh, source(sh, guard(installed(3), "sh")), cpuinfo_at(4))
    assert [c for c in calls if c.startswith("openat(") and f'"{quick}"' in c and "= -1" not in c]


def test_the_sh_guard_names_no_file_outside_its_prefix(installed):
    text = guard(installed(4), "sh").read_text()
    assert f'"{installed(4) / GUARD_QUICK_ZSH}"' in text
    assert "@PREFIX@" not in text


@pytest.fixture
def moved_without_quick_check(installed, tmp_path):
    """installed(4)'s activation files in another prefix, relocated as conda does, with guard-quick.zsh gone."""
    old = installed(4)
    new = tmp_path / "moved env"
    for part in ("etc", "share"):
        shutil.copytree(old / part, new / part)
    for path in new.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace(str(old), str(new)))
    (new / GUARD_QUICK_ZSH).unlink()
    return new


@pytest.mark.parametrize("cpu_level", [2, 3, 4])
def test_zsh_without_its_quick_check_file_still_warns_exactly_below_the_level(moved_without_quick_check, cpuinfo_at,
                                                                             cpu_level):
    sh = shell("zsh")
    result = run(sh, activate(sh, moved_without_quick_check), cpuinfo=cpuinfo_at(cpu_level))
    expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", 4, cpu_level)
    assert "no such file" not in result.stderr.lower()


def reversed_flags(sample: Path) -> str:
    """The sample with its flags line's words in reverse order: no ordered pattern matches it."""
    lines = sample.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("flags"))
    key, _, value = lines[at].partition(":")
    lines[at] = f"{key}: {' '.join(reversed(value.split()))}"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_flags_in_an_unusual_order_are_checked_one_by_one(installed, cpuinfo_at, tmp_path, shell_name):
    """The ordered patterns miss; the guard's other checks still find every feature (and only those)."""
    from microarch_level.catalog.levels import load_catalog
    from microarch_level.diagnostics.cpuinfo import first_flags

    sh = shell(shell_name)
    cpuinfo = tmp_path / "reversed"
    cpuinfo.write_text(reversed_flags(cpuinfo_at(3)))
    assert load_catalog().level_from_flags(first_flags(cpuinfo.read_text())) == 3
    for level in GUARDED:
        result = run(sh, activate(sh, installed(level)), cpuinfo=cpuinfo)
        expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", level, 3)


def long_flags_line(text: str, drop: str, cut_after: str, at_byte: int) -> str:
    """The first processor block of `text` without the flag `drop`, its flags line padded with
    made-up flags so that byte `at_byte` of the file falls right after `cut_after`, the start of
    a longer made-up flag: a bounded read that stops there sees `cut_after` as if it were a word."""
    lines = text.split("\n\n")[0].split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("flags"))
    key, _, value = lines[at].partition(":")
    flags = f"{key}: {' '.join(w for w in value.split() if w != drop)} "
    before = len(("\n".join(lines[:at]) + "\n" + flags).encode())
    need = at_byte - before - len(cut_after)
    assert need >= 2, need
    lines[at] = flags + "z" * (need - 1) + " " + cut_after + "extra pad_after"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_flags_line_cut_by_a_bounded_read_counts_only_whole_words(installed, cpuinfo_at, tmp_path, shell_name):
    """zsh reads 2 KB of /proc/cpuinfo at once: a flag cut there (`movbeextra` read as `movbe`) is
    no feature, so a CPU without movbe (level 2) is warned about by the level-3 and -4 guards."""
    from microarch_level.catalog.levels import load_catalog
    from microarch_level.diagnostics.cpuinfo import first_flags

    sh = shell(shell_name)
    cpuinfo = tmp_path / "cut"
    cpuinfo.write_text(long_flags_line(cpuinfo_at(3).read_text(), "movbe", "movbe", 2048))
    assert cpuinfo.read_bytes()[2043:2048] == b"movbe" and b" movbe " not in cpuinfo.read_bytes()
    assert load_catalog().level_from_flags(first_flags(cpuinfo.read_text())) == 2
    for level in GUARDED:
        result = run(sh, activate(sh, installed(level)), cpuinfo=cpuinfo)
        expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", level, 2)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_flags_line_longer_than_the_bounded_read_still_settles_the_level(installed, cpuinfo_at, tmp_path, shell_name):
    """A level-3 CPU whose flags line runs past 2 KB (made-up flags after the real ones)."""
    from microarch_level.catalog.levels import load_catalog
    from microarch_level.diagnostics.cpuinfo import first_flags

    sh = shell(shell_name)
    cpuinfo = tmp_path / "long"
    cpuinfo.write_text(long_flags_line(cpuinfo_at(3).read_text(), "", "x", 3000))
    assert cpuinfo.read_text().split("\n")[19].startswith("flags") and len(cpuinfo.read_bytes()) > 3000
    assert load_catalog().level_from_flags(first_flags(cpuinfo.read_text())) == 3
    for level in GUARDED:
        result = run(sh, activate(sh, installed(level)), cpuinfo=cpuinfo)
        expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", level, 3)
