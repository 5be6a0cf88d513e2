"""A conda environment prefix: the package records in its `conda-meta/*.json`.

conda, mamba, micromamba, pixi and rattler all write one JSON record per
installed package there, with the package's `depends` as in its index.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import Failure
from .model import BadInput, Environment, Record, build_environment, checked_depends, read_text

KIND = "prefix"


def read(path: Path, shown: str) -> list[Environment]:
    meta = path / "conda-meta"
    if not meta.is_dir():
        raise BadInput(f"{shown} has no conda-meta/ directory: not a conda environment")
    records = []
    try:
        files = sorted(meta.glob("*.json"))
    except OSError as exc:
        raise Failure(f"cannot list {meta}: {exc.strerror or exc}") from None
    for record_file in files:
        where = f"{shown}/conda-meta/{record_file.name}"
        text = read_text(record_file, where, "a package record")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            reason = f"{exc.msg}, line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise BadInput(f"{where} is not JSON ({reason}): a truncated or damaged package record") from None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or "version" not in data:
            raise BadInput(f"{where} has no package name and version: not a package record")
        name = data["name"]
        records.append(Record(name, str(data["version"]), str(data.get("build", "")),
                              checked_depends(data.get("depends"), where, name), str(data.get("subdir", ""))))
    subdirs = sorted({r.subdir for r in records if r.subdir and r.subdir != "noarch"})
    platform = subdirs[0] if len(subdirs) == 1 else ",".join(subdirs) or "noarch"
    return [build_environment(shown, KIND, shown, platform, records, where=f"{shown}/conda-meta",
                              subdir=subdirs[0] if len(subdirs) == 1 else "")]
