"""Was a failed install the solver refusing the CPU, a package it never saw, or something else?

An install test that expects "this pin must fail" proves nothing if the
channel was never loaded: libmamba then says the gate "does not exist
(perhaps a typo or a missing channel)", and a check that only looks for
"could not solve" and the gate's name passes without testing anything.  So a
failure counts as a refusal (ARCHSPEC) only when the solver names an
`__archspec` requirement -- the gate's, when a package is given -- and never
when any line says a requested package or its channel was not found.

The wordings below were seen in real output (conda 26.7.1 classic text and
--json, micromamba 1.5.8 --json, micromamba 2.0.5 text: tests/test_refusal.py
classifies each capture), py-rattler's solver here, and the message formats in
the tools' sources (libsolv's solver_problemruleinfo2str, conda/exceptions.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

ARCHSPEC = "unsatisfiable-archspec"   # the solver refused because of an __archspec requirement
NOT_LOADED = "channel-not-loaded"     # a requested package (or the channel holding it) was not found
OTHER = "other"                       # anything else: another conflict, a usage error, a crash

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# A requested package or its channel is missing: never a refusal.
_NOT_FOUND = (
    re.compile(r"does not exist \(perhaps a typo or a missing channel\)"),  # libmamba problem tree, 1.5 and 2.x
    re.compile(r"nothing provides requested "),   # libsolv SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP (mamba 1.x)
    re.compile(r"\bpackage \S+ does not exist"),  # libsolv SOLVER_RULE_JOB_UNKNOWN_PACKAGE
    re.compile(r"No candidates were found for "),  # rattler: no record has the requested name or version
    re.compile(r"PackagesNotFoundError|not available from current channels|ResolvePackageNotFound"),  # conda
)
# The solver ran and found no solution.
_NO_SOLUTION = re.compile(
    r"UnsatisfiableError"                            # conda classic, conda-libmamba-solver (LibMamba...)
    r"|Could not solve for environment specs"        # libmamba
    r"|Encountered problems while solving"           # libmamba 1.x text
    r"|\"solver_problems\""                          # micromamba 1.x --json
    r"|nothing provides \S+ .*needed by"             # libsolv SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP
    r"|is not installable because"                   # libmamba 2.x problem tree
    r"|Cannot solve the request|cannot be installed because"  # rattler
    r"|Found conflicts!")                            # conda classic text
# A requirement on __archspec, as each solver writes it.
_REQUIREMENT = (
    re.compile(r"__archspec\s+=?=?[0-9*][0-9.*]*\s+[A-Za-z0-9_*.|\-]+"),  # `__archspec * zen4`, `__archspec =* zen4`
    re.compile(r"__archspec\[[^\]\n]*build="),                            # conda: `__archspec[build='...']`
    re.compile(r"Examining conflict for [^:\n]*\b__archspec\b"),          # conda classic's conflict search
)


@dataclass(frozen=True)
class Verdict:
    kind: str       # ARCHSPEC, NOT_LOADED or OTHER
    evidence: str   # the line that decided it (for assertion messages)

    @property
    def refused(self) -> bool:
        return self.kind == ARCHSPEC


def _documents(text: str):
    """The JSON objects in `text` (a tool's --json output may follow or precede plain lines)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\s*\{", text, re.MULTILINE):
        try:
            document, _ = decoder.raw_decode(text, match.end() - 1)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict):
            yield document


def readable(output: str) -> str:
    """`output` without colours, with the messages of any JSON document appended as plain lines."""
    text = _ANSI.sub("", output)
    extra = []
    for document in _documents(text):
        for key in ("exception_name", "error", "message"):
            if isinstance(document.get(key), str):
                extra.append(document[key])
        problems = document.get("solver_problems")
        if isinstance(problems, list):
            extra += [p for p in problems if isinstance(p, str)]
    return "\n".join([*extra, text])


def _line(text: str, pattern: re.Pattern, width: int = 160) -> str | None:
    """The first line `pattern` matches, cut to `width` characters around the match (progress bars are long)."""
    for line in text.splitlines():
        found = pattern.search(line)
        if found:
            start = max(0, min(found.start(), len(line) - width))
            return line[start:start + width].strip()
    return None


def classify(output: str, package: str | None = None) -> Verdict:
    """What a failed solve's `output` shows; with `package`, a refusal must also name that package."""
    text = readable(output)
    for pattern in _NOT_FOUND:
        line = _line(text, pattern)
        if line:
            return Verdict(NOT_LOADED, line)
    if _NO_SOLUTION.search(text):
        requirement = next((line for line in map(lambda p: _line(text, p), _REQUIREMENT) if line), None)
        if requirement and (package is None or package in text):
            return Verdict(ARCHSPEC, requirement)
        why = "names no __archspec requirement" if not requirement else f"does not name {package}"
        return Verdict(OTHER, f"the solver found no solution but {why}")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "no output")
    return Verdict(OTHER, first)
