"""What a conda environment holds that ties it to a CPU level.

An environment created on one machine (or under an override) can be used on
an older CPU; its programs then die with "Illegal instruction".  The gate's
level in conda-meta/ and the packages that depend on the gate tell a user,
before that happens, which programs are at risk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..process import NotAFile, read_bounded


class NotAnEnvironment(UsageError):
    """The path is not a conda environment; the message is one line."""


# A package record is a few kilobytes (the largest, with a long file list, a few megabytes); reading stops past this.
MAX_RECORD = 32 * 1024 * 1024


def read_record(path: Path, limit: int = MAX_RECORD) -> str:
    """The text of one conda-meta record, read without ever blocking: a FIFO, a device (a symlink to
    /dev/zero) or a file larger than `limit` is refused (NotAFile), not read."""
    return read_bounded(path, limit).decode("utf-8")


@dataclass(frozen=True)
class Dependent:
    name: str
    version: str
    build: str
    requirement: str  # the dependency on the gate as recorded, e.g. "_x86_64-microarch-level >=3"


@dataclass(frozen=True)
class Environment:
    path: Path
    gate_level: int | None        # None: no gate installed (or its record is invalid)
    gate_build: str | None
    dependents: list[Dependent] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # conda-meta files that are not package records
    gate_unreadable: list[tuple[str, str]] = field(default_factory=list)  # (gate record file, why it cannot be read)
    # Gates of the other families (families.py), e.g. ("_ppc64le-microarch-level", 10): doctor judges x86-64
    # CPUs, so such an environment is for another machine, not one needing no particular level.
    other_gates: list[tuple[str, int]] = field(default_factory=list)
    # The flag package (`x86_64-microarch-level N`): the level compilers in this environment build for.
    flags_level: int | None = None
    flags_build: str | None = None
    # (record file, why): a gate or flag record whose version is not a level of its family.
    invalid: list[tuple[str, str]] = field(default_factory=list)


_SPEC_NAME = re.compile(r"^\s*(?:[^\s:]+::)?([A-Za-z0-9_.-]+)")


def _depends_on_gate(spec: str, gate: str) -> bool:
    m = _SPEC_NAME.match(spec)
    return m is not None and m.group(1) == gate


def read_environment(path: Path, gate: str, levels: tuple[int, ...]) -> Environment:
    """The level of `gate`, of its flag package, and the gate's dependents
    recorded in `path`/conda-meta/*.json; the other families' gates are listed apart.  A gate or flag
    version that is not one of `levels` is invalid, not a level."""
    meta = path / "conda-meta"
    if not path.is_dir():
        raise NotAnEnvironment(f"{path} is not a directory")
    if not meta.is_dir():
        raise NotAnEnvironment(f"{path} has no conda-meta/ directory: not a conda environment")
    gate_level = gate_build = None
    dependents: list[Dependent] = []
    unreadable: list[str] = []
    gate_unreadable: list[tuple[str, str]] = []
    other_gates: list[tuple[str, int]] = []
    invalid: list[tuple[str, str]] = []
    flags = gate.lstrip("_")
    flags_level = flags_build = None
    others = _other_gates(gate)
    for record_file in sorted(meta.glob("*.json")):
        is_gate = record_file.name.startswith(f"{gate}-")  # conda names records NAME-VERSION-BUILD.json
        try:
            record = json.loads(read_record(record_file))
            name, version, build = record["name"], str(record["version"]), str(record.get("build", ""))
            depends = [str(d) for d in record.get("depends", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            unreadable.append(record_file.name)
            if is_gate:
                gate_unreadable.append((record_file.name, _why(exc)))
            continue
        if name in (gate, flags):
            level = _level(version, levels)
            if level is None:
                invalid.append((record_file.name, f"{name} version '{version}' is not a level "
                                                  f"({', '.join(map(str, levels))})"))
            elif name == gate:
                gate_level, gate_build = level, build
            else:
                flags_level, flags_build = level, build
        elif name in others and version.isdigit():
            other_gates.append((name, int(version)))
        for spec in depends:
            if _depends_on_gate(spec, gate):
                dependents.append(Dependent(name, version, build, spec))
    return Environment(path, gate_level, gate_build, dependents, unreadable, gate_unreadable, other_gates,
                       flags_level, flags_build, invalid)


def _level(version: str, levels: tuple[int, ...]) -> int | None:
    """The level a gate or flag record's version names, or None when it names none of `levels`."""
    return int(version) if version.isascii() and version.isdigit() and int(version) in levels else None


def _other_gates(gate: str) -> set[str]:
    from ..catalog.families import FAMILIES

    return {f.gate for f in FAMILIES if f.gate != gate}


def _why(exc: Exception) -> str:
    """One line saying why a record could not be read."""
    if isinstance(exc, NotAFile):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if isinstance(exc, KeyError):
        return f"no '{exc.args[0]}' field"
    return f"not a package record ({exc})"
