"""A `sysctl` stand-in answering from a real Mac's capture (tests/data/sysctl-darwin)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from shells import base_env

from microarch_level.diagnostics.cpuinfo import namespace

DATA = Path(__file__).parent / "data" / "sysctl-darwin"
# The x86-64 level and archspec name of each x86 Mac captured (tests/data/sysctl-darwin/README.md).
SYSCTL_LEVELS = {"darwin-mojave-ivybridge": 2, "darwin-mojave-haswell": 3}
SYSCTL_NAMES = {"darwin-mojave-ivybridge": "ivybridge", "darwin-mojave-haswell": "haswell"}

# Answers `sysctl [-n] [-i] KEY...` as macOS's sysctl does: each known key as its
# `key: value` line of the capture (its value alone with -n); an unknown key named on
# stderr with exit status 1, or skipped silently with -i (what archspec asks for).
# Static, so it runs where ld.so is the fake.
STANDIN_C = r"""
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char line[8192]; int status = 0, values = 0, ignore = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0) { values = 1; continue; }
        if (strcmp(argv[i], "-i") == 0) { ignore = 1; continue; }
        FILE *f = fopen(CAPTURE, "r"); int found = 0; size_t n = strlen(argv[i]);
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, argv[i], n) == 0 && line[n] == ':' && line[n + 1] == ' ') {
                fputs(values ? line + n + 2 : line, stdout); found = 1; break;
            }
        if (f) fclose(f);
        if (!found && !ignore) { fprintf(stderr, "sysctl: unknown oid '%s'\n", argv[i]); status = 1; }
    }
    return status;
}
"""

# What a broken or hostile sysctl might print: no level feature among the words, and
# shell syntax that must stay text.
GARBAGE = ("machdep.cpu.features: $(touch /tmp/sysctl-pwned) `touch /tmp/sysctl-pwned` ; * ?? [ \\\n"
           "machdep.cpu.leaf7_features: \xff\xfe not a cpu\n"
           "machdep.cpu.extfeatures: ${HOME?} %s %n\n")


@pytest.fixture(scope="session")
def sysctl_bin(tmp_path_factory):
    """sysctl_bin(capture) -> a directory whose `sysctl` answers from that capture file."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found on PATH (needed to build the static sysctl stand-in)")
    work = tmp_path_factory.mktemp("sysctl")
    (work / "stand-in.c").write_text(STANDIN_C)
    built: dict[Path, Path] = {}

    def make(capture: Path) -> Path:
        if capture not in built:
            d = work / f"bin{len(built)}"
            d.mkdir()
            subprocess.run([gcc, "-static", "-O1", "-o", str(d / "sysctl"), f'-DCAPTURE="{capture}"',
                            str(work / "stand-in.c")], check=True, capture_output=True)
            built[capture] = d
        return built[capture]

    return make


def on_a_mac(sh, script: str, path: str, tmp_path: Path, loader=None, env: dict | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`script` in `sh` where /proc holds only `self` (no /proc/cpuinfo; /dev/fd works, as on
    macOS) and PATH is `path`; with `loader` ((fake, real) ld.so), glibc's report is the fake's
    and the shell starts through the real one.  `env`: more of the environment."""
    prefix = namespace()
    if prefix is None:
        pytest.skip("unshare not found (util-linux)")
    real_proc = tmp_path / "real-proc"
    real_proc.mkdir(exist_ok=True)
    mounts = 'mount --rbind /proc "$1" && mount -t tmpfs none /proc && ln -s "$1/self" /proc/self'
    argv = [shutil.which(sh.argv[0]), *sh.argv[1:], "-c", script]
    if loader is not None:
        mounts += ' && mount --bind "$2" /lib64/ld-linux-x86-64.so.2'
        argv = [str(loader[1]), *argv]
    mounts += ' && PATH=$3 && export PATH && shift 3 && exec "$@"'
    return subprocess.run([*prefix, "sh", "-c", mounts, "sh", str(real_proc), str(loader[0]) if loader else "-",
                           path, *argv], env=base_env(**(env or {})), cwd=cwd, capture_output=True, text=True,
                          timeout=300)
