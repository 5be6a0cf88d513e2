"""The guard reads /proc/cpuinfo the way archspec does, whatever the file's layout.

Real dumps (archspec's own test data) end without a newline, may carry the flags
line anywhere in the first processor block and may have long lines before it.
Each layout here is built from every real sample; the guard's verdict in every
shell must be the sample's level (archspec's answer), never glibc's report of
the machine running the tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guard_support import GUARDED, SEPARATOR, guard, source, split_outputs
from shells import SHELLS, run, shell

from microarch_level.catalog.levels import load_catalog
from microarch_level.diagnostics.cpuinfo import first_flags

CATALOG = load_catalog()


def block_lines(sample: Path) -> tuple[list[str], str, list[str]]:
    """The first processor block: (lines before the flags line, the flags line, lines after it)."""
    lines = []
    for line in sample.read_text().splitlines():
        if not line.strip():
            if lines:
                break
            continue
        lines.append(line)
    at = next(i for i, line in enumerate(lines) if line.startswith("flags"))
    return lines[:at], lines[at], lines[at + 1:]


LONG = [f"bugs{i}\t\t: " + " ".join(["spectre_v1"] * 160) for i in range(3)]  # 5.3 KB
FILLER = [f"power management{i}\t: {i}" for i in range(30)]


def unterminated_last_line(sample: Path) -> str:
    """The flags line moved to the end, with no newline after it (as in linux-centos7-cascadelake)."""
    before, flags, after = block_lines(sample)
    return "\n".join(before + after + [flags])


def flags_after_line_24(sample: Path) -> str:
    before, flags, after = block_lines(sample)
    return "\n".join(before + FILLER + [flags] + after) + "\n\n"


def more_than_4kb_before_flags(sample: Path) -> str:
    """Long lines before a flags line that stays within the first 24 lines."""
    before, flags, after = block_lines(sample)
    return "\n".join(before[:5] + LONG + before[5:] + [flags] + after) + "\n\n"


def everything_at_once(sample: Path) -> str:
    before, flags, after = block_lines(sample)
    return "\n".join(before + LONG + FILLER + after + [flags])


LAYOUTS = {f.__name__: f for f in (unterminated_last_line, flags_after_line_24, more_than_4kb_before_flags,
                                   everything_at_once)}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_keeps_the_samples_flags_for_archspecs_reading(sample, layout):
    """The fixtures' premise, checked with the reader archspec's rule is written in."""
    text = LAYOUTS[layout](sample.path)
    assert CATALOG.level_from_flags(first_flags(text)) == sample.level
    if layout == "more_than_4kb_before_flags":
        assert len(text.split("\nflags")[0]) > 4096 and text.split("\nflags")[0].count("\n") < 24
    if layout == "flags_after_line_24":
        assert text.split("\nflags")[0].count("\n") >= 24


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_the_verdict_comes_from_the_samples_flags_in_every_layout(installed, sample, tmp_path, shell_name, layout):
    sh = shell(shell_name)
    cpuinfo = tmp_path / f"{sample.id}-{layout}"
    cpuinfo.write_text(LAYOUTS[layout](sample.path))
    redirect = " |& cat" if sh.suffix == "csh" else " 2>&1"
    script = "\n".join(f"{source(sh, guard(installed(level), sh.suffix))}{redirect}\necho '{SEPARATOR}'"
                       for level in GUARDED) + "\n"
    result = run(sh, script, cpuinfo=cpuinfo)
    for level, out in zip(GUARDED, split_outputs(result.stdout, len(GUARDED))):
        if sample.level < level:
            assert f"built for x86-64 level {level} but this CPU is level {sample.level} (from /proc/cpuinfo)" in out
        else:
            assert out == "", (level, out)
