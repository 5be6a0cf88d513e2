"""One way to read a CPU or level name, whoever wrote it.

People and tools spell the same CPU several ways: archspec and conda say
`x86_64_v3`, mamba with bug #3222 said `x86_64-v3`, gcc and glibc say `x86-64-v3`,
and people type `X86_64_V3`, `v3` or `3`.  `normalize` maps all of them to
archspec's canonical name and its level, and rejects anything else with a
suggestion.  Every place the project reads a name goes through it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..errors import UsageError
from .families import FAMILIES, FEATURES, GENERATION, by_name
from .levels import Catalog, CatalogError

_SEPARATORS = re.compile(r"[-_\s]+")
# Whitespace around a name is dropped (ASCII, what every shell's [:space:] holds); whitespace
# or a control character inside it makes it no name.  The guards read CONDA_OVERRIDE_ARCHSPEC
# by the same rule (templates/override.*.in), so `has<newline>well` is haswell for neither.
_AROUND = " \t\n\v\f\r"
_INSIDE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_LEVEL_SHORTHAND = re.compile(r"^(?:v|level)?([0-9]+)$")
_SIGNED = re.compile(r"^\s*-\s*[0-9]+\s*$")
MAX_SHOWN = 60


class UnknownName(UsageError):
    """A name that is not a CPU or level of the family asked; the message is one line."""

    def __init__(self, text: str, problem: str, suggestion: str | None = None):
        self.text = text
        self.suggestion = suggestion
        hint = f"; did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"{problem}{hint}")


@dataclass(frozen=True)
class Normalized:
    name: str
    level: int

    def __str__(self) -> str:
        return f"{self.name} {self.level}"


def key(text: str) -> str:
    """The spelling-independent form: lower case, no separators or whitespace."""
    return _SEPARATORS.sub("", text.strip().lower())


def _refuse_inner_blanks(text: str) -> None:
    """UnknownName when `text`, once the whitespace around it is dropped, still holds whitespace
    or a control character."""
    if _INSIDE.search(text.strip(_AROUND)):
        raise UnknownName(text, f"'{printable(text)}' is not a CPU name: a name holds no whitespace "
                                "or control character")


def names_by_key(catalog: Catalog) -> dict[str, str]:
    """Each archspec name of `catalog` under its spelling-independent key; refused when two collide."""
    table: dict[str, str] = {}
    for name in catalog.names:
        k = key(name)
        if k in table:
            raise CatalogError(f"archspec names '{table[k]}' and '{name}' differ only in spelling, "
                               "so a name could not be read in any spelling")
        table[k] = name
    return table


def printable(text: str) -> str:
    """`text` made safe for a one-line message (control characters escaped, long text cut)."""
    shown = text.encode("unicode_escape", errors="backslashreplace").decode("ascii")
    return shown if len(shown) <= MAX_SHOWN else shown[:MAX_SHOWN] + "..."


MIN_PREFIX = 3


def _prefix_len(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def suggest(text: str, catalog: Catalog) -> str | None:
    """The known name `text` most likely meant.

    First the rule the activation scripts also use (they cannot run difflib):
    the name sharing the longest prefix (at least MIN_PREFIX characters), then
    the closest in length, then the newest.  Only when no name shares such a
    prefix, difflib's closest match.
    """
    k = key(text)
    keys = names_by_key(catalog)
    scored = [
        (_prefix_len(k, cand), -abs(len(cand) - len(k)), index, name)
        for index, (cand, name) in enumerate(keys.items())
    ]
    best = max(scored)
    if best[0] >= MIN_PREFIX:
        return best[3]
    close = difflib.get_close_matches(k, list(keys), n=1, cutoff=0.6)
    return keys[close[0]] if close else None


def normalize(text: str, catalog: Catalog | None = None, *, allow_level: bool = False) -> Normalized:
    """The canonical archspec name and level of `text`, in a family whose levels have generic names
    (x86-64's `x86_64_v3`; `catalog` defaults to the first family's).

    `allow_level` accepts bare levels (`v3`, `3`, `level3`) where the context
    is a level rather than a CPU (a pin, a CLI argument), never where a tool
    would read the value as an archspec name (CONDA_OVERRIDE_ARCHSPEC).
    """
    catalog = catalog or FAMILIES[0].catalog(None)
    family = by_name(catalog.family)
    label, a_label, low, high = family.label, family.a_label, catalog.levels[0], catalog.levels[-1]
    generic_names = catalog.generic_names
    stem = key(generic_names[high]).rstrip("0123456789")  # `x8664v`: a generic name's key before its level
    shown = printable(text)
    k = key(text)
    if not k:
        example = generic_names[catalog.levels[-2]]
        raise UnknownName(text, f"empty CPU name; expected an archspec name such as '{example}'")
    _refuse_inner_blanks(text)
    if _SIGNED.match(text):
        raise UnknownName(text, f"'{shown}' is not {a_label} level: levels are {low} to {high}")
    keys = names_by_key(catalog)
    if k in keys:
        name = keys[k]
        return Normalized(name, catalog.level_of(name))
    if k == f"{stem}{low}":  # gcc and glibc have no x86-64-v1, but people write it for level 1
        level_one = generic_names[low]
        if allow_level:
            return Normalized(level_one, low)
        raise UnknownName(text, f"'{shown}' is not an archspec name: archspec calls level {low} '{level_one}'",
                          level_one)
    shorthand = _LEVEL_SHORTHAND.match(k)
    digits = shorthand.group(1) if shorthand else ""
    # a number longer than any level is no level (and may be too long for int() to print)
    level = int(digits) if 0 < len(digits) <= 6 else 10**6
    if shorthand and allow_level:
        if level in catalog.levels:
            return Normalized(generic_names[level], level)
        raise UnknownName(
            text,
            f"no {label} level {digits if len(digits) <= 6 else shown} in '{shown}': levels are {low} to {high}",
            f"v{min(max(level, low), high)}",
        )
    if shorthand:
        guess = generic_names[level] if level in catalog.levels else None
        raise UnknownName(text, f"'{shown}' is a level, not an archspec CPU name", guess)
    generic = re.match(rf"^{re.escape(stem)}([0-9]+)$", k)
    if generic:  # x86_64_v0 or x86_64_v5: a generic name of a level that does not exist
        digits = generic.group(1).lstrip("0") or "0"
        wanted = int(digits) if len(digits) <= 6 else 10**6
        raise UnknownName(text, f"no {label} level {digits[:6]} in '{shown}': levels are {low} to {high}",
                          generic_names[min(max(wanted, low), high)])
    foreign = {key(n): (n, fam) for n, fam in catalog.foreign.items()}
    if k in foreign:
        name, other = foreign[k]
        raise UnknownName(text, f"'{name}' is an {other} CPU, not {a_label} one")
    raise UnknownName(
        text,
        f"unknown {label} CPU name '{shown}' (archspec {catalog.archspec_version})",
        suggest(text, catalog),
    )


def _generation_level(catalog: Catalog) -> re.Pattern[str]:
    """How a level of a family of generations may be written, from its row (families.py): `level`, the
    word its CPUs name their generation with (`POWER9`), gcc's and rustc's stems (`power9`, `pwr9`), or
    the first letter of one (`p9`), then digits, then its names' suffix (`9le`); spelling.key's form."""
    try:
        family = by_name(catalog.family)
    except KeyError:  # a catalog of no registered family: bare levels only
        return re.compile(r"^(?:level)?([0-9]+)$")
    stems = {key(family.cpu_word), key(family.march_pattern.split("N")[0]), key(family.rust_cpu.split("{")[0])}
    stems = {st for st in stems if st.isalpha()}
    words = sorted(stems | {st[0] for st in stems}, key=len, reverse=True)
    suffix = key(family.name_pattern.split("N", 1)[1]) if "N" in family.name_pattern else ""
    return re.compile(rf"^(?:level|{'|'.join(map(re.escape, words))})?([0-9]+)(?:{re.escape(suffix)})?$")


def normalize_power(text: str, catalog: Catalog, *, allow_level: bool = False) -> Normalized:
    """The canonical archspec name and level of `text` in a POWER family's catalog (levels = generations).

    `POWER9`, `pwr9`, `9` are levels (gcc's, rustc's, /proc/cpuinfo's words),
    accepted where the context is a level; as a CPU name (CONDA_OVERRIDE_ARCHSPEC)
    a ppc64le host must say `power9le`: archspec's `power9` is big-endian ppc64.
    """
    shown = printable(text)
    k = key(text)
    if not k:
        raise UnknownName(text, f"empty CPU name; expected an archspec name such as '{catalog.family}'")
    _refuse_inner_blanks(text)
    keys = names_by_key(catalog)
    if k in keys:
        name = keys[k]
        return Normalized(name, catalog.level_of(name))
    low, high = catalog.levels[0], catalog.levels[-1]
    shorthand = _generation_level(catalog).match(k)
    digits = shorthand.group(1) if shorthand else ""
    level = int(digits) if 0 < len(digits) <= 6 else 10**6
    named = next((n for n in catalog.names_at(level) if not catalog.is_generic(n)), None)
    if shorthand and allow_level:
        if level in catalog.levels and named:
            return Normalized(named, level)
        raise UnknownName(text, f"no {catalog.family} level {digits[:6]} in '{shown}': levels are {low} to {high}",
                          str(min(max(level, low), high)))
    if shorthand:
        raise UnknownName(text, f"'{shown}' is a level, not the archspec name a {catalog.family} host reports", named)
    raise UnknownName(text, f"unknown {catalog.family} CPU name '{shown}' (archspec {catalog.archspec_version})",
                      suggest(text, catalog))


def _claims_generation(text: str, catalog: Catalog) -> bool:
    """Whether `text` is written as only a generation family reads it: one of its names, or a level
    with a generation prefix (`power9`, `pwr9`), not a bare number."""
    k = key(text)
    return k in names_by_key(catalog) or bool(_generation_level(catalog).match(k)) and not _LEVEL_SHORTHAND.match(k)


# How each rule of families.py reads a name (normalize's signature), and when a text is written in
# that rule's own way (so normalize_any reports that family's refusal, not the first family's).
RULES = {FEATURES: normalize, GENERATION: normalize_power}
CLAIMS = {FEATURES: lambda text, catalog: key(text) in names_by_key(catalog), GENERATION: _claims_generation}


def normalize_in(text: str, catalog: Catalog, *, allow_level: bool = False) -> Normalized:
    """`normalize` by the rule of `catalog`'s family (families.py)."""
    return RULES[by_name(catalog.family).rule](text, catalog, allow_level=allow_level)


def normalize_any(text: str, family: str | None = None, json_path=None, *,
                  allow_level: bool = False) -> Normalized:
    """`normalize` in the family asked for, or (family None) in the first family unless `text` is
    written as another family's name or level, where that family's reading decides."""
    if family is not None:
        return normalize_in(text, by_name(family).catalog(json_path), allow_level=allow_level)
    first, *others = FAMILIES
    try:
        return normalize_in(text, first.catalog(json_path), allow_level=allow_level)
    except UnknownName as refused:
        for other in others:
            catalog = other.catalog(json_path)
            try:
                return normalize_in(text, catalog, allow_level=allow_level)
            except UnknownName as exc:
                if CLAIMS[other.rule](text, catalog):
                    raise exc from None
        raise refused from None
