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

from ..catalog.families import GATE
from ..errors import UsageError


class NotAnEnvironment(UsageError):
    """The path is not a conda environment; the message is one line."""


@dataclass(frozen=True)
class Dependent:
    name: str
    version: str
    build: str
    requirement: str  # the dependency on the gate as recorded, e.g. "_x86_64-microarch-level >=3"


@dataclass(frozen=True)
class Environment:
    path: Path
    gate_level: int | None        # None: no gate installed
    gate_build: str | None
    dependents: list[Dependent] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # conda-meta files that are not package records
    gate_unreadable: list[tuple[str, str]] = field(default_factory=list)  # (gate record file, why it cannot be read)
    # Gates of the other families (families.py), e.g. ("_ppc64le-microarch-level", 10): doctor judges x86-64
    # CPUs, so such an environment is for another machine, not one needing no particular level.
    other_gates: list[tuple[str, int]] = field(default_factory=list)


_SPEC_NAME = re.compile(r"^\s*(?:[^\s:]+::)?([A-Za-z0-9_.-]+)")


def _depends_on_gate(spec: str, gate: str = GATE) -> bool:
    m = _SPEC_NAME.match(spec)
    return m is not None and m.group(1) == gate


def read_environment(path: Path, gate: str = GATE) -> Environment:
    """The level of `gate` (by default the x86-64 gate) and its dependents recorded in
    `path`/conda-meta/*.json; the other families' gates are listed apart."""
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
    others = _other_gates(gate)
    for record_file in sorted(meta.glob("*.json")):
        is_gate = record_file.name.startswith(f"{gate}-")  # conda names records NAME-VERSION-BUILD.json
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
            name, version, build = record["name"], str(record["version"]), str(record.get("build", ""))
            depends = [str(d) for d in record.get("depends", [])]
            if name == gate:
                level = int(version)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            unreadable.append(record_file.name)
            if is_gate:
                gate_unreadable.append((record_file.name, _why(exc)))
            continue
        if name == gate:
            gate_level, gate_build = level, build
        elif name in others and version.isdigit():
            other_gates.append((name, int(version)))
        for spec in depends:
            if _depends_on_gate(spec, gate):
                dependents.append(Dependent(name, version, build, spec))
    return Environment(path, gate_level, gate_build, dependents, unreadable, gate_unreadable, other_gates)


def _other_gates(gate: str) -> set[str]:
    from ..catalog.families import FAMILIES

    return {f.gate for f in FAMILIES if f.gate != gate}


def _why(exc: Exception) -> str:
    """One line saying why a record could not be read."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if isinstance(exc, KeyError):
        return f"no '{exc.args[0]}' field"
    return f"not a package record ({exc})"
