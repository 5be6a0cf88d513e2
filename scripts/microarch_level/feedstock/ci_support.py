"""Does conda-smithy's `.ci_support/` still build what `recipe/variants.yaml` says?

`.ci_support/*.yaml` belongs to conda-smithy: every rerender rewrites it in its
own order (zipped lists sorted), without our comments, with keys from the
conda-forge pinning (docker_image, channel_targets, cdt_name...).  Comparing
bytes would turn the feedstock red after every bot rerender, so this module
compares meaning instead: the gate builds each CI job makes, read the way
rattler-build reads a variant file -- the zipped (microarch_family, microarch_level,
archspec_build) rows.  Keys the recipe does not use are ignored.

File names are conda-smithy's too, and not judged: it names a job by the platform
and the variables it distributes over CI jobs, each followed by its value
(configure_feedstock.py, `package_key`: today `linux_64_microarch_familyx86_64microarch_level2`),
and which variables those are follows from what rattler-build-conda-compat finds
the recipe using -- an input this check cannot see without running conda-smithy.
CI builds what a file holds, whatever its name, so the check reads every job
file and asks that together they make each gate build exactly once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..catalog.families import FAMILIES
from ..catalog.gate import build_tag
from .drift import Drift

CI_SUPPORT = ".ci_support"
LEVEL_KEY = "microarch_level"
MATCHER_KEY = "archspec_build"
FAMILY_KEY = "microarch_family"
ZIPPED = [MATCHER_KEY, FAMILY_KEY, LEVEL_KEY]  # conda-smithy keeps zip_keys groups sorted; so do we
RERENDER = "rerender with conda-smithy"


class Unreadable(ValueError):
    """A variant file rattler-build could not read as gate builds; the message says why."""


@dataclass(frozen=True, order=True)
class Row:
    """One gate build: its family, level and the `__archspec` matcher it depends on."""

    level: int
    archspec_build: str
    family: str

    @property
    def tag(self) -> str:
        return build_tag(self.archspec_build, self.family)

    def __str__(self) -> str:
        return f"{_named(self.family)}level-{self.level} build {self.tag} (__archspec {self.archspec_build})"


def _named(family: str) -> str:
    """How messages prefix a family's level: nothing for the first family (x86-64), the family otherwise."""
    return "" if family == FAMILIES[0].name else f"{family} "


def rows_of(data: object) -> list[Row]:
    """The gate builds a variant mapping makes, in file order; Unreadable if rattler-build could not use it."""
    if not isinstance(data, dict):
        raise Unreadable("not a mapping of variant keys")
    for key in ZIPPED:
        if not isinstance(data.get(key), list) or not data[key]:
            raise Unreadable(f"no list of {key} values")
    levels, matchers, families = data[LEVEL_KEY], data[MATCHER_KEY], data[FAMILY_KEY]
    groups = data.get("zip_keys") or []
    zipped = any(isinstance(g, list) and set(ZIPPED) <= set(g) for g in groups)
    for key, values in ((LEVEL_KEY, levels), (FAMILY_KEY, families)):
        if not zipped and len(set(map(str, values))) > 1:
            raise Unreadable(f"{key} takes several values but is not zipped with {MATCHER_KEY}")
    if zipped:
        group = next(g for g in groups if isinstance(g, list) and set(ZIPPED) <= set(g))
        lengths = {k: len(data[k]) for k in group if isinstance(data.get(k), list)}
        if len(set(lengths.values())) != 1:
            raise Unreadable("zipped keys of different lengths: "
                             + ", ".join(f"{k} has {n}" for k, n in lengths.items()))
    else:
        levels = levels[:1] * len(matchers)
        families = families[:1] * len(matchers)
    try:
        return [Row(int(str(level)), str(matcher), str(family))
                for level, matcher, family in zip(levels, matchers, families)]
    except ValueError:
        raise Unreadable(f"{LEVEL_KEY} values must be integers, got {sorted(set(map(str, levels)))}") from None


def read_jobs(root: Path) -> list[tuple[str, list[Row] | Unreadable]]:
    """Each job file of `root`/.ci_support, sorted by name: its path from `root`, and its rows or why none."""
    jobs: list[tuple[str, list[Row] | Unreadable]] = []
    for path in sorted((root / CI_SUPPORT).glob("*.yaml")):
        try:
            jobs.append((f"{CI_SUPPORT}/{path.name}", rows_of(yaml.safe_load(path.read_text(encoding="utf-8")))))
        except (Unreadable, yaml.YAMLError, OSError) as exc:
            jobs.append((f"{CI_SUPPORT}/{path.name}", Unreadable(str(exc).splitlines()[0])))
    return jobs


def job_of(jobs: list[tuple[str, list[Row] | Unreadable]], family: str, level: int) -> str | None:
    """The first job file building a gate of `family` at `level`, whatever conda-smithy named it."""
    return next((rel for rel, rows in jobs if not isinstance(rows, Unreadable)
                 and any((r.family, r.level) == (family, level) for r in rows)), None)


def check(root: Path, expected: list[Row]) -> list[Drift]:
    """How `root`/.ci_support differs in meaning from the gate builds `expected`."""
    problems: list[Drift] = []
    jobs = read_jobs(root)
    where: dict[Row, list[str]] = {}  # each row found -> the job files listing it, once per listing
    for rel, found in jobs:
        if isinstance(found, Unreadable):
            problems.append(Drift(rel, "unreadable", f"{found}; {RERENDER}"))
            continue
        for row in found:
            where.setdefault(row, []).append(rel)
        for row in sorted(set(found) - set(expected)):
            problems.append(Drift(rel, "stale", f"has the {row}, which archspec does not call for; {RERENDER}"))
    for row, files in sorted(where.items()):
        for rel, n in sorted(Counter(files).items()):
            if n > 1:
                problems.append(Drift(rel, "stale", f"lists the {row} {n} times; {RERENDER}"))
        if len(set(files)) > 1:
            first, *others = sorted(set(files))
            for rel in others:
                problems.append(Drift(rel, "stale", f"repeats the {row} of {first}; {RERENDER}"))
    missing: dict[tuple[str, int], list[Row]] = {}
    for row in sorted(set(expected) - set(where)):
        missing.setdefault((row.family, row.level), []).append(row)
    for (family, level), rows in missing.items():
        home = job_of(jobs, family, level)  # the job building the level's other rows: where a rerender adds it
        if home is not None:
            problems += [Drift(home, "stale", f"lacks the {row}; {RERENDER}") for row in rows]
        else:
            problems.append(Drift(CI_SUPPORT, "missing",
                                  f"no job builds the {len(rows)} {_named(family)}level-{level} builds; {RERENDER}"))
    return problems
