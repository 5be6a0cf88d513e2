"""What a conda-smithy rerender of this feedstock costs.

conda-smithy renders the recipe once per platform that has a CI provider, and for
every output keeps one variant dict per row of the recipe's zipped variants
(times the combinations of the pinning's zipped groups, which it keeps whether
used or not, unless recipe/variants.yaml narrows them: feedstock/pinning.py):
its time and memory grow with outputs x rows.  Both are counted here without
conda-smithy, by rattler-build, from the committed recipe and `.ci_support/`,
with the pinning groups variants.yaml narrows to one row.  Where conda-smithy is installed
(MICROARCH_LEVEL_CONDA_SMITHY names its executable, MICROARCH_LEVEL_CONDA_SMITHY_PINNING
the conda-forge-pinning `conda_build_config.yaml` it renders with), a real
rerender of a clean clone is timed under `/usr/bin/time -v` for its peak memory
(tests/smithy_rerender.py, which the test of the rerender uses too); where
MICROARCH_LEVEL_UPSTREAM_FEEDSTOCK also names a git checkout of
conda-forge/microarch-level-feedstock, a clean clone of it is rerendered right
after, the same way, so the two compare at the same load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from microarch_level.feedstock.pinning import UNUSED_ZIPPED


@dataclass
class VariantCount:
    rows: int             # zipped rows of recipe/variants.yaml
    outputs: int          # distinct packages rattler-build renders from the committed .ci_support
    narrowed: tuple[str, ...] = ()  # pinning groups (by first key) variants.yaml gives one row each

    @property
    def per_render(self) -> int:
        """Variant dicts conda-smithy keeps per platform render, when the pinning's groups are narrowed."""
        return self.rows * self.outputs


def variant_count(root: Path) -> VariantCount:
    from rattler_build import Stage0Recipe, VariantConfig

    variants = yaml.safe_load((root / "recipe" / "variants.yaml").read_text())
    zipped = variants["zip_keys"][0]
    rows = len(variants[zipped[0]])
    recipe = Stage0Recipe.from_file(root / "recipe" / "recipe.yaml")
    outputs = set()
    for config in sorted((root / ".ci_support").glob("*.yaml")):
        for v in recipe.render(VariantConfig.from_file(str(config))):
            outputs.add((v.recipe.package.name, str(v.recipe.package.version), v.recipe.build.string))
    narrowed = tuple(next(iter(group)) for group in UNUSED_ZIPPED
                     if all(variants.get(key) == [value] for key, value in group.items()))
    return VariantCount(rows, len(outputs), narrowed)


UPSTREAM_VAR = "MICROARCH_LEVEL_UPSTREAM_FEEDSTOCK"


def upstream() -> Path | None:
    """The upstream feedstock checkout to rerender for comparison, when one is named and is a directory."""
    given = os.environ.get(UPSTREAM_VAR)
    return Path(given) if given and Path(given).is_dir() else None
