"""Solve against a local conda channel with rattler, and read its repodata by a solver's rules.

`solve` and `install` run rattler itself; `installable_from_repodata` reads a
channel's records with each solver's matching rules (catalog.matching) for the
identities rattler cannot represent.  The channel is any directory `microarch-level
build` made (feedstock.channel), or one a user names.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Iterable, Sequence

from ..catalog.matching import matches
from ..errors import UsageError

# The subdirs of a channel `build` writes (every output is noarch; rattler indexes linux-64 beside it).
SUBDIRS = ("noarch", "linux-64")


class Unsatisfiable(Exception):
    """The solver found no solution; the message is the solver's explanation."""


def archspec_package(build: str, version: str = "1"):
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    return GenericVirtualPackage(PackageName("__archspec"), Version(version), BuildString(build))


def base_virtual_packages():
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    return [GenericVirtualPackage(PackageName("__unix"), Version("0"), BuildString("0")),
            GenericVirtualPackage(PackageName("__linux"), Version("6.0"), BuildString("0")),
            GenericVirtualPackage(PackageName("__glibc"), Version("2.28"), BuildString("0"))]


def solve(channels: Iterable[Path], specs: Sequence[str], virtual_packages: list,
          platforms: Sequence[str] = ("linux-64", "noarch")) -> list:
    """Records rattler would install for `specs` on `platforms`; raises Unsatisfiable."""
    import rattler
    from rattler.exceptions import SolverError

    sources = [rattler.Channel(Path(c).resolve().as_uri()) for c in channels]

    async def run():
        return await rattler.solve(sources, list(specs), platforms=list(platforms),
                                   virtual_packages=virtual_packages)

    try:
        return asyncio.run(run())
    except SolverError as exc:
        raise Unsatisfiable(str(exc)) from None


def install(records: list, prefix: Path) -> None:
    """Install `records` into `prefix`, with a package cache of its own next to it.

    rattler's shared cache (~/.cache/rattler) is keyed by file name, and every
    rebuild of this feedstock reuses name-version-build: a shared cache would
    install the files of an earlier build.
    """
    import rattler

    cache = Path(prefix).parent / ".rattler-cache"
    asyncio.run(rattler.install(records, target_prefix=str(prefix), cache_dir=cache, show_progress=False))


# Reading the channel's repodata, for identities rattler cannot represent.

def gate_records(channel: Path, gate: str) -> list[dict]:
    """The repodata records of the package `gate` in `channel`."""
    records = []
    for subdir in SUBDIRS:
        path = Path(channel) / subdir / "repodata.json"
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                records += [r for key in ("packages", "packages.conda") for r in data.get(key, {}).values()
                            if r["name"] == gate]
            except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise UsageError(f"{path} is not readable repodata ({reason}); "
                                 "give a channel `microarch-level build` made") from None
    return records


def installable_from_repodata(channel: Path, reported: str | None, solver: str, gate: str) -> set[int]:
    """Gate versions with a build whose `__archspec` dependency `solver` matches against `reported`.

    mamba's hyphen-bug versions (facts.FACTS) report `x86_64-v3`, which rattler refuses to construct (CEP 26), so
    for them the channel is read by each solver's matching rules (matching.py) instead.
    """
    levels = set()
    for record in gate_records(channel, gate):
        deps = [d.split() for d in record.get("depends", []) if d.split()[0] == "__archspec"]
        ok = not deps or (reported is not None and all(len(d) == 3 and matches(solver, d[2], reported)
                                                        for d in deps))
        if ok:
            levels.add(int(record["version"]))
    return levels
