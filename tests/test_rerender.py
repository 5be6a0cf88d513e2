"""The committed tree is what a real conda-smithy rerender produces, and the check agrees with it.

Runs conda-smithy itself (tests/smithy_rerender.py: where MICROARCH_LEVEL_CONDA_SMITHY and
MICROARCH_LEVEL_CONDA_SMITHY_PINNING name it and the pinning; skipped, naming them,
elsewhere).  A rerender needs a few GB of memory and a minute or more: one per run.
"""

from __future__ import annotations

import pytest
from smithy_rerender import WHY_ABSENT, find, rerender_clone
from conftest import ROOT, run_cli


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
