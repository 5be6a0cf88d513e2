"""CONDA_OVERRIDE_ARCHSPEC against the real CPU: the CPU decides, the override is only named.

The override tells the solver which CPU to assume; SIGILL comes from the CPU
itself.  So whenever /proc/cpuinfo or glibc can tell the CPU's level, the guard
warns exactly when that level is below the environment's, whatever the override
says, and names the override in that warning when it claims another level.  Only
when neither can tell is the override the CPU's identity.
"""

from __future__ import annotations

import pytest
from guard_support import (  # noqa: F401
    activate, cpuinfo_at, each_override, emulated_loader, expect_alive, guard, run_with_glibc_only, split_outputs
)
from shells import POSIX, SHELLS, base_env, run, shell

from microarch_level.catalog.levels import load_catalog
from microarch_level.catalog.spelling import normalize

CATALOG = load_catalog()
ENV_LEVEL = 3


def respellings(name: str) -> list[str]:
    return sorted({name, name.upper(), name.replace("_", "-"), name.replace("x86_64_", "x86_64-"),
                   f"  {name}\t", name.title().replace("_", "-")})


# Every known name in every spelling: for a CPU at level L these are higher, lower and equal overrides.
OVERRIDES = [(text, name) for name in CATALOG.names for text in respellings(name)]
UNKNOWN = ["zen7", "x86_64_v5", "hasswell"]


def test_every_respelling_reads_as_its_name_in_python():
    """The table's own premise: Python's reading (what the solver would see) of each spelling."""
    for text, name in OVERRIDES:
        assert normalize(text, CATALOG).name == name


@pytest.mark.parametrize("cpu_level", [2, 3, 4], ids=["cpu-below", "cpu-equal", "cpu-above"])
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_the_real_cpu_decides_and_a_disagreeing_override_is_named(installed, cpuinfo_at, shell_name, cpu_level):
    """One shell process walks every override; the verdict never moves, only the naming does."""
    sh = shell(shell_name)
    values = [t for t, _ in OVERRIDES] + UNKNOWN
    result = run(sh, each_override(sh, guard(installed(ENV_LEVEL), sh.suffix), values),
                 cpuinfo=cpuinfo_at(cpu_level), timeout=600)
    outputs = split_outputs(result.stdout, len(values))
    for (text, name), out in zip(OVERRIDES, outputs):
        if cpu_level >= ENV_LEVEL:
            assert out == "", (text, out)  # never raises a warning the CPU does not warrant
            continue
        # never silences the warning the CPU warrants
        assert f"this CPU is level {cpu_level} (from /proc/cpuinfo)" in out, (text, out)
        assert out.count("warning:") == 1, (text, out)
        claim = f"CONDA_OVERRIDE_ARCHSPEC={name} claims level {CATALOG.names[name]}"
        assert (claim in out) == (CATALOG.names[name] != cpu_level), (text, out)
    for text, out in zip(UNKNOWN, outputs[len(OVERRIDES):]):
        if cpu_level >= ENV_LEVEL:
            assert out == "", (text, out)
        else:
            assert f"CONDA_OVERRIDE_ARCHSPEC='{text}' is not an x86-64 CPU name" in out, (text, out)
            assert f"this CPU is level {cpu_level} (from /proc/cpuinfo)" in out, (text, out)


@pytest.mark.parametrize("shell_name", POSIX + ("fish",))
def test_the_override_is_the_cpu_only_when_neither_cpuinfo_nor_glibc_can_tell(installed, emulated_loader,
                                                                             shell_name):
    """/proc/cpuinfo empty and no glibc report: every spelling of every name is the CPU's identity.

    tcsh is left out: its guard starts /bin/sh, which the fake loader would start too.
    """
    sh = shell(shell_name)
    fake, real = emulated_loader("")
    values = [t for t, _ in OVERRIDES] + UNKNOWN
    result = run_with_glibc_only(sh, each_override(sh, guard(installed(ENV_LEVEL), sh.suffix), values), fake, real,
                                 timeout=600)
    outputs = split_outputs(result.stdout, len(values))
    for (text, name), out in zip(OVERRIDES, outputs):
        level = CATALOG.names[name]
        if level < ENV_LEVEL:
            assert f"this CPU is level {level} (from CONDA_OVERRIDE_ARCHSPEC={name})" in out, (text, out)
            assert "claims level" not in out
        else:
            assert out == "", (text, out)
    for text, out in zip(UNKNOWN, outputs[len(OVERRIDES):]):
        assert out == "", (text, out)  # nothing is known: silent


# Whitespace or a control character inside a value: no name, in Python (spelling.normalize) and in
# every guard alike; whitespace around one is dropped.
INNER_BLANKS = ["has\nwell", "has well", "has\twell", "x86_64\r_v3", "zen\x1b4"]


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_name_with_whitespace_or_a_control_character_inside_is_no_name_in_any_guard(installed, cpuinfo_at,
                                                                                      shell_name):
    from microarch_level.catalog.spelling import UnknownName

    sh = shell(shell_name)
    for value in INNER_BLANKS:
        with pytest.raises(UnknownName):
            normalize(value, CATALOG)
        result = run(sh, activate(sh, installed(ENV_LEVEL)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=value),
                     cpuinfo=cpuinfo_at(2))
        expect_alive(result)
        assert "is not an x86-64 CPU name known to archspec" in result.stderr, (value, result.stderr)
        assert "claims level" not in result.stderr and "did you mean" not in result.stderr, (value, result.stderr)
    around = run(sh, activate(sh, installed(ENV_LEVEL)), env=base_env(CONDA_OVERRIDE_ARCHSPEC=" \thaswell\n"),
                 cpuinfo=cpuinfo_at(2))
    assert "CONDA_OVERRIDE_ARCHSPEC=haswell claims level 3" in around.stderr, around.stderr
