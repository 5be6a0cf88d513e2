"""The guard's quick checks: where each shell finds its own, and how little it reads.

On a CPU that reaches the level, each shell runs only its quick check: bash one
buffered read in the sh guard itself, zsh a file of zsh syntax installed next to
it (share/_x86_64-microarch-level/guard-quick.zsh, named by the installed prefix),
fish its own guard.  The rare paths are files of their own (guard-rare.sh and
guard-rare.fish), opened only when the quick checks did not settle the level.  These tests watch the system calls (strace) on a real CPU
sample mounted over /proc/cpuinfo, so no verdict depends on the machine running them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from guard_support import (  # noqa: F401
    GUARDED, WARNING, activate, cpuinfo_at, expect_alive, expect_warning_exactly_below, guard, source
)
from shells import POSIX, SHELLS, base_env, run, shell

from microarch_level.catalog.families import X86_64
from microarch_level.catalog.levels import load_catalog
from microarch_level.diagnostics.cpuinfo import first_flags, mounted
from microarch_level.runtime.activation import QUICK_ZSH, RARE_SH, helper_path, kernel_runs

GUARD_QUICK_ZSH, GUARD_RARE_SH = helper_path(X86_64, QUICK_ZSH), helper_path(X86_64, RARE_SH)

CATALOG = load_catalog()
FEATURES_4 = list(CATALOG.level_features[4])

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


def opened(calls: list[str], path: Path) -> bool:
    """Whether the traced shell opened `path`, by any name that resolves to it (and the open succeeded)."""
    named = (re.match(r'openat\([^,]*, "([^"]*)"', c) for c in calls if "= -1" not in c)
    return any(m and os.path.realpath(m.group(1)) == os.path.realpath(path) for m in named)


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
    """The sh guard finds the file in the environment conda exported as CONDA_PREFIX."""
    sh = shell("zsh")
    quick = installed(3) / GUARD_QUICK_ZSH
    assert quick.is_file()
    assert opened(traced(sh, source(sh, guard(installed(3), "sh")), cpuinfo_at(4)), quick)


def test_the_sh_guard_holds_no_prefix_and_names_its_files_inside_the_environment(installed):
    """No prefix is written into the script (a shell would parse it): the quick check and the rare
    paths are found from CONDA_PREFIX, read inside double quotes."""
    text = guard(installed(4), "sh").read_text()
    assert str(installed(4)) not in text and "@PREFIX@" not in text
    assert f'"$CONDA_PREFIX/{GUARD_QUICK_ZSH}"' in text
    assert f'"$CONDA_PREFIX/{GUARD_RARE_SH}"' in text


@pytest.mark.parametrize("shell_name", POSIX)
def test_the_sh_guards_rare_paths_are_opened_only_below_the_level(installed, cpuinfo_at, shell_name):
    """ksh93 parses ahead what follows a `return`, so the rare paths are a file of their own."""
    sh = shell(shell_name)
    rare = installed(4) / GUARD_RARE_SH
    assert rare.is_file()
    assert not opened(traced(sh, source(sh, guard(installed(4), "sh")), cpuinfo_at(4)), rare)
    assert opened(traced(sh, source(sh, guard(installed(4), "sh")), cpuinfo_at(3)), rare)


@pytest.fixture
def moved_prefix(installed, tmp_path):
    """installed(4)'s activation files in another prefix, relocated as conda does."""
    old = installed(4)
    new = tmp_path / "moved env"
    for part in ("etc", "share"):
        shutil.copytree(old / part, new / part)
    for path in new.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace(str(old), str(new)))
    return new


@pytest.fixture
def moved_without_quick_check(moved_prefix):
    (moved_prefix / GUARD_QUICK_ZSH).unlink()
    return moved_prefix


@pytest.fixture
def moved_without_rare_paths(moved_prefix):
    (moved_prefix / GUARD_RARE_SH).unlink()
    return moved_prefix


@pytest.mark.parametrize("shell_name", POSIX)
def test_without_its_rare_paths_file_the_sh_guard_is_silent_and_harmless(moved_without_rare_paths, cpuinfo_at,
                                                                         shell_name):
    """A damaged environment: no warning can be worded, so none is, and nothing else is printed either."""
    sh = shell(shell_name)
    result = run(sh, activate(sh, moved_without_rare_paths), cpuinfo=cpuinfo_at(2))
    expect_alive(result)
    assert result.stderr == "", result.stderr


@pytest.mark.parametrize("cpu_level", [2, 3, 4])
def test_zsh_without_its_quick_check_file_still_warns_exactly_below_the_level(moved_without_quick_check, cpuinfo_at,
                                                                             cpu_level):
    sh = shell("zsh")
    result = run(sh, activate(sh, moved_without_quick_check), cpuinfo=cpuinfo_at(cpu_level))
    expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", 4, cpu_level)
    assert "no such file" not in result.stderr.lower()


def edited_flags(sample: Path, edit) -> str:
    """The sample with its flags line's words passed through `edit` (a list in, a list out)."""
    lines = sample.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("flags"))
    key, _, value = lines[at].partition(":")
    lines[at] = f"{key}: {' '.join(edit(value.split()))}"
    return "\n".join(lines) + "\n"


def reversed_flags(sample: Path) -> str:
    """The sample with its flags line's words in reverse order: no ordered pattern matches it."""
    return edited_flags(sample, lambda words: words[::-1])


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_flags_in_an_unusual_order_are_checked_one_by_one(installed, cpuinfo_at, tmp_path, shell_name):
    """The ordered patterns miss; the guard's other checks still find every feature (and only those)."""
    sh = shell(shell_name)
    cpuinfo = tmp_path / "reversed"
    cpuinfo.write_text(reversed_flags(cpuinfo_at(3)))
    assert CATALOG.level_from_flags(first_flags(cpuinfo.read_text())) == 3
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
    sh = shell(shell_name)
    cpuinfo = tmp_path / "cut"
    cpuinfo.write_text(long_flags_line(cpuinfo_at(3).read_text(), "movbe", "movbe", 2048))
    assert cpuinfo.read_bytes()[2043:2048] == b"movbe" and b" movbe " not in cpuinfo.read_bytes()
    assert CATALOG.level_from_flags(first_flags(cpuinfo.read_text())) == 2
    for level in GUARDED:
        result = run(sh, activate(sh, installed(level)), cpuinfo=cpuinfo)
        expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", level, 2)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_flags_line_longer_than_the_bounded_read_still_settles_the_level(installed, cpuinfo_at, tmp_path, shell_name):
    """A level-3 CPU whose flags line runs past 2 KB (made-up flags after the real ones)."""
    sh = shell(shell_name)
    cpuinfo = tmp_path / "long"
    cpuinfo.write_text(long_flags_line(cpuinfo_at(3).read_text(), "", "x", 3000))
    assert cpuinfo.read_text().split("\n")[19].startswith("flags") and len(cpuinfo.read_bytes()) > 3000
    assert CATALOG.level_from_flags(first_flags(cpuinfo.read_text())) == 3
    for level in GUARDED:
        result = run(sh, activate(sh, installed(level)), cpuinfo=cpuinfo)
        expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", level, 3)


@pytest.mark.parametrize("run_index", range(len(kernel_runs(FEATURES_4))),
                         ids=[r.replace(" ", "+") for r in kernel_runs(FEATURES_4)])
def test_ksh93s_cuts_miss_no_feature_of_any_run(installed, cpuinfo_at, tmp_path, run_index):
    """ksh93 cuts the flags line up to each run of features in turn: a run with any one of its
    features gone must stop it, and the guard warns of the level archspec computes."""
    sh = shell("ksh93")
    for feature in kernel_runs(FEATURES_4)[run_index].split():
        cpuinfo = tmp_path / f"without-{feature}"
        cpuinfo.write_text(edited_flags(cpuinfo_at(4), lambda words: [w for w in words if w != feature]))
        level = CATALOG.level_from_flags(first_flags(cpuinfo.read_text()))
        assert level < 4, feature
        result = run(sh, activate(sh, installed(4)), cpuinfo=cpuinfo)
        expect_warning_exactly_below(result, WARNING, "_x86_64-microarch-level", 4, level)
