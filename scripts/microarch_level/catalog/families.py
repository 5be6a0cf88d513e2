"""Every CPU family this feedstock builds gate and flag packages for: one registry.

A family is one row: its names, its levels and how archspec's data becomes its
catalog, and its `rule`, how a CPU's level is told.  Everything that differs by
family either is a field here or is chosen by the rule from a table keyed by
it (the spelling of names in catalog.spelling, the guards in runtime.activation,
the /proc/cpuinfo reading in diagnostics.probe and matrix, the explain rules in
diagnostics.explain); the generator, the recipe, the CI jobs, the flag scripts and
the checks loop over FAMILIES and never name a family.  Adding a family whose
levels follow an existing rule is adding a row (`registered` adds one for a while); a new rule is one
entry in each of those tables.  Level numbers may repeat across families:
conda-smithy names a CI job by family and level together
(`linux_64_microarch_familyppc64lemicroarch_level9.yaml`), and every check keys a
build by its family, level and matcher.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import levels
from .levels import Catalog, load_catalog
from .power import PPC64LE_LEVELS, PPC64LE_ROOT, load_power_catalog

# How a family's CPU tells its level (Family.rule):
FEATURES = "features"      # every feature of the level's generic name is in /proc/cpuinfo's `flags` line (x86-64)
GENERATION = "generation"  # the generation in /proc/cpuinfo's `cpu` line (`cpu : POWERn`, Family.cpu_word)


@dataclass(frozen=True)
class Family:
    """One family's names and the per-family facts archspec does not record.

    go_var/go_value: Go's variable for the target ISA and its value at a level
      (GOAMD64=v3; GOPPC64=power9, valid power8/power9/power10 per Go's
      internal/buildcfg).
    rust_cpu: rustc's `-C target-cpu` name of a level (`{march}` is gcc's), as
      `rustc --print target-cpus --target <triple>` lists it (rustc 1.95: pwr8,
      pwr9, pwr10 for powerpc64le-unknown-linux-gnu, whose default is ppc64le).
    rust_triple: the target triple of cargo's per-target RUSTFLAGS variable.
    cpu_flag: the option a compiler default already sets (`-march=`, `-mcpu=`),
      which the baseline level leaves alone.
    v1_selector / meta_selector: the platform a downstream recipe builds levels on,
      in rattler-build's `if:` and conda-build's `# [...]` selector languages.
    march_pattern / name_pattern: how prose writes "the gcc CPU / the archspec name
      of level N" (`x86-64-vN`, `x86_64_vN`; `powerN`, `powerNle`).
    loader: glibc's dynamic loader on this family, whose `--help` lists the glibc-hwcaps
      levels the CPU supports (absent on another architecture).
    cpu_word: where levels are generations, the word before the generation in the first
      processor's `cpu` line of /proc/cpuinfo (`POWER` in `cpu : POWER9, altivec supported`,
      the word archspec's detect.py reads digits after); letters only.
    levels: the gate levels, lowest (the baseline, which requires nothing) first.
    rule: how a CPU tells its level (FEATURES, GENERATION).
    subdir: the conda platform of its machines (`linux-64`), where a lock file lists them.
    """

    name: str
    label: str  # how messages name the family: "x86-64 level 3", "ppc64le level 9"
    catalog: Callable[[Path | None], Catalog]  # its catalog of archspec's data, or of a given microarchitectures.json
    go_var: str
    go_value: str
    rust_cpu: str
    rust_triple: str
    cpu_flag: str
    v1_selector: str
    meta_selector: str
    march_pattern: str
    name_pattern: str
    loader: str
    levels: tuple[int, ...]
    rule: str
    subdir: str
    article: str = "a"  # "an x86-64 CPU name", "a ppc64le CPU name"
    cpu_word: str = ""

    def __post_init__(self) -> None:
        if self.rule == GENERATION and not re.fullmatch(r"[A-Za-z]+", self.cpu_word):
            raise ValueError(f"family {self.name}: cpu_word must be letters, not {self.cpu_word!r}")

    @property
    def a_label(self) -> str:
        return f"{self.article} {self.label}"

    @property
    def gate(self) -> str:
        return f"_{self.name}-microarch-level"

    @property
    def flags(self) -> str:
        return f"{self.name}-microarch-level"

    @property
    def state_prefix(self) -> str:
        return f"_{self.name.upper()}_MICROARCH_LEVEL_"

    @property
    def function_prefix(self) -> str:
        return f"_{self.name}_microarch_level"

    @property
    def rust_var(self) -> str:
        return f"CARGO_TARGET_{self.rust_triple.upper().replace('-', '_')}_RUSTFLAGS"


X86_64 = Family(levels.FAMILY, "x86-64", load_catalog, "GOAMD64", "v{level}", "{march}",
                "x86_64-unknown-linux-gnu", "-march=", "linux and x86_64", "linux64",
                "x86-64-vN", "x86_64_vN", "/lib64/ld-linux-x86-64.so.2", levels.LEVELS, FEATURES, "linux-64",
                article="an")
PPC64LE = Family(PPC64LE_ROOT, "ppc64le", load_power_catalog, "GOPPC64", "power{level}", "pwr{level}",
                 "powerpc64le-unknown-linux-gnu", "-mcpu=", "linux and ppc64le", "linux and ppc64le",
                 "powerN", "powerNle", "/lib64/ld64.so.2", PPC64LE_LEVELS, GENERATION, "linux-ppc64le",
                 cpu_word="POWER")
# The registry, in the order families are tried and listed: the first is the default where a
# command is not told a family and nothing tells it (doctor on another machine, snippet).
FAMILIES: list[Family] = [X86_64, PPC64LE]


@contextmanager
def registered(family: Family) -> Iterator[Family]:
    """`family` in FAMILIES meanwhile (a plug-in family: every command picks it up)."""
    if any(f.name == family.name for f in FAMILIES):
        raise ValueError(f"a family named {family.name} is registered already")
    FAMILIES.append(family)
    try:
        yield family
    finally:
        FAMILIES.remove(family)


# The names every other module uses: the x86-64 packages (the ppc64le ones are
# PPC64LE.gate / PPC64LE.flags) and the variable through which conda, mamba and
# pixi take a CPU name instead of the detected one.
GATE = X86_64.gate
FLAGS = X86_64.flags
OVERRIDE = "CONDA_OVERRIDE_ARCHSPEC"


def by_name(name: str) -> Family:
    for f in FAMILIES:
        if f.name == name:
            return f
    raise KeyError(name)


def catalogs(json_path: Path | None = None) -> list[tuple[Family, Catalog]]:
    """Each family with its catalog (of the data archspec.cpu reads, or of a given microarchitectures.json)."""
    return [(f, f.catalog(json_path)) for f in FAMILIES]

