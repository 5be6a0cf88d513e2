"""How each tool (each reporting style) reads CONDA_OVERRIDE_ARCHSPEC.

The same value means different things to different tools: conda and mamba
2.x pass it through verbatim (so `x86-64-v3` becomes the build string
`x86-64-v3`), rattler and pixi accept only archspec's exact names and refuse
to solve otherwise, mamba 1.x ignores it.  `doctor` and `explain` use this to
say what a user's override really does.  Which tool reads it how is in
facts.FACTS and facts.STYLES (`override`, `emptied`), with where each was seen;
the rattler reading is checked against py-rattler's VirtualPackageOverrides.from_env
in tests/test_doctor.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.levels import Catalog
from ..catalog.spelling import Normalized, UnknownName, normalize_in
from .facts import NAMES, STYLES, VERBATIM, reported

RATTLER_DISABLE = "0"                  # rattler's documented value for "no archspec"


@dataclass(frozen=True)
class Reading:
    """What one reporting style (facts.STYLES) makes of the override."""

    used: bool                      # False: the tool ignores the variable
    report: tuple[str, str] | None  # the __archspec (version, build) it then reports; None: none at all
    error: str | None = None        # the tool refuses to run with this value
    note: str | None = None


def meaning(value: str, catalog: Catalog) -> tuple[Normalized | None, str | None]:
    """The archspec name `value` stands for, or None and why not (one line)."""
    try:
        return normalize_in(value, catalog), None
    except UnknownName as exc:
        return None, str(exc)


def closest(value: str, catalog: Catalog) -> str | None:
    """The archspec name a rejected `value` most likely meant (bare levels included)."""
    try:
        return normalize_in(value, catalog, allow_level=True).name
    except UnknownName as exc:
        return exc.suggestion if exc.suggestion in catalog.names else None


def read(style_key: str, value: str, catalog: Catalog) -> Reading:
    """How the tools of reporting style `style_key` read CONDA_OVERRIDE_ARCHSPEC=`value`."""
    if style_key not in STYLES:
        raise ValueError(f"unknown reporting style '{style_key}'")
    style = STYLES[style_key]
    name, problem = meaning(value, catalog) if value else (None, None)
    if style.override == VERBATIM:
        if value == "" and style.emptied is not None:
            report = reported(style.emptied, catalog, "")
            return Reading(True, report, note=f"an empty override gives __archspec build {report[1]}; {style.note}")
        if value == "":
            return Reading(True, None, note="an empty override removes __archspec")
        note = style.note or None
        if name is None:
            note = _join(note, f"taken verbatim, but {problem}")
        elif name.name != value:
            note = _join(note, f"taken verbatim as '{value}', not archspec's '{name.name}'")
        return Reading(True, ("1", value), note=note)
    if style.override == NAMES:
        if value == "":
            return Reading(True, None, note="an empty override removes __archspec")
        if value == RATTLER_DISABLE:
            return Reading(True, ("1", "0"), note="'0' disables archspec detection")
        if name is not None and name.name == value:
            return Reading(True, ("1", value))
        guess = closest(value, catalog)
        hint = f"; did you mean '{guess}'?" if guess else ""
        return Reading(True, None, error=f"'{value}' is not a known archspec microarchitecture{hint}")
    return Reading(False, None, note="ignores the variable")


def _join(a: str | None, b: str) -> str:
    return f"{a}; {b}" if a else b
