"""shellcheck passes on every generated POSIX activation script, with no check disabled unexplained.

The POSIX scripts (`*.sh`) are sourced by bash, dash, zsh, ksh93 and mksh, so they are
checked in shellcheck's `sh` dialect, which each declares on its first line
(`# shellcheck shell=sh`).  shellcheck reads neither zsh (`guard-quick.zsh`, zsh syntax
sourced only by zsh), fish nor csh: those are not checked here.  Every check a template
disables is named in a `# shellcheck disable=` directive and justified in a comment of the
template that renders it (tests below).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from microarch_level.catalog.families import catalogs
from microarch_level.feedstock.render import GENERATED_DIR, render_all

TEMPLATES = Path(__file__).resolve().parents[1] / "scripts" / "microarch_level" / "runtime" / "templates"
DIRECTIVE = re.compile(r"#\s*shellcheck\s+(.*)")
DISABLE = re.compile(r"disable=([A-Z0-9,]+)")


def posix_scripts() -> dict[str, str]:
    """Every generated file a POSIX shell sources: path under recipe/generated -> text."""
    files = render_all([c for _, c in catalogs()])
    return {path.removeprefix(GENERATED_DIR + "/"): text for path, text in files.items()
            if path.startswith(GENERATED_DIR + "/") and path.endswith(".sh")}


@pytest.fixture(scope="module")
def shellcheck() -> str:
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.skip("shellcheck not installed (Debian package shellcheck; .ci/run installs it)")
    return exe


def test_there_are_posix_scripts_to_check():
    scripts = posix_scripts()
    assert any(p.endswith("_guard.sh") for p in scripts)
    assert any("/share/" in p and p.endswith("flags-remove.sh") for p in scripts)


def test_every_generated_posix_script_declares_the_sh_dialect_first():
    for path, text in posix_scripts().items():
        first = text.splitlines()[0]
        assert DIRECTIVE.fullmatch(first) and "shell=sh" in first, (path, first)


def test_every_generated_posix_script_passes_shellcheck(shellcheck, tmp_path):
    """One shellcheck process over every script, every severity (style included)."""
    paths = []
    for path, text in posix_scripts().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        paths.append(str(target))
    proc = subprocess.run([shellcheck, "--format=gcc", "--severity=style", *paths],
                          capture_output=True, text=True, timeout=600)
    findings = proc.stdout.replace(str(tmp_path) + "/", "")
    assert proc.returncode == 0 and not findings.strip(), findings[:6000] or proc.stderr


def test_shellcheck_finds_what_it_is_run_to_find(shellcheck, tmp_path):
    """The run above can fail: a script with a finding makes shellcheck say so."""
    bad = tmp_path / "bad.sh"
    bad.write_text("# shellcheck shell=sh\n_mal_x= _mal_y=\n")
    proc = subprocess.run([shellcheck, "--format=gcc", "--severity=style", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "SC1007" in proc.stdout


def test_every_check_a_template_disables_is_justified_there():
    """Each code a template disables is named again in a comment of that template, which says why."""
    for template in sorted(TEMPLATES.glob("*.in")):
        text = template.read_text()
        codes = {code for m in DISABLE.finditer(text) for code in m.group(1).split(",")}
        comments = re.sub(r"#\s*shellcheck\s+[^\n]*", "", text)
        for code in sorted(codes):
            assert re.search(rf"{code}\b[^\n]*\S", comments), f"{template.name}: {code} disabled without a reason"
