"""What each package manager does with `__archspec`, per version: one table, FACTS.

A row of FACTS says what one tool does from one version on (until its next
row): which reporting *style* it has (what it puts in `__archspec` for a CPU
and how its solver matches builds, see STYLES), whether it honours
CONDA_OVERRIDE_ARCHSPEC, whether it loads local `file://` channels under
`--offline`, in which form the install tests read its failures, how they ask
it for its `__archspec`, and the style of its lock-file solve if it has one.
A style's report is data too (`Style.reports`, a `version=build` template
read by `reported`).  Everything else -- style_of, advice, the styles'
labels and override notes, the drivers and command lines of the install
tests, what `matrix`, `doctor` and `explain` expect of a tool -- is derived
from these rows, so a version threshold is written once, here: a new
behaviour of a tool is a new row (and, if it reports in a new way, a new style).

Where each fact was seen is in the row's `seen`: the tool's source file, issue
or pull request, or a real solver output ("capture": those the tests read are
listed with their expected diagnoses in tests/data/solver-errors-real/expected.tsv).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..catalog.levels import Catalog

# How a tool reads CONDA_OVERRIDE_ARCHSPEC.
VERBATIM = "verbatim"   # any value becomes the __archspec build string
NAMES = "names"         # only names archspec knows; anything else is refused
IGNORED = "ignored"     # the deciding solve does not look at the machine at all
NO_OVERRIDE = "none"    # the variable does nothing

# Where a style's CPU comes from.
PROC_CPUINFO = "/proc/cpuinfo"   # archspec (Python or Rust) reading the kernel's flags
CPUID = "CPUID"                  # the tool's own CPUID-based level detection
NOWHERE = "nowhere"              # a fixed report, whatever the CPU

# In which form the install tests read a tool's failures: the form of the real captures.
JSON = "json"    # --json: conda's exception document, micromamba 1.x's solver_problems
TEXT = "text"    # the human text (micromamba 2.x's problem tree, rattler's)

# How the install tests ask a tool for the __archspec its solver uses.
INFO_JSON = "info-json"     # `<tool> info --json`
LIBMAMBAPY = "libmambapy"   # mamba 1.x: `mamba info` is conda's, so ask libmambapy in its Python


# Which detector's name for a CPU a style reports (`matrix` runs both over each sample).
ARCHSPEC = "archspec"    # archspec (Python), as conda uses it
RATTLER = "rattler"      # archspec-rs inside rattler (py-rattler, pixi)


def reported(template: str | None, catalog: Catalog, host: str) -> tuple[str, str] | None:
    """(version, build) of `__archspec` that the report `template` gives for the CPU archspec calls `host`.

    `template` is "version=build" with placeholders: {name} the CPU's own name,
    {generic} its level's generic name (x86_64_v3), {hyphen} that name as
    mamba #3222 spells it (x86_64-v3), {machine} the family's bare name.
    None: no `__archspec` at all.
    """
    if template is None:
        return None
    fields = {"name": host, "machine": catalog.family}
    if catalog.generic_names and ("{generic}" in template or "{hyphen}" in template):
        generic = catalog.generic_names[catalog.names[host]]
        # mamba #3222 joins the level to the family's name with "-": x86_64_v3 -> x86_64-v3.
        hyphen = catalog.family + generic[len(catalog.family):].replace("_", "-", 1)
        fields.update(generic=generic, hyphen=hyphen)
    version, build = template.split("=", 1)
    return version, build.format_map(fields)


@dataclass(frozen=True)
class Style:
    """What a range of tool versions puts in `__archspec` for a CPU, and how its solver matches builds."""

    key: str
    what: str        # the report, for the label: "archspec name", "generic x86_64_vN"
    solver: str      # build-string semantics, see matching.SOLVERS
    detection: str   # where the CPU comes from (PROC_CPUINFO, CPUID, NOWHERE)
    reports: str | None         # where levels have generic names (x86-64): the `reported` template; None: none
    elsewhere: str | None = ""  # on families without them (POWER): the template; "": the same as `reports`
    detector: str = ARCHSPEC    # whose name for the CPU `{name}` is (ARCHSPEC or RATTLER)
    emptied: str | None = None  # the template an empty CONDA_OVERRIDE_ARCHSPEC gives; None: it removes __archspec
    override: str = ""   # how CONDA_OVERRIDE_ARCHSPEC is read; from FACTS when tools have this style
    problem: str = ""    # why a tool with this style must be upgraded ("" when it need not)
    who: str = ""        # which tools, when they are not versions of a tool in FACTS
    note: str = ""       # derived from FACTS
    label: str = ""      # derived: "<tools and versions> (<what>)"

    def report(self, catalog: Catalog, host: str) -> tuple[str, str] | None:
        """(version, build) of `__archspec` on a CPU archspec calls `host`; None if absent.

        `catalog` is the CPU's family: where its levels have no generic names (POWER), the
        `elsewhere` template holds.
        """
        template = self.reports if catalog.generic_names or self.elsewhere == "" else self.elsewhere
        return reported(template, catalog, host)

    @property
    def names_cpus(self) -> bool:
        """Whether it reports the CPU's own archspec name (not a level's generic name, nor a fixed one)."""
        return "{name}" in (self.reports or "")


@dataclass(frozen=True)
class ToolFacts:
    """What `tool` does from version `first` on, until the tool's next row."""

    tool: str
    first: str
    style: str                  # a STYLES key: what it reports as __archspec, how it matches builds
    override: str               # how it reads CONDA_OVERRIDE_ARCHSPEC
    offline_local: bool | None  # loads file:// channels under --offline with an empty cache (None: no such flag)
    errors: str                 # JSON or TEXT: the failure form the install tests ask for
    probe: str = INFO_JSON
    seen: str = ""
    lock_style: str | None = None   # a STYLES key: what its lock-file solve reports (None: it has none)

    @property
    def solver(self) -> str:
        return STYLES[self.style].solver


_LIBMAMBA = "libmamba/src/core/virtual_packages.cpp (get_archspec, get_archspec_x86_64)"
_MAMBA_OFFLINE_TODO = ("offline: libmamba < 2.2 skips every index download when offline (`// TODO load local "
                       "channels even when offline` in libmamba/src/api/channel_loader.cpp (1.5) and "
                       "libmamba/include/mamba/core/subdirdata.hpp SubdirData::download_required_indexes "
                       "(2.0); mamba PR #3937; real runs of 1.5.8 and 2.0.5 failed offline)")
_MAMBA_OFFLINE_FIXED = ("offline: SubdirIndexLoader::build_index_request (libmamba/src/core/subdir_index.cpp) "
                        "skips only non-local subdirs when offline; is_local() = one file:// mirror "
                        "(mamba PR #3937, opened 2025-05-13, after 2.0.5 of 2024-12-12 in CHANGELOG.md; "
                        "that 2.2.0 is its first release was not checked against release notes)")


def _mamba_rows(tool: str, old_probe: str, old_errors: str, old_note: str) -> tuple[ToolFacts, ...]:
    """mamba and micromamba share libmamba, so they share thresholds; 1.x front ends differ."""
    return (
        ToolFacts(tool, "0", "mamba-old", NO_OVERRIDE, False, old_errors, old_probe,
                  f"{_LIBMAMBA}: the bare machine before level detection; {old_note}"),
        ToolFacts(tool, "1.5.3", "mamba-hyphen", NO_OVERRIDE, False, old_errors, old_probe,
                  f"{_LIBMAMBA} returned x86_64-vN (mamba #3222); capture micromamba-1.5.8 (reports x86_64-v3); "
                  f"{old_note}"),
        ToolFacts(tool, "1.5.10", "mamba", NO_OVERRIDE, False, old_errors, old_probe,
                  f"mamba PR #3404 (x86_64_vN, fixing #3222); no override in 1.x; {_MAMBA_OFFLINE_TODO}"),
        ToolFacts(tool, "2.0.0", "mamba", VERBATIM, False, TEXT, INFO_JSON,
                  f"{_LIBMAMBA}: any CONDA_OVERRIDE_ARCHSPEC is returned as is (mamba PR #2966); capture "
                  f"micromamba-2.0.5 (a level-3 pin refused under CONDA_OVERRIDE_ARCHSPEC=x86_64_v2 on a level-3 "
                  f"host); {_MAMBA_OFFLINE_TODO}"),
        ToolFacts(tool, "2.2.0", "mamba", VERBATIM, True, TEXT, INFO_JSON, _MAMBA_OFFLINE_FIXED),
    )


FACTS: tuple[ToolFacts, ...] = (
    ToolFacts("conda", "0", "conda-old", NO_OVERRIDE, True, JSON, INFO_JSON,
              "no archspec virtual-package plugin (conda/plugins/virtual_packages/archspec.py) yet"),
    ToolFacts("conda", "23.3", "conda", VERBATIM, True, JSON, INFO_JSON,
              "conda/plugins/virtual_packages/archspec.py (archspec's host name; a set override is the build, "
              "an empty one removes __archspec); capture conda-26.7.1 (a level-3 pin refused under "
              "CONDA_OVERRIDE_ARCHSPEC=x86_64_v2); "
              "offline: conda/gateways/connection/session.py keeps file:// on LocalFSAdapter when offline and "
              "conda/core/subdir_data.py empties only non-file:// channels offline (the classic solver; where "
              "conda's solvers differ, SOLVER_FACTS); a real run of 26.7.1 passed offline"),
    *_mamba_rows("mamba", LIBMAMBAPY, JSON, "1.x is conda's command line around libmambapy (mamba/mamba/utils.py)"),
    *_mamba_rows("micromamba", INFO_JSON, JSON, "capture micromamba-1.5.8 is --json"),
    ToolFacts("pixi", "0", "rattler", NAMES, None, TEXT, INFO_JSON,
              "rattler_virtual_packages (archspec-rs; VirtualPackageOverrides.from_env, checked with py-rattler "
              "here: unknown names are refused); pixi has no offline flag for exec or install; a workspace is "
              "locked for the platform's baseline __archspec", lock_style="pixi-lock"),
)
TOOLS = tuple(dict.fromkeys(row.tool for row in FACTS))


def parse_version(text: str) -> tuple[int, ...]:
    """'1.5.8' -> (1, 5, 8); '2.0.0rc5' -> (2, 0, 0); anything unparsable -> ()."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def _rows(tool: str) -> list[ToolFacts]:
    rows = [row for row in FACTS if row.tool == tool]
    if not rows:
        raise ValueError(f"unknown tool '{tool}'; expected one of {', '.join(TOOLS)}")
    return rows


def facts(tool: str, version: str) -> ToolFacts:
    """The row of FACTS that holds for `tool` at `version` (the tool's first row if it is unreadable)."""
    rows = _rows(tool)
    v = parse_version(version)
    return next((row for row in reversed(rows) if v >= parse_version(row.first)), rows[0])


def _before(version: str) -> str | None:
    """'1.5.10' -> '1.5.9'; None when the last number is 0 (the previous release is unknown)."""
    parts = version.split(".")
    return ".".join(parts[:-1] + [str(int(parts[-1]) - 1)]) if parts[-1].isdigit() and int(parts[-1]) > 0 else None


def _span(rows: list[ToolFacts], style: str) -> str:
    """The versions of one tool (its `rows`) that have `style`: '< 1.5.3', '1.5.3-1.5.9', '>= 1.5.10'."""
    inside = [i for i, row in enumerate(rows) if row.style == style]
    low = rows[inside[0]].first
    high = rows[inside[-1] + 1].first if inside[-1] + 1 < len(rows) else None
    if high is None:
        return f">= {low}"
    if low == "0":
        return f"< {high}"
    last = _before(high)
    return f"{low}-{last}" if last else f">= {low}, < {high}"


def _derive(style: Style, table: tuple[ToolFacts, ...]) -> Style:
    """Fill a style's override, note and label from the rows of `table` that have it."""
    rows = [row for row in table if row.style == style.key]
    if not rows:
        return replace(style, label=f"{style.who} ({style.what})")
    spans: dict[str, list[str]] = {}
    for tool in dict.fromkeys(row.tool for row in rows):
        spans.setdefault(_span([r for r in table if r.tool == tool], style.key), []).append(tool)
    who = "; ".join(f"{'/'.join(tools)} {span}" for span, tools in spans.items())
    override = rows[-1].override
    note = style.note
    first_verbatim = next((row.first for row in rows if row.override == override), None)
    if any(row.override != override for row in rows):
        tools = "/".join(dict.fromkeys(row.tool for row in rows))
        note = f"only {tools} >= {first_verbatim} read CONDA_OVERRIDE_ARCHSPEC; older versions ignore it"
    return replace(style, who=style.who or who, override=override, note=note,
                   label=f"{style.who or who} ({style.what})")


# What each kind of report is; who has it, the override and the label come from FACTS (styles()).
# Off x86-64 (`elsewhere`) libmamba reports the bare machine: its get_archspec
# (libmamba/src/core/virtual_packages.cpp) computes a level only for the `64`
# arch and returns the platform's arch otherwise; pixi's lock solve its baseline.
KINDS = (
    Style("conda", "archspec name", "libmamba", PROC_CPUINFO, reports="1={name}"),
    Style("mamba", "generic x86_64_vN", "libmamba", CPUID, reports="1={generic}", elsewhere="1={machine}",
          emptied="1=0"),
    Style("mamba-hyphen", "x86_64-vN, bug #3222", "libmamba", CPUID, reports="1={hyphen}", elsewhere="1={machine}",
          problem="reports __archspec as x86_64-vN with a hyphen (mamba #3222)"),
    Style("mamba-old", "always x86_64", "libmamba", NOWHERE, reports="1={machine}",
          problem="always reports __archspec=x86_64, so it only ever installs level-1 builds"),
    Style("pixi-lock", "baseline __archspec=0=x86_64", "rattler", NOWHERE, reports="0={machine}", override=IGNORED,
          who="pixi lock-file solve"),
    Style("rattler", "archspec-rs detection", "rattler", PROC_CPUINFO, reports="1={name}", detector=RATTLER,
          override=NAMES, who="rattler/pixi install"),
    Style("conda-old", "no __archspec", "conda-classic", NOWHERE, reports=None,
          problem="reports no __archspec, so it only installs level-1 builds"),
)


def styles(table: tuple[ToolFacts, ...]) -> dict[str, Style]:
    """KINDS with who has each, its override and its label filled in from `table` (FACTS)."""
    return {style.key: _derive(style, table) for style in KINDS}


STYLES = styles(FACTS)
# The styles a maintainer's matrix shows by default (the old ones only matter to doctor).
MATRIX_STYLES = ("conda", "mamba", "mamba-hyphen", "pixi-lock", "rattler")


def style_of(tool: str, version: str) -> Style:
    """The reporting style of `tool` at `version` on Linux x86-64."""
    return STYLES[facts(tool, version).style]


def lock_style_of(tool: str, version: str) -> Style | None:
    """The style of `tool`'s lock-file solve at `version`; None when it has none."""
    key = facts(tool, version).lock_style
    return None if key is None else STYLES[key]


def tools_with(style: str) -> tuple[str, ...]:
    """The tools some version of which has `style`."""
    return tuple(dict.fromkeys(row.tool for row in FACTS if row.style == style))


def newest_style(tool: str) -> Style:
    """The style of `tool`'s newest versions: what it reports when the version is not known."""
    return STYLES[_rows(tool)[-1].style]


def advice(tool: str, version: str) -> str | None:
    """What to do about a version known to report `__archspec` wrongly; None when it is fine."""
    row = facts(tool, version)
    problem = STYLES[row.style].problem
    if not problem:
        return None
    rows = _rows(tool)
    fixed = next(r for r in rows[rows.index(row):] if not STYLES[r.style].problem)
    return f"{tool} {version} {problem}: upgrade to {tool} >= {fixed.first}"



# ----------------------------------------------------------------------------
# conda's solvers: where conda's behaviour differs by solver, the solver's row holds.

@dataclass(frozen=True)
class SolverFacts:
    """What `tool` does with the solver `solver` (conda's `--solver` / CONDA_SOLVER)."""

    tool: str
    solver: str
    offline_local: bool   # loads file:// channels under --offline with an empty cache
    seen: str


SOLVER_FACTS: tuple[SolverFacts, ...] = (
    SolverFacts("conda", "classic", True,
                "conda/core/subdir_data.py empties only non-file:// channels offline and "
                "conda/gateways/connection/session.py keeps file:// on LocalFSAdapter; a real run of 26.7.1 "
                "installed from a file:// channel with --offline"),
    SolverFacts("conda", "libmamba", False,
                "conda-libmamba-solver 26.6.0 conda_libmamba_solver/index.py _fetch_one_repodata_json: offline, "
                "a channel is read only from `subdir_data.cache_path_json` (the first pkgs dir's index cache), "
                "else \"Could not load repodata for file://...\"; without --offline it reads the file:// "
                "channel through conda's SubdirData. A real run of conda 26.7.1 + conda-libmamba-solver 26.6.0 + "
                "libmambapy 2.2.0 with an empty package cache: with --offline \"WARNING conda.conda_libmamba_solver."
                "index:_load_repo_info_from_json_path(582): Could not load repodata for file://...\" and the gate "
                "not found; without it the gate installed"),
    SolverFacts("conda", "rattler", True,
                "a real run of conda 26.7.1 + conda-rattler-solver 0.2.0 installed from a file:// channel with "
                "--offline (and `make test-tools` with it, December 2026: 193 passed, none failed)"),
)


# What conda prints when the solver asked for is not installed: `--solver X` is refused by its argument
# parser (a real run of 26.7.1 without conda-libmamba-solver: "conda create: error: argument --solver: invalid
# choice: 'libmamba' (choose from 'classic', 'rattler')"); CONDA_SOLVER=X or a condarc's `solver: X` by
# conda/plugins/manager.py get_solver_backend ("... backend (X) but it was not recognized. Choose one of: ...").
SOLVER_MISSING = ("argument --solver: invalid choice", "but it was not recognized. Choose one of")


def solvers(tool: str) -> tuple[str, ...]:
    """The solvers `tool` can be told to use, each with its own row; () when it has one solver."""
    return tuple(row.solver for row in SOLVER_FACTS if row.tool == tool)


def solver_facts(tool: str, solver: str) -> SolverFacts:
    row = next((r for r in SOLVER_FACTS if (r.tool, r.solver) == (tool, solver)), None)
    if row is None:
        raise ValueError(f"unknown solver '{solver}' of {tool}; expected one of {', '.join(solvers(tool))}")
    return row


def offline_local(tool: str, version: str, solver: str | None = None) -> bool | None:
    """Whether `tool` at `version` (with `solver`, where it has several) loads file:// channels offline."""
    return facts(tool, version).offline_local if solver is None else solver_facts(tool, solver).offline_local


# ----------------------------------------------------------------------------
# Shell hooks: what each tool's activation hook is asked for in each shell, and where it cannot run.
# The shells are tests/shells.py's names.

@dataclass(frozen=True)
class HookLimit:
    """Shells in which a tool's hook cannot run, told by what the tool or the shell prints."""

    shells: tuple[str, ...]
    messages: tuple[str, ...]   # one of them appears in the run's output when the limit is hit
    why: str
    seen: str


@dataclass(frozen=True)
class HookFacts:
    """How `tool` from version `first` on (until its next row) is hooked into each shell."""

    tool: str
    first: str
    hook: tuple[str, ...]       # argv after the executable; {shell} is the hook's name for the shell
    names: tuple[tuple[str, str], ...]   # (shell, the hook's name for it)
    limits: tuple[HookLimit, ...] = ()
    lower_deactivates: bool = False   # activating the environment just below the top is a deactivate
    seen: str = ""

    def hook_name(self, shell: str) -> str:
        return dict(self.names)[shell]

    def argv(self, shell: str) -> list[str]:
        return [word.format(shell=self.hook_name(shell)) for word in self.hook]

    def limit(self, shell: str) -> HookLimit | None:
        return next((limit for limit in self.limits if shell in limit.shells), None)


_POSIX_NAMES = (("bash", "bash"), ("zsh", "zsh"), ("dash", "posix"), ("ksh93", "posix"), ("mksh", "posix"),
                ("fish", "fish"))
# ksh93 and mksh have no `local`; a real run here of `f() { \local x=1; }; f` printed these.
_NO_LOCAL = ("local: not found", "local: inaccessible or not found")
_NO_LOCAL_SEEN = ("ksh93 (93u+m) prints \"ksh: f[1]: local: not found\" and mksh \"mksh: local: inaccessible or "
                  "not found\" for `\\local` (real runs here)")

HOOK_FACTS: tuple[HookFacts, ...] = (
    HookFacts("conda", "0", ("shell.{shell}", "hook"), (*_POSIX_NAMES, ("tcsh", "csh")), (
        HookLimit(("ksh93", "mksh"), _NO_LOCAL, "its posix hook declares variables with `local`",
                  "conda/shell/etc/profile.d/conda.sh (26.7.1: `\\local ask_conda`); " + _NO_LOCAL_SEEN),
    ), lower_deactivates=False,
        seen="conda/activate.py (26.7.1) _build_activate_stack reactivates only the top prefix and pushes any "
             "other; a real run of 26.7.1: gcc3, gcc2, gcc3, deactivate leaves gcc2 active with its scripts run"),
    HookFacts("micromamba", "0", ("shell", "hook", "-s", "{shell}"), (*_POSIX_NAMES, ("tcsh", "tcsh")), (
        HookLimit(("ksh93", "mksh"), _NO_LOCAL, "its posix hook declares variables with `local`",
                  "libmamba/data/mamba.sh (2.2.0: `\\local ask_mamba`), libmamba/data/micromamba.sh (1.5.8: "
                  "`\\local ask_conda`); "
                  + _NO_LOCAL_SEEN),
        HookLimit(("tcsh",), ("Unmatched \'\"\'", "Shell not initialized"),
                  "tcsh cannot read its csh hook",
                  "real runs of micromamba 2.0.5 with tcsh 6.24 (`eval \"`micromamba shell hook -s tcsh`\"`: "
                  "Unmatched '\"'.); real runs of micromamba 1.5.8 and 2.2.0 with tcsh 6.24: eval of its csh hook "
                  "(multi-line aliases without continuations) defines no `micromamba` alias, so `micromamba activate` "
                  "runs the executable, which says \"critical libmamba Shell not initialized\"; its -s accepts tcsh, "
                  "not csh (micromamba/src/shell.cpp init_shell_option; 2.2.0: \"--shell: csh not in {...}\")"),
    ), lower_deactivates=True,
        seen="libmamba/src/core/activation.cpp Activator::build_activate (1.5.8 and 2.2.0): a prefix equal to "
             "CONDA_PREFIX_<shlvl-1> returns build_deactivate()"),
)


def hook_facts(tool: str, version: str) -> HookFacts | None:
    """The hook row of `tool` at `version`; None when the table has no hook for the tool."""
    rows = [row for row in HOOK_FACTS if row.tool == tool]
    v = parse_version(version)
    return next((row for row in reversed(rows) if v >= parse_version(row.first)), rows[0] if rows else None)



# ----------------------------------------------------------------------------
# Environments made elsewhere: what each kind of target `check` reads is, whether installing
# it checks the gate's `__archspec` dependency, and how each tool gets a lower gate.

@dataclass(frozen=True)
class TargetFacts:
    """What one kind of `check` target (a prefix, a lock file) means for the gate it holds.

    install: what installing it does with the gate's `__archspec` dependency.
    lower: how each tool gets a gate at level {level} (placeholders {gate}, {level}, {level_name}).
    seen: where each of those was seen (source files of the tools, real runs, captures).
    """

    kind: str
    install: str
    lower: str
    seen: str


# pixi's lock platforms: what `check` reports as "solved for" (targets/pixi_lock.py).
PIXI_LOCK_VIRTUAL_PACKAGES = (
    "pixi >= 0.71 writes each lock platform's declared virtual packages in lock format 7 "
    "(pixi crates/pixi_core/src/lock_file/update.rs: `virtual_packages: declared_virtual_packages()`, "
    "v0.71.0 to v0.77.0 and main 2b25fc76; v0.70.2 wrote none); a plain linux-64 declares __unix=0=0, "
    "__linux=4.18, __glibc=2.28, __archspec=0=x86_64 (crates/pixi_manifest/src/platform.rs "
    "subdir_default_virtual_packages; pixi's own pixi.lock), a platform with `archspec = \"x86_64_v3\"` "
    "__archspec=0=x86_64_v3 (crates/pixi_manifest/src/toml/platform.rs), written under an alias p1, p2, ... "
    "(docs/workspace/multi_platform_configuration.md); pixi solves a platform with exactly those "
    "(crates/pixi_core/src/workspace/virtual_packages.rs get_minimal_virtual_packages)")
_CONDA_EXPLICIT = ("conda's explicit install links the named records without a solve (conda conda/misc.py explicit -> "
                   "install_explicit_packages, 26.7.1-56-g0f64223)")
_GATE_PINS = ("conda 26.7.1 and micromamba 1.5.8/2.0.5 solve a pin on the gate like any spec (their refusals of "
              "`==N` pins above the CPU: tests/data/solver-errors-real); that `<=N` then gets level N was seen with "
              "py-rattler's solver (tests/test_check.py)")

TARGET_FACTS = {
    "prefix": TargetFacts(
        "prefix",
        install="already installed: its gate's activation warns on a CPU below its level",
        lower="conda/mamba/micromamba: install `{gate}<={level}` into it, or recreate it with that spec",
        seen=_GATE_PINS),
    "pixi.lock": TargetFacts(
        "pixi.lock",
        install="`pixi install` does not check __archspec against the machine (and picks a platform declared "
                "for a newer CPU on any machine), so the locked gate installs and its activation warns",
        lower="pixi: declare the platform's CPU at that level (`pixi workspace platform edit NAME --archspec "
              "{level_name}`) or add `{gate} = \"<={level}\"` to [dependencies], then `pixi lock`",
        seen="pixi crates/pixi_core/src/lock_file/virtual_packages.rs (2b25fc76): the install-time check's "
             "ACCEPTED_VIRTUAL_PACKAGES omits __archspec; crates/pixi_manifest/src/workspace.rs "
             "possible_pixi_platforms keeps a platform whose declared virtual packages the host has at a version as "
             "high (platform.rs capability_satisfied_by compares no build string, and a declared __archspec is "
             "version 0); docs/reference/cli/pixi/workspace/platform/edit.md "
             "(--archspec); " + PIXI_LOCK_VIRTUAL_PACKAGES),
    "conda-lock": TargetFacts(
        "conda-lock",
        install="`conda-lock install` installs an explicit file with conda, which does not solve, so the "
                "locked gate installs and its activation warns",
        lower="conda-lock: add `{gate} <={level}` to the environment file, or lock with a "
              "`--virtual-package-spec` file giving `__archspec: \"1 {level_name}\"`, then `conda-lock lock`",
        seen="conda-lock 4.0.3 conda_lock/conda_lock.py (_render_lockfile_for_install renders kind=explicit, "
             "do_conda_install runs `create --file`); " + _CONDA_EXPLICIT + "; conda_lock/virtual_package.py "
             "(--virtual-package-spec) and default-virtual-packages.yaml (linux-64 solves with "
             "`__archspec: \"1 x86_64\"`, linux-ppc64le `1 ppc64le`)"),
    "explicit": TargetFacts(
        "explicit",
        install="installing an explicit file does not solve, so the named gate installs and its activation warns",
        lower="recreate the environment the file was written from with `{gate}<={level}`, then "
              "`conda list --explicit` again",
        seen=_CONDA_EXPLICIT + "; " + _GATE_PINS),
}
