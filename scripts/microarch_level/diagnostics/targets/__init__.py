"""The files and directories `microarch-level check` reads: which kind a target is, and its reader.

A directory is a conda prefix; a file is an explicit spec file when it has an
`@EXPLICIT` line, a pixi.lock when its top-level YAML keys include
`environments`, a conda-lock.yml when they include `package` and `metadata`
(what each tool writes: rattler_lock's serializer, conda-lock's
write_conda_lock_file).  Anything else is refused, naming what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import Failure
from . import conda_lock, conda_prefix, explicit, pixi_lock
from .model import BadInput, Environment, require_readable, shown_path

HEAD_BYTES = 64 * 1024
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*):", re.M)
EXPECTED = "expected a conda prefix, a pixi.lock, a conda-lock.yml or an explicit spec file"


@dataclass
class Read:
    environments: list[Environment] = field(default_factory=list)
    skipped: list[tuple[str, str, str, str]] = field(default_factory=list)  # (target, env, platform, why)


def kind_of(path: Path, shown: str) -> str:
    if path.is_dir():
        return conda_prefix.KIND
    if not path.exists():
        raise BadInput(f"{shown}: no such file or directory; {EXPECTED}")
    require_readable(path, shown)  # a FIFO or a device is refused here, never waited on
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise Failure(f"cannot read {shown}: {exc.strerror or exc}") from None
    if b"\0" in head:
        raise BadInput(f"{shown} is a binary file; {EXPECTED}")
    text = head.decode("utf-8", errors="replace")
    if explicit.looks_explicit(text):
        return explicit.KIND
    keys = set(_TOP_KEY.findall(text))
    if "environments" in keys and "version" in keys:
        return pixi_lock.KIND
    if {"package", "metadata"} <= keys or {"package", "metadata"} & keys and "version" in keys:
        return conda_lock.KIND
    if not text.strip():
        raise BadInput(f"{shown} is empty; {EXPECTED}")
    raise BadInput(f"{shown} is none of the files check reads ({EXPECTED})")


def read(target: str, pkgs_dirs: list[Path]) -> Read:
    if not target:
        raise BadInput(f"an empty TARGET; {EXPECTED}")
    path = Path(target)
    shown = shown_path(target)
    kind = kind_of(path, shown)
    if kind == conda_prefix.KIND:
        return Read(conda_prefix.read(path, shown))
    if kind == explicit.KIND:
        return Read(explicit.read(path, shown, pkgs_dirs))
    reader = pixi_lock if kind == pixi_lock.KIND else conda_lock
    environments, skipped = reader.read(path, shown)
    return Read(environments, [(shown, *s) for s in skipped])


__all__ = ["BadInput", "Environment", "Read", "kind_of", "read"]
