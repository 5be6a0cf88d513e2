"""Render the activation scripts of both packages: archspec's tables as data for their templates.

Each script is one whole-script Jinja template per shell (templates/*.in, rendered
by shell_template.render) holding all of its shell syntax; this module only
computes what must come from archspec (names, keys and levels, level features in
kernel order, the gcc CPU names glibc prints), so the shells never carry a
hand-typed list.  Scripts are rendered once per level, laid out as they are
installed (`<package>/<level>/etc/conda/...`).  No script holds its prefix: conda's
relocation writes a path into a file as raw text, which a shell would then parse.
A script that needs a sibling file finds it at run time (templates/prefix-macros.in:
"$CONDA_PREFIX/...", which conda, micromamba and rattler export before sourcing
activate.d; fish from `status dirname`).
"""

from __future__ import annotations

from ..catalog.families import FEATURES, GENERATION, Family
from ..catalog.levels import SYSCTL_KEYS, Catalog
from .dialects import CSH, FISH, SH
from .flag_scripts import FlagRenderer
from .guard_power import render_guards
from .guards import GUARD_FILE, guard_tables
from .shell_template import render

# The feature guards' helper files, under share/<gate>/ (helper_path).
RARE_FISH, RARE_SH, QUICK_ZSH, SYSCTL_SH = "guard-rare.fish", "guard-rare.sh", "guard-quick.zsh", "guard-sysctl.sh"


def helper_path(family: Family, name: str) -> str:
    """Where a family's gate installs the guard helper `name`, under the environment prefix."""
    return f"share/{family.gate}/{name}"

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


def kernel_runs(features: list[str]) -> list[str]:
    """The features in the order Linux prints them, those on consecutive bits joined into one run.

    Features on consecutive bits are printed next to each other, so a run is one
    literal string of the flags line.
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
    return [" ".join(r) for r in runs]


def ordered_glob(features: list[str]) -> str:
    """One shell/fnmatch pattern matching a ` flags ` string holding every feature, in kernel order.

    Each run (kernel_runs) starts with a space.  A run's last word may begin a
    longer flag (mmx: mmxext, xsave: xsaveopt), but every such flag is printed after
    the next run, so it cannot stand in for the feature.  A line in another order
    does not match, and the guards then check each feature on its own: the pattern
    may miss, never lie.
    """
    return "*" + "*".join(f'" {run}"' for run in kernel_runs(features)) + "*"


def anycase(word: str) -> str:
    """A shell pattern matching `word` in either case (archspec lower-cases sysctl's words)."""
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)


def darwin_spellings(catalog: Catalog, features: list[str]) -> tuple[list[str], list[tuple[str, list[list[str]]]]]:
    """How sysctl on macOS spells each level feature, from archspec's darwin_flags table.

    Returns (words, alternatives): every sysctl word that tells a feature, in a fixed
    order; and for each feature, the sets of words that each tell it: the feature's own
    name, and every darwin_flags key (all its words) whose conversion lists it.
    """
    alternatives = []
    for f in features:
        alts = [[f]] + [k.split() for k, v in catalog.darwin_flags.items() if f in v.split() and k != f]
        alternatives.append((f, alts))
    words = list(dict.fromkeys(w for _, alts in alternatives for alt in alts for w in alt))
    order = {w: i for i, w in enumerate(words)}
    return words, [(f, [sorted(alt, key=order.__getitem__) for alt in alts]) for f, alts in alternatives]


def render_scripts(catalog: Catalog, header: str, family: Family) -> dict[str, str]:
    """Every activation script of a family's two packages, keyed `<package>/<level>/<installed path>`."""
    out: dict[str, str] = dict(GUARDS[family.rule](catalog, family, header))
    flags = FlagRenderer(catalog, family)
    for level in catalog.levels:
        for path, text in flags.render(level, header).items():
            out[f"{family.flags}/{level}/{path}"] = text
    return out


def feature_guards(catalog: Catalog, family: Family, header: str) -> dict[str, str]:
    """The guards of a family whose levels are features (x86-64): the flags line of /proc/cpuinfo."""
    gate = family.gate
    rare_sh, quick_zsh, sysctl_sh = (helper_path(family, n) for n in (RARE_SH, QUICK_ZSH, SYSCTL_SH))
    sh_guard = GUARD_FILE.format(gate=gate, shell=SH.suffix)
    scripts = (
        (sh_guard, "guard.sh.in"),
        (rare_sh, "guard-rare.sh.in"),
        (quick_zsh, "guard-quick.zsh.in"),
        (sysctl_sh, "guard-sysctl.sh.in"),
        (GUARD_FILE.format(gate=gate, shell=FISH.suffix), "guard.fish.in"),
        (helper_path(family, RARE_FISH), "guard-rare.fish.in"),
        (GUARD_FILE.format(gate=gate, shell=CSH.suffix), "guard.csh.in"),
    )
    levels = catalog.levels
    shared = {
        **guard_tables(catalog, family.a_label),
        "header": header,
        "gate": gate,
        "label": family.label,
        "loader": family.loader,
        "max_level": levels[-1],
        "leveled_features": [(lv, f) for lv in levels[1:] for f in catalog.new_features(lv)],
        "guard_quick_zsh": quick_zsh,
        "guard_rare_sh": rare_sh,
        "guard_sysctl_sh": sysctl_sh,
        "sysctl_keys": " ".join(SYSCTL_KEYS),
        "darwin_flags": list(catalog.darwin_flags.items()),
        "anycase": anycase,
        "guard_name": sh_guard.rsplit("/", 1)[1],
    }
    shared["darwin_words"], shared["darwin_features"] = darwin_spellings(
        catalog, [f for _, f in shared["leveled_features"]])
    out: dict[str, str] = {}
    for level in levels[1:]:
        features = list(catalog.level_features[level])  # archspec's own list: what level_from_flags checks
        data = {**shared, "level": level, "features": features, "ordered_glob": ordered_glob(features),
                "runs": kernel_runs(features)}
        for path, template in scripts:
            out[f"{gate}/{level}/{path}"] = render(template, **data)
    return out


# The guards of each rule of families.py (how a family's CPU tells its level).
GUARDS = {FEATURES: feature_guards, GENERATION: render_guards}
