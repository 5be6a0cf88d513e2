"""The x86-64 names and levels, from archspec's own data and objects; the Catalog every family shares.

archspec is the only source of CPU names, their levels and the features each
level needs; everything else in the project (recipe variants, CI configs,
activation scripts, solver checks) is derived from a `Catalog` built here.

The catalog reads what `archspec.cpu` itself loaded (`schema.TARGETS_JSON`,
and the `Microarchitecture` objects of `archspec.cpu.TARGETS` built from it),
so it honours ARCHSPEC_CPU_DIR and ARCHSPEC_EXTENSION_CPU_DIR exactly as
archspec's host detection does: the catalog and the detected CPU can never
come from different data.  A given microarchitectures.json (--archspec-json,
the tests' newer-archspec data) is read into the same objects the way
archspec builds TARGETS.  Only the order of each level's features comes from
the data itself: archspec keeps features as a set, and the generated scripts
list them in archspec's file order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Mapping

from ..errors import UsageError

FAMILY = "x86_64"
LEVELS = (1, 2, 3, 4)
_GENERIC = re.compile(r"^x86_64(?:_v([2-9]))?$")
MAX_JSON_BYTES = 64 * 1024 * 1024  # archspec's file is about 100 kB
# macOS has no /proc/cpuinfo: archspec reads these sysctl keys' feature words there
# (cpu/detect.py, _sysctl_info_x86_64).
SYSCTL_KEYS = ("machdep.cpu.features", "machdep.cpu.leaf7_features", "machdep.cpu.extfeatures")


class CatalogError(UsageError):
    """archspec's data does not have the shape this project relies on."""


def installed_json_path() -> Path:
    """The microarchitectures.json shipped inside the installed archspec package (the tests
    derive newer-archspec data from it; the catalog reads what archspec.cpu loaded)."""
    import archspec

    return Path(archspec.__file__).parent / "json" / "cpu" / "microarchitectures.json"


def installed_version() -> str:
    return metadata.version("archspec")


@dataclass(frozen=True)
class Catalog:
    """Every microarchitecture of one family archspec knows, with its level.

    `names` is ordered by level, then by archspec's own order within a level,
    so anything rendered from it is stable across runs.
    """

    archspec_version: str
    names: dict[str, int]
    level_features: dict[int, tuple[str, ...]]
    march: dict[int, str]
    ancestors: dict[str, tuple[str, ...]] = field(repr=False)
    # The archspec family (its root name, also the build tag of the unconditional
    # build) and its gate levels: the family's row in families.py.
    family: str
    levels: tuple[int, ...]
    foreign: dict[str, str] = field(default_factory=dict, repr=False)
    # How C/C++/Fortran flags name a level's gcc CPU (`{name}` is march[level]).
    flag_template: str = "-march={name}"
    # archspec's `conversions.darwin_flags`: macOS sysctl spellings (lower case, a
    # key of several words needs them all) -> the Linux flags they stand for.
    darwin_flags: dict[str, str] = field(default_factory=dict, repr=False)
    # Level -> the archspec name that stands for the level itself (x86-64's `x86_64_v3`);
    # empty for a family whose levels have no names of their own (ppc64le).
    generic_names: dict[int, str] = field(default_factory=dict, repr=False)

    def level_of(self, name: str) -> int:
        return self.names[name]

    def names_at(self, level: int) -> list[str]:
        return [n for n, lv in self.names.items() if lv == level]

    def names_at_least(self, level: int) -> list[str]:
        return [n for n, lv in self.names.items() if lv >= level]

    @staticmethod
    def generic_name(level: int) -> str:
        """x86-64's psABI name of `level` (`x86_64_v3`); a catalog's own are its generic_names."""
        return FAMILY if level == 1 else f"{FAMILY}_v{level}"

    def is_generic(self, name: str) -> bool:
        """Whether `name` is the family's root or the generic name of one of its levels."""
        return name == self.family or name in self.generic_names.values()

    def level_name(self, level: int) -> str:
        """The name that stands for `level` in an override: its generic name (`x86_64_v3`), else the
        first specific name at that level (`power9le`; ppc64le's generic name is its baseline)."""
        if level in self.generic_names:
            return self.generic_names[level]
        return next(n for n in self.names_at(level) if not self.is_generic(n))

    def new_features(self, level: int) -> tuple[str, ...]:
        """Features level `level` adds on top of level `level - 1`."""
        below = set(self.level_features.get(level - 1, ()))
        return tuple(f for f in self.level_features[level] if f not in below)

    def flags_from_darwin(self, words: str) -> frozenset[str]:
        """The Linux flag names of macOS sysctl's machdep.cpu feature words, as archspec
        reads them on Darwin: lower-cased, plus each darwin_flags conversion whose words
        are all present."""
        flags = set(words.lower().split())
        for darwin, linux in self.darwin_flags.items():
            if all(w in flags for w in darwin.split()):
                flags.update(linux.split())
        return frozenset(flags)

    def level_from_flags(self, flags: set[str] | frozenset[str]) -> int:
        """The highest level whose features are all in `flags` (archspec's own rule)."""
        best = self.levels[0]
        for level in self.levels[1:]:
            if set(self.level_features[level]) <= flags:
                best = level
        return best


_UNREADABLE = (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError)


def _unreadable(path, exc: BaseException) -> CatalogError:
    """One line saying why archspec data at `path` cannot be read, and what was expected."""
    expected = "expected archspec's microarchitectures.json"
    if isinstance(exc, UnicodeDecodeError):
        why = f"not UTF-8 text (a binary file?); {expected}"
    elif isinstance(exc, json.JSONDecodeError):
        why = f"not JSON ({exc.msg} at line {exc.lineno}); {expected}"
    elif isinstance(exc, RecursionError):
        why = f"nested too deeply; {expected}"
    else:
        why = exc.strerror or str(exc)
    return CatalogError(f"cannot read archspec data {path}: {why}")


def _load_json(path: Path) -> dict:
    """A given microarchitectures.json (--archspec-json), read with a size limit."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise CatalogError(f"cannot read archspec data {path}: larger than {MAX_JSON_BYTES >> 20} MB; "
                               "expected archspec's microarchitectures.json")
        return json.loads(raw.decode("utf-8"))
    except _UNREADABLE as exc:
        raise _unreadable(path, exc) from None


def _archspec_data() -> dict:
    """The data archspec.cpu loaded: its own file, or $ARCHSPEC_CPU_DIR's (with
    $ARCHSPEC_EXTENSION_CPU_DIR's entries merged), read by archspec.cpu.schema."""
    from archspec.cpu import schema

    try:
        return schema.TARGETS_JSON.data
    except _UNREADABLE as exc:
        where = getattr(exc, "filename", None) or schema.TARGETS_JSON.args[0]  # archspec's (file, extension)
        raise _unreadable(where, exc) from None


def targets_of(uarchs: dict[str, dict]):
    """archspec Microarchitecture objects for a checked 'microarchitectures' table, built as
    archspec builds archspec.cpu.TARGETS (parents first), refusing unknown parents and cycles."""
    from archspec.cpu import Microarchitecture

    targets: dict = {}

    def fill(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in targets:
            return
        if name in seen:
            raise CatalogError(f"archspec data has a cycle through '{name}'")
        if name not in uarchs:
            raise CatalogError(f"archspec data names an unknown parent '{name}'")
        entry = uarchs[name]
        for parent in entry.get("from", []):
            fill(parent, seen + (name,))
        targets[name] = Microarchitecture(
            name, [targets[p] for p in entry.get("from", [])], entry.get("vendor", ""), set(entry.get("features", [])),
            entry.get("compilers", {}), generation=entry.get("generation", 0), cpu_part=entry.get("cpupart", ""))

    for name in uarchs:
        fill(name)
    return targets


def checked_tables(data, root: str, targets: Mapping | None) -> tuple[dict[str, dict], Mapping]:
    """(the checked 'microarchitectures' table, its Microarchitecture objects) for the catalog of
    family `root`: `targets` when given (archspec.cpu.TARGETS), else built by targets_of."""
    uarchs = _check_shape(data)
    if root not in uarchs:
        raise CatalogError(f"archspec data has no '{root}' root")
    return uarchs, (targets if targets is not None else targets_of(uarchs))


def _family_root(target) -> str:
    """archspec's Microarchitecture.family (the ancestor that descends from nothing), without its assert."""
    return next(a for a in (target, *target.ancestors) if not a.parents).name


def _check_shape(data) -> dict[str, dict]:
    """The 'microarchitectures' table, after checking every type build_catalog relies on."""
    if not isinstance(data, dict) or not isinstance(data.get("microarchitectures"), dict):
        raise CatalogError("archspec data has no 'microarchitectures' table (an object of CPU entries)")
    uarchs = data["microarchitectures"]
    for name, entry in uarchs.items():
        if not isinstance(entry, dict):
            raise CatalogError(f"archspec data: entry '{name}' is not an object")
        for key in ("from", "features"):
            value = entry.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise CatalogError(f"archspec data: '{name}'.{key} is not a list of names")
        compilers = entry.get("compilers", {})
        if not isinstance(compilers, dict) or not all(
                isinstance(specs, list) and all(isinstance(spec, dict) for spec in specs)
                for specs in compilers.values()):
            raise CatalogError(f"archspec data: '{name}'.compilers is not a table of lists of objects")
    return uarchs


def _gcc_march(compilers: dict) -> str:
    """gcc's -march name for a generic level, from archspec's compiler table (Microarchitecture.compilers).

    archspec lists gcc ranges newest-first; the first entry with an explicit
    name is what current compilers accept (`x86-64-v3`, or `x86-64`).
    """
    for spec in compilers.get("gcc", []):
        if isinstance(spec.get("name"), str) and spec["name"]:
            return spec["name"]
    raise CatalogError("archspec data lacks a gcc -march name for a generic x86-64 level")


def build_catalog(data: dict, archspec_version: str, targets: Mapping | None = None) -> Catalog:
    """The x86-64 catalog of archspec data; `targets` are its Microarchitecture objects
    (archspec.cpu.TARGETS for archspec's own data; built by targets_of when not given)."""
    uarchs, targets = checked_tables(data, FAMILY, targets)
    ancestors = {n: tuple(a.name for a in targets[n].ancestors) for n in uarchs}
    family = [n for n in uarchs if n == FAMILY or FAMILY in ancestors[n]]
    foreign = {n: _family_root(targets[n]) for n in uarchs if n not in family}

    def generic_level(name: str) -> int:
        m = _GENERIC.match(name)
        if not m:
            return 0
        return int(m.group(1) or 1)

    levels = {n: max(generic_level(a) for a in (n, *ancestors[n])) for n in family}
    generic = {lv: Catalog.generic_name(lv) for lv in LEVELS}
    missing = [g for g in generic.values() if g not in uarchs]
    if missing:
        raise CatalogError(f"archspec data lacks the generic levels {', '.join(missing)}")
    too_high = sorted(n for n, lv in levels.items() if lv > max(LEVELS))
    if too_high:
        raise CatalogError(f"archspec data has levels above {max(LEVELS)}: {', '.join(too_high)}")
    ordered = {n: levels[n] for lv in LEVELS for n in family if levels[n] == lv}
    # archspec's features are a set; the data keeps the order the generated scripts list them in.
    features = {lv: tuple(uarchs[generic[lv]].get("features", [])) for lv in LEVELS}
    march = {lv: _gcc_march(targets[generic[lv]].compilers) for lv in LEVELS}
    return Catalog(
        archspec_version=archspec_version,
        names=ordered,
        level_features=features,
        march=march,
        ancestors={n: ancestors[n] for n in ordered},
        family=FAMILY,
        levels=LEVELS,
        foreign=foreign,
        darwin_flags=_darwin_flags(data),
        generic_names=generic,
    )


def _darwin_flags(data: dict) -> dict[str, str]:
    """archspec's `conversions.darwin_flags` table, lower-cased (archspec lower-cases sysctl's words)."""
    conversions = data.get("conversions", {})
    table = conversions.get("darwin_flags", {}) if isinstance(conversions, dict) else None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
        raise CatalogError("archspec data's conversions.darwin_flags is not a table of strings")
    return {k.lower(): v for k, v in table.items()}


def archspec_tables(json_path: Path | None) -> tuple[dict, Mapping | None]:
    """(data, Microarchitecture objects): what archspec.cpu loaded and archspec.cpu.TARGETS;
    or a given microarchitectures.json and None (build_catalog builds them with targets_of)."""
    if json_path is not None:
        return _load_json(json_path), None
    from archspec.cpu import TARGETS

    data = _archspec_data()
    try:
        TARGETS.data  # noqa: B018  (archspec builds its objects on first use)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CatalogError(f"archspec cannot build its CPU objects from its data: {type(exc).__name__} {exc}") from None
    return data, TARGETS


@lru_cache(maxsize=8)
def load_catalog(json_path: Path | None = None) -> Catalog:
    """The catalog of the data archspec.cpu uses, or of a given microarchitectures.json."""
    data, targets = archspec_tables(json_path)
    return build_catalog(data, installed_version(), targets)
