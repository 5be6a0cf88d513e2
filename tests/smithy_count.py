"""Run conda-smithy's own `main` with its arguments, counting the variants each rendered output carries.

Not a test: tests/smithy_rerender.py runs this file with the Python of conda-smithy's
environment, as `python smithy_count.py <counts.json> rerender ...`.  conda-smithy renders a
v1 recipe through `rattler_render` (rattler-build-conda-compat's `render`, imported into
conda_smithy.configure_feedstock); each output it returns keeps, in `config.input_variants`,
the variant dicts conda-smithy then compares (`_collapse_subpackage_variants`), whose number
decides the rerender's cost.  The wrapper only counts them and returns what it was given.
"""

import json
import sys

import conda_smithy.configure_feedstock as configure
from conda_smithy.cli import main

counts = []
_render = configure.rattler_render


def _counting_render(*args, **kwargs):
    metas = _render(*args, **kwargs)
    counts.extend(len(meta.config.input_variants) for meta, _, _ in metas)
    return metas


configure.rattler_render = _counting_render
out, argv = sys.argv[1], sys.argv[2:]
try:
    main(argv)
finally:
    with open(out, "w") as f:
        json.dump(counts, f)
