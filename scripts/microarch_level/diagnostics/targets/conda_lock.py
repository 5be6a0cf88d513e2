"""A conda-lock.yml, read with conda-lock's own models (`parse_conda_lock_file`).

conda-lock records one environment per platform; its `dependencies` map each
dependency's name to its version constraint only (conda_lock/conda_solver.py
keeps `MatchSpec.version.spec_str`), which is all a gate constraint needs.
Every category (main, dev, extras) is read: `conda-lock install` installs
main and dev unless told otherwise.  conda-lock is an optional dependency
(`pip install 'microarch-level[conda-lock]'`): its tree is large.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from ...errors import Failure
from .model import BadInput, Environment, Record, build_environment, family_subdirs, one_reason, require_readable

KIND = "conda-lock"


def dist_parts(url: str) -> tuple[str, str, str, str] | None:
    """(name, version, build, subdir) of a package URL `.../linux-64/name-1.0-h0_0.conda`, or None."""
    path = urlparse(url).path
    subdir, _, filename = path.rstrip("/").rpartition("/")
    for ext in (".conda", ".tar.bz2"):
        if filename.endswith(ext):
            parts = filename[: -len(ext)].rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                return parts[0], parts[1], parts[2], subdir.rpartition("/")[2]
    return None


def read(path: Path, shown: str) -> tuple[list[Environment], list[tuple[str, str, str]]]:
    try:
        from conda_lock.lockfile import parse_conda_lock_file
    except ImportError:
        raise Failure(f"reading {shown} needs conda-lock's models: pip install 'microarch-level[conda-lock]'") \
            from None
    require_readable(path, shown)
    try:
        lock = parse_conda_lock_file(path)
    except Exception as exc:  # yaml, pydantic and conda-lock's own version errors
        raise BadInput(f"{shown} is not a readable conda-lock.yml ({_reason(exc, path)})") from None
    environments: list[Environment] = []
    skipped: list[tuple[str, str, str]] = []
    for platform in sorted(set(lock.metadata.platforms)):
        packages = [p for p in lock.package if p.manager == "conda" and p.platform == platform]
        categories = sorted({c for p in packages for c in p.categories}) or ["main"]
        name = "+".join(categories)
        if platform not in family_subdirs():
            skipped.append((name, platform, f"{platform} packages carry no microarch gate"))
            continue
        records = []
        for p in packages:
            parts = dist_parts(p.url)
            build = p.build or (parts[2] if parts else "")
            depends = tuple(f"{dep} {spec}".strip() for dep, spec in p.dependencies.items())
            records.append(Record(p.name, p.version, build, depends, parts[3] if parts else ""))
        environments.append(build_environment(shown, KIND, name, platform, records,
                                              where=f"{shown} ({platform})", subdir=platform))
    return environments, skipped


def _reason(exc: BaseException, path: Path) -> str:
    if hasattr(exc, "errors") and callable(exc.errors):  # pydantic's ValidationError
        try:
            first = exc.errors()[0]
            return f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg', '')}"
        except Exception:
            pass
    return one_reason(exc, path)
