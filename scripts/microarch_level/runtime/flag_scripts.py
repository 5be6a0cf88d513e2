"""The compiler-flag package's activation scripts: the data for each level's templates/flags*.in.

Three scripts per shell: `activate.d/+<pkg>.*` (sorts before the compilers'
scripts, only removes), `activate.d/~<pkg>.*` (after them: removes, then adds this
level's token) and `deactivate.d/~<pkg>.*` (removes).  No save/restore stack:
each touched variable remembers in a marker (`_X86_64_MICROARCH_LEVEL_<VAR>` =
`<how>:<level>`) the one token the package added, and every script first removes
exactly that token, so whatever conda replays a variable holds one token at most.
The generated share/<pkg>/flags-remove.sh tells the design to the scripts' readers.

The POSIX scripts hold only the common path before `return 0` (bash and zsh pay for
every byte they read before it, zsh for every line); the rare paths live in
share/<pkg>/, sourced through "$CONDA_PREFIX" only when needed: the general removal
(`flags-remove.*`), the CONDA_BUILD=1 report (`flags-report.*`) and, for POSIX, the
whole activation (`flags-activate.sh`).  fish names its rare files through `status
dirname`; csh has one file per role.  Measurements: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..catalog.families import Family
from ..catalog.levels import Catalog
from .dialects import CSH, DIALECTS, FISH, SH
from .shell_template import render

FLAGS_FILE = "etc/conda/{kind}.d/~{package}.{shell}"
# "+" sorts before digits and letters: before `activate-gcc_linux-64.sh` and the like.
FLAGS_FIRST_FILE = "etc/conda/activate.d/+{package}.{shell}"
# The POSIX scripts' rare paths, sourced as "$CONDA_PREFIX/<path>" only when needed.
REMOVE_FILE = "share/{package}/flags-remove.{shell}"
REPORT_FILE = "share/{package}/flags-report.{shell}"
RARE_ACTIVATE_FILE = "share/{package}/flags-activate.sh"
# The three installed scripts of every shell: (installed path, POSIX/fish template, role).
# Each removes the remembered token; only the "activate" one adds this level's.  csh
# renders all three from flags.csh.in; fish has no separate rare activation (its
# activate.d script tests each variable inline).
_COMMON_PATH = (
    (FLAGS_FIRST_FILE, "flags-first.{shell}.in", "first"),
    (FLAGS_FILE.replace("{kind}", "activate"), "flags-activate.{shell}.in", "activate"),
    (FLAGS_FILE.replace("{kind}", "deactivate"), "flags-deactivate.{shell}.in", "deactivate"),
)


def cycle_scripts(package: str) -> tuple[str, ...]:
    """The installed paths of the flag cycle's scripts in every dialect: what each activation and
    deactivation reads (templates/head.in says what their header costs, so how short it is)."""
    return tuple(path.format(shell=d.suffix, package=package) for path, _, _ in _COMMON_PATH for d in DIALECTS)


_RARE_PATHS = ((REMOVE_FILE, "flags-remove.{shell}.in", None), (REPORT_FILE, "flags-report.{shell}.in", None))
# The scripts of each dialect rendered from its own templates (csh: all from flags.csh.in).
DIALECT_SCRIPTS = {
    SH: (*_COMMON_PATH, (RARE_ACTIVATE_FILE, "flags-activate-rare.sh.in", None), *_RARE_PATHS),
    FISH: (*_COMMON_PATH, *_RARE_PATHS),
}
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9=. -]+$")  # literal in sh/csh patterns and fish regexes alike


@dataclass(frozen=True)
class FlagVar:
    """One variable the flag package touches.

    kind "march": C/C++/Fortran flags get the catalog's CPU flags appended
      (`-march=x86-64-v3`, `-mcpu=power9 -mtune=power9`); at the baseline level
      only when no `-march=`/`-mcpu=` is present (conda-forge's `-march=nocona`
      and its ppc64le compilers' `-mcpu=power8` stay).
    kind "rust": `-C target-cpu=<name>` appended; nothing at the baseline (rustc's
      default CPU is the baseline already: x86-64, ppc64le).
    kind "go": the value is replaced by the family's Go ISA (`v3`, `power9`); at
      the baseline only when unset or empty (Go's default is the baseline).
    only_if_set: touched only when already set.  cargo takes the first that is
      set of RUSTFLAGS, CARGO_TARGET_<triple>_RUSTFLAGS, CARGO_BUILD_RUSTFLAGS, so
      the token always goes to CARGO_BUILD_RUSTFLAGS (where conda-forge's Rust
      activation puts its linker flags) and to the other two only when they
      would hide it; the package never creates RUSTFLAGS.
    """

    name: str
    kind: str
    only_if_set: bool = False

    def token(self, level: int, catalog: Catalog, family: Family) -> str | None:
        """What `level` adds to this variable (None: nothing), with the catalog's gcc CPU name."""
        march = catalog.march[level]
        if self.kind == "march":
            return catalog.flag_template.format(name=march)
        if self.kind == "rust":
            if level == catalog.levels[0]:
                return None
            return f"-C target-cpu={family.rust_cpu.format(march=march, level=level)}"
        return family.go_value.format(level=level)

    def marker_of(self, family: Family) -> str:
        return family.state_prefix + self.name


def flag_vars(family: Family) -> tuple[FlagVar, ...]:
    """The variables the flag package of `family` touches, in the order its scripts handle them."""
    return (
        FlagVar("CFLAGS", "march"),
        FlagVar("CXXFLAGS", "march"),
        FlagVar("CPPFLAGS", "march"),
        FlagVar("FFLAGS", "march"),
        FlagVar("FCFLAGS", "march"),
        FlagVar("CARGO_BUILD_RUSTFLAGS", "rust"),
        FlagVar("RUSTFLAGS", "rust", only_if_set=True),
        FlagVar(family.rust_var, "rust", only_if_set=True),
        FlagVar(family.go_var, "go"),
    )



@dataclass(frozen=True)
class ScriptVar:
    """What the templates need to know of one variable at one level (data, no shell)."""

    name: str
    kind: str
    marker: str
    only_if_set: bool
    token: str | None  # what this level adds; None: nothing
    condition: str | None  # see FlagRenderer.additions
    mode: str  # "append", or "replace" (Go's ISA)


class FlagRenderer:
    """The data of the flag scripts for one family's catalog (archspec's gcc CPU names), rendered
    by the whole-script templates templates/flags*.in."""

    def __init__(self, catalog: Catalog, family: Family):
        self.catalog = catalog
        self.family = family
        self.levels = catalog.levels
        self.vars = flag_vars(family)
        self.appended = tuple(v for v in self.vars if v.kind != "go")
        self.go = next(v for v in self.vars if v.kind == "go")

    def token(self, var: FlagVar, level: int) -> str | None:
        return var.token(level, self.catalog, self.family)

    def tokens(self, var: FlagVar) -> dict[int, str]:
        """level -> the token `var` gets at that level (levels that add nothing left out)."""
        found = {lv: self.token(var, lv) for lv in self.levels}
        for token in found.values():
            if token is not None and not _SAFE_TOKEN.match(token):
                raise ValueError(f"flag token {token!r} would need quoting in csh modifiers")
        return {lv: t for lv, t in found.items() if t is not None}

    def summary(self, level: int) -> str:
        """What `level` adds, in words: each token once, with the variables it goes to and when."""
        parts: dict[tuple[str, str], list[str]] = {}
        for v in self.vars:
            token = self.token(v, level)
            if token is None:
                continue
            if v.kind == "go":
                when = " when unset or empty" if level == self.levels[0] else ""
                parts[(f"sets {v.name}={token}", when)] = []
                continue
            baseline_march = v.kind == "march" and level == self.levels[0]
            when = " (when set)" if v.only_if_set else \
                f" (when no {self.family.cpu_flag[:-1]} is there)" if baseline_march else ""
            parts.setdefault((f"{token} to", when), []).append(v.name)
        return "; ".join(f"{head} {', '.join(names)}{when}" if names else head + when
                         for (head, when), names in parts.items())

    def kind_tokens(self) -> list[tuple[str, int, str]]:
        """(kind, level, token): what a marker's level gave a variable of that kind."""
        out: dict[str, dict[int, str]] = {}
        for v in self.appended:
            out.setdefault(v.kind, self.tokens(v))
        return [(kind, lv, token) for kind, tokens in out.items() for lv, token in tokens.items()]

    def all_markers(self) -> list[str]:
        """Every variable the package keeps its state in (each variable's marker, GO's saved value)."""
        return [v.marker_of(self.family) for v in self.vars] + [self.go.marker_of(self.family) + "_WAS"]

    def condition(self, var: FlagVar, level: int) -> str | None:
        """When `level` adds to `var`: None (always), "if-set", "no-march" (the baseline keeps
        an existing -march/-mcpu) or "unset-or-empty" (the baseline's Go ISA)."""
        if var.only_if_set:
            return "if-set"
        if level == self.levels[0]:
            return {"march": "no-march", "go": "unset-or-empty"}.get(var.kind)
        return None

    def script_var(self, var: FlagVar, level: int) -> ScriptVar:
        return ScriptVar(var.name, var.kind, var.marker_of(self.family), var.only_if_set, self.token(var, level),
                         self.condition(var, level), "replace" if var.kind == "go" else "append")

    def data(self, level: int, header: str) -> dict:
        """Everything the flag templates of `level` are filled with."""
        vars_ = [self.script_var(v, level) for v in self.vars]
        added = [v for v in vars_ if v.token is not None]
        always = [v for v in added if not v.only_if_set]
        return {
            "header": header, "level": level, "summary": self.summary(level), "pkg": self.family.flags,
            "fn": self.family.function_prefix, "state": self.family.state_prefix, "go": self.go.name,
            "baseline": level == self.levels[0], "cpu_flag": self.family.cpu_flag,
            "vars": vars_,
            "appended": [v for v in vars_ if v.kind != "go"],
            "added": added,  # the variables this level adds to
            "always": always,  # ... whether or not they are set
            "if_set": [v for v in added if v.only_if_set],  # ... only when they are set
            "untouched": [v for v in vars_ if v not in always],
            # Every activation that marks anything marks a C-family variable or Go's.
            "tested_markers": [v.marker for v in vars_ if v.kind in ("march", "go")],
            "markers": self.all_markers(),
            "kind_tokens": self.kind_tokens(),
            "go_tokens": [(lv, self.token(self.go, lv)) for lv in self.levels],
            "go_token": self.token(self.go, level),
        }

    def render(self, level: int, header: str) -> dict[str, str]:
        """Installed path (under the package's level directory) -> script text."""
        data = self.data(level, header)
        package = self.family.flags
        out = {}
        for dialect, scripts in DIALECT_SCRIPTS.items():
            shell = dialect.suffix
            files = {"remove_file": REMOVE_FILE.format(package=package, shell=shell),
                     "report_file": REPORT_FILE.format(package=package, shell=shell),
                     "rare_file": RARE_ACTIVATE_FILE.format(package=package)}
            for path, template, role in scripts:
                out[path.format(shell=shell, package=package)] = render(
                    template.format(shell=shell), **data, **files, role=ROLE_TEXT.get(role),
                    role_head=ROLE_HEAD.get(role))
        for path, _, role in _COMMON_PATH:
            out[path.format(shell=CSH.suffix, package=package)] = render(
                "flags.csh.in", **data, role=ROLE_TEXT[role], role_head=ROLE_HEAD[role], adds=role == "activate")
        return out


ROLE_TEXT = {
    "first": "runs first in activate.d (\"+\" sorts before the compilers' scripts, so one that backs CFLAGS "
             "up never captures a token of this package) and removes the token an earlier activation left",
    "activate": "runs last in activate.d (\"~\" sorts after the compilers' scripts): it removes the token an "
                "earlier activation left and adds this level's",
    "deactivate": "runs first in deactivate.d (run in reverse order) and removes the token the activation added",
}
# The same in a few words, for the one line each script opens with.
ROLE_HEAD = {
    "first": "removes stale flags",
    "activate": "adds compiler flags",
    "deactivate": "removes its flags",
}
