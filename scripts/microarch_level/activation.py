"""Render the activation scripts of both packages from templates and archspec data.

The templates (templates/*.in) hold the shell logic; this module fills in the
tables that must come from archspec (names and levels, level features, the
-march names) and the per-variable blocks of the flag scripts, so the shells
never carry a hand-typed list.  Scripts are rendered once per level, laid out
as they are installed (`<package>/<level>/etc/conda/...`); only `@PREFIX@` is
left for the recipe's install script, where a script must name a sibling file.
"""

from __future__ import annotations

import string
from importlib import resources

from .levels import LEVELS, Catalog
from .spelling import MIN_PREFIX, key

from .families import FLAGS, GATE  # noqa: F401  (GATE/FLAGS: defined in the catalog)
GUARD_FILE = "etc/conda/activate.d/_x86_64-microarch-level_guard.{shell}"
GUARD_RARE_FISH = "share/_x86_64-microarch-level/guard-rare.fish"
GUARD_QUICK_ZSH = "share/_x86_64-microarch-level/guard-quick.zsh"
GUARD_OFF_VAR = "MICROARCH_LEVEL_GUARD"
# The guards read CONDA_OVERRIDE_ARCHSPEC only up to this length: longer than any
# spelling of a CPU name, short enough that their character loops stay instant.
MAX_OVERRIDE = 64

# Where Linux prints each level feature in /proc/cpuinfo: (word, bit) in
# arch/x86/include/asm/cpufeatures.h; the kernel prints flags in that order.
# Checked against real samples by tests/test_guard_patterns.py.
KERNEL_FLAG_POSITION = {
    "mmx": (0, 23), "sse": (0, 25), "sse2": (0, 26),
    "ssse3": (4, 9), "fma": (4, 12), "cx16": (4, 13), "sse4_1": (4, 19), "sse4_2": (4, 20),
    "movbe": (4, 22), "popcnt": (4, 23), "xsave": (4, 26), "avx": (4, 28), "f16c": (4, 29),
    "lahf_lm": (6, 0), "abm": (6, 5),
    "bmi1": (9, 3), "avx2": (9, 5), "bmi2": (9, 8), "avx512f": (9, 16), "avx512dq": (9, 17),
    "avx512cd": (9, 28), "avx512bw": (9, 30), "avx512vl": (9, 31),
}


def ordered_glob(features: list[str]) -> str:
    """One shell/fnmatch pattern matching a ` flags ` string holding every feature, in kernel order.

    Features on consecutive bits are printed next to each other, so they form one
    literal run, and each run starts with a space.  A run's last word may begin a
    longer flag (mmx: mmxext, xsave: xsaveopt), but every such flag is printed after
    the next run, so it cannot stand in for the feature.  A line in another order
    does not match, and the guards then check each feature on its own: the pattern
    may miss, never lie.
    """
    unknown = sorted(set(features) - set(KERNEL_FLAG_POSITION))
    if unknown:
        raise ValueError(f"no kernel position for level feature(s) {', '.join(unknown)}: "
                         "add them to activation.KERNEL_FLAG_POSITION")
    runs: list[list[str]] = []
    last = None
    for f in sorted(features, key=KERNEL_FLAG_POSITION.__getitem__):
        word, bit = KERNEL_FLAG_POSITION[f]
        if runs and last == (word, bit - 1):
            runs[-1].append(f)
        else:
            runs.append([f])
        last = (word, bit)
    pieces = [" " + " ".join(r) for r in runs]
    return "*" + "*".join(f'"{p}"' for p in pieces) + "*"


# ----------------------------------------------------------------------------
# Shell fragments.

def _indent(lines: list[str], spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in lines)


class _Renderer:
    def __init__(self, catalog: Catalog, header: str):
        self.catalog = catalog
        self.header = header

    def common(self, level: int) -> dict[str, str]:
        return {
            "HEADER": self.header,
            "LEVEL": str(level),
            "MARCH": self.catalog.march[level],
            "ARCHSPEC_VERSION": self.catalog.archspec_version,
            "MAX_LEVEL": str(LEVELS[-1]),
            "LEVELED_FEATURES": " ".join(
                f"{lv}:{f}" for lv in LEVELS[1:] for f in self.catalog.new_features(lv)),
        }

    # --- guard: quick check (common path) -------------------------------------
    def features_up_to(self, level: int) -> list[str]:
        return [f for lv in range(2, level + 1) for f in self.catalog.new_features(lv)]

    # --- guard: rare paths ----------------------------------------------------
    def sh_override_cases(self) -> str:
        return _indent(
            [f"{key(n)}) _mal_olv={lv} _mal_oname={n} ;;" for n, lv in self.catalog.names.items()],
            6,
        )

    @staticmethod
    def sh_lowercase_cases() -> str:
        return _indent([f"{u}) _mal_c={u.lower()} ;;" for u in string.ascii_uppercase], 8)

    def sh_glibc_cases(self) -> str:
        lines = [f'*"{self.catalog.march[lv]} (supported"*) _mal_cpu={lv} ;;' for lv in reversed(LEVELS[1:])]
        lines.append('*"glibc-hwcaps"*) _mal_cpu=1 ;;')
        return _indent(lines, 4)

    def fish_override_cases(self) -> str:
        lines = []
        for n, lv in self.catalog.names.items():
            lines += [f"case {key(n)}", f"    set _mal_olv {lv}", f"    set _mal_oname {n}"]
        return _indent(lines, 12)

    def fish_glibc_cases(self) -> str:
        lines = []
        for i, lv in enumerate(reversed(LEVELS[1:])):
            lines.append(f"{'if' if i == 0 else 'else if'} string match -q -- "
                         f"'*{self.catalog.march[lv]} (supported*' $_mal_out")
            lines.append(f"    set _mal_cpu {lv}")
        lines += ["else if string match -q -- '*glibc-hwcaps*' $_mal_out", "    set _mal_cpu 1", "end"]
        return _indent(lines, 4)


def override_reader(catalog: Catalog, shell: str, a_label: str, extra_indent: int = 0) -> str:
    """Both families' reading of CONDA_OVERRIDE_ARCHSPEC (templates/override.<shell>.in).

    One code for every family: any spelling of an archspec name of `catalog`
    ('-', '_' and blanks dropped, either case), the cap on its length, the
    "did you mean" for an unknown name; `a_label` names the family in messages
    ("an x86-64").  `shell` is "sh" or "fish"; `extra_indent` shifts the block
    to where a guard nests it.
    """
    r = _Renderer(catalog, "")
    values = {"OVERRIDE_CASES": r.sh_override_cases() if shell == "sh" else r.fish_override_cases()}
    if shell == "sh":
        values["LOWERCASE_CASES"] = r.sh_lowercase_cases()
    values.update({
        "A_LABEL": a_label,
        "MAX_NAME": str(MAX_OVERRIDE),
        "MIN_PREFIX": str(MIN_PREFIX),
        "ARCHSPEC_VERSION": catalog.archspec_version,
        "SUGGEST_CANDIDATES": " ".join(f"{key(n)}:{n}" for n in catalog.names),
    })
    return _indent(_fill(_template(f"override.{shell}.in"), values).rstrip("\n").split("\n"), extra_indent)


def _fill(template: str, values: dict[str, str]) -> str:
    out = template
    for name, value in values.items():
        out = out.replace(f"@@{name}@@", value)
    if "@@" in out:
        start = out.index("@@")
        raise ValueError(f"template placeholder left unfilled: {out[start:start + 40]!r}")
    return out


def _template(name: str) -> str:
    return resources.files("microarch_level").joinpath("templates", name).read_text(encoding="utf-8")


def render_scripts(catalog: Catalog, header: str, family=None) -> dict[str, str]:
    """Every activation script of a family's two packages, keyed `<package>/<level>/<installed path>`."""
    from .families import X86_64
    from .flag_scripts import FlagRenderer

    family = family or X86_64
    out: dict[str, str] = {}
    if family is X86_64:
        out.update(_x86_guards(catalog, header, family))
    else:
        from .guard_power import render_guards

        out.update(render_guards(catalog, family, header))
    flags = FlagRenderer(catalog, family)
    for level in catalog.levels:
        for path, text in flags.render(level, header).items():
            out[f"{family.flags}/{level}/{path}"] = text
    return out


def _x86_guards(catalog: Catalog, header: str, family) -> dict[str, str]:
    """The x86-64 gate's guards: level features from /proc/cpuinfo's flags line."""
    r = _Renderer(catalog, header)
    out: dict[str, str] = {}
    for level in LEVELS[1:]:
        common = r.common(level)
        feats = r.features_up_to(level)
        common.update({
            "FEATURES": " ".join(feats),
            "FEATURE_COUNT": str(len(feats)),
            "FISH_FEATURES": "|".join(feats),
            "ORDERED_GLOB": ordered_glob(feats),
            "FISH_GLOB": ordered_glob(feats).replace('"', ""),
        })
        base = f"{GATE}/{level}/"
        out[base + GUARD_FILE.format(shell="sh")] = _fill(_template("guard.sh.in"), {
            **common,
            "OVERRIDE_READ": override_reader(catalog, "sh", family.a_label),
            "GLIBC_CASES": r.sh_glibc_cases(),
            "GUARD_QUICK_ZSH": GUARD_QUICK_ZSH,
        })
        out[base + GUARD_QUICK_ZSH] = _fill(_template("guard-quick.zsh.in"), common)
        out[base + GUARD_FILE.format(shell="fish")] = _fill(_template("guard.fish.in"), common)
        out[base + GUARD_RARE_FISH] = _fill(_template("guard-rare.fish.in"), {
            **common,
            "OVERRIDE_READ": override_reader(catalog, "fish", family.a_label),
            "GLIBC_CASES": r.fish_glibc_cases(),
        })
        out[base + GUARD_FILE.format(shell="csh")] = _fill(_template("guard.csh.in"), {**common, "GATE": GATE})
    return out
