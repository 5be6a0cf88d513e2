"""Does conda-smithy's `.ci_support/` still build what `recipe/variants.yaml` says?

`.ci_support/*.yaml` belongs to conda-smithy: every rerender rewrites it in its
own order (zipped lists sorted), without our comments, with keys from the
conda-forge pinning (docker_image, channel_targets, cdt_name...).  Comparing
bytes would turn the feedstock red after every bot rerender, so this module
compares meaning instead: the gate builds each CI job makes, read the way
rattler-build reads a variant file -- the zipped (microarch_family, microarch_level,
archspec_build) rows.  Keys the recipe does not use are ignored.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..catalog.gate import build_tag
from .drift import Drift

CI_SUPPORT = ".ci_support"
LEVEL_KEY = "microarch_level"
MATCHER_KEY = "archspec_build"
FAMILY_KEY = "microarch_family"
ZIPPED = [MATCHER_KEY, FAMILY_KEY, LEVEL_KEY]  # conda-smithy keeps zip_keys groups sorted; so do we
JOB_FILE = re.compile(r"linux_64_microarch_level(\d+)\.yaml")
RERENDER = "rerender with conda-smithy"


class Unreadable(ValueError):
    """A variant file rattler-build could not read as gate builds; the message says why."""


@dataclass(frozen=True, order=True)
class Row:
    """One gate build: its family, level and the `__archspec` matcher it depends on."""

    level: int
    archspec_build: str
    family: str = "x86_64"

    @property
    def tag(self) -> str:
        return build_tag(self.archspec_build, self.family)

    def __str__(self) -> str:
        prefix = "" if self.family == "x86_64" else f"{self.family} "
        return f"{prefix}level-{self.level} build {self.tag} (__archspec {self.archspec_build})"


def job_file(level: int) -> str:
    """conda-smithy's name for the CI job of `level`: platform, then the looped key and its value."""
    return f"{CI_SUPPORT}/linux_64_microarch_level{level}.yaml"


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


def rows_by_level(rows: list[Row]) -> dict[int, list[Row]]:
    grouped: dict[int, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row.level, []).append(row)
    return grouped


def check(root: Path, expected: dict[int, list[Row]]) -> list[Drift]:
    """How `root`/.ci_support differs in meaning from the builds `expected` (level -> rows)."""
    problems: list[Drift] = []
    seen_levels = set()
    for path in sorted((root / CI_SUPPORT).glob("*.yaml")):
        rel = f"{CI_SUPPORT}/{path.name}"
        named = JOB_FILE.fullmatch(path.name)
        if named is None or int(named.group(1)) not in expected:
            problems.append(Drift(rel, "unexpected", f"no CI job of that name builds a gate level; {RERENDER}"))
            continue
        level = int(named.group(1))
        seen_levels.add(level)
        try:
            found = rows_of(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (Unreadable, yaml.YAMLError, OSError) as exc:
            problems.append(Drift(rel, "unreadable", f"{str(exc).splitlines()[0]}; {RERENDER}"))
            continue
        problems += _compare(rel, level, found, expected[level])
    for level in sorted(set(expected) - seen_levels):
        problems.append(Drift(job_file(level), "missing", f"{len(expected[level])} level-{level} builds; {RERENDER}"))
    return problems


def _compare(rel: str, level: int, found: list[Row], wanted: list[Row]) -> list[Drift]:
    problems = []
    counts = Counter(found)
    for row in sorted(set(wanted) - set(found)):
        problems.append(Drift(rel, "stale", f"lacks the {row}; {RERENDER}"))
    for row in sorted(set(found) - set(wanted)):
        if row.level != level:
            detail = f"has the {row} in the level-{level} job"
        else:
            detail = f"has the {row}, which archspec does not call for"
        problems.append(Drift(rel, "stale", f"{detail}; {RERENDER}"))
    for row, n in sorted(counts.items()):
        if n > 1:
            problems.append(Drift(rel, "stale", f"lists the {row} {n} times; {RERENDER}"))
    return problems
