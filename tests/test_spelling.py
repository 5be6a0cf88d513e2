"""One spelling function: every way people and tools write a CPU or level."""

from __future__ import annotations

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from microarch_level.catalog.levels import LEVELS, load_catalog
from microarch_level.catalog.spelling import Normalized, UnknownName, normalize

CATALOG = load_catalog()
NAMES = list(CATALOG.names)


def spellings(name: str) -> list[str]:
    """How the conda, mamba, gcc/glibc worlds and people write `name`."""
    return [
        name,
        name.upper(),
        name.replace("_", "-"),                        # gcc and glibc: x86-64-v3
        name.replace("_", "-", 1) if name.startswith("x86_64") else name,
        name.replace("x86_64_", "x86_64-"),            # mamba 1.5.3-1.5.9: x86_64-v3
        f"  {name}\t",
        f"\n{name.title()} ",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_spelling_of_every_archspec_name_normalizes_to_it(name):
    expected = Normalized(name, CATALOG.names[name])
    for text in spellings(name):
        assert normalize(text, CATALOG) == expected, text


@pytest.mark.parametrize("level", LEVELS)
def test_bare_levels_name_the_generic_level_where_a_level_is_meant(level):
    generic = CATALOG.generic_name(level)
    for text in (f"v{level}", f"{level}", f"V{level}", f" level{level} ", f"x86-64-v{level}" if level > 1 else "x86-64"):
        assert normalize(text, CATALOG, allow_level=True) == Normalized(generic, level), text


@pytest.mark.parametrize("text", ["v3", "3"])
def test_bare_levels_are_not_cpu_names(text):
    with pytest.raises(UnknownName) as err:
        normalize(text, CATALOG)
    assert "is a level, not an archspec CPU name" in str(err.value)
    assert err.value.suggestion == "x86_64_v3"


@pytest.mark.parametrize("text, suggestion", [
    ("x86_64_v5", "x86_64_v4"),
    ("x86-64-v5", "x86_64_v4"),
    ("hasswell", "haswell"),
    ("zen7", "zen6"),
    ("icelake-server", "icelake"),
    ("brodwell", "broadwell"),
])
def test_unknown_names_are_rejected_with_a_suggestion(text, suggestion):
    with pytest.raises(UnknownName) as err:
        normalize(text, CATALOG)
    assert err.value.suggestion == suggestion
    assert f"did you mean '{suggestion}'?" in str(err.value)
    assert "\n" not in str(err.value)


def test_level_above_four_is_rejected_with_the_nearest_level():
    with pytest.raises(UnknownName) as err:
        normalize("v5", CATALOG, allow_level=True)
    assert "levels are 1 to 4" in str(err.value)
    assert err.value.suggestion == "v4"


def test_names_of_other_families_are_rejected_as_such():
    with pytest.raises(UnknownName, match="aarch64 CPU, not an x86-64 one"):
        normalize("neoverse_n1", CATALOG)


@pytest.mark.parametrize("text", ["", "   ", "-_-"])
def test_empty_names_are_rejected(text):
    with pytest.raises(UnknownName, match="empty CPU name"):
        normalize(text, CATALOG)


def test_control_characters_never_reach_the_message_raw():
    with pytest.raises(UnknownName) as err:
        normalize("zen\n$(touch x)", CATALOG)
    assert "\n" not in str(err.value)


@st.composite
def respelled(draw):
    """A known name with random letter case, separators swapped, and padding."""
    name = draw(st.sampled_from(NAMES))
    chars = []
    for c in name:
        if c == "_":
            chars.append(draw(st.sampled_from(["_", "-", "", "__", "-_"])))
        else:
            chars.append(c.upper() if draw(st.booleans()) else c)
    pad = st.sampled_from(["", " ", "\t", "  \n"])
    return name, draw(pad) + "".join(chars) + draw(pad)


@settings(max_examples=300, deadline=None)
@given(respelled())
def test_normalizing_ignores_case_and_separators(case):
    name, text = case
    assert normalize(text, CATALOG).name == name


@settings(max_examples=300, deadline=None)
@given(st.one_of(respelled().map(lambda c: c[1]), st.text(max_size=20)))
def test_normalizing_is_idempotent(text):
    try:
        once = normalize(text, CATALOG, allow_level=True)
    except UnknownName:
        return
    assert normalize(once.name, CATALOG) == once
    assert normalize(str(once.level), CATALOG, allow_level=True).level == once.level


def test_cli_prints_the_canonical_name_and_level():
    result = run_cli("normalize", "X86-64-V3")
    assert (result.returncode, result.stdout) == (0, "x86_64_v3 3\n")


def test_cli_rejects_unknown_names_in_one_line_with_exit_2():
    result = run_cli("normalize", "x86_64-v5")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "did you mean 'x86_64_v4'?" in result.stderr


def test_cli_cpu_mode_rejects_bare_levels():
    assert run_cli("normalize", "v3").stdout == "x86_64_v3 3\n"
    assert run_cli("normalize", "--cpu", "v3").returncode == 2
