"""Ask an installed package manager about itself: where it is, its version, its `__archspec`.

`doctor` shows what each package manager on this machine (conda, mamba,
micromamba, pixi: facts.TOOLS) really reports, beside what facts.FACTS
predicts for its version; the install tests (tests/tool_runs.py) find and
read the tools the same way before they drive them.

    find(tool)                         the executable (MICROARCH_LEVEL_<TOOL>, else PATH) or None
    version(tool, exe)                 "2.0.5": what `exe --version` prints, read once by the caller
    reported_archspec(tool, exe)       ("1", "haswell"): the __archspec the tool's solver sees,
                                       asked the way facts.FACTS says for that version (its probe)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from .facts import LIBMAMBAPY, TOOLS, facts

ENV_PREFIX = "MICROARCH_LEVEL_"
# tools.INFO_JSON's probe: every tool in facts.TOOLS lists its virtual packages this way (mamba 1.x: conda's view).
INFO = ("info", "--json")


class RunnerError(RuntimeError):
    """A tool could not be run or its output not understood; the message is one line."""


# ----------------------------------------------------------------------------
# Finding a tool and asking it about itself.

def env_var(tool: str) -> str:
    return f"{ENV_PREFIX}{tool.upper().replace('-', '_')}"


def find(tool: str) -> Path | None:
    """The executable named by MICROARCH_LEVEL_<TOOL> if set, else `tool` on PATH; None if neither."""
    given = os.environ.get(env_var(tool))
    if given:
        hit = shutil.which(given)
        return Path(hit).absolute() if hit else None
    hit = shutil.which(tool)
    return Path(hit).absolute() if hit else None


def _run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 120.0) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                              capture_output=True, text=True, errors="replace", timeout=timeout)
    except FileNotFoundError:
        raise RunnerError(f"cannot run {argv[0]}: no such file") from None
    except PermissionError:
        raise RunnerError(f"cannot run {argv[0]}: permission denied") from None
    except subprocess.TimeoutExpired:
        raise RunnerError(f"{Path(argv[0]).name} {' '.join(argv[1:3])} did not finish in {timeout:.0f} s") from None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")


_VERSION = re.compile(r"v?(\d+(?:\.\d+)+(?:[-.+]?[A-Za-z0-9]+)*)")


def parse_version_output(tool: str, text: str) -> str | None:
    """The tool's own version in `--version` output, or None.

    conda: `conda 24.11.3`; pixi: `pixi 0.41.4`; micromamba and mamba 2.x: `2.0.5`;
    mamba 1.x: `mamba 1.5.8` then `conda 23.11.0` (its own line wins).
    """
    bare = None
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == tool and _VERSION.fullmatch(words[1]):
            return _VERSION.fullmatch(words[1]).group(1)
        if len(words) == 1 and bare is None and _VERSION.fullmatch(words[0]):
            bare = _VERSION.fullmatch(words[0]).group(1)
    return bare


def version(tool: str, exe: Path) -> str:
    """The version `exe --version` prints, e.g. "24.11.3"; RunnerError when it prints none."""
    proc = _run([str(exe), "--version"], env=tool_env({"MAMBA_NO_BANNER": "1"}))
    found = parse_version_output(tool, proc.stdout) or parse_version_output(tool, proc.stderr)
    if proc.returncode != 0 or not found:
        raise RunnerError(f"{exe} --version exited {proc.returncode}: {_first_line(proc.stdout + proc.stderr)}")
    return found


def parse_virtual_packages(data: object) -> dict[str, tuple[str, str]]:
    """{name: (version, build)} from any tool's `info --json` document.

    conda and mamba 1.x: "virtual_pkgs": [["__archspec", "1", "haswell"], ...];
    micromamba and mamba 2.x: "virtual packages": ["__archspec=1=x86_64_v3", ...];
    pixi: "virtual_packages": ["__archspec=1=haswell", ...].
    """
    if not isinstance(data, dict):
        raise RunnerError("info --json did not print a JSON object")
    for key in ("virtual_pkgs", "virtual packages", "virtual_packages"):
        if key in data:
            entries = data[key]
            break
    else:
        raise RunnerError(f"info --json has no virtual packages (keys: {', '.join(sorted(data)) or 'none'})")
    found: dict[str, tuple[str, str]] = {}
    for entry in entries or ():
        if isinstance(entry, str):
            parts = entry.split("=", 2)
        elif isinstance(entry, dict):
            parts = [entry.get("name"), entry.get("version"), entry.get("build", entry.get("build_string"))]
        else:
            parts = list(entry)
        if len(parts) != 3 or not all(isinstance(p, str) for p in parts):
            raise RunnerError(f"cannot read virtual package {entry!r} in info --json")
        found[parts[0]] = (parts[1], parts[2])
    return found


# libmambapy 1.x: the virtual packages mamba's own solver uses (mamba 1.x `info` is conda's).
_LIBMAMBAPY_PROBE = (
    "import json, libmambapy\n"
    "print(json.dumps([[p.name, p.version, p.build_string] for p in libmambapy.get_virtual_packages()]))\n"
)


_LONG_SHEBANG = re.compile(r"""^'''exec' "([^"]+)" "\$0" """.rstrip())


def _interpreter(exe: Path) -> Path | None:
    """The Python a console script (conda/mamba 1.x entry point) runs with; None if it is not one.

    Reads the #! line, or, under `#!/bin/sh`, the exec line conda writes when
    the interpreter's path is too long for #!.
    """
    try:
        with open(exe, "rb") as fh:
            head = fh.read(8192).decode("utf-8", "replace").splitlines()[:2]
    except OSError:
        return None
    if not head or not head[0].startswith("#!"):
        return None
    words = head[0][2:].split()
    candidate = None
    if words and Path(words[0]).name == "env" and len(words) > 1:
        candidate = shutil.which(words[1])
    elif words and Path(words[0]).name.startswith("python"):
        candidate = words[0]
    elif len(head) > 1 and _LONG_SHEBANG.match(head[1]):
        candidate = _LONG_SHEBANG.match(head[1]).group(1)
    if candidate is None or not Path(candidate).name.startswith("python"):
        return None
    return Path(candidate)


def reported_archspec(tool: str, exe: Path, env: dict | None = None,
                      tool_version: str | None = None) -> tuple[str, str] | None:
    """(version, build) of the `__archspec` virtual package `tool` solves with; None when it reports none.

    `env` is merged over this process's environment (a None value removes a
    variable), e.g. {"CONDA_OVERRIDE_ARCHSPEC": "haswell"}.  For pixi this is
    what `pixi info` detects (what `pixi exec` and installs check against);
    a workspace's lock file is solved for the baseline instead (facts.FACTS lock_style).
    mamba 1.x: libmambapy's view, through the Python its entry point runs
    with; conda's view (what `mamba info` prints) only if that fails.
    `tool_version` saves reading the version again when the caller has it.
    """
    if tool not in TOOLS:
        raise RunnerError(f"unknown tool '{tool}'; expected one of {', '.join(TOOLS)}")
    tool_version = tool_version or version(tool, exe)
    run_env = tool_env({"MAMBA_NO_BANNER": "1"}, env)
    if facts(tool, tool_version).probe == LIBMAMBAPY:
        python = _interpreter(exe)
        if python is not None:
            proc = _run([str(python), "-c", _LIBMAMBAPY_PROBE], env=run_env)
            if proc.returncode == 0:
                try:
                    listed = parse_virtual_packages({"virtual_pkgs": json.loads(proc.stdout)})
                except (json.JSONDecodeError, RunnerError):
                    listed = None
                if listed is not None:
                    return listed.get("__archspec")
        # fall through: conda's view, which is what `mamba info` prints
    with tempfile.TemporaryDirectory(prefix="microarch-info-") as scratch:
        proc = _run([str(exe), *INFO], env=run_env, cwd=Path(scratch))
    if proc.returncode != 0:
        raise RunnerError(f"{exe} {' '.join(INFO)} exited {proc.returncode}: "
                          f"{_first_line(proc.stderr + proc.stdout)}")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RunnerError(f"{exe} {' '.join(INFO)} printed no JSON ({exc.msg})") from None
    return parse_virtual_packages(data).get("__archspec")


def tool_env(extra: Mapping[str, str] | None = None, overrides: Mapping[str, str | None] | None = None) -> dict:
    """This process's environment with `extra` set and `overrides` applied (a None value removes a variable)."""
    env = dict(os.environ)
    env.update(extra or {})
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
