"""recipe/variants.yaml narrows the pinning's zipped groups the recipe never reads to one row.

Why (feedstock/pinning.py): conda-smithy keeps every zipped group of conda-forge's pinning,
used or not, and multiplies each output's variants by their combinations.  These tests hold
what the narrowing rests on, with rattler-build itself reading the recipe; the count of the
variants each output carries in a real rerender is in tests/test_rerender.py.
"""

from __future__ import annotations

import pytest
import yaml
from rattler_build import Stage0Recipe, VariantConfig

from microarch_level.feedstock.pinning import UNUSED_ZIPPED, narrowed
from microarch_level.feedstock.render import RECIPE, VARIANTS

NARROWED = sorted(narrowed())


@pytest.fixture(scope="module")
def variants(root):
    return yaml.safe_load((root / VARIANTS).read_text())


@pytest.fixture(scope="module")
def rendered(root, tmp_path_factory):
    """What rattler-build renders from the recipe with variants.yaml as committed, and without the narrowed keys."""
    def render(path):
        recipe = Stage0Recipe.from_file(str(root / RECIPE))
        return recipe.render(VariantConfig.from_file(str(path)))

    committed = yaml.safe_load((root / VARIANTS).read_text())
    bare = tmp_path_factory.mktemp("variants") / "variants.yaml"
    bare.write_text(yaml.safe_dump({k: v for k, v in committed.items() if k not in NARROWED}))
    return render(root / VARIANTS), render(bare)


@pytest.mark.parametrize("group", UNUSED_ZIPPED, ids=lambda g: "+".join(g))
def test_variants_give_every_key_of_the_group_exactly_one_value(variants, group):
    # conda-build replaces a pinning's zipped group only when a file names all its keys, equally long.
    assert {key: variants.get(key) for key in group} == {key: [value] for key, value in group.items()}


def test_no_narrowed_key_is_one_the_recipe_zips_or_the_gate_rows_use(variants):
    zipped = {key for group in variants["zip_keys"] for key in group}
    assert zipped.isdisjoint(NARROWED)


def test_no_rendered_output_uses_a_narrowed_key(rendered):
    committed, _ = rendered
    used = {key for v in committed for key in v.variant}
    assert used.isdisjoint(NARROWED), sorted(used & set(NARROWED))


def test_the_narrowed_keys_change_no_rendered_package(rendered):
    def packages(variants):
        return sorted((v.recipe.package.name, str(v.recipe.package.version), v.recipe.build.string,
                       tuple(sorted(v.variant.items()))) for v in variants)

    committed, bare = rendered
    assert packages(committed) == packages(bare)
    assert len(committed) > 0
