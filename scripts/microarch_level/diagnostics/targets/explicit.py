"""An explicit spec file (`conda list --explicit`): one package URL per line after `@EXPLICIT`.

The file names each package (name, version, build, subdir in its URL) but not
its dependencies.  With --pkgs-dir, each package's record is read from a
package cache: the extracted `<dist>/info/repodata_record.json` or
`info/index.json` conda and rattler leave there, else the archive itself.
Without the records, only this is known: the gate build the file holds, and
so that no package needs more than that level (each one's gate constraint
admits it).
"""

from __future__ import annotations

import json
from pathlib import Path

from ...catalog.spelling import printable
from ...errors import Failure
from .conda_lock import dist_parts
from .model import (
    BadInput, Environment, Record, build_environment, checked_depends, family_of, one_reason, read_text
)

KIND = "explicit"
MARKER = "@EXPLICIT"


def looks_explicit(head: str) -> bool:
    return any(line.strip() == MARKER for line in head.splitlines())


def read(path: Path, shown: str, pkgs_dirs: list[Path]) -> list[Environment]:
    text = read_text(path, shown, "an explicit spec file")
    urls = []
    seen_marker = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == MARKER:
            seen_marker = True
            continue
        if not seen_marker:
            continue
        url = line.split("#", 1)[0].strip()
        parts = dist_parts(url)
        if parts is None:
            raise BadInput(f"{shown} line {number}: '{printable(line)}' is not a package URL "
                           "(…/<subdir>/<name>-<version>-<build>.conda or .tar.bz2)")
        urls.append((url, parts))
    if not seen_marker:
        raise BadInput(f"{shown} has no {MARKER} line: not an explicit spec file")
    if pkgs_dirs:
        records = [_record(url, parts, pkgs_dirs, shown) for url, parts in urls]
        subdirs = sorted({r.subdir for r in records if r.subdir and r.subdir != "noarch"})
        return [build_environment(shown, KIND, shown, subdirs[0] if len(subdirs) == 1 else "noarch", records,
                                  where=shown, subdir=subdirs[0] if len(subdirs) == 1 else "")]
    # Without records: names, versions and builds only; the gate, when present, still tells its level.
    records = [Record(name, version, build, (), subdir) for _, (name, version, build, subdir) in urls]
    subdirs = sorted({r.subdir for r in records if r.subdir and r.subdir != "noarch"})
    env = build_environment(shown, KIND, shown, subdirs[0] if len(subdirs) == 1 else "noarch", records,
                            where=shown, subdir=subdirs[0] if len(subdirs) == 1 else "")
    if env.family is not None or family_of("", records) is not None:
        env.unknown = ("the file names packages, not their dependencies: give --pkgs-dir with their records "
                       "to know which level each needs")
    return [env]


def _record(url: str, parts: tuple[str, str, str, str], pkgs_dirs: list[Path], shown: str) -> Record:
    name, version, build, subdir = parts
    dist = f"{name}-{version}-{build}"
    filename = url.rsplit("/", 1)[-1]
    for directory in pkgs_dirs:
        for info in (directory / dist / "info" / "repodata_record.json", directory / dist / "info" / "index.json"):
            if info.is_file():
                try:
                    data = json.loads(info.read_text(encoding="utf-8"))
                except OSError as exc:
                    raise Failure(f"cannot read {info}: {exc.strerror or exc}") from None
                except (ValueError, UnicodeDecodeError, RecursionError):
                    raise BadInput(f"{info} is not JSON: a damaged package cache") from None
                if not isinstance(data, dict):
                    raise BadInput(f"{info} is not a package record")
                return Record(name, version, build, checked_depends(data.get("depends"), str(info), name),
                              str(data.get("subdir", subdir)))
        archive = directory / filename
        if archive.is_file():
            return Record(name, version, build, _archive_depends(archive), subdir)
    raise BadInput(f"{shown}: no record of {dist} in {', '.join(map(str, pkgs_dirs))} "
                   "(neither an extracted package nor its archive)")


def _archive_depends(archive: Path) -> tuple[str, ...]:
    import asyncio

    from rattler import RepoDataRecord

    try:
        record = asyncio.run(RepoDataRecord.from_package_archive(archive))
    except Exception as exc:
        raise BadInput(f"{archive} is not a readable conda package ({one_reason(exc)})") from None
    return tuple(record.depends)
