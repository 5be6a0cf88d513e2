"""`microarch-level matrix`: which gate level each CPU gets under each tool's report.

Rows are CPU samples; each CPU's identity is detected by archspec and rattler
themselves with the sample mounted as /proc/cpuinfo.  Columns are the ways
tools report `__archspec` (tools.STYLES).  Every cell comes from the channel:
rattler's real solver where rattler can represent the reported identity, and
the channel's repodata read with the tool's matching rules where it cannot
(mamba 1.5.3-1.5.9's hyphenated `x86_64-v3`).  Nothing is a typed expectation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .activation import GATE
from .channel import (Unsatisfiable, archspec_package, base_virtual_packages, gate_records,
                      installable_from_repodata, solve)
from .cpuinfo import mounted
from .levels import LEVELS, Catalog, load_catalog
from .spelling import UnknownName, normalize
from .tools import MATRIX_STYLES, STYLES

HELP = "show the gate level each CPU sample installs under each tool's __archspec report"


@dataclass
class Cell:
    style: str
    reported: str            # the __archspec the tool would report, as version=build
    expected: int            # the level that report stands for
    level: int | None        # the level that installs unpinned (None: nothing installs)
    lower_pins_ok: bool      # every pin below `level` installs too
    method: str              # "rattler solve" or "repodata (<solver> matching)"

    @property
    def ok(self) -> bool:
        return self.level == self.expected and self.lower_pins_ok


@dataclass
class Row:
    sample: str
    archspec: str
    level: int
    cells: list[Cell]


def add_arguments(parser) -> None:
    parser.add_argument("--channel", default="build_artifacts", help="the channel (default: build_artifacts)")
    parser.add_argument("--cpuinfo-dir", default="../shared/cpuinfo",
                        help="a directory of /proc/cpuinfo samples (default: ../shared/cpuinfo)")
    parser.add_argument("--format", choices=("plain", "markdown", "json"), default="plain")
    parser.add_argument("--styles", default=",".join(MATRIX_STYLES),
                        help=f"columns, from: {', '.join(STYLES)} (default: {','.join(MATRIX_STYLES)})")


def samples_in(directory: Path) -> list[Path]:
    """Files in `directory` that look like /proc/cpuinfo (they have a flags line)."""
    found = []
    for path in sorted(directory.iterdir()):
        if path.is_file():
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            if any(line.startswith("flags") for line in text.splitlines()):
                found.append(path)
    return found


def identify(sample: Path) -> dict[str, str | None]:
    """What archspec and rattler detect with `sample` as /proc/cpuinfo."""
    argv = mounted([sys.executable, "-m", "microarch_level.hostid"], sample)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise RuntimeError(f"cannot mount {sample.name} over /proc/cpuinfo: {reason}")
    return json.loads(result.stdout)


def _installed_level(channel: Path, version: str, build: str, spec: str) -> int | None:
    vps = base_virtual_packages() + [archspec_package(build, version)]
    try:
        records = solve([channel], [spec], vps)
    except Unsatisfiable:
        return None
    return next(int(str(r.version)) for r in records if r.name.normalized == GATE)


def cell(catalog: Catalog, channel: Path, style_key: str, reported: tuple[str, str] | None) -> Cell:
    style = STYLES[style_key]
    shown = "none" if reported is None else "=".join(reported)
    try:
        expected = normalize(reported[1], catalog).level if reported else LEVELS[0]
    except UnknownName:
        expected = LEVELS[0]
    if reported is not None and "-" not in reported[1]:
        version, build = reported
        level = _installed_level(channel, version, build, GATE)
        lower = all(_installed_level(channel, version, build, f"{GATE}=={k}") == k
                    for k in LEVELS if level is not None and k < level)
        return Cell(style_key, shown, expected, level, lower, "rattler solve")
    levels = installable_from_repodata(channel, reported[1] if reported else None, style.solver)
    level = max(levels) if levels else None
    lower = level is not None and all(k in levels for k in LEVELS if k < level)
    return Cell(style_key, shown, expected, level, lower, f"repodata ({style.solver} matching)")


def compute(channel: Path, samples: list[Path], styles: list[str], catalog: Catalog | None = None) -> list[Row]:
    catalog = catalog or load_catalog()
    rows = []
    for sample in samples:
        detected = identify(sample)
        host = detected["archspec"]
        cells = []
        for key in styles:
            if key == "rattler":
                reported = ("1", detected["rattler"]) if detected["rattler"] else None
            else:
                reported = STYLES[key].report(catalog, host)
            cells.append(cell(catalog, channel, key, reported))
        rows.append(Row(sample.name, host, catalog.names[host], cells))
    return rows


def _text(c: Cell) -> str:
    shown = "-" if c.level is None else str(c.level)
    return f"{shown} {'ok' if c.lower_pins_ok else 'PINS'}{'' if c.ok else ' !'}"


def render(rows: list[Row], styles: list[str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([{**asdict(r), "cells": [{**asdict(c), "ok": c.ok} for c in r.cells]} for r in rows],
                          indent=2)
    header = ["CPU sample", "archspec", "level", *styles]
    body = [[r.sample, r.archspec, str(r.level), *(_text(c) for c in r.cells)] for r in rows]
    legend = "\n".join([
        "cell: the gate level installed unpinned; ok = every lower pin installs too, PINS = one does not;",
        "      ! = not the level the reported __archspec stands for",
        *(f"{s}: {STYLES[s].label}" for s in styles),
    ])
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines) + f"\n\n{legend}"
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    fmt_row = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([fmt_row(header), fmt_row(["-" * w for w in widths]), *map(fmt_row, body), "", legend])


def run(args) -> int:
    from .errors import UsageError

    channel = Path(args.channel)
    if not gate_records(channel):
        raise UsageError(f"no {GATE} packages in {channel}/: build the channel first (make build)")
    directory = Path(args.cpuinfo_dir)
    if not directory.is_dir():
        raise UsageError(f"no such cpuinfo directory: {directory}")
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    unknown = [s for s in styles if s not in STYLES]
    if unknown:
        raise UsageError(f"unknown column '{unknown[0]}'; choose from {', '.join(STYLES)}")
    samples = samples_in(directory)
    if not samples:
        raise UsageError(f"no /proc/cpuinfo samples (files with a flags line) in {directory}")
    try:
        rows = compute(channel, samples, styles)
    except RuntimeError as exc:
        raise UsageError(str(exc)) from None
    print(render(rows, styles, args.format))
    failures = [(r.sample, c.style) for r in rows for c in r.cells if not c.ok]
    if failures:
        print(f"microarch-level matrix: {len(failures)} cell(s) do not get their level, e.g. "
              f"{failures[0][0]} under {failures[0][1]}", file=sys.stderr)
        return 1
    return 0
