"""What `check` learns from an environment, whatever file it was read from.

Every reader (a conda prefix, a pixi.lock, a conda-lock.yml, an explicit spec
file) turns one environment on one platform into an `Environment`: the
packages that depend on the family's gate with the level each requires, and
the gate build it holds.  The level a record requires is read from its
dependency on the gate (`_x86_64-microarch-level >=3`, the strong run-export
of `x86_64-microarch-level 3`): the lowest gate version the constraint admits.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from ...catalog.families import FAMILIES, Family
from ...catalog.spelling import printable
from ...errors import Failure, UsageError
from ...process import NotAFile, read_bounded

# The conda subdirs whose packages carry a family's gate.


def family_subdirs() -> dict[str, Family]:
    """Each family by the conda platform of its machines (`linux-64`)."""
    return {f.subdir: f for f in FAMILIES}


def gates() -> dict[str, Family]:
    """Each family by the name of its gate package."""
    return {f.gate: f for f in FAMILIES}
# A gate constraint's version part: numbers, globs and comparison operators only.
_VERSION_SPEC = re.compile(r"^[0-9.*<>=!,| ]*$")
_HIGHEST_LEVEL = 99  # constraints are searched for the lowest level they admit up to this one


class BadInput(UsageError):
    """A target whose content is not what its kind promises; one line, exit 2."""


@dataclass(frozen=True)
class Requirement:
    """A package that depends on the gate, and the level that dependency requires."""

    name: str
    version: str
    build: str
    spec: str    # the dependency as recorded: "_x86_64-microarch-level >=3"
    level: int


@dataclass(frozen=True)
class Gate:
    level: int
    build: str


@dataclass
class Environment:
    target: str           # the path as given
    kind: str             # "prefix", "pixi.lock", "conda-lock", "explicit"
    name: str             # the environment's name ("default", the prefix, the categories)
    platform: str         # the lock platform's name or the records' subdir
    family: Family | None  # None: no record ties it to a CPU family
    records: int
    requirements: list[Requirement] = field(default_factory=list)
    gate: Gate | None = None
    solved_for: str | None = None   # the __archspec the lock platform records, "0=x86_64_v3"
    unknown: str | None = None      # why what it needs cannot be known, when it cannot

    @property
    def needs(self) -> int | None:
        """The highest level a package requires; the family's baseline when none does; None when unknown."""
        if self.unknown is not None:
            return None
        if self.requirements:
            return max(r.level for r in self.requirements)
        return self.family.catalog(None).levels[0] if self.family else None

    def needed_by(self) -> list[Requirement]:
        """The packages that require a level above the baseline, highest first, then by name."""
        baseline = self.family.catalog(None).levels[0] if self.family else 0
        return sorted((r for r in self.requirements if r.level > baseline), key=lambda r: (-r.level, r.name))


def gate_family(spec: str) -> Family | None:
    """The family whose gate `spec` (a dependency string) names, or None when it names none."""
    if "microarch-level" not in spec:
        return None
    return gates().get(_spec_name(spec))


def _spec_name(spec: str) -> str:
    head = spec.strip().split(None, 1)[0] if spec.strip() else ""
    head = head.split("::")[-1]
    return re.split(r"[<>=!~\[]", head, maxsplit=1)[0]


@lru_cache(maxsize=4096)
def required_level(spec: str, family_name: str) -> int:
    """The lowest level of `family_name`'s gate that the dependency `spec` admits.

    Raises ValueError (one line) when the constraint is not a gate version
    constraint or admits no level.
    """
    from rattler import MatchSpec, Version, VersionSpec

    from ...catalog.families import by_name

    family = by_name(family_name)
    try:
        version = MatchSpec(spec).version
    except Exception as exc:  # py-rattler raises its own parse error types
        raise ValueError(f"'{printable(spec)}' is not a dependency spec ({one_reason(exc)})") from None
    if version is None:
        return family.catalog(None).levels[0]
    text = str(version)
    if not _VERSION_SPEC.match(text):
        raise ValueError(f"'{printable(spec)}': the gate's version must be a level number")
    try:
        constraint = VersionSpec(text)
    except Exception as exc:
        raise ValueError(f"'{printable(spec)}' is not a version constraint ({one_reason(exc)})") from None
    low = family.catalog(None).levels[0]
    level = next((n for n in range(low, _HIGHEST_LEVEL + 1) if constraint.matches(Version(str(n)))), None)
    if level is None:
        raise ValueError(f"'{printable(spec)}' admits no {family.label} level")
    return level


def one_reason(exc: BaseException, path: object = None) -> str:
    """The first line of an exception's message (without the file's own path, which the caller names)."""
    text = str(exc)
    if path is not None:
        text = text.replace(str(path), "").strip(" :")
    lines = text.strip().splitlines()
    return shown_path(lines[0]) if lines else type(exc).__name__


MAX_PATH_SHOWN = 400


def shown_path(text: str) -> str:
    """A path as messages show it: control characters escaped, only an absurdly long one cut."""
    shown = text.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    return shown if len(shown) <= MAX_PATH_SHOWN else shown[:MAX_PATH_SHOWN] + "..."


@dataclass(frozen=True)
class Record:
    """The fields of a package record `check` reads."""

    name: str
    version: str
    build: str
    depends: tuple[str, ...]
    subdir: str = ""


def family_of(platform_subdir: str, records: list[Record]) -> Family | None:
    """The CPU family of an environment: its platform's, else the gate it holds or depends on."""
    by_subdir, by_gate = family_subdirs(), gates()
    if platform_subdir in by_subdir:
        return by_subdir[platform_subdir]
    for r in records:
        if r.subdir in by_subdir:
            return by_subdir[r.subdir]
    for r in records:
        if r.name in by_gate:
            return by_gate[r.name]
    for r in records:
        for spec in r.depends:
            found = gate_family(spec)
            if found:
                return found
    return None


def may_matter(name: str, depends) -> bool:
    """Whether a record can hold a gate or depend on one (a reader may drop the others unread)."""
    return name in gates() or any("microarch-level" in d for d in depends)


def build_environment(target: str, kind: str, name: str, platform: str, records: Iterable[Record],
                      *, where: str, subdir: str = "", solved_for: str | None = None,
                      total: int | None = None) -> Environment:
    """The Environment of `records` (`total` records in all, when a reader kept only those that
    may_matter); `where` names the file in messages about a malformed record."""
    records = list(records)
    family = family_of(subdir or platform, records)
    env = Environment(target, kind, name, platform, family, len(records) if total is None else total,
                      solved_for=solved_for)
    if family is None:
        return env
    gate = family.gate
    for r in records:
        if r.name == gate:
            if not r.version.isdigit():
                raise BadInput(f"{where}: {gate} {printable(r.version)} is not a level number")
            env.gate = Gate(int(r.version), r.build)
        for spec in r.depends:
            if "microarch-level" not in spec or _spec_name(spec) != gate:
                continue
            try:
                level = required_level(spec, family.name)
            except ValueError as exc:
                raise BadInput(f"{where}: {r.name} {r.version} {r.build}: malformed depends: {exc}") from None
            env.requirements.append(Requirement(r.name, r.version, r.build, spec.strip(), level))
    return env


def checked_depends(value, where: str, name: str) -> tuple[str, ...]:
    """A record's `depends` as a tuple of strings, or BadInput naming the record."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise BadInput(f"{where}: {printable(str(name))}: malformed depends (not a list of strings)")
    return tuple(value)


# A lock file of tens of thousands of records is tens of megabytes; reading stops past this.
MAX_TARGET = 1 << 30


def read_text(path, shown: str, what: str) -> str:
    """A target's text: Failure (exit 1) when it cannot be read (a FIFO, a device or a file past
    MAX_TARGET is refused, never waited on), BadInput when it is no UTF-8 `what`."""
    try:
        return read_bounded(path, MAX_TARGET).decode("utf-8")
    except NotAFile as why:
        raise Failure(f"cannot read {shown}: it {why}") from None
    except OSError as exc:
        raise Failure(f"cannot read {shown}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{shown} is not UTF-8 text: not {what}") from None


def require_readable(path, shown: str) -> None:
    """Failure (exit 1) when `path` is not a regular file this process can open, before a library reads it
    and blames its content (or waits on a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise Failure(f"cannot read {shown}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Failure(f"cannot read {shown}: it is not a regular file (a directory, FIFO, socket or device)")
    finally:
        os.close(fd)
