"""Render the compiler-flag package's activation scripts (one job: the per-variable blocks).

The generated scripts point here for their design, told once:

Why no save/restore stack: conda and micromamba run `deactivate.d` of the
environment left and then `activate.d` of the one below it AGAIN, stack
environments with and without this package, and re-run both on reactivation;
compiler scripts rewrite CFLAGS in between.  A saved copy goes stale in all of
these.  So activation is idempotent instead: each touched variable remembers, in
`_X86_64_MICROARCH_LEVEL_<VAR>` = `<how>:<level>`, the one token the package
added and how (`appended` after a space, set an `empty` value, set an `unset`
one; GOAMD64 `replaced`, its old value in `_X86_64_MICROARCH_LEVEL_GOAMD64_WAS`).
Every script first removes exactly that token -- its last occurrence followed by
a space or the end, so flags appended after it survive -- and an activation then
adds its own level's token.  Whatever conda replays, a variable holds what the
compilers and the user made it plus one token, and when the token goes and
nothing is left, a variable that was unset is unset again.  Every family
(families.py) gets the same scripts with its own names
(`_PPC64LE_MICROARCH_LEVEL_<VAR>`, `+ppc64le-microarch-level.*`, GOPPC64 for
GOAMD64, `-mcpu=powerN -mtune=powerN` for `-march=x86-64-vN`).
Three scripts per shell:

- `activate.d/+x86_64-microarch-level.*` sorts before the compilers' scripts
  and only removes the token, so a compiler script that backs CFLAGS up never
  captures it;
- `activate.d/~x86_64-microarch-level.*` sorts after them: removes, then appends;
- `deactivate.d/~x86_64-microarch-level.*` runs first on deactivation: removes.

The POSIX scripts use builtins only (mksh without PATH works), no eval, no temp
files and no new global variables besides the markers (zsh's warn_create_global
stays quiet).  With CONDA_BUILD=1 every change is reported on stderr; a failed
report never fails activation.

Cost (issue 17): bash and zsh pay a sourced script mostly per byte they parse
(measured with callgrind: about 250 and 200 instructions per byte, comments
included, code after a `return` not at all) and per command (bash about 20k
instructions, an exported assignment about 13k).  So each installed script holds
only the common path, then `return 0`, then its header and comments:

- `+…` tests the markers an activation always leaves (C-family and Go's) and
  sources the general removal only when one is set;
- `~…` activate: one test for everything rare (a marker left, a variable
  touched only when set, CONDA_BUILD), which sources the whole activation from
  share/; else ONE `export` setting every always-touched
  variable and its marker; the marker word is chosen by conditional words
  (`M=unset:L ${V+"M=empty:L"} ${V:+"M=appended:L"}`: the last assignment of a
  name wins, every word expanded before any is assigned).  The baseline level,
  whose additions depend on the value (an existing -march, Go's ISA only when
  unset or empty), keeps a `case` per variable;
- deactivate: when nothing was set before the activation (every always-touched
  variable marked unset and holding just its token, compared as one literal
  word), one `unset`; else per always-touched variable one `case` on
  "<marker>:<value>": this level's token last (or the whole value) is cut off
  with one expansion and the marker unset; any marker left afterwards sources
  the general removal.

Measured (callgrind, instructions per activate+deactivate cycle of level 3,
nothing set before / C, C++, Fortran and Rust flags set before; old -> new):
bash 6.9M -> 1.9M / 7.2M -> 3.4M, zsh 3.5M -> 1.0M / 3.7M -> 1.9M, fish
15.5M -> 5.3M / 16.7M -> 6.7M; dash, ksh93 and mksh about 3x fewer as well.

The rare paths live in `share/<package>/` and are sourced by name (`@PREFIX@`,
written by recipe/install-activation.sh and relocated by conda): the general
removal (`flags-remove.*`: any level's token, flags after it, reports), the
CONDA_BUILD=1 report after an activation (`flags-report.*`, the old value read
back from the marker) and, for POSIX, the variables touched only when set
(inside `flags-activate.sh`, the whole activation: RUSTFLAGS and cargo's
per-target variable).  fish parses a
whole file before running it, so its scripts are split the same way and name
their rare files through `status dirname`; its adds are inline `if`s, no
function.  The csh scripts are unchanged: one file per role, enumerating the
tokens (csh modifiers cannot take a variable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .families import X86_64, Family
from .levels import Catalog
from .activation import _fill as fill, _template as template

FLAGS_FILE = "etc/conda/{kind}.d/~{package}.{shell}"
# "+" sorts before digits and letters: before `activate-gcc_linux-64.sh` and the like.
FLAGS_FIRST_FILE = "etc/conda/activate.d/+{package}.{shell}"
# The POSIX scripts' rare paths, sourced by name (@PREFIX@, relocated by conda) only when needed.
REMOVE_FILE = "share/{package}/flags-remove.sh"
REPORT_FILE = "share/{package}/flags-report.sh"
RARE_ACTIVATE_FILE = "share/{package}/flags-activate.sh"
STATE_PREFIX = X86_64.state_prefix
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

    def token(self, march: str, level: int, catalog: Catalog | None = None, family: Family = X86_64) -> str | None:
        levels = catalog.levels if catalog is not None else (1,)
        if self.kind == "march":
            return (catalog.flag_template if catalog is not None else "-march={name}").format(name=march)
        if self.kind == "rust":
            return None if level == levels[0] else f"-C target-cpu={family.rust_cpu.format(march=march, level=level)}"
        return family.go_value.format(level=level)

    def marker_of(self, family: Family) -> str:
        return family.state_prefix + self.name

    @property
    def marker(self) -> str:
        return self.marker_of(X86_64)


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


FLAG_VARS = flag_vars(X86_64)
APPENDED = tuple(v for v in FLAG_VARS if v.kind != "go")
GO = next(v for v in FLAG_VARS if v.kind == "go")
GO_WAS = GO.marker + "_WAS"


def _indent(lines: list[str], spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in lines)


class FlagRenderer:
    """The shell blocks of the flag scripts for one family's catalog (archspec's gcc CPU names)."""

    def __init__(self, catalog: Catalog, family: Family = X86_64):
        self.catalog = catalog
        self.family = family
        self.levels = catalog.levels
        self.vars = flag_vars(family)
        self.appended = tuple(v for v in self.vars if v.kind != "go")
        self.go = next(v for v in self.vars if v.kind == "go")
        self.fn = family.function_prefix
        self.cpu_flag = family.cpu_flag

    def token(self, var: FlagVar, level: int) -> str | None:
        return var.token(self.catalog.march[level], level, self.catalog, self.family)

    def tokens(self, var: FlagVar) -> dict[int, str]:
        """level -> the token `var` gets at that level (levels that add nothing left out)."""
        found = {lv: self.token(var, lv) for lv in self.levels}
        for token in found.values():
            if token is not None and not _SAFE_TOKEN.match(token):
                raise ValueError(f"flag token {token!r} would need quoting in csh modifiers")
        return {lv: t for lv, t in found.items() if t is not None}

    def summary(self, level: int) -> str:
        parts = []
        for v in self.vars:
            token = self.token(v, level)
            if token is None:
                continue
            if v.kind == "go":
                parts.append(f"sets {v.name}={token}" + (" when unset or empty" if level == self.levels[0] else ""))
            else:
                when = (" (when set)" if v.only_if_set else "") + (
                    f" (when no {self.cpu_flag[:-1]} is there)" if v.kind == "march" and level == self.levels[0] else "")
                parts.append(f"{token} to {v.name}{when}")
        return "; ".join(parts)

    # --- removing the remembered token ----------------------------------------------
    def kind_tokens(self) -> dict[str, dict[int, str]]:
        """kind -> level -> token: what a marker's level gave a variable of that kind."""
        out: dict[str, dict[int, str]] = {}
        for v in self.appended:
            out.setdefault(v.kind, self.tokens(v))
        return out

    def tokens_sh(self) -> str:
        """The one case table, shared by every variable, from "<kind>:<level>" to its token."""
        return "\n".join(f'    {kind}:{lv}) set -- "$1" "$2" "$3" "{token}" ;;'
                         for kind, tokens in self.kind_tokens().items() for lv, token in tokens.items())

    def all_markers(self) -> list[str]:
        """Every variable the package keeps its state in (each variable's marker, GO's saved value)."""
        return [v.marker_of(self.family) for v in self.vars] + [self.go.marker_of(self.family) + "_WAS"]

    def any_marker_sh(self) -> str:
        """Empty exactly when no activation left markers: every activation that marks
        anything marks a C-family variable or Go's (above the baseline CFLAGS and Go's
        always; the Rust markers only come with them), so those are the ones tested."""
        return "".join(f"${{{v.marker_of(self.family)}+x}}" for v in self.vars if v.kind in ("march", "go"))

    def drop_sh(self) -> str:
        return "\n".join(f'{self.fn}_drop {v.name} "${{{v.name}-}}" "${{{v.marker_of(self.family)}-}}" {v.kind}'
                         for v in self.appended)

    def tokens_fish(self) -> str:
        return "\n".join(f"        case {' '.join(f'{kind}:{how}:{lv}' for how in ('appended', 'empty', 'unset'))}\n"
                         f'            set token "{token}"'
                         for kind, tokens in self.kind_tokens().items() for lv, token in tokens.items())

    def drop_fish(self) -> str:
        return "\n".join(f'    {self.fn}_drop {v.name} "${v.marker_of(self.family)}" {v.kind}' for v in self.appended)

    def drop_csh(self) -> str:
        """Switch cases on "<kind>:<marker>": mark every occurrence of the token with a
        slash (slashes were hidden first), so `:h`/`:t` split at the last one."""
        out: list[str] = []
        seen: set[tuple[str, int]] = set()
        for v in self.appended:
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
        return " ".join(v.name for v in self.appended)

    def csh_load(self) -> str:
        """Read each variable and its marker into _mal_v/_mal_m (csh has no indirect expansion)."""
        out: list[str] = []
        for v in self.appended:
            out += [f"case {v.name}:", f"    set _mal_k = {v.kind}", f"    set _mal_only = {int(v.only_if_set)}",
                    f"    if ( $?{v.name} ) then", "        set _mal_isset = 1", f"        set _mal_v = ${v.name}:q",
                    "    endif",
                    f"    if ( $?{v.marker_of(self.family)} ) then", f"        set _mal_m = ${v.marker_of(self.family)}:q", "    endif",
                    "    breaksw"]
        return _indent(out, 4)

    # --- adding this level's token -----------------------------------------------------
    def additions(self, level: int):
        """(var, token, append|replace, condition) for each variable `level` touches.

        condition: None (always), "if-set", "no-march" (level 1 keeps an existing
        -march) or "unset-or-empty" (level 1's GOAMD64).
        """
        for v in self.vars:
            token = self.token(v, level)
            if token is None:
                continue
            condition = None
            if v.only_if_set:
                condition = "if-set"
            elif level == self.levels[0]:
                condition = {"march": "no-march", "go": "unset-or-empty"}.get(v.kind)
            yield v, token, "replace" if v.kind == "go" else "append", condition

    def export_words(self, level: int, var: FlagVar, token: str, mode: str) -> list[str]:
        """The words of one `export` adding `token` to `var` with its marker (above the
        baseline): the marker words are chosen by "${V+...}" (set) and "${V:+...}"
        (non-empty), the last assignment of a name winning."""
        m, n = var.marker_of(self.family), var.name
        words = ([] if var.only_if_set else [f"{m}=unset:{level}"]) + [f'${{{n}+"{m}=empty:{level}"}}']
        if mode == "replace":
            return words + [f'${{{n}:+"{m}=replaced:{level}"}}', f'${{{n}:+"{m}_WAS=${n}"}}', f"{n}={token}"]
        value = f"${{{n}:+${n} }}{token}"
        return words + [f'${{{n}:+"{m}=appended:{level}"}}',
                        f'${{{n}+"{n}={value}"}}' if var.only_if_set else f'{n}="{value}"']

    def add_sh(self, level: int) -> str:
        """Above the baseline: one `export` for every variable always touched.  At the
        baseline (conditions on the value): one `case` per variable on "${V:+a}${V+s}"
        plus the value.  The variables touched only when set are in the if-set file."""
        additions = [a for a in self.additions(level) if not a[0].only_if_set]
        if level != self.levels[0]:
            words = [w for v, token, mode, _ in additions for w in self.export_words(level, v, token, mode)]
            return "export " + " \\\n  ".join(" ".join(words[i:i + 4]) for i in range(0, len(words), 4))
        out: list[str] = []
        for v, token, mode, condition in additions:
            marker = v.marker_of(self.family)
            arms = {"s": f'export {v.name}="{token}" {marker}=empty:{level}',
                    "": f'export {v.name}="{token}" {marker}=unset:{level}'}
            if condition == "no-march":  # the baseline keeps an existing -march/-mcpu
                arms = {"as": f'export {v.name}="${v.name} {token}" {marker}=appended:{level}', **arms}
                out += [f"case ${{{v.name}:+a}}${{{v.name}+s}}:${{{v.name}-}} in", f"  *{self.cpu_flag}*) ;;"]
            else:  # Go's ISA: only when unset or empty
                out.append(f"case ${{{v.name}:+a}}${{{v.name}+s}}: in")
            out += [f"  {pattern}:*) {body} ;;" for pattern, body in arms.items()]
            out.append("esac")
        return "\n".join(out)

    def if_set_sh(self, level: int) -> tuple[str, str]:
        """(the test, empty when none is set, of the variables this level touches only when
        set; the commands adding to them)."""
        additions = [a for a in self.additions(level) if a[0].only_if_set]
        if not additions:
            return "", "# (none at this level)"
        return ("".join(f"${{{v.name}+x}}" for v, _, _, _ in additions),
                "\n".join(f'[ -z "${{{v.name}+x}}" ] || export ' + " ".join(self.export_words(level, v, token, mode))
                          for v, token, mode, _ in additions))

    def nothing_was_set_sh(self, level: int) -> str:
        """One `case` for the state an activation leaves when none of its variables was set
        before (every always-touched variable "unset:<level>" and holding exactly its token,
        no other marker): one `unset` and done.  The word is compared with a literal (no
        glob), so it matches only that state: the separators are counted."""
        touched = [(v, self.token(v, level)) for v in self.vars if not v.only_if_set and self.token(v, level)]
        others = "".join(f"${{{v.marker_of(self.family)}+x}}" for v in self.vars
                         if v.only_if_set or not self.token(v, level))
        word = ",".join(f"${{{v.marker_of(self.family)}-}}:${{{v.name}-}}" for v, _ in touched) + f",{others}"
        want = ",".join(f"unset:{level}:{token}" for _, token in touched) + ","
        names = [v.name for v, _ in touched] + [v.marker_of(self.family) for v, _ in touched]
        return f'case "{word}" in "{want}") unset {" ".join(names)}; return 0 ;; esac'

    def quick_drop_sh(self, level: int, remove: str) -> str:
        """One `case` per variable always touched, on "<marker>:<value>": this level's
        token last (or the whole value) is cut off and the marker unset.  Any marker
        left (another level's, flags after the token, a variable touched only when set)
        makes the last `case` source the general removal."""
        out = [self.nothing_was_set_sh(level)]
        for v in self.vars:
            marker, token = v.marker_of(self.family), self.token(v, level)
            if token is None or v.only_if_set:
                continue
            if v.kind == "go":
                arms = [f"unset:{level}:{token}) unset {v.name} {marker} ;;",
                        f'replaced:{level}:{token}) export {v.name}="${{{marker}_WAS-}}"; unset {marker} {marker}_WAS ;;']
            else:
                arms = [f'appended:{level}:*" {token}") export {v.name}="${{{v.name}%" {token}"}}"; unset {marker} ;;',
                        f'unset:{level}:"{token}") unset {v.name} {marker} ;;']
            out.append(f"case ${{{marker}-}}:${{{v.name}-}} in " + " ".join(arms) + " esac")
        # GO's saved value goes with GO's marker: left out of the test.
        test = "".join(f"${{{m}+x}}" for m in self.all_markers()[:-1])
        out.append(f'case {test} in ?*) . "@PREFIX@/{remove}" ;; esac')
        return "\n".join(out)

    def report_sh(self, level: int) -> str:
        return "\n".join(f'{self.fn}_added {v.name} "${{{v.name}-}}" "${{{v.marker_of(self.family)}-}}" "{token}"'
                          for v, token, _, _ in self.additions(level))

    def add_fish(self, level: int) -> str:
        """Inline, no function: per variable an `if` on unset / empty / non-empty."""
        out: list[str] = []
        for v, token, mode, condition in self.additions(level):
            m, n = v.marker_of(self.family), v.name
            unset = [f'set -gx {n} "{token}"', f"set -gx {m} unset:{level}"]
            empty = [f'set -gx {n} "{token}"', f"set -gx {m} empty:{level}"]
            full = ([f'set -gx {m}_WAS "${n}"', f'set -gx {n} "{token}"', f"set -gx {m} replaced:{level}"]
                    if mode == "replace" else [f'set -gx {n} "${n} {token}"', f"set -gx {m} appended:{level}"])
            branches = [(f"not set -q {n}", unset), (f'test -z "${n}"', empty), (None, full)]
            if condition == "if-set":
                branches = [(f"not set -q {n}", []), *branches[1:]]
            elif condition == "unset-or-empty":
                branches = branches[:2]
            body: list[str] = []
            for i, (test, lines) in enumerate(branches):
                body.append(("if " if i == 0 else "else if " if test else "else") + (test or ""))
                body += ["    " + line for line in lines]
            body.append("end")
            if condition == "no-march":  # the baseline keeps an existing -march/-mcpu
                body = [f"if not string match -q -- '*{self.cpu_flag}*' \"${n}\""] + ["    " + b for b in body] + ["end"]
            out += body
        return "\n".join(out)

    def quick_drop_fish(self, level: int) -> str:
        """Per variable always touched, a `switch` on "<marker>:<value>": this level's token
        last is cut off (unless a newline precedes it: a command substitution would drop it)."""
        out: list[str] = []
        for v in self.vars:
            m, n, token = v.marker_of(self.family), v.name, self.token(v, level)
            if token is None or v.only_if_set:
                continue
            out += [f'    switch "${m}:${n}"']
            if v.kind == "go":
                out += [f"        case unset:{level}:{token}", f"            set -e {n} {m}",
                        f"        case replaced:{level}:{token}", f'            set -gx {n} "${m}_WAS"',
                        f"            set -e {m} {m}_WAS"]
            else:
                regex = token.replace(".", "\\.")
                out += [f"        case 'unset:{level}:{token}'", f"            set -e {n} {m}",
                        f"        case 'appended:{level}:* {token}'",
                        f"            if not string match -q -- '*'\\n' {token}' \"${n}\"",
                        f"                set -gx {n} (string replace -r -- ' {regex}\\z' '' \"${n}\" | string collect)",
                        f"                set -e {m}", "            end"]
            out.append("    end")
        return "\n".join(out)

    def report_fish(self, level: int) -> str:
        return "\n".join(f'{self.fn}_added {v.name} "{token}"' for v, token, _, _ in self.additions(level))

    def add_csh(self, level: int) -> str:
        out = ['    set _mal_t = ""', "    switch ( $_mal_k )"]
        for kind in ("march", "rust"):
            token = self.token(next(v for v in self.appended if v.kind == kind), level)
            if token is None:
                continue
            out.append(f"    case {kind}:")
            if kind == "march" and level == self.levels[0]:
                out.append(f'        if ( $_mal_v:q !~ *{self.cpu_flag}* ) set _mal_t = "{token}"')
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
                f"        setenv {self.family.state_prefix}$_mal_n $_mal_how",
                "        if ( $?CONDA_BUILD ) then",
                f"            if ( $CONDA_BUILD:q == 1 ) printf '{self.family.flags}: %s: %s -> %s\\n' "
                "$_mal_n $_mal_old:q \"'\"$_mal_new:q\"'\" > /dev/stderr",
                "        endif",
                "    endif"]
        return "\n".join(out)

    def go_add_csh(self, level: int) -> str:
        token = self.token(self.go, level)
        go, state, was = self.go.name, self.go.marker_of(self.family), self.go.marker_of(self.family) + "_WAS"
        out = ["set _mal_v = unset", f"if ( $?{go} ) then", f"    set _mal_v = \"'\"${go}:q\"'\"", "endif"]
        body = ["if ( $_mal_v:q == unset ) then", f"    setenv {state} unset:{level}",
                "else if ( $_mal_v:q == \"''\" ) then", f"    setenv {state} empty:{level}",
                "else", f"    setenv {state} replaced:{level}",
                f"    setenv {was} ${go}:q", "endif", f"setenv {go} {token}",
                "if ( $?CONDA_BUILD ) then",
                f"    if ( $CONDA_BUILD:q == 1 ) printf '{self.family.flags}: {go}: %s -> %s\\n' $_mal_v:q \"'{token}'\" > /dev/stderr",
                "endif"]
        if level == self.levels[0]:
            out += ["if ( $_mal_v:q == unset || $_mal_v:q == \"''\" ) then", _indent(body, 4), "endif"]
        else:
            out += body
        return "\n".join(out)

    # --- Go's ISA variable (GOAMD64, GOPPC64) -------------------------------------------
    def go_patterns(self, how: str, sep: str) -> str:
        return sep.join(f"{how}:{lv}:{self.token(self.go, lv)}" for lv in self.levels)

    def csh_go_cases(self) -> str:
        return "\n".join(f"case {how}:{lv}:{self.token(self.go, lv)}:"
                         for how in ("unset", "empty", "replaced") for lv in self.levels)

    # --- whole scripts ------------------------------------------------------------------
    def render(self, level: int, header: str) -> dict[str, str]:
        """Installed path (under the package's level directory) -> script text."""
        out = {**self.render_sh(level, header), **self.render_fish(level, header)}
        for path, (role, adds) in ROLES.items():
            values = {
                "HEADER": header, "LEVEL": str(level), "FLAG_SUMMARY": self.summary(level),
                "PKG": self.family.flags, "FN": self.fn, "STATE": self.family.state_prefix,
                "GO": self.go.name, "ROLE": ROLE_TEXT[role],
                "GO_UNSET": self.go_patterns("unset", " "),
                "GO_EMPTY": self.go_patterns("empty", " "),
                "GO_REPLACED": self.go_patterns("replaced", " "),
                "NAMES": self.csh_names(), "LOAD": self.csh_load(), "DROP": self.drop_csh(),
                "GO_CASES": self.csh_go_cases(),
                "ADD": self.add_csh(level) if adds else "",
                "GO_ADD": self.go_add_csh(level) if adds else "",
            }
            out[path.format(shell="csh", package=self.family.flags)] = fill(template("flags.csh.in"), values)
        return out

    def render_fish(self, level: int, header: str) -> dict[str, str]:
        """The fish scripts: three short ones for the common path, two in share/ for the rare ones."""
        remove = REMOVE_FILE.format(package=self.family.flags).replace(".sh", ".fish")
        report = REPORT_FILE.format(package=self.family.flags).replace(".sh", ".fish")
        tested = [v.marker_of(self.family) for v in self.vars if v.kind in ("march", "go")]
        left = self.all_markers()[:-1]
        values = {
            "HEADER": header, "LEVEL": str(level), "FLAG_SUMMARY": self.summary(level),
            "PKG": self.family.flags, "FN": self.fn, "STATE": self.family.state_prefix, "GO": self.go.name,
            "REMOVE_FILE": remove, "REPORT_FILE": report,
            "ANY_MARKERS": " ".join(tested), "N_ANY": str(len(tested)),
        }
        scripts = {
            FLAGS_FIRST_FILE: ("flags-first.fish.in", {"ROLE": ROLE_TEXT["first"]}),
            FLAGS_FILE.replace("{kind}", "activate"): ("flags-activate.fish.in", {
                "ROLE": ROLE_TEXT["activate"], "ADD": self.add_fish(level)}),
            FLAGS_FILE.replace("{kind}", "deactivate"): ("flags-deactivate.fish.in", {
                "ROLE": ROLE_TEXT["deactivate"], "DROP": self.quick_drop_fish(level),
                "LEFT_MARKERS": " ".join(left), "N_LEFT": str(len(left))}),
            remove: ("flags-remove.fish.in", {
                "DROP": self.drop_fish(), "TOKENS": self.tokens_fish(),
                "MARKERS": " ".join(v.marker_of(self.family) for v in self.appended),
                "ALL_MARKERS": " ".join(self.all_markers()), "N_MARKERS": str(len(self.all_markers())),
                **{f"GO_{how.upper()}": self.go_patterns(how, " ") for how in ("unset", "empty", "replaced")}}),
            report: ("flags-report.fish.in", {"REPORT_CALLS": self.report_fish(level)}),
        }
        return {path.format(shell="fish", package=self.family.flags): fill(template(name), {**values, **extra})
                for path, (name, extra) in scripts.items()}

    def render_sh(self, level: int, header: str) -> dict[str, str]:
        """The POSIX scripts: three short ones for the common path, two in share/ for the rare ones."""
        remove = REMOVE_FILE.format(package=self.family.flags)
        report = REPORT_FILE.format(package=self.family.flags)
        values = {
            "HEADER": header, "LEVEL": str(level), "FLAG_SUMMARY": self.summary(level),
            "PKG": self.family.flags, "FN": self.fn, "STATE": self.family.state_prefix, "GO": self.go.name,
            "REMOVE_FILE": remove, "REPORT_FILE": report, "ANY_MARKER": self.any_marker_sh(),
        }
        if_set_test, if_set = self.if_set_sh(level)
        rare = RARE_ACTIVATE_FILE.format(package=self.family.flags)
        scripts = {
            FLAGS_FIRST_FILE: ("flags-first.sh.in", {"ROLE": ROLE_TEXT["first"]}),
            FLAGS_FILE.replace("{kind}", "activate"): ("flags-activate.sh.in", {
                "ROLE": ROLE_TEXT["activate"], "ADD": self.add_sh(level), "IF_SET_TEST": if_set_test,
                "RARE_FILE": rare}),
            rare: ("flags-activate-rare.sh.in", {"ADD": self.add_sh(level), "ADD_IF_SET": if_set}),
            FLAGS_FILE.replace("{kind}", "deactivate"): ("flags-deactivate.sh.in", {
                "ROLE": ROLE_TEXT["deactivate"], "DROP": self.quick_drop_sh(level, remove)}),
            remove: ("flags-remove.sh.in", {
                "TOKENS": self.tokens_sh(), "DROP_CALLS": self.drop_sh(),
                "ALL_MARKERS": " ".join(self.all_markers()),
                **{f"GO_{how.upper()}": self.go_patterns(how, "|") for how in ("unset", "empty", "replaced")}}),
            report: ("flags-report.sh.in", {"REPORT_CALLS": self.report_sh(level)}),
        }
        return {path.format(shell="sh", package=self.family.flags): fill(template(name), {**values, **extra})
                for path, (name, extra) in scripts.items()}


ROLE_TEXT = {
    "first": "runs first in activate.d (\"+\" sorts before the compilers' scripts): removes the token",
    "activate": "runs last in activate.d (\"~\" sorts after the compilers' scripts): removes the token, adds this level's",
    "deactivate": "runs first in deactivate.d (reverse order): removes the token",
}
