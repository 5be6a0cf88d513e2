"""The guard in the shells and settings people really have: it never breaks activation.

ksh93 and mksh, `set -e` with stderr closed, mksh without PATH, zsh's
warn_create_global inside a function (conda sources activation scripts from a
function), huge or hostile CONDA_OVERRIDE_ARCHSPEC values, csh variables holding
newlines, and a prefix holding `'`.  Every CPU here is a real sample mounted over
/proc/cpuinfo.
"""

from __future__ import annotations

import subprocess

import pytest
from guard_support import (  # noqa: F401
    WARNING, activate, cpuinfo_at, expect_alive, expect_only_the_warning, guard, source
)
from shells import POSIX, SHELLS, base_env, run, shell

ERREXIT = {"bash": "set -euo pipefail", "dash": "set -eu", "zsh": "set -eu", "ksh93": "set -eu", "mksh": "set -eu"}


@pytest.mark.parametrize("stderr", ["2>&-", "2>/dev/full"], ids=["closed", "full"])
@pytest.mark.parametrize("cpu_level", [2, 4], ids=["warns", "quiet"])
@pytest.mark.parametrize("shell_name", POSIX)
def test_a_failed_write_of_the_warning_does_not_fail_activation_under_set_e(installed, cpuinfo_at, shell_name,
                                                                             cpu_level, stderr):
    """The whole guard runs (it leaves no variable behind) and returns 0."""
    sh = shell(shell_name)
    script = (f"{ERREXIT[shell_name]}; {source(sh, guard(installed(3), sh.suffix))} {stderr}; echo alive=$?; "
              "set | grep -c '^_mal_' || :")
    result = run(sh, script, cpuinfo=cpuinfo_at(cpu_level))
    assert "alive=0\n0\n" in result.stdout, (result.stdout, result.stderr)


@pytest.mark.parametrize("shell_name", ["mksh", "ksh93", "dash"])
def test_the_warning_needs_no_program_from_path(installed, cpuinfo_at, shell_name):
    """mksh has no printf builtin: with PATH empty the warning still shows, and set -e does not fire."""
    sh = shell(shell_name)
    script = f"PATH=; set -eu; {source(sh, guard(installed(3), sh.suffix))}; echo alive=$?"
    result = run(sh, script, cpuinfo=cpuinfo_at(2))
    assert "alive=0" in result.stdout, result.stderr
    assert f"{WARNING} 3 but this CPU is level 2 (from /proc/cpuinfo)" in result.stderr


@pytest.mark.parametrize("cpu_level", [2, 4], ids=["warns", "quiet"])
def test_zsh_warn_create_global_inside_a_function_prints_nothing_of_its_own(installed, cpuinfo_at, cpu_level):
    sh = shell("zsh")
    script = (f"setopt warn_create_global no_unset; activate_env() {{ {source(sh, guard(installed(3), 'sh'))}; }}; "
              "activate_env; echo alive=$?")
    result = run(sh, script, cpuinfo=cpuinfo_at(cpu_level))
    assert "alive=0" in result.stdout, result.stderr
    assert "created globally" not in result.stderr
    expect_only_the_warning(result.stderr, warned=cpu_level < 3)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_10_kb_override_is_refused_as_no_cpu_name_without_hanging(installed, cpuinfo_at, shell_name):
    """A hang check, not a timing: the timeout is generous; the value is not echoed."""
    sh = shell(shell_name)
    value = "x86_64_v3-" * 1024
    result = run(sh, activate(sh, installed(3)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=value),
                 cpuinfo=cpuinfo_at(2), timeout=60)
    expect_alive(result)
    assert "CONDA_OVERRIDE_ARCHSPEC (a value of 10240 characters, not shown) is not an x86-64 CPU name" \
        in result.stderr
    assert "this CPU is level 2 (from /proc/cpuinfo)" in result.stderr
    assert "x86_64_v3-x86_64_v3" not in result.stderr


CONTROL = {"ESC": "\x1b[31m", "BEL": "\x07", "DEL": "\x7f", "CSI U+009B": "\u009b31m", "NEL U+0085": "\u0085",
           "CR": "\r"}


@pytest.mark.parametrize("control", list(CONTROL))
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_control_characters_in_the_override_are_never_echoed(installed, cpuinfo_at, shell_name, control):
    sh = shell(shell_name)
    value = f"zen{CONTROL[control]}7"
    result = run(sh, activate(sh, installed(3)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=value), cpuinfo=cpuinfo_at(2))
    expect_alive(result)
    assert "(a value with characters no CPU name has, not shown) is not an x86-64 CPU name" in result.stderr
    bad = [c for c in result.stderr if (ord(c) < 32 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
    assert bad == [], result.stderr


def test_tcsh_keeps_a_variable_holding_a_newline(installed, cpuinfo_at):
    sh = shell("tcsh")
    value = "-O2\n-march=nocona"
    script = f"{source(sh, guard(installed(3), 'csh'))}\nprintenv CFLAGS\necho next=$status"
    for level in (2, 4):
        result = run(sh, script, env=base_env(CFLAGS=value), cpuinfo=cpuinfo_at(level))
        assert f"{value}\nnext=0" in result.stdout, (result.stdout, result.stderr)


@pytest.fixture(scope="session")
def quoted_prefix(channel, catalog, tmp_path_factory):
    """The level-4 gate installed with rattler into a prefix whose path holds `'` and a space."""
    from microarch_level.catalog.families import GATE
    from microarch_level.tools.solve import archspec_package, base_virtual_packages, install, solve

    records = solve([channel], [f"{GATE}==4"],
                    base_virtual_packages() + [archspec_package(catalog.generic_name(4))])
    prefix = tmp_path_factory.mktemp("quoted") / "it's an env"
    install(records, prefix)
    return prefix


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_prefix_holding_a_quote_works(quoted_prefix, cpuinfo_at, shell_name):
    """fish finds its rare file and csh its sh guard in a prefix named `it's an env`."""
    sh = shell(shell_name)
    for level, warns in ((2, True), (4, False)):
        result = run(sh, activate(sh, quoted_prefix), cpuinfo=cpuinfo_at(level))
        expect_alive(result)
        assert (f"{WARNING} 4 but this CPU is level 2 (from /proc/cpuinfo)" in result.stderr) == warns, result.stderr
        assert "rror" not in result.stderr and "No such file" not in result.stderr, result.stderr


@pytest.mark.parametrize("shell_name", POSIX)
def test_the_sh_guard_is_plain_syntax_every_posix_shell_parses(installed, shell_name):
    """Shell-specific code hides behind runtime tests, never behind syntax another shell rejects."""
    sh = shell(shell_name)
    for level in (2, 3, 4):
        result = run(sh, f"{source(sh, guard(installed(level), 'sh'))} 2>&1; echo next=$?",
                     env=base_env(MICROARCH_LEVEL_GUARD="0"))
        assert result.stdout.endswith("next=0\n") and "syntax" not in result.stdout, result.stdout
    check = subprocess.run([*sh.argv, "-n", str(guard(installed(4), "sh"))], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


# What shells set for themselves, exported by some other process into a shell that is not them:
# {whose: (the shells they belong to, the variables)}.
SPOOFED = {
    "bash+zsh": (("bash", "zsh"), {"BASH_VERSION": "5.2.15(1)-release", "BASH_VERSINFO": "5", "ZSH_VERSION": "5.9",
                                   "RANDOM": "7"}),
    "ksh93": (("ksh93",), {"KSH_VERSION": "Version AJM 93u+m/1.0.4 2022-10-22"}),
}


@pytest.mark.parametrize("cpu_level", [2, 4], ids=["warns", "quiet"])
@pytest.mark.parametrize("shell_name, whose", [(s, whose) for whose, (owners, _) in SPOOFED.items()
                                               for s in POSIX if s not in owners])
def test_another_shells_variables_in_the_environment_change_no_answer(installed, cpuinfo_at, shell_name, whose,
                                                                      cpu_level):
    """The quick checks written in bash's and zsh's own syntax run only in the shell that is bash or zsh:
    dash, ksh93 and mksh started with BASH_VERSION, ZSH_VERSION and the like in their environment
    survive (dash dies of a bad substitution or a syntax error otherwise).  ksh93's check (cutting the
    flags line up to each run of features) is plain POSIX syntax: a shell led into it by an exported
    KSH_VERSION gets the same answer, more slowly.  Either way the shell prints nothing but the
    warning its CPU warrants."""
    sh = shell(shell_name)
    result = run(sh, activate(sh, installed(3)), env=base_env(**SPOOFED[whose][1]), cpuinfo=cpuinfo_at(cpu_level))
    expect_alive(result)
    expect_only_the_warning(result.stderr, warned=cpu_level < 3)
