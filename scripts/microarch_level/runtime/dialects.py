"""The shell dialects the activation scripts are written in, and which shell speaks which: one table.

conda runs an environment's `activate.d` scripts of the user's shell's dialect,
chosen by a map from shell name to one activator class per dialect
(conda/activate.py `activator_map`: bash, dash, zsh -> PosixActivator, which runs
`*.sh`; fish -> FishActivator, `*.fish`; csh, tcsh -> CshActivator, `*.csh`).
Each package here ships one script per dialect, named by its suffix; the shells
below are those the scripts are written for and tested in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    suffix: str   # the suffix of the scripts written in it, as conda picks them (`*.sh`)
    source: str   # the command that runs a script in the current shell
    status: str   # how it spells the last command's exit status


SH = Dialect("sh", ".", "$?")
FISH = Dialect("fish", "source", "$status")
CSH = Dialect("csh", "source", "$status")
DIALECTS = (SH, FISH, CSH)

# Each shell the scripts support, with its dialect.
SHELL_DIALECTS = {"bash": SH, "dash": SH, "zsh": SH, "ksh93": SH, "mksh": SH, "fish": FISH, "tcsh": CSH}
POSIX_SHELLS = tuple(name for name, dialect in SHELL_DIALECTS.items() if dialect is SH)
