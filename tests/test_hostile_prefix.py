"""An environment path is never evaluated: the activation scripts work in any prefix.

conda, micromamba and rattler install into whatever path a user names, and a
prefix may come from a shared filesystem someone else named.  No installed script
holds its prefix: each finds its sibling files at run time, from the CONDA_PREFIX
conda exports before it sources activate.d (read inside double quotes), fish from
`status dirname`.  So a prefix holding `$(...)`,
backticks, quotes, backslashes, glob and history characters, a literal `$HOME`,
blanks or non-ASCII letters gives, in every shell, exactly what a plain prefix
gives: the same warning (or silence), the same flags, the same restore, after a
stacked activation too, and no command of the path ever runs.

The scripts reach the shells the way conda hands them over (CONDA_PREFIX exported,
each script sourced by its path); the test names those paths through variables, so
the harness itself never parses a prefix either.  The cases of one shell and CPU run
in one shell process, each prefix's output after a separator line.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from guard_support import WARNING, cpuinfo_at  # noqa: F401
from shells import SHELLS, base_env, shell, with_cpuinfo
from sysctl_standin import DATA as SYSCTL_DIR
from sysctl_standin import on_a_mac, sysctl_bin  # noqa: F401

from microarch_level.catalog.families import FLAGS, GATE

# Each is a directory name in the prefix's path; "pwned" is the marker a command would create.
HOSTILE = {
    "command substitution": "a$(touch pwned)b",
    "backticks": "a`touch pwned`b",
    "double quote": 'q"uo"te',
    "single quote": "it's",
    "backslash": "b\\a\\$(touch pwned)",
    "glob, tilde, history, semicolon": "g*?[a]~!;x!!",
    "literal $HOME": "$HOME",
    "braced variable": "${HOME}${PATH:+x}",
    "blanks": "sp ace\ttab",
    "non-ASCII": "née-日本",
}
PLAIN = "plain"
SEPARATOR = "=== next prefix ==="
MARKER = "pwned"
VARS = "^(CFLAGS|CXXFLAGS|CPPFLAGS|FFLAGS|FCFLAGS|GOAMD64|RUSTFLAGS|CARGO_BUILD_RUSTFLAGS|_X86_64_MICROARCH_LEVEL_)"


def _copy(source: Path, target: Path) -> Path:
    """`source`'s installed files at `target`: an install there writes the same bytes, since no
    script holds its prefix (checked here, so the copy stands for an install)."""
    for f in source.rglob("*"):
        if f.is_file() and f.parts[len(source.parts)] in ("etc", "share"):
            assert str(source).encode() not in f.read_bytes(), f"{f} holds its prefix"
    shutil.copytree(source, target, symlinks=True)
    return target


@pytest.fixture(scope="module")
def prefixes(installed, tmp_path_factory):
    """{name: (lower, upper)}: level 3 (gate and flags) in a prefix of that name, and level 2 in a
    sibling for the stacked activation; "plain" is the reference."""
    root = tmp_path_factory.mktemp("hostile")
    table = {}
    for i, (name, part) in enumerate([(PLAIN, PLAIN), *HOSTILE.items()]):
        base = root / str(i) / part
        table[name] = (_copy(installed(3), base / "env"), _copy(installed(2), base / "upper"))
    return table


def _script_paths(prefix_var: str, suffix: str) -> dict[str, list[str]]:
    """The scripts conda sources, as words naming them through `prefix_var` in each shell's syntax."""
    if suffix == "csh":
        ref = f"${prefix_var}:q"
    else:
        ref = f'"${prefix_var}"'
    act = f"{ref}/etc/conda/activate.d/"
    return {
        "guard": [f"{act}{GATE}_guard.{suffix}"],
        "activate": [f"{act}+{FLAGS}.{suffix}", f"{act}~{FLAGS}.{suffix}"],
        "deactivate": [f"{ref}/etc/conda/deactivate.d/~{FLAGS}.{suffix}"],
    }


def _commands(suffix: str, steps: list[tuple[str, str]]) -> str:
    """A script running `steps` ((which env variable holds CONDA_PREFIX, which scripts), or
    ("show", label)) in a shell of `suffix`, printing the flag variables after each "show"."""
    src = "." if suffix == "sh" else "source"
    lines = []
    for var, what in steps:
        if var == "show":
            lines.append(f"echo '-- {what}'")
            lines.append(f"env | env LC_ALL=C sort | grep -E '{VARS}'")
            continue
        if var == "label":
            lines.append(f"echo '-- {what}'")
            continue
        if var == "sep":
            lines.append(f"echo '{SEPARATOR}'")
            continue
        if var == "build":  # conda-build's report of every change (the rare files' other path)
            lines.append({"sh": "CONDA_BUILD=1; export CONDA_BUILD", "fish": "set -gx CONDA_BUILD 1",
                          "csh": "setenv CONDA_BUILD 1"}[suffix] if what == "on" else
                         {"sh": "unset CONDA_BUILD", "fish": "set -e CONDA_BUILD", "csh": "unsetenv CONDA_BUILD"}[suffix])
            continue
        if suffix == "sh":
            lines.append(f'CONDA_PREFIX="${var}"; export CONDA_PREFIX')
        elif suffix == "fish":
            lines.append(f'set -gx CONDA_PREFIX "${var}"')
        else:
            lines.append(f"setenv CONDA_PREFIX ${var}:q")
        for path in _script_paths("CONDA_PREFIX", suffix)[what]:
            lines.append(f"{src} {path}")
    return "\n".join(lines) + "\n"


def _run(sh, script: str, env: dict, cpuinfo: Path, cwd: Path) -> list[str]:
    proc = subprocess.run(with_cpuinfo([*sh.argv, "-c", script], cpuinfo), env=env, cwd=cwd, timeout=300,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout.split(f"{SEPARATOR}\n")


def _env(prefixes) -> tuple[dict, list[str]]:
    env = base_env(CFLAGS="-O2 -pipe", GOAMD64="v1")
    names = list(prefixes)
    for i, name in enumerate(names):
        env[f"MAL_LOWER{i}"], env[f"MAL_UPPER{i}"] = (str(p) for p in prefixes[name])
    return env, names


def _no_command_ran(root: Path, cwd: Path):
    assert not list(cwd.iterdir()), list(cwd.iterdir())
    assert not [p for p in root.rglob(MARKER)], "a command of a prefix ran"


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_hostile_prefix_activates_exactly_like_a_plain_one_on_a_cpu_below_the_level(
        prefixes, cpuinfo_at, tmp_path, shell_name):
    """Level-2 CPU: the level-3 guard warns; the flags are added, removed, and survive a stacked
    level-2 environment activated and deactivated on top (conda's protocol: the upper
    environment's deactivate.d, then the lower one's activate.d again, CONDA_PREFIX its own);
    with CONDA_BUILD=1 every change is reported (the rare files' path)."""
    sh = shell(shell_name)
    env, names = _env(prefixes)
    steps: list[tuple[str, str]] = []
    for i in range(len(names)):
        low, up = f"MAL_LOWER{i}", f"MAL_UPPER{i}"
        steps += [(low, "guard"), ("show", "start"), (low, "activate"), ("show", "activated"),
                  (up, "guard"), (up, "activate"), ("show", "stacked"), (up, "deactivate"), (low, "activate"),
                  ("show", "unstacked"), (low, "deactivate"), ("show", "deactivated"),
                  ("label", "reports"), ("build", "on"), (low, "activate"), (low, "deactivate"), ("build", "off"),
                  ("show", "built"),
                  ("sep", "")]
    outputs = _run(sh, _commands(sh.suffix, steps), env, cpuinfo_at(2), tmp_path)
    assert len(outputs) == len(names) + 1, outputs[-1]
    plain = outputs[0]
    assert plain.count(f"{WARNING} 3 but this CPU is level 2") == 1, plain
    shown = {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in plain.split("-- ")[1:]}
    assert "CFLAGS=-O2 -pipe\nGOAMD64=v1\n" == shown["start"] == shown["deactivated"] == shown["built"], plain
    assert "x86_64-microarch-level: CFLAGS: '-O2 -pipe' -> '-O2 -pipe -march=x86-64-v3'\n" in shown["reports"]
    assert "x86_64-microarch-level: CFLAGS: '-O2 -pipe -march=x86-64-v3' -> '-O2 -pipe'\n" in shown["reports"]
    for label, level in (("activated", 3), ("stacked", 2), ("unstacked", 3)):
        assert f"\nCFLAGS=-O2 -pipe -march=x86-64-v{level}\nCPPFLAGS=-march=x86-64-v{level}\n" in shown[label], plain
        assert f"\nGOAMD64=v{level}\n" in shown[label], plain
    for name, output in zip(names[1:], outputs[1:]):
        assert output == plain, (name, output)
    _no_command_ran(next(iter(prefixes.values()))[0].parents[2], tmp_path)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_a_hostile_prefix_keeps_the_guard_silent_on_a_cpu_at_the_level(prefixes, cpuinfo_at, tmp_path, shell_name):
    sh = shell(shell_name)
    env, names = _env(prefixes)
    steps = [step for i in range(len(names)) for step in ((f"MAL_LOWER{i}", "guard"), ("sep", ""))]
    outputs = _run(sh, _commands(sh.suffix, steps), env, cpuinfo_at(4), tmp_path)
    assert outputs == [""] * (len(names) + 1)
    _no_command_ran(next(iter(prefixes.values()))[0].parents[2], tmp_path)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_without_an_absolute_conda_prefix_the_scripts_are_silent_and_source_nothing(
        installed, cpuinfo_at, tmp_path, shell_name):
    """No CONDA_PREFIX, or a relative one naming a directory that holds rare files of its own: a
    POSIX or csh guard on a CPU below the level stays silent rather than source a file found
    from the working directory (fish finds its files from the script's own path)."""
    sh = shell(shell_name)
    planted = tmp_path / "share" / GATE
    planted.mkdir(parents=True)
    for name in ("guard-rare.sh", "guard-quick.zsh"):
        (planted / name).write_text(f"touch {MARKER}\n")
    (tmp_path / "etc" / "conda" / "activate.d").mkdir(parents=True)
    (tmp_path / "etc" / "conda" / "activate.d" / f"{GATE}_guard.sh").write_text(f"touch {MARKER}\n")
    guard = f'"$MAL_GUARD"' if sh.suffix != "csh" else "$MAL_GUARD:q"
    src = "." if sh.suffix == "sh" else "source"
    for extra in ({}, {"CONDA_PREFIX": "."}, {"CONDA_PREFIX": ""}):
        env = base_env(MAL_GUARD=str(installed(3) / "etc" / "conda" / "activate.d" / f"{GATE}_guard.{sh.suffix}"),
                       **extra)
        proc = subprocess.run(with_cpuinfo([*sh.argv, "-c", f"{src} {guard}; echo next"], cpuinfo_at(2)), env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.stdout == "next\n", (extra, proc.stdout, proc.stderr)
        assert not (tmp_path / MARKER).exists(), extra
        if sh.name == "fish":
            assert f"{WARNING} 3" in proc.stderr
        else:
            assert proc.stderr == "", (extra, proc.stderr)


@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_on_macos_a_hostile_prefix_warns_exactly_like_a_plain_one(prefixes, sysctl_bin, tmp_path, shell_name):
    """No /proc/cpuinfo, sysctl showing an Ivy Bridge (level 2): the level-3 guard of every prefix
    reads its sysctl file through CONDA_PREFIX and warns once, the same words; nothing of a path runs."""
    sh = shell(shell_name)
    env, names = _env(prefixes)
    steps = [step for i in range(len(names)) for step in ((f"MAL_LOWER{i}", "guard"), ("sep", ""))]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = on_a_mac(sh, _commands(sh.suffix, steps), f"{sysctl_bin(SYSCTL_DIR / 'darwin-mojave-ivybridge')}:/usr/bin:/bin",
                    tmp_path, env={k: v for k, v in env.items() if k != "PATH"}, cwd=cwd)
    outputs = proc.stdout.split(f"{SEPARATOR}\n")
    assert proc.returncode == 0 and len(outputs) == len(names) + 1, (proc.stdout[-2000:], proc.stderr)
    assert proc.stderr.count(f"{WARNING} 3 but this CPU is level 2 (from sysctl machdep.cpu)") == len(names), \
        proc.stderr
    _no_command_ran(next(iter(prefixes.values()))[0].parents[2], cwd)
