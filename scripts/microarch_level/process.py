"""Leave the process without the interpreter's finalization.

py-rattler 0.28 keeps runtime threads that can call into Python while the
interpreter shuts down; about one process in ten that used it dies of SIGSEGV or
SIGABRT after its work is done, which turns a success into a failure.  Entry
points that used rattler flush their output and exit here instead.
"""

from __future__ import annotations

import os
import sys


def exit_now(status: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
