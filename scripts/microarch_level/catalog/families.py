"""Every CPU family this feedstock builds gate and flag packages for: one table.

Adding a family is adding a row here (and an archspec reader when its levels
come from other data than x86-64's psABI levels or POWER's generations): the
generator, the recipe, the CI jobs, the flag scripts and the checks all loop
over FAMILIES.  Level numbers may repeat across families: conda-smithy names a
CI job by family and level together (`linux_64_microarch_familyppc64lemicroarch_level9.yaml`),
and every check keys a build by its family, level and matcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .levels import Catalog, load_catalog
from .power import load_power_catalog


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
    """

    name: str
    label: str  # how messages name the family: "x86-64 level 3", "ppc64le level 9"
    catalog: Callable[[Path | None], Catalog]
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
    article: str = "a"  # "an x86-64 CPU name", "a ppc64le CPU name"

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


X86_64 = Family("x86_64", "x86-64", load_catalog, "GOAMD64", "v{level}", "{march}",
                "x86_64-unknown-linux-gnu", "-march=", "linux and x86_64", "linux64",
                "x86-64-vN", "x86_64_vN", "/lib64/ld-linux-x86-64.so.2", article="an")
PPC64LE = Family("ppc64le", "ppc64le", load_power_catalog, "GOPPC64", "power{level}", "pwr{level}",
                 "powerpc64le-unknown-linux-gnu", "-mcpu=", "linux and ppc64le", "linux and ppc64le",
                 "powerN", "powerNle", "/lib64/ld64.so.2")
FAMILIES = (X86_64, PPC64LE)

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

