"""Render one activation script from its whole-script Jinja template and plain data.

Every piece of shell syntax -- each `case` arm, `if` chain, indentation and
quoting -- is in `templates/*.in`; Python hands them only data (names, levels,
features, gcc CPU names, patterns).  A reader follows one file per script and
shell, and a table that grows with archspec grows by a Jinja loop in it.

Delimiters: Jinja's defaults clash with shell.  `{# #}` is in `${#var}` and
`${#}`, and `{{ }}` cannot fill a name inside a parameter expansion: the
template text `${{{ name }}-}` is lexed as `${{` + `{ name }}`, a syntax error.
So statements are `<% ... %>`, expressions `<@ ... @>` and comments
`<# ... #>`: no shell construct contains any of the six strings, and
tests/test_generate.py renders every script and checks that none survives.
`StrictUndefined` turns a misspelt name into an error instead of an empty string.
"""

from __future__ import annotations

import jinja2

# Where a reader of an installed script finds the template it was rendered from: the
# packages ship the scripts only, so the repository (templates/head.in writes it in each).
TEMPLATES_URL = ("https://github.com/conda-forge/microarch-level-feedstock/tree/main/"
                 "scripts/microarch_level/runtime/templates")

DELIMITERS = {
    "block_start_string": "<%",
    "block_end_string": "%>",
    "variable_start_string": "<@",
    "variable_end_string": "@>",
    "comment_start_string": "<#",
    "comment_end_string": "#>",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader(__package__, "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # shell, not HTML: the templates quote for their shell
    keep_trailing_newline=True,
    trim_blocks=True,  # a line holding only `<% ... %>` leaves no line behind
    lstrip_blocks=True,
    **DELIMITERS,
)


def pack(words, width: int = 100, form: str = "{}", sep: str = "") -> list[str]:
    """`words`, each written as `form`, as lines of at most `width` characters joined by `sep`
    (a longer word alone on its line): the templates join the lines with what continues a line
    in their shell."""
    lines: list[str] = []
    for word in map(form.format, words):
        if lines and len(lines[-1]) + len(sep) + len(word) <= width:
            lines[-1] += sep + word
        else:
            lines.append(word)
    return lines


_ENV.filters["pack"] = pack


def render(template: str, **data) -> str:
    """The text of `templates/<template>` filled with `data` (and its own name and URL, for its header)."""
    return _ENV.get_template(template).render(**data, template=template, templates_url=TEMPLATES_URL)
