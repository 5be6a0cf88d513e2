"""The committed tree is what a real conda-smithy rerender produces, and the check agrees with it.

Runs conda-smithy itself (tests/smithy_rerender.py: where MICROARCH_LEVEL_CONDA_SMITHY and
MICROARCH_LEVEL_CONDA_SMITHY_PINNING name it and the pinning; skipped, naming them,
elsewhere).  One rerender per run, shared by the tests.
"""

from __future__ import annotations

import pytest
import yaml
from smithy_rerender import WHY_ABSENT, find, rerender_clone
from conftest import ROOT, run_cli

from microarch_level.feedstock.render import VARIANTS


@pytest.fixture(scope="module")
def rerendered(tmp_path_factory):
    found = find()
    if found is None:
        pytest.skip(WHY_ABSENT)
    clone = tmp_path_factory.mktemp("rerender") / "feedstock"
    return clone, rerender_clone(ROOT, clone, *found)


def test_a_rerender_of_a_clean_clone_changes_nothing(rerendered):
    _, result = rerendered
    assert result.status == []


def test_the_check_passes_on_the_rerendered_tree(rerendered):
    clone, _ = rerendered
    result = run_cli("generate", "--check", "--root", str(clone))
    assert result.returncode == 0, result.stderr


def test_every_output_of_the_rerender_carries_only_the_recipes_own_rows(rerendered, root):
    # A zipped group of the pinning that variants.yaml does not narrow multiplies every output's
    # variants by its rows (feedstock/pinning.py): the count is then a multiple of the rows.
    _, result = rerendered
    data = yaml.safe_load((root / VARIANTS).read_text())
    rows = len(data[data["zip_keys"][0][0]])
    assert result.variants, "conda-smithy rendered no output through rattler-build-conda-compat"
    assert set(result.variants) == {rows}, (
        f"outputs carry {sorted(set(result.variants))} variants, the recipe has {rows} rows: a zipped group "
        "of the pinning is not narrowed in recipe/variants.yaml (see scripts/microarch_level/feedstock/pinning.py)")
