"""The install tests' driver of the real package managers: conda, mamba, micromamba and pixi.

How each tool is *run* is data in `DRIVERS` (its create command, channel and
spec arguments, environment, where the new environment lands); what each
*version* does (offline loading of local channels, CONDA_OVERRIDE_ARCHSPEC,
the failure format, the style of its solve or lock-file solve) comes from
microarch_level.tools.facts.FACTS.  A tool's version is read once (`locate`, with
microarch_level.tools.runners, which `doctor` uses too), and `command_line` joins
the two into the exact argv, so the command each version gets is a pure,
tested function.

    locate(tool)                       a Tool (executable and version) or None
    missing(tool)                      why runners.find(tool) found nothing, as a skip reason
    command_line(driver, tool, ...)    the argv `create` runs
    create(driver, tool, channels, specs, archspec=...)
                                       an Outcome: installed / unsatisfiable / not-found / failed,
                                       with the packages read from the new prefix's conda-meta

A failure is classified by refusal.py (beside this file): "unsatisfiable" only when
the solver names an __archspec requirement, "not-found" when a package or its
channel was missing.  pixi's lock-file solve uses the baseline `__archspec` of
the platform whatever the machine is, while `pixi exec` solves with the
detected (or overridden) CPU: both are drivers of the one tool.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import refusal

from microarch_level.catalog.families import OVERRIDE
from microarch_level.tools.facts import IGNORED, JSON, NAMES  # noqa: F401  (the tests compare override modes with them)
from microarch_level.tools.facts import NO_OVERRIDE as NONE  # noqa: F401  (as above)
from microarch_level.tools.facts import (SOLVER_MISSING, STYLES, TOOLS, VERBATIM, Style, ToolFacts, facts,
                                          offline_local, solvers)
from microarch_level.tools.runners import RunnerError, env_var, find, tool_env, version

TIMEOUT = 900.0

# Statuses of an Outcome.
INSTALLED = "installed"
UNSATISFIABLE = "unsatisfiable"   # the solver refused because of an __archspec requirement
NOT_FOUND = "not-found"           # a requested package, or its channel, was not found
FAILED = "failed"
_STATUS = {refusal.ARCHSPEC: UNSATISFIABLE, refusal.NOT_LOADED: NOT_FOUND, refusal.OTHER: FAILED}


@dataclass(frozen=True)
class Driver:
    """How to run one package manager (a tool may have several drivers: pixi, pixi exec)."""

    key: str
    tool: str
    # argv after the executable; placeholders: {prefix} {workspace} {cache}; list placeholders
    # {channels} {specs} {offline} {errors} expand to zero or more words
    create: tuple[str, ...]
    channel_args: tuple[str, ...]          # repeated per channel: {channel} is its file:// URL
    spec_args: tuple[str, ...] = ("{spec}",)  # repeated per spec
    offline_args: tuple[str, ...] = ()     # {offline}, for versions that load file:// channels offline
    json_args: tuple[str, ...] = ()        # {errors}, for versions whose failures are read as JSON
    layout: str = "prefix"                 # prefix: -p PREFIX; workspace: a manifest; exec: pixi exec
    env: tuple[tuple[str, str], ...] = ()  # set for every run; {scratch} is the run's scratch dir
    note: str = ""
    solver: str | None = None              # {solver}: the tool's solver this driver asks for (tools.SOLVER_FACTS)
    solver_args: tuple[str, ...] = ()
    private_config: bool = False           # a private HOME and condarc: the user's config and caches are never read

    @property
    def locked(self) -> bool:
        """A workspace is solved into its lock file: the tool's lock-file solve decides (FACTS lock_style)."""
        return self.layout == "workspace"

    def facts(self, tool_version: str) -> ToolFacts:
        return facts(self.tool, tool_version)

    def style(self, tool_version: str) -> Style:
        """The reporting style of the solve that decides what this driver installs."""
        row = self.facts(tool_version)
        return STYLES[row.lock_style if self.locked else row.style]

    def offline_local(self, tool_version: str) -> bool | None:
        """Whether this tool version, with this driver's solver, loads file:// channels offline."""
        return offline_local(self.tool, tool_version, self.solver)

    def override_mode(self, tool_version: str) -> str:
        """How that solve reads CONDA_OVERRIDE_ARCHSPEC: the lock-file style's, else the version's row's."""
        return self.style(tool_version).override if self.locked else self.facts(tool_version).override


_CONDA_MAMBA = ("create", "--yes", "--prefix", "{prefix}", "{offline}", "--override-channels", "{errors}",
                "{channels}", "{specs}")
_CONDA = ("create", "--yes", "--prefix", "{prefix}", "{solver}", "{offline}", "--override-channels", "{errors}",
          "{channels}", "{specs}")
# What conda, mamba and micromamba read instead of the user's configuration and caches: CONDA_PKGS_DIRS
# alone is merged in front of a condarc's pkgs_dirs, so each run gets its own HOME and CONDARC too.
_PRIVATE = (("HOME", "{scratch}/home"), ("XDG_CONFIG_HOME", "{scratch}/home/.config"),
            ("XDG_CACHE_HOME", "{scratch}/home/.cache"), ("CONDARC", "{scratch}/condarc"),
            ("MAMBARC", "{scratch}/condarc"), ("CONDA_PKGS_DIRS", "{scratch}/pkgs"))
CONDARC = """\
pkgs_dirs: [{scratch}/pkgs]
envs_dirs: [{scratch}/envs]
channels: []
default_channels: []
auto_update_conda: false
notify_outdated_conda: false
report_errors: false
"""

DRIVERS: dict[str, Driver] = {
    d.key: d
    for d in (
        *(Driver(
            key=f"conda-{solver}", tool="conda",
            create=_CONDA, channel_args=("--channel", "{channel}"),
            offline_args=("--offline",), json_args=("--json",), env=_PRIVATE, private_config=True,
            solver=solver, solver_args=("--solver", solver),
            note="conda info --json lists virtual_pkgs as [name, version, build]",
        ) for solver in solvers("conda")),
        Driver(
            key="mamba", tool="mamba",
            create=_CONDA_MAMBA, channel_args=("--channel", "{channel}"),
            offline_args=("--offline",), json_args=("--json",),
            env=(*_PRIVATE, ("MAMBA_NO_BANNER", "1")), private_config=True,
            note="mamba 1.x is conda's CLI around libmambapy; 2.x is micromamba's C++ CLI",
        ),
        Driver(
            key="micromamba", tool="micromamba",
            create=_CONDA_MAMBA, channel_args=("--channel", "{channel}"),
            offline_args=("--offline",), json_args=("--json",),
            env=(*_PRIVATE, ("MAMBA_ROOT_PREFIX", "{scratch}/root"), ("MAMBA_NO_BANNER", "1")), private_config=True,
            note="micromamba info --json lists 'virtual packages' as name=version=build",
        ),
        Driver(
            key="pixi", tool="pixi",
            create=("install",), channel_args=(), spec_args=(), layout="workspace",
            env=(("PIXI_CACHE_DIR", "{scratch}/cache"), ("RATTLER_CACHE_DIR", "{scratch}/cache")),
            note="a workspace is locked for the platform's baseline __archspec, whatever the machine",
        ),
        Driver(
            key="pixi-exec", tool="pixi",
            create=("exec", "{channels}", "{specs}", "true"),
            channel_args=("--channel", "{channel}"), spec_args=("--spec", "{spec}"), layout="exec",
            env=(("PIXI_CACHE_DIR", "{scratch}/cache"), ("RATTLER_CACHE_DIR", "{scratch}/cache")),
            note="pixi exec solves with the detected CPU (archspec-rs) or CONDA_OVERRIDE_ARCHSPEC",
        ),
    )
}
assert {d.tool for d in DRIVERS.values()} == set(TOOLS)

WORKSPACE_PREFIX = Path(".pixi") / "envs" / "default"
MANIFEST = "pixi.toml"
PLATFORM = "linux-64"


def missing(tool: str) -> str:
    """Why runners.find(tool) returned None, as a one-line test skip reason."""
    given = os.environ.get(env_var(tool))
    if given:
        return f"{tool} not found: {env_var(tool)}={given} is not an executable"
    return f"{tool} not found on PATH (set {env_var(tool)})"


@dataclass(frozen=True)
class Tool:
    """An installed package manager and its version, read once."""

    name: str
    exe: Path
    version: str

    @property
    def facts(self) -> ToolFacts:
        return facts(self.name, self.version)

    @property
    def label(self) -> str:
        """'micromamba-2.0.5': what a test id or a log line says was run."""
        return f"{self.name}-{self.version}"

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.exe})"


def locate(tool: str) -> Tool | None:
    """The installed `tool` with its version; None when find(tool) finds nothing; RunnerError if unreadable."""
    exe = find(tool)
    return None if exe is None else Tool(tool, exe, version(tool, exe))


def driver(key: str) -> Driver:
    try:
        return DRIVERS[key]
    except KeyError:
        raise RunnerError(f"unknown driver '{key}'; expected one of {', '.join(DRIVERS)}") from None


# ----------------------------------------------------------------------------
# Creating environments.

@dataclass(frozen=True)
class Installed:
    name: str
    version: str
    build: str
    build_number: int = 0
    depends: tuple[str, ...] = ()


@dataclass
class Outcome:
    driver: str
    status: str                       # INSTALLED, UNSATISFIABLE, NOT_FOUND or FAILED
    packages: list[Installed] = field(default_factory=list)
    output: str = ""
    returncode: int | None = None
    command: list[str] = field(default_factory=list)
    prefix: Path | None = None        # kept only when the caller gave a workdir
    tool: str = ""                    # "micromamba 2.0.5": what ran

    @property
    def ok(self) -> bool:
        return self.status == INSTALLED

    @property
    def unsatisfiable(self) -> bool:
        return self.status == UNSATISFIABLE

    def package(self, name: str) -> Installed | None:
        return next((p for p in self.packages if p.name == name), None)

    def summary(self) -> str:
        """A few lines for an assertion message."""
        tail = "\n".join(self.output.strip().splitlines()[-25:])
        ran = f"[{self.tool}] " if self.tool else ""
        return f"{ran}{' '.join(self.command)}\n-> {self.status} (exit {self.returncode})\n{tail}"


def failure_status(output: str) -> str:
    """UNSATISFIABLE, NOT_FOUND or FAILED for a failed solve's output (see tests/refusal.py)."""
    return _STATUS[refusal.classify(output).kind]


def read_conda_meta(prefix: Path) -> list[Installed]:
    """The packages installed in `prefix`, from its conda-meta/*.json records."""
    found = []
    for record in sorted((Path(prefix) / "conda-meta").glob("*.json")):
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or "name" not in data:
            continue
        found.append(Installed(str(data["name"]), str(data.get("version", "")), str(data.get("build", "")),
                               int(data.get("build_number", 0) or 0), tuple(data.get("depends") or ())))
    return found


def channel_url(channel: Path | str) -> str:
    text = str(channel)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text):
        return text
    return Path(text).resolve().as_uri()


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def workspace_manifest(channels: Sequence[str], specs: Sequence[str], platform: str = PLATFORM) -> str:
    """A minimal pixi workspace that depends on `specs` from `channels` (file:// URLs)."""
    from rattler import MatchSpec

    lines = ["[workspace]", 'name = "microarch-level-probe"',
             f"channels = [{', '.join(_toml_string(c) for c in channels)}]",
             f"platforms = [{_toml_string(platform)}]", "", "[dependencies]"]
    for spec in specs:
        try:
            parsed = MatchSpec(spec)
        except Exception as exc:  # rattler's parse errors have their own types
            raise RunnerError(f"cannot read the spec '{spec}': {str(exc).splitlines()[0]}") from None
        name = parsed.name.as_package_name() if parsed.name is not None else None
        if name is None:
            raise RunnerError(f"the spec '{spec}' names no single package")
        table = {"version": str(parsed.version) if parsed.version else "*"}
        if parsed.build:
            table["build"] = str(parsed.build)
        value = ", ".join(f"{k} = {_toml_string(v)}" for k, v in table.items())
        lines.append(f"{_toml_string(name.source)} = {{ {value} }}")
    return "\n".join(lines) + "\n"


def _expand(template: Sequence[str], values: Mapping[str, str], lists: Mapping[str, list[str]]) -> list[str]:
    argv: list[str] = []
    for word in template:
        if word in lists:
            argv += lists[word]
        else:
            argv.append(word.format(**values))
    return argv


def _find_prefix(d: Driver, work: Path) -> Path | None:
    if d.layout == "prefix":
        candidate = work / "prefix"
    elif d.layout == "workspace":
        candidate = work / "workspace" / WORKSPACE_PREFIX
    else:  # exec: the one environment in the fresh cache dir
        metas = sorted((work / "cache").glob("*/*/conda-meta"))
        candidate = metas[0].parent if len(metas) == 1 else work / "no-single-environment"
    return candidate if (candidate / "conda-meta").is_dir() else None


def _places(work: Path) -> dict[str, str]:
    return {"scratch": str(work), "prefix": str(work / "prefix"), "workspace": str(work / "workspace"),
            "cache": str(work / "cache")}


def command_line(driver_key: str, tool: Tool, work: Path, channels: Sequence[str], specs: Sequence[str]) -> list[str]:
    """The argv `create` runs for `tool` in the scratch directory `work`, from tools.FACTS for its version.

    `--offline` only where the version loads local file:// channels offline;
    `--json` only where its failures are read as JSON.
    """
    d = driver(driver_key)
    if d.tool != tool.name:
        raise RunnerError(f"driver '{driver_key}' runs {d.tool}, not {tool.name}")
    row = tool.facts
    lists = {
        "{channels}": [w.format(channel=channel_url(c)) for c in channels for w in d.channel_args],
        "{specs}": [w.format(spec=s) for s in specs for w in d.spec_args],
        "{offline}": list(d.offline_args) if d.offline_local(tool.version) else [],
        "{solver}": list(d.solver_args),
        "{errors}": list(d.json_args) if row.errors == JSON else [],
    }
    return [str(tool.exe)] + _expand(d.create, _places(work), lists)


def run_env(d: Driver, values: Mapping[str, str], archspec: str | None, base: Mapping[str, str] | None = None) -> dict:
    """The environment of one run: `base` (this process's environment by default) with the driver's
    variables; with a private config, none of the user's conda or mamba variables (CONDA_*, MAMBA_*,
    CONDARC, MAMBARC) but the override, nor pytest's PYTEST_CURRENT_TEST (conda-libmamba-solver's
    index.py changes its cache handling when it is set)."""
    base = tool_env() if base is None else dict(base)
    if d.private_config:
        base = {k: v for k, v in base.items()
                if not k.startswith(("CONDA_", "MAMBA_")) and k not in ("CONDARC", "MAMBARC", "PYTEST_CURRENT_TEST")}
    base.update({k: v.format(**values) for k, v in d.env})
    base.pop(OVERRIDE, None)
    if archspec is not None:
        base[OVERRIDE] = archspec
    return base


def _prepare(d: Driver, values: Mapping[str, str]) -> None:
    """The directories a run's variables name, and its private condarc."""
    for key, value in d.env:
        if value.startswith("{scratch}") and key not in ("CONDARC", "MAMBARC"):
            Path(value.format(**values)).mkdir(parents=True, exist_ok=True)
    if d.private_config:
        Path(values["scratch"], "condarc").write_text(CONDARC.format(**values), encoding="utf-8")


def isolated_env(tool: str, work: Path, base: Mapping[str, str]) -> dict[str, str]:
    """`base` cut off from the user's configuration and caches as every install run of `tool` is (run_env),
    with its private HOME, condarc and package cache made under `work`: for the tool's other commands
    (`info`, its shell hook)."""
    d = next((d for d in DRIVERS.values() if d.tool == tool and d.private_config), None)
    if d is None:
        raise RunnerError(f"{tool} has no private configuration here")
    values = _places(Path(work))
    env = run_env(d, values, None, base)
    _prepare(d, values)
    return env


def private_overrides(work: Path) -> dict[str, str | None]:
    """runners' `env` overrides giving a probe (`<tool> info`) the private HOME and condarc of a run in `work`."""
    private = isolated_env("micromamba", work, tool_env())
    return {**{k: None for k in os.environ if k not in private}, **private}


def solver_missing(outcome: "Outcome") -> str | None:
    """conda's own words when the driver's solver is not installed (tools.SOLVER_MISSING); else None."""
    return next((ln.strip() for ln in outcome.output.splitlines() if any(m in ln for m in SOLVER_MISSING)), None)


def create(driver_key: str, tool: Tool, channels: Iterable[Path | str], specs: Sequence[str], *,
           archspec: str | None = None, workdir: Path | None = None, timeout: float = TIMEOUT) -> Outcome:
    """Create a fresh environment with `specs` from local `channels` only, and report what happened.

    `archspec` is the value of CONDA_OVERRIDE_ARCHSPEC for the run (None: unset,
    so the tool detects the CPU).  A failed run is UNSATISFIABLE only when the
    solver names an __archspec requirement, NOT_FOUND when a package or its
    channel was missing, FAILED otherwise (including a timeout).
    Without `workdir` everything is created in a temporary directory that is
    removed afterwards; with it, the environment is kept (Outcome.prefix).
    """
    d = driver(driver_key)
    urls = [channel_url(c) for c in channels]
    if not urls:
        raise RunnerError("no channel given")
    if not specs:
        raise RunnerError("no package spec given")
    owned = workdir is None
    work = Path(tempfile.mkdtemp(prefix=f"microarch-{d.key}-")) if owned else Path(workdir)
    try:
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            raise RunnerError(f"work directory {work} is not empty")
        values = _places(work)
        cwd = work
        if d.layout == "workspace":
            cwd = work / "workspace"
            cwd.mkdir()
            (cwd / MANIFEST).write_text(workspace_manifest(urls, specs), encoding="utf-8")
        argv = command_line(driver_key, tool, work, urls, specs)
        env = run_env(d, values, archspec)
        _prepare(d, values)
        ran = f"{tool.name} {tool.version}"
        try:
            proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, errors="replace",
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or "") if isinstance(exc.stdout, str) else (exc.stdout or b"").decode("utf-8", "replace")
            return Outcome(d.key, FAILED, output=f"{out}\n[timed out after {timeout:.0f} s]", command=argv, tool=ran)
        except OSError as exc:
            raise RunnerError(f"cannot run {tool.exe}: {exc.strerror or exc}") from None
        output = proc.stdout + ("\n" if proc.stdout and proc.stderr else "") + proc.stderr
        prefix = _find_prefix(d, work)
        packages = read_conda_meta(prefix) if prefix else []
        if proc.returncode == 0 and prefix is not None:
            status = INSTALLED
        elif proc.returncode != 0:
            status = failure_status(output)
        else:
            status = FAILED
            output += f"\n[exit 0 but no environment with conda-meta/ under {work}]"
        return Outcome(d.key, status, packages, output, proc.returncode, argv, None if owned else prefix, ran)
    finally:
        if owned:
            shutil.rmtree(work, ignore_errors=True)
