"""README.md stays true: its shell blocks run as typed, its links lead somewhere, it stays a landing page.

Every ```sh block runs, in one bash with `set -euo pipefail`, from the checkout
after the setup (`make build`: .venv/ and the channel).  A block that cannot run
here says why on the line before it: `<!-- readme-test: skip: REASON -->`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
SKIP = re.compile(r"<!-- readme-test: skip: (\S.*?) -->\s*$")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
LANDING_PAGE_LINES = 150


def blocks(path: Path, language: str) -> list[tuple[int, str, str | None]]:
    """(line number, text, skip reason or None) of each fenced block in `language`."""
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        if match.group(1) != language:
            continue
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        found.append((text.count("\n", 0, match.start()) + 1, match.group(2), skip.group(1) if skip else None))
    return found


SHELL_BLOCKS = blocks(README, "sh")


def requires_setup() -> Path:
    """The command the README shows, or skip: the README's setup (`make build`) has not run here."""
    command = ROOT / ".venv" / "bin" / "microarch-level"
    if not command.exists():
        pytest.skip("no .venv/bin/microarch-level: the README's setup (`make build`) has not run here")
    return command


def test_the_readme_has_shell_blocks_that_run():
    assert [line for line, _, skip in SHELL_BLOCKS if skip is None]


@pytest.mark.parametrize("line, block, skip", SHELL_BLOCKS, ids=[f"line-{b[0]}" for b in SHELL_BLOCKS])
def test_each_shell_block_of_the_readme_runs_as_typed(line, block, skip):
    if skip is not None:
        pytest.skip(f"README.md line {line}: {skip}")
    requires_setup()
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"README.md line {line}:\n{block}\n{result.stderr}"
    assert result.stdout.strip() and "Traceback" not in result.stderr


def test_the_readmes_recipe_lines_are_what_snippet_prints():
    command = requires_setup()
    printed = subprocess.run([str(command), "snippet", "--levels", "1,3,4"], capture_output=True, text=True, cwd=ROOT)
    without_comments = "".join(line for line in printed.stdout.splitlines(keepends=True)
                               if not line.lstrip().startswith("#"))
    yaml_blocks = blocks(README, "yaml")
    assert yaml_blocks
    for line, block, _ in yaml_blocks:
        assert block in without_comments, f"README.md line {line} is not what `snippet --levels 1,3,4` prints"


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file_of_the_repository(page):
    broken = [target for target in LINK.findall(page.read_text())
              if "://" not in target and not (page.parent / target).exists()]
    assert broken == [], f"{page.relative_to(ROOT)} links to missing files"


def test_every_docs_page_is_linked_from_the_readme_or_another_page():
    pages = sorted((ROOT / "docs").glob("*.md"))
    linked = {(page.parent / target).resolve() for page in [README, *pages]
              for target in LINK.findall(page.read_text()) if "://" not in target}
    assert [p.name for p in pages if p.resolve() not in linked] == []


def test_the_readme_stays_a_landing_page():
    assert len(README.read_text().splitlines()) <= LANDING_PAGE_LINES
