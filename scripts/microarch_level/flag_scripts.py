"""Render the compiler-flag package's activation scripts (one job: the per-variable blocks).

The design (told in full in templates/flags.sh.in) is idempotent rather than a
save/restore stack, because conda and micromamba re-run a lower environment's
activate.d when a stacked one is deactivated: each touched variable remembers,
in `_X86_64_MICROARCH_LEVEL_<VAR>` = `<how>:<level>`, the one token the package
appended; every script first removes exactly that token, and activation then
appends its own level's token.  Three scripts per shell:

- `activate.d/+x86_64-microarch-level.*` sorts before the compilers' scripts
  and only removes the token, so a compiler script that backs CFLAGS up never
  captures it;
- `activate.d/~x86_64-microarch-level.*` sorts after them: removes, then appends;
- `deactivate.d/~x86_64-microarch-level.*` runs first on deactivation: removes.

Tokens are literals in the scripts (csh modifiers cannot take a variable), so
this module enumerates, per variable, every marker an earlier level can leave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .levels import LEVELS, Catalog
from .activation import _fill as fill, _template as template

FLAGS_FILE = "etc/conda/{kind}.d/~x86_64-microarch-level.{shell}"
# "+" sorts before digits and letters: before `activate-gcc_linux-64.sh` and the like.
FLAGS_FIRST_FILE = "etc/conda/activate.d/+x86_64-microarch-level.{shell}"
STATE_PREFIX = "_X86_64_MICROARCH_LEVEL_"
SHELLS = ("sh", "fish", "csh")
# What each installed script does: remove the remembered token, and maybe add this level's.
ROLES = {
    FLAGS_FIRST_FILE: ("first", False),
    FLAGS_FILE.replace("{kind}", "activate"): ("activate", True),
    FLAGS_FILE.replace("{kind}", "deactivate"): ("deactivate", False),
}
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9=. -]+$")  # literal in sh/csh patterns and fish regexes alike


@dataclass(frozen=True)
class FlagVar:
    """One variable the flag package touches.

    kind "march": C/C++/Fortran flags get `-march=<name>` appended; at level 1
      only when no `-march=` is present (conda-forge's `-march=nocona` stays).
    kind "rust": `-C target-cpu=<name>` appended; nothing at level 1 (rustc's
      default CPU for x86_64-unknown-linux-gnu is x86-64 already).
    kind "go": the value is replaced by `v<level>`; at level 1 only when unset or
      empty (Go's default is v1).
    only_if_set: touched only when already set.  cargo takes the first that is
      set of RUSTFLAGS, CARGO_TARGET_<triple>_RUSTFLAGS, CARGO_BUILD_RUSTFLAGS, so
      the token always goes to CARGO_BUILD_RUSTFLAGS (where conda-forge's Rust
      activation puts its linker flags) and to the other two only when they
      would hide it; the package never creates RUSTFLAGS.
    """

    name: str
    kind: str
    only_if_set: bool = False

    def token(self, march: str, level: int) -> str | None:
        if self.kind == "march":
            return f"-march={march}"
        if self.kind == "rust":
            return None if level == LEVELS[0] else f"-C target-cpu={march}"
        return f"v{level}"

    @property
    def marker(self) -> str:
        return STATE_PREFIX + self.name


FLAG_VARS = (
    FlagVar("CFLAGS", "march"),
    FlagVar("CXXFLAGS", "march"),
    FlagVar("CPPFLAGS", "march"),
    FlagVar("FFLAGS", "march"),
    FlagVar("FCFLAGS", "march"),
    FlagVar("CARGO_BUILD_RUSTFLAGS", "rust"),
    FlagVar("RUSTFLAGS", "rust", only_if_set=True),
    FlagVar("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "rust", only_if_set=True),
    FlagVar("GOAMD64", "go"),
)
APPENDED = tuple(v for v in FLAG_VARS if v.kind != "go")
GO = next(v for v in FLAG_VARS if v.kind == "go")
GO_WAS = GO.marker + "_WAS"


def _indent(lines: list[str], spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in lines)


class FlagRenderer:
    """The shell blocks of the flag scripts for one catalog (archspec's -march names)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def tokens(self, var: FlagVar) -> dict[int, str]:
        """level -> the token `var` gets at that level (levels that add nothing left out)."""
        found = {lv: var.token(self.catalog.march[lv], lv) for lv in LEVELS}
        for token in found.values():
            if token is not None and not _SAFE_TOKEN.match(token):
                raise ValueError(f"flag token {token!r} would need quoting in csh modifiers")
        return {lv: t for lv, t in found.items() if t is not None}

    def summary(self, level: int) -> str:
        march = self.catalog.march[level]
        parts = []
        for v in FLAG_VARS:
            token = v.token(march, level)
            if token is None:
                continue
            if v.kind == "go":
                parts.append(f"sets {v.name}={token}" + (" when unset or empty" if level == LEVELS[0] else ""))
            else:
                when = (" (when set)" if v.only_if_set else "") + (
                    " (when no -march is there)" if v.kind == "march" and level == LEVELS[0] else "")
                parts.append(f"{token} to {v.name}{when}")
        return "; ".join(parts)

    # --- removing the remembered token ----------------------------------------------
    def drop_sh(self) -> str:
        out: list[str] = []
        for v in APPENDED:
            out.append(f"case ${{{v.marker}-}} in")
            for lv, token in self.tokens(v).items():
                out.append(f'  appended:{lv}) _x86_64_microarch_level_drop {v.name} "${{{v.name}-}}" " {token}" appended ;;')
                out.append(f'  empty:{lv}|unset:{lv}) _x86_64_microarch_level_drop {v.name} "${{{v.name}-}}" '
                           f'"{token}" "${v.marker}" ;;')
            out += ["esac", f"unset {v.marker}"]
        return "\n".join(out)

    def drop_fish(self) -> str:
        out: list[str] = []
        for v in APPENDED:
            out.append(f'switch "${v.marker}"')
            for lv, token in self.tokens(v).items():
                out += [f"    case appended:{lv}",
                        f'        _x86_64_microarch_level_drop {v.name} " {token}" appended',
                        f"    case empty:{lv} unset:{lv}",
                        f'        _x86_64_microarch_level_drop {v.name} "{token}" ${v.marker}']
            out += ["end", f"set -e {v.marker}"]
        return "\n".join(out)

    def drop_csh(self) -> str:
        """Switch cases on "<kind>:<marker>": mark every occurrence of the token with a
        slash (slashes were hidden first), so `:h`/`:t` split at the last one."""
        out: list[str] = []
        seen: set[tuple[str, int]] = set()
        for v in APPENDED:
            for lv, token in self.tokens(v).items():
                if (v.kind, lv) in seen:
                    continue
                seen.add((v.kind, lv))
                for labels, s in (([f"{v.kind}:appended:{lv}"], f" {token}"),
                                  ([f"{v.kind}:empty:{lv}", f"{v.kind}:unset:{lv}"], token)):
                    out += [f"case {label}:" for label in labels]
                    out += [f'    if ( $_mal_v:q =~ *"{s}" ) then',
                            f"        set _mal_w = $_mal_w:ags#{s}#/#:q",
                            f"        set _mal_w = $_mal_w:h:ags#/#{s}#:q",
                            "        set _mal_hit = 1",
                            f'    else if ( $_mal_v:q =~ *"{s} "* ) then',
                            f"        set _mal_w = $_mal_w:ags#{s} #/#:q",
                            f'        set _mal_w = $_mal_w:h:ags#/#{s} #:q" "$_mal_w:t:q',
                            "        set _mal_hit = 1",
                            "    endif",
                            "    breaksw"]
        return _indent(out, 8)

    def csh_names(self) -> str:
        return " ".join(v.name for v in APPENDED)

    def csh_load(self) -> str:
        """Read each variable and its marker into _mal_v/_mal_m (csh has no indirect expansion)."""
        out: list[str] = []
        for v in APPENDED:
            out += [f"case {v.name}:", f"    set _mal_k = {v.kind}", f"    set _mal_only = {int(v.only_if_set)}",
                    f"    if ( $?{v.name} ) then", "        set _mal_isset = 1", f"        set _mal_v = ${v.name}:q",
                    "    endif",
                    f"    if ( $?{v.marker} ) then", f"        set _mal_m = ${v.marker}:q", "    endif",
                    "    breaksw"]
        return _indent(out, 4)

    # --- adding this level's token -----------------------------------------------------
    def additions(self, level: int):
        """(var, token, append|replace, condition) for each variable `level` touches.

        condition: None (always), "if-set", "no-march" (level 1 keeps an existing
        -march) or "unset-or-empty" (level 1's GOAMD64).
        """
        march = self.catalog.march[level]
        for v in FLAG_VARS:
            token = v.token(march, level)
            if token is None:
                continue
            condition = None
            if v.only_if_set:
                condition = "if-set"
            elif level == LEVELS[0]:
                condition = {"march": "no-march", "go": "unset-or-empty"}.get(v.kind)
            yield v, token, "replace" if v.kind == "go" else "append", condition

    def add_sh(self, level: int) -> str:
        out: list[str] = []
        for v, token, mode, condition in self.additions(level):
            call = f'_x86_64_microarch_level_put {v.name} "${{{v.name}+set}}" "${{{v.name}-}}" "{token}" {level} {mode}'
            out.append({None: call,
                        "if-set": f'[ -z "${{{v.name}+set}}" ] || {call}',
                        "no-march": f"case ${{{v.name}-}} in *-march=*) ;; *) {call} ;; esac",
                        "unset-or-empty": f'[ -n "${{{v.name}-}}" ] || {call}'}[condition])
        return "\n".join(out)

    def add_fish(self, level: int) -> str:
        out: list[str] = []
        for v, token, mode, condition in self.additions(level):
            call = f'_x86_64_microarch_level_put {v.name} "{token}" {level} {mode}'
            test = {None: None, "if-set": f"set -q {v.name}",
                    "no-march": f"not string match -q -- '*-march=*' \"${v.name}\"",
                    "unset-or-empty": f'test -z "${v.name}"'}[condition]
            out += [call] if test is None else [f"if {test}", f"    {call}", "end"]
        return "\n".join(out)

    def add_csh(self, level: int) -> str:
        march = self.catalog.march[level]
        out = ['    set _mal_t = ""', "    switch ( $_mal_k )"]
        for kind in ("march", "rust"):
            token = next(v for v in APPENDED if v.kind == kind).token(march, level)
            if token is None:
                continue
            out.append(f"    case {kind}:")
            if kind == "march" and level == LEVELS[0]:
                out.append(f'        if ( $_mal_v:q !~ *-march=* ) set _mal_t = "{token}"')
            else:
                out.append(f'        set _mal_t = "{token}"')
            out.append("        breaksw")
        out += ["    endsw",
                '    if ( $_mal_only && ! $_mal_isset ) set _mal_t = ""',
                '    if ( $_mal_t:q != "" ) then',
                "        if ( ! $_mal_isset ) then",
                "            set _mal_old = unset",
                f"            set _mal_how = unset:{level}",
                "            set _mal_new = $_mal_t:q",
                '        else if ( $_mal_v:q == "" ) then',
                "            set _mal_old = \"''\"",
                f"            set _mal_how = empty:{level}",
                "            set _mal_new = $_mal_t:q",
                "        else",
                "            set _mal_old = \"'\"$_mal_v:q\"'\"",
                f"            set _mal_how = appended:{level}",
                '            set _mal_new = $_mal_v:q" "$_mal_t:q',
                "        endif",
                "        setenv $_mal_n $_mal_new:q",
                "        setenv _X86_64_MICROARCH_LEVEL_$_mal_n $_mal_how",
                "        if ( $?CONDA_BUILD ) then",
                "            if ( $CONDA_BUILD:q == 1 ) printf 'x86_64-microarch-level: %s: %s -> %s\\n' "
                "$_mal_n $_mal_old:q \"'\"$_mal_new:q\"'\" > /dev/stderr",
                "        endif",
                "    endif"]
        return "\n".join(out)

    def go_add_csh(self, level: int) -> str:
        token = GO.token(self.catalog.march[level], level)
        out = ["set _mal_v = unset", "if ( $?GOAMD64 ) then", "    set _mal_v = \"'\"$GOAMD64:q\"'\"", "endif"]
        body = ["if ( $_mal_v:q == unset ) then", f"    setenv _X86_64_MICROARCH_LEVEL_GOAMD64 unset:{level}",
                "else if ( $_mal_v:q == \"''\" ) then", f"    setenv _X86_64_MICROARCH_LEVEL_GOAMD64 empty:{level}",
                "else", f"    setenv _X86_64_MICROARCH_LEVEL_GOAMD64 replaced:{level}",
                f"    setenv {GO_WAS} $GOAMD64:q", "endif", f"setenv GOAMD64 {token}",
                "if ( $?CONDA_BUILD ) then",
                f"    if ( $CONDA_BUILD:q == 1 ) printf 'x86_64-microarch-level: GOAMD64: %s -> %s\\n' $_mal_v:q \"'{token}'\" > /dev/stderr",
                "endif"]
        if level == LEVELS[0]:
            out += ["if ( $_mal_v:q == unset || $_mal_v:q == \"''\" ) then", _indent(body, 4), "endif"]
        else:
            out += body
        return "\n".join(out)

    # --- GOAMD64 ------------------------------------------------------------------------
    def go_patterns(self, how: str, sep: str) -> str:
        return sep.join(f"{how}:{lv}:v{lv}" for lv in LEVELS)

    def csh_go_cases(self) -> str:
        return "\n".join(f"case {how}:{lv}:v{lv}:" for how in ("unset", "empty", "replaced") for lv in LEVELS)

    # --- whole scripts ------------------------------------------------------------------
    def render(self, level: int, header: str) -> dict[str, str]:
        """Installed path (under the package's level directory) -> script text."""
        out = {}
        for path, (role, adds) in ROLES.items():
            for shell in SHELLS:
                values = {
                    "HEADER": header, "LEVEL": str(level), "FLAG_SUMMARY": self.summary(level),
                    "ROLE": ROLE_TEXT[role],
                    "GO_UNSET": self.go_patterns("unset", "|" if shell == "sh" else " "),
                    "GO_EMPTY": self.go_patterns("empty", "|" if shell == "sh" else " "),
                    "GO_REPLACED": self.go_patterns("replaced", "|" if shell == "sh" else " "),
                }
                if shell == "csh":
                    values.update({"NAMES": self.csh_names(), "LOAD": self.csh_load(), "DROP": self.drop_csh(),
                                   "GO_CASES": self.csh_go_cases(),
                                   "ADD": self.add_csh(level) if adds else "",
                                   "GO_ADD": self.go_add_csh(level) if adds else ""})
                else:
                    values.update({"DROP": getattr(self, f"drop_{shell}")(),
                                   "ADD": getattr(self, f"add_{shell}")(level) if adds else ""})
                out[path.format(shell=shell)] = fill(template(f"flags.{shell}.in"), values)
        return out


ROLE_TEXT = {
    "first": "runs first in activate.d (\"+\" sorts before the compilers' scripts): removes the token",
    "activate": "runs last in activate.d (\"~\" sorts after the compilers' scripts): removes the token, adds this level's",
    "deactivate": "runs first in deactivate.d (reverse order): removes the token",
}
