"""Run a command with a private mount in place: a read-only directory, a mount point."""

from __future__ import annotations

import subprocess

import pytest

from microarch_level.diagnostics.cpuinfo import namespace


def private_mounts(script: str) -> tuple[str, ...]:
    """An argv prefix running the rest after `script` (mount commands) in a private mount namespace."""
    ns = namespace()
    if ns is None:
        pytest.skip("unshare (util-linux) not found: cannot make a private mount namespace")
    probe = subprocess.run([*ns, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.strip()}")
    return (*ns, "sh", "-c", f'{script} && exec "$@"', "sh")
