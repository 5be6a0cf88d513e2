"""conda-forge-pinning's zipped keys that this recipe never reads, narrowed to one combination.

conda-smithy renders the recipe with conda-forge-pinning's `conda_build_config.yaml`.
rattler-build-conda-compat (`render._reduce_variants`, 1.4.10) drops the pinning keys a
recipe does not use before it multiplies the variants out, but keeps every key of every
`zip_keys` group, "since the zipping happens, even on unused keys".  The pinning of
2026-08-20 (conda-forge-pinning-feedstock f87504532) has three such groups with more
than one row on linux-64: python with is_python_min (4 rows), libarrow with libarrow_all
(4), root_base with root_cxx_standard (5).  So every output carried 4 x 4 x 5 = 80 copies
of each of the recipe's rows, and conda-smithy's `_collapse_subpackage_variants` compares
them all, per output and per variable the output uses (`get_used_loop_vars` ->
`conda_build.variants.get_vars`): 90% of a rerender's time, seen with py-spy.

`recipe/variants.yaml` therefore gives every key of each group one value.  conda-build's
`combine_specs` lets a later file replace a zipped group when it names all the group's
keys with equal lengths (`_combine_spec_dictionaries`); the values are then never read,
because nothing in the recipe uses these keys (tests/test_generate.py holds that).  They
are the pinning's first row all the same, so that if the pinning later adds a key to a
group, conda-build still finds the values in it and filters the group down to that row
(`filter_combined_spec_to_used_keys`) instead of refusing the file.  Both paths were run
with the real conda-smithy 2026.8.5: a full group, even with a value the pinning lacks
(3.5 s, 139 MiB); a group missing a key (6.3 s, 240 MiB); none of this (3 min 29 s,
2.75 GiB).  A new multi-row group in a later pinning is not an error, only slower again:
tests/test_rerender.py, run with the real conda-smithy, counts the variants each output
carries and fails when they outnumber the recipe's rows.
"""

from __future__ import annotations

PINNING = "conda-forge-pinning of 2026-08-20"

# Each group: every key of one zip_keys group of PINNING, with the value of its first
# row on linux-64, typed as the pinning's YAML types it.
UNUSED_ZIPPED: tuple[dict[str, object], ...] = (
    {"python": "3.10.* *_cpython", "is_python_min": True},
    {"libarrow": "25.0", "libarrow_all": "25.0"},
    {"root_base": "6.36.10", "root_cxx_standard": 20},
)


def narrowed() -> dict[str, list]:
    """The variants.yaml entries: each key of UNUSED_ZIPPED with its one value."""
    return {key: [value] for group in UNUSED_ZIPPED for key, value in group.items()}
