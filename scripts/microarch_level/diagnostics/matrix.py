"""`microarch-level matrix`: which gate level each CPU gets under each tool's report.

Rows are CPU samples of one family, x86-64 or ppc64le (`--family`, by default
the samples' own: a `flags` line is x86-64, a `cpu : POWERn` line ppc64le).  An
x86-64 CPU's identity is detected by archspec and rattler themselves with the
sample mounted as /proc/cpuinfo; a POWER sample's comes from its `cpu` line read
by archspec's rule (cpuinfo.cpuinfo_generation), since archspec's host() reads
that line only where platform.machine() is ppc64le.  Columns are the ways tools
report `__archspec` (facts.STYLES; on ppc64le conda and rattler report
archspec's name, mamba and micromamba the bare `ppc64le`).  Every cell comes from the channel:
rattler's real solver where rattler can represent the reported identity, and
the channel's repodata read with the tool's matching rules where it cannot
(the hyphenated `x86_64-v3` of the mamba-hyphen style).  Nothing is a typed expectation.
The samples are those of --cpuinfo-dir, or (by default) this machine's own
/proc/cpuinfo alone.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ..catalog.families import FAMILIES, FEATURES, GENERATION, Family, by_name
from ..catalog.levels import Catalog
from ..catalog.power import host_name
from ..catalog.spelling import UnknownName, normalize_any
from ..tools.facts import MATRIX_STYLES, STYLES
from ..tools.solve import (
    Unsatisfiable, archspec_package, base_virtual_packages, gate_records, installable_from_repodata, solve
)
from . import sysctl
from .cpuinfo import LEVEL_LINE, PROC_CPUINFO, cpuinfo_generation, first_processor
from .hostid import detect_with

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
    parser.add_argument("--cpuinfo-dir", default=None,
                        help="a directory of /proc/cpuinfo samples or Intel Macs' `sysctl -a` captures "
                             "(default: this machine's /proc/cpuinfo only)")
    parser.add_argument("--family", choices=("auto", *(f.name for f in FAMILIES)), default="auto",
                        help="the samples' CPU family (default: auto, the family of the samples found)")
    parser.add_argument("--format", choices=("plain", "markdown", "json"), default="plain")
    parser.add_argument("--styles", default=",".join(MATRIX_STYLES),
                        help=f"columns, from: {', '.join(STYLES)} (default: {','.join(MATRIX_STYLES)})")


def _first_of(rule: str) -> Family | None:
    return next((f for f in FAMILIES if f.rule == rule), None)


def sample_family(text: str) -> str | None:
    """The family of a /proc/cpuinfo text: the first family whose rule's level line (cpuinfo.LEVEL_LINE:
    `flags`, `cpu`) its first processor has, one whose cpu_word that line names (`cpu : POWER9`) before
    the others; an Intel Mac's sysctl capture (sysctl.is_capture, naming a level feature) is of the
    first family sysctl serves; None when it is neither."""
    if sysctl.is_capture(text):
        family = _first_of(FEATURES)
        return family.name if family and sysctl.capture_level(text, family.catalog(None)) is not None else None
    first = first_processor(text)
    if "processor" not in first:
        return None
    fitting = [f for f in FAMILIES if LEVEL_LINE[f.rule] in first]
    named = [f for f in fitting if f.cpu_word and f.cpu_word in first[LEVEL_LINE[f.rule]]]
    return (named or fitting)[0].name if fitting else None


def samples_in(directory: Path) -> list[tuple[Path, str]]:
    """Files in `directory` that look like /proc/cpuinfo, each with its family."""
    found = []
    for path in sorted(directory.iterdir()):
        if path.is_file():
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            family = sample_family(text)
            if family is not None:
                found.append((path, family))
    return found


def this_machine() -> list[tuple[Path, str]]:
    """This machine's /proc/cpuinfo as the one sample, with its family (none if it is no cpuinfo)."""
    try:
        family = sample_family(PROC_CPUINFO.read_text(errors="replace"))
    except OSError:
        return []
    return [] if family is None else [(PROC_CPUINFO, family)]


def choose_family(samples: list[tuple[Path, str]], asked: str, directory: Path) -> tuple[Family, list[Path]]:
    """The family to show and its samples: the one asked for, or (auto) the samples' only one."""
    from ..errors import UsageError

    families = sorted({f for _, f in samples})
    if asked == "auto":
        if len(families) > 1:
            raise UsageError(f"{directory} holds samples of several families ({', '.join(families)}); "
                             "choose one with --family")
        asked = families[0]
    # a sample is of a rule (the line it tells its level in): any family of that rule reads it
    chosen = [p for p, f in samples if by_name(f).rule == by_name(asked).rule]
    if not chosen:
        raise UsageError(f"no {asked} samples in {directory} (it holds {', '.join(families)} samples)")
    return by_name(asked), chosen


def identify(sample: Path, family: Family, catalog: Catalog | None = None) -> dict:
    """What archspec and rattler detect with `sample` as /proc/cpuinfo, by the rule of its family.

    Only on x86-64 can this host run their detection over the sample; a POWER
    sample's name comes from its `cpu` line by archspec's rule, an Intel Mac's sysctl
    capture's from archspec's Darwin reading (sysctl.archspec_name), and rattler is
    not asked for either (`archspec_only`: every column reports archspec's name).
    """
    return IDENTIFY[family.rule](sample, catalog or family.catalog(None))


def _identify_by_generation(sample: Path, catalog: Catalog) -> dict:
    generation = cpuinfo_generation(sample.read_text(errors="replace"), catalog)
    return {"archspec": host_name(catalog, generation), "rattler": None, "archspec_only": True}


def _identify_by_features(sample: Path, catalog: Catalog) -> dict:
    text = sample.read_text(errors="replace")
    if sysctl.is_capture(text):  # an Intel Mac: archspec's Darwin reading; rattler's cannot run here
        return {"archspec": sysctl.archspec_name(text), "rattler": None, "archspec_only": True}
    detected = detect_with(sample, timeout=120)
    return {"archspec": detected["archspec"], "rattler": detected["rattler"], "archspec_only": False}


# How a sample of a family of each rule (families.py) is identified.
IDENTIFY = {FEATURES: _identify_by_features, GENERATION: _identify_by_generation}


def _installed_level(channel: Path, family: Family, version: str, build: str, spec: str) -> int | None:
    vps = base_virtual_packages() + [archspec_package(build, version)]
    try:
        records = solve([channel], [spec], vps, platforms=(family.subdir, "noarch"))
    except Unsatisfiable:
        return None
    return next(int(str(r.version)) for r in records if r.name.normalized == family.gate)


def cell(catalog: Catalog, channel: Path, style_key: str, reported: tuple[str, str] | None,
         family: Family | None = None) -> Cell:
    family = family or by_name(catalog.family)
    style = STYLES[style_key]
    shown = "none" if reported is None else "=".join(reported)
    levels_known = catalog.levels
    try:
        # a CPU newer than every gate level (ppc64le's power11le) gets the highest one
        expected = min(normalize_any(reported[1], family.name).level, levels_known[-1]) if reported \
            else levels_known[0]
    except UnknownName:
        expected = levels_known[0]
    gate = family.gate
    if reported is not None and "-" not in reported[1]:
        version, build = reported
        level = _installed_level(channel, family, version, build, gate)
        lower = all(_installed_level(channel, family, version, build, f"{gate}=={k}") == k
                    for k in levels_known if level is not None and k < level)
        return Cell(style_key, shown, expected, level, lower, "rattler solve")
    levels = installable_from_repodata(channel, reported[1] if reported else None, style.solver, gate)
    level = max(levels) if levels else None
    lower = level is not None and all(k in levels for k in levels_known if k < level)
    return Cell(style_key, shown, expected, level, lower, f"repodata ({style.solver} matching)")


def compute(channel: Path, samples: list[Path], styles: list[str], family: Family) -> list[Row]:
    catalog = family.catalog(None)
    rows = []
    for sample in samples:
        detected = identify(sample, family, catalog)
        host = detected["archspec"]
        cells = []
        for key in styles:
            style = STYLES[key]
            # on x86-64 each detector ran over a cpuinfo sample; a POWER sample and a Mac's sysctl
            # capture have archspec's name only
            name = host if detected["archspec_only"] else detected[style.detector]
            reported = style.report(catalog, name) if name else None
            cells.append(cell(catalog, channel, key, reported, family))
        rows.append(Row(sample.name, host, catalog.names[host], cells))
    return rows


def _text(c: Cell) -> str:
    shown = "-" if c.level is None else str(c.level)
    return f"{shown} {'ok' if c.lower_pins_ok else 'PINS'}{'' if c.ok else ' !'}"


# What the tool columns mean on a family, beyond the styles' labels, by the family's rule.
RULE_LEGEND = {
    FEATURES: lambda family: [],
    GENERATION: lambda family: [
        f"on {family.name}: conda and rattler report archspec's name (read here from the sample's cpu "
        f"line), mamba/micromamba of every version the bare {family.name}, pixi's lock solve 0={family.name}"],
}


def render(rows: list[Row], styles: list[str], fmt: str, family: Family) -> str:
    if fmt == "json":
        return json.dumps([{**asdict(r), "cells": [{**asdict(c), "ok": c.ok} for c in r.cells]} for r in rows],
                          indent=2)
    header = ["CPU sample", "archspec", "level", *styles]
    body = [[r.sample, r.archspec, str(r.level), *(_text(c) for c in r.cells)] for r in rows]
    legend = "\n".join([
        "cell: the gate level installed unpinned; ok = every lower pin installs too, PINS = one does not;",
        "      ! = not the level the reported __archspec stands for",
        *(f"{s}: {STYLES[s].label}" for s in styles),
        *RULE_LEGEND[family.rule](family),
    ])
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines) + f"\n\n{legend}"
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    fmt_row = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([fmt_row(header), fmt_row(["-" * w for w in widths]), *map(fmt_row, body), "", legend])


def run(args) -> int:
    from ..errors import UsageError

    channel = Path(args.channel)
    if args.cpuinfo_dir == "":  # Path("") would be the working directory
        raise UsageError("--cpuinfo-dir is empty; give a directory of /proc/cpuinfo samples")
    directory = None if args.cpuinfo_dir is None else Path(args.cpuinfo_dir)
    if directory is not None and not directory.is_dir():
        raise UsageError(f"no such cpuinfo directory: {directory}")
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    unknown = [s for s in styles if s not in STYLES]
    if unknown:
        raise UsageError(f"unknown column '{unknown[0]}'; choose from {', '.join(STYLES)}")
    found = samples_in(directory) if directory is not None else this_machine()
    where = directory if directory is not None else PROC_CPUINFO
    if not found:
        raise UsageError(f"no /proc/cpuinfo samples (files with a flags or cpu line) in {where}")
    family, samples = choose_family(found, args.family, where)
    if not gate_records(channel, family.gate):
        raise UsageError(f"no {family.gate} packages in {channel}/: build the channel first (make build)")
    try:
        rows = compute(channel, samples, styles, family)
    except RuntimeError as exc:
        raise UsageError(str(exc)) from None
    print(render(rows, styles, args.format, family))
    failures = [(r.sample, c.style) for r in rows for c in r.cells if not c.ok]
    if failures:
        print(f"microarch-level matrix: {len(failures)} cell(s) do not get their level, e.g. "
              f"{failures[0][0]} under {failures[0][1]}", file=sys.stderr)
        return 1
    return 0
