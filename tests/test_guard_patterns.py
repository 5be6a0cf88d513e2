"""The guards' one-pattern quick check: it may miss, never lie.

The kernel prints /proc/cpuinfo flags in the order of its feature bits, so each
level's features can be matched by one ordered pattern (activation.ordered_glob)
instead of one match per feature.  Shell `case` patterns and fish's `string
match` patterns mean what fnmatch means for `*` and literal text, so the pattern
is checked here against every real sample.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from guard_support import GUARDED

from microarch_level.catalog.levels import load_catalog
from microarch_level.diagnostics.cpuinfo import first_flags
from microarch_level.runtime.activation import KERNEL_FLAG_POSITION, ordered_glob

CATALOG = load_catalog()


def features(level: int) -> list[str]:
    return list(CATALOG.level_features[level])


def flags_line(sample) -> str:
    """` flags ` as the guards match it: the flag words, a space either side."""
    line = next(line for line in sample.path.read_text().splitlines() if line.startswith("flags"))
    return " " + line.partition(":")[2].strip() + " "


def shell_pattern(level: int) -> str:
    """The sh pattern with its quotes removed: what fnmatch compares literally."""
    return ordered_glob(features(level)).replace('"', "")


def test_the_kernel_order_covers_every_level_feature():
    assert set(features(max(GUARDED))) <= set(KERNEL_FLAG_POSITION)


def test_real_samples_list_the_level_features_in_kernel_order(sample):
    words = flags_line(sample).split()
    present = [w for w in words if w in KERNEL_FLAG_POSITION]
    assert present == sorted(present, key=KERNEL_FLAG_POSITION.__getitem__)


@pytest.mark.parametrize("level", GUARDED)
def test_the_pattern_matches_exactly_the_samples_that_reach_the_level(sample, level):
    """On real samples it also never misses: the per-feature fallback is not needed there."""
    assert fnmatchcase(flags_line(sample), shell_pattern(level)) == (sample.level >= level)
    assert CATALOG.level_from_flags(first_flags(sample.path.read_text())) == sample.level


@pytest.mark.parametrize("level", GUARDED)
def test_the_pattern_fails_when_any_one_feature_is_missing(sample, level):
    line = flags_line(sample)
    for feature in features(level):
        assert not fnmatchcase(line.replace(f" {feature} ", " "), shell_pattern(level)), feature


def test_a_feature_only_present_as_a_longer_flag_does_not_count():
    """mmxext, xsaveopt, fma4 begin with a level feature but are printed later: they never stand in for it."""
    line = (" fpu fxsr sse sse2 mmxext ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt avx f16c lahf_lm abm fma4 bmi1 "
            "avx2 bmi2 xsaveopt ")
    assert not fnmatchcase(line, shell_pattern(2))  # no mmx
    assert not fnmatchcase(line.replace(" fxsr", " mmx fxsr"), shell_pattern(3))  # no xsave
    assert fnmatchcase(line.replace(" fxsr", " mmx fxsr").replace(" avx f16c", " xsave avx f16c"), shell_pattern(3))
    assert not fnmatchcase(line.replace(" fma cx16", " cx16"), shell_pattern(2) + "*")
    without_fma = line.replace(" fxsr", " mmx fxsr").replace(" avx f16c", " xsave avx f16c").replace(" fma cx16", " cx16")
    assert not fnmatchcase(without_fma, shell_pattern(3))  # fma4 does not count as fma
