"""rattler-build in a process of its own, so `build` can stop it at once and clean up.

A signal handler in the process running rattler-build only runs when
rattler-build hands control back, and then as an "ignored" exception inside
its error; the parent, which only waits, stops this worker's whole process
group at once instead and removes the scratch channel (channel_dir).

    python -m microarch_level.feedstock.build_worker RECIPE SCRATCH --tests|--no-tests CONFIG...

prints {"packages": [...]} or {"error": "one line"} as JSON on stdout.
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from pathlib import Path

from ..process import exit_now
from .channel import BuildFailed, keep_channel_only, build_recipe, index_channel

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """SIGKILL this worker when `build` dies, even of SIGKILL (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    _die_with_parent()
    recipe, scratch, tests, *configs = argv
    try:
        packages: list[Path] = []
        for config in configs:
            packages += build_recipe(Path(recipe), Path(scratch), [], variants=Path(config),
                                     run_tests=tests == "--tests", index=False)
        index_channel(Path(scratch))
        keep_channel_only(Path(scratch))
        result, status = {"packages": [str(p) for p in packages]}, 0
    except BuildFailed as exc:
        result, status = {"error": str(exc)}, 1
    except Exception as exc:  # rattler's index and I/O raise their own types; the parent says it in one line
        result, status = {"error": f"{type(exc).__name__}: {exc}"}, 1
    sys.stdout.write(json.dumps(result))
    exit_now(status)


if __name__ == "__main__":
    main(sys.argv[1:])
