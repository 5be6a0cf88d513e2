"""The driver's verdict on a failed install: refused because of __archspec, channel not loaded, or other.

Which texts are what:
- REAL: every capture in tests/data/solver-errors-real/ (conda 26.7.1 classic
  text and --json, micromamba 1.5.8 --json, micromamba 2.0.5 text), read in
  place; and rattler's own messages, produced here by py-rattler against the
  built channel.
- QUOTED: micromamba's channel-not-loaded line, as issue 11 quotes it
  ("`_x86_64-microarch-level =* * does not exist (perhaps a typo or a missing
  channel)`"), set between the first and last lines of the real 2.0.5 capture.
- FROM SOURCE: libsolv's "nothing provides requested %s" (micromamba 1.x's
  solver_problems for a missing package) and conda's PackagesNotFoundError
  document (conda/exceptions.py), as those sources format them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATA, captures
from refusal import ARCHSPEC, NOT_LOADED, OTHER, classify

from microarch_level.catalog.families import GATE

REAL = DATA / "solver-errors-real"
CAPTURES = captures(REAL)
MICROMAMBA_205 = REAL / "micromamba-2.0.5-override-x86_64_v2-pin3.txt"
CONDA_JSON = REAL / "conda-26.7.1-classic-zen2-pin4.json"

# QUOTED from issue 11 (micromamba with --offline and an empty cache, 1.5.8 and 2.0.5).
ISSUE_NOT_LOADED = f"{GATE} =* * does not exist (perhaps a typo or a missing channel)"

needs_captures = pytest.mark.skipif(not CAPTURES, reason=f"no real solver outputs in {REAL}")


def real(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def micromamba_205_frame(*middle: str) -> str:
    """Lines between the first and the last line of the real micromamba 2.0.5 capture."""
    lines = [line for line in real(MICROMAMBA_205).splitlines() if line.strip()]
    return "\n".join([lines[0], *middle, lines[-1]]) + "\n"


# --- real refusals -------------------------------------------------------------

@needs_captures
@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_every_real_refusal_is_classified_as_unsatisfiable_because_of_archspec(capture):
    verdict = classify(real(capture), GATE)
    assert verdict.kind == ARCHSPEC, verdict
    assert "__archspec" in verdict.evidence


@needs_captures
def test_conda_json_is_read_through_its_message_not_its_escaped_line():
    verdict = classify(real(CONDA_JSON), GATE)
    assert verdict.evidence.startswith(f"- {GATE}==4 -> __archspec[build=")


@needs_captures
@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_a_real_refusal_of_another_package_does_not_count_for_this_one(capture):
    assert classify(real(capture), "microarch-probe").kind == OTHER


@needs_captures
def test_a_solver_failure_without_an_archspec_requirement_is_not_a_refusal():
    document = json.loads(real(CONDA_JSON))
    kept = [line for line in document["message"].splitlines() if "__archspec" not in line]
    stripped = json.dumps({**document, "message": "\n".join(kept), "error": "UnsatisfiableError: " + "\n".join(kept)})
    assert classify(stripped, GATE).kind == OTHER


# --- channel not loaded ----------------------------------------------------------

@needs_captures
def test_the_issues_does_not_exist_line_is_channel_not_loaded():
    verdict = classify(micromamba_205_frame(f"    └─ {ISSUE_NOT_LOADED}."), GATE)
    assert (verdict.kind, verdict.evidence) == (NOT_LOADED, f"└─ {ISSUE_NOT_LOADED}.")


@needs_captures
def test_does_not_exist_is_never_a_refusal_even_beside_archspec_requirements():
    text = real(MICROMAMBA_205) + f"    └─ {ISSUE_NOT_LOADED}.\n"
    assert classify(text, GATE).kind == NOT_LOADED


def test_libsolvs_nothing_provides_requested_is_channel_not_loaded():
    # micromamba 1.x --json, with libsolv's wording for a requested package that no repo has
    text = json.dumps({"solver_problems": [f"nothing provides requested {GATE} ==4"], "success": False}, indent=4)
    assert classify(text, GATE).kind == NOT_LOADED


def test_condas_packages_not_found_is_channel_not_loaded():
    message = (f"The following packages are not available from current channels:\n\n  - {GATE}==4\n\n"
               f"Current channels:\n\n  - file:///tmp/empty/linux-64\n")
    text = json.dumps({"exception_name": "PackagesNotFoundError", "error": f"PackagesNotFoundError: {message}",
                       "message": message})
    assert classify(text, GATE).kind == NOT_LOADED


# --- rattler, real, from py-rattler here -----------------------------------------

def rattler_text(channel: Path, spec: str, host: str) -> str:
    from microarch_level.tools.solve import Unsatisfiable, archspec_package, base_virtual_packages, solve

    with pytest.raises(Unsatisfiable) as failure:
        solve([channel], [spec], base_virtual_packages() + [archspec_package(host)])
    return str(failure.value)


def test_rattlers_refusal_is_unsatisfiable_because_of_archspec(channel, catalog):
    text = rattler_text(channel, f"{GATE}==4", catalog.generic_name(2))
    verdict = classify(text, GATE)
    assert verdict.kind == ARCHSPEC and "__archspec" in verdict.evidence, text


def test_rattlers_no_candidates_for_the_request_is_channel_not_loaded(channel, catalog):
    text = rattler_text(channel, f"{GATE}==7", catalog.generic_name(2))
    assert classify(text, GATE).kind == NOT_LOADED, text


# --- anything else (constructed: no tool's verdict in them) ----------------------

@pytest.mark.parametrize("text", [
    "",
    "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'prefix'\n",
    "critical libmamba Could not open lockfile\n",
], ids=["nothing", "a-crash", "an-error-before-solving"])
def test_output_without_a_solver_verdict_is_other(text):
    assert classify(text, GATE).kind == OTHER
