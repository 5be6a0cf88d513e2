"""What the guards of every family share: where they are installed, the variable that turns
them off, and the archspec tables their templates read (the override's names, glibc's hwcaps)."""

from __future__ import annotations

from ..catalog.levels import Catalog
from ..catalog.spelling import MIN_PREFIX, key

GUARD_FILE = "etc/conda/activate.d/{gate}_guard.{shell}"
GUARD_OFF_VAR = "MICROARCH_LEVEL_GUARD"
# The guards read CONDA_OVERRIDE_ARCHSPEC only up to this length: longer than any
# spelling of a CPU name, short enough that their character loops stay instant.
MAX_OVERRIDE = 64


def guard_tables(catalog: Catalog, a_label: str) -> dict:
    """The archspec tables every gate's guards share, as data for their templates.

    `hwcaps`: (level, gcc CPU name) from the highest level down, what glibc's
    `ld.so --help` marks "supported" (templates/glibc-hwcaps.<shell>.in), and
    the `baseline` level glibc implies by listing hwcaps at all.
    `override_names`: (key, archspec name, level) for reading CONDA_OVERRIDE_ARCHSPEC
    (templates/override.<shell>.in): one code for every family, any spelling
    (spelling.key: '-', '_' and blanks dropped, either case), read up to
    `max_override` characters, "did you mean" from `min_prefix` shared characters;
    `a_label` names the family in messages ("an x86-64").  `generic_stem` (x86-64's `x8664v`)
    and `generic_levels` (level, generic name): a generic name of no level (`x86_64_v0`) is
    answered with the nearest level's name, as spelling.normalize does; None for a family
    without generic level names.
    """
    generic = catalog.generic_names
    return {
        "generic_stem": key(generic[catalog.levels[-1]]).rstrip("0123456789") if generic else None,
        "generic_levels": [(lv, generic[lv]) for lv in catalog.levels] if generic else [],
        "archspec_version": catalog.archspec_version,
        "hwcaps": [(lv, catalog.march[lv]) for lv in reversed(catalog.levels[1:])],
        "baseline": catalog.levels[0],
        "override_names": [(key(n), n, lv) for n, lv in catalog.names.items()],
        "a_label": a_label,
        "max_override": MAX_OVERRIDE,
        "min_prefix": MIN_PREFIX,
    }
