"""The package's table of shell dialects (runtime.dialects) is the one the scripts and the tests use."""

from __future__ import annotations

from pathlib import Path

import pytest
from shells import POSIX, SHELLS

from microarch_level.catalog.families import catalogs
from microarch_level.feedstock.render import render_all
from microarch_level.runtime.dialects import DIALECTS, SHELL_DIALECTS


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return render_all([c for _, c in catalogs()])


def test_the_tests_run_every_shell_of_the_table_and_no_other():
    assert set(SHELLS) == set(SHELL_DIALECTS)
    assert set(POSIX) == {name for name, d in SHELL_DIALECTS.items() if d.suffix == "sh"}


def test_every_dialect_has_a_shell():
    assert {d.suffix for d in SHELL_DIALECTS.values()} == {d.suffix for d in DIALECTS}


def test_every_activation_script_is_in_a_dialect_of_the_table(generated):
    suffixes = {Path(p).suffix.lstrip(".") for p in generated if "/etc/conda/" in p}
    assert suffixes == {d.suffix for d in DIALECTS}


def test_each_package_level_has_one_guard_per_dialect(generated):
    """What conda sources for a shell (its dialect's suffix) exists for every dialect in every gate build."""
    guards: dict[str, set[str]] = {}
    for path in generated:
        if path.endswith(tuple(f"_guard.{d.suffix}" for d in DIALECTS)):
            build = path.split("/etc/conda/")[0]
            guards.setdefault(build, set()).add(Path(path).suffix.lstrip("."))
    assert guards and all(found == {d.suffix for d in DIALECTS} for found in guards.values()), guards
