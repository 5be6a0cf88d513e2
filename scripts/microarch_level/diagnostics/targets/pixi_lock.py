"""A pixi.lock, read with py-rattler's lock-file API (rattler_lock, the crate pixi writes it with).

Every environment × platform whose subdir carries a gate (linux-64,
linux-ppc64le) is one Environment.  Lock format 7 lets each platform record
the virtual packages it was solved for; pixi >= 0.71 writes its platforms'
declared ones there (`__archspec=0=x86_64` for a plain `linux-64`,
`__archspec=0=x86_64_v3` for a platform declaring `archspec = "x86_64_v3"`:
tools/facts.py PIXI_LOCK_VIRTUAL_PACKAGES), and `check` reports that `__archspec` as what the
platform was solved for.
"""

from __future__ import annotations

from pathlib import Path

from .model import (
    BadInput, Environment, Record, build_environment, family_subdirs, may_matter, one_reason,
    require_readable
)

KIND = "pixi.lock"


def archspec_of(virtual_packages: list[str]) -> str | None:
    """The `__archspec` entry of a lock platform's virtual packages ("0=x86_64_v3"), or None."""
    for entry in virtual_packages:
        name, _, rest = entry.partition("=")
        if name.strip() == "__archspec":
            return rest
    return None


def read(path: Path, shown: str) -> tuple[list[Environment], list[tuple[str, str, str]]]:
    """(the environments, the (environment, platform, why) pairs skipped)."""
    from rattler import LockFile

    require_readable(path, shown)
    try:
        lock = LockFile.from_path(path)
    except Exception as exc:  # rattler raises its own parse error types
        raise BadInput(f"{shown} is not a readable pixi.lock ({one_reason(exc, path)})") from None
    solved = {p.name: archspec_of(p.virtual_packages) for p in lock.platforms()}
    environments: list[Environment] = []
    skipped: list[tuple[str, str, str]] = []
    for env_name, env in sorted(lock.environments(), key=lambda item: item[0]):
        try:
            by_platform = env.conda_repodata_records()
        except Exception as exc:
            raise BadInput(f"{shown}: environment {env_name}: {one_reason(exc)}") from None
        subdirs = {p.name: str(p.subdir) for p in env.platforms()}
        for platform in sorted(subdirs):
            subdir = subdirs[platform]
            if subdir not in family_subdirs():
                skipped.append((env_name, platform, f"{subdir} packages carry no microarch gate"))
                continue
            locked = by_platform.get(platform, [])
            records = []
            for r in locked:  # only the records that may matter are read in full: a lock holds thousands
                name, depends = r.name.normalized, r.depends
                if may_matter(name, depends):
                    records.append(Record(name, str(r.version), str(r.build), tuple(depends), subdir))
            environments.append(build_environment(shown, KIND, env_name, platform, records,
                                                  where=f"{shown} ({env_name}, {platform})", subdir=subdir,
                                                  solved_for=solved.get(platform), total=len(locked)))
    return environments, skipped
