"""Run a snippet in a real shell, optionally with a CPU sample as /proc/cpuinfo."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from microarch_level.diagnostics.cpuinfo import mounted
from microarch_level.runtime.dialects import CSH, FISH, POSIX_SHELLS, SHELL_DIALECTS, Dialect


@dataclass(frozen=True)
class Shell:
    name: str
    argv: tuple[str, ...]      # how to start it without reading any rc file

    @property
    def dialect(self) -> Dialect:
        return SHELL_DIALECTS[self.name]

    @property
    def suffix(self) -> str:
        """Which activation scripts it sources."""
        return self.dialect.suffix

    @property
    def status(self) -> str:
        """How it spells the last command's exit status."""
        return self.dialect.status

    def source(self, path: Path) -> str:
        """Source `path` as conda does: an activate.d or deactivate.d script of an environment
        with that environment exported as CONDA_PREFIX first (the scripts find their other
        files there).  `path` must not hold a `'`."""
        return f"{self.export_prefix(path)}{self.dialect.source} '{path}'"

    def export_prefix(self, path: Path) -> str:
        """The command exporting the environment of `path` (…/etc/conda/<x>.d/<script>) as
        CONDA_PREFIX, then "; ", or "" for a script outside an environment."""
        if path.parent.name not in ("activate.d", "deactivate.d") or path.parent.parent.name != "conda":
            return ""
        prefix = str(path.parents[3])
        if self.dialect is FISH:
            return "set -gx CONDA_PREFIX '" + prefix.replace("\\", "\\\\").replace("'", "\\'") + "'; "
        if self.dialect is CSH:
            return f'setenv CONDA_PREFIX "{prefix}"; '
        return "export CONDA_PREFIX='" + prefix.replace("'", "'\\''") + "'; "

    @property
    def exe(self) -> str | None:
        return shutil.which(self.argv[0])


# How the tests start each shell of the package's table (runtime.dialects) without reading any rc file.
ARGV = {"bash": ("bash", "--norc", "--noprofile"), "dash": ("dash",), "zsh": ("zsh", "-f"), "ksh93": ("ksh93",),
        "mksh": ("mksh",), "fish": ("fish", "--no-config"), "tcsh": ("tcsh", "-f")}
SHELLS = {name: Shell(name, ARGV[name]) for name in SHELL_DIALECTS}
POSIX = POSIX_SHELLS


def shell(name: str) -> Shell:
    s = SHELLS[name]
    if s.exe is None:
        pytest.skip(f"{s.argv[0]} not found on PATH (install it, as .ci/run does)")
    return s


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment: nothing of the test runner's CPU overrides or flags leaks in."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "TERM": "dumb"}
    env.update(extra)
    return env


def with_cpuinfo(argv: list[str], cpuinfo: Path | None) -> list[str]:
    """`argv` run in a private mount namespace where `cpuinfo` is /proc/cpuinfo."""
    if cpuinfo is None:
        return argv
    return mounted(argv, cpuinfo)


def run(sh: Shell, script: str, env: dict[str, str] | None = None, cpuinfo: Path | None = None,
        prefix_argv: tuple[str, ...] = (), timeout: int = 60) -> subprocess.CompletedProcess:
    argv = with_cpuinfo([*prefix_argv, *sh.argv, "-c", script], cpuinfo)
    return subprocess.run(argv, env=env if env is not None else base_env(), capture_output=True,
                          text=True, timeout=timeout)
