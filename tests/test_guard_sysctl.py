"""The guard on macOS: no /proc/cpuinfo, the CPU read from `sysctl`, in every shell.

The "Mac" is made for each test: a private mount namespace whose /proc is an empty
tmpfs holding only `self` (so /dev/fd works, as macOS's own /dev/fd does), and a
`sysctl` stand-in first on PATH that answers `sysctl -n KEY...` from a real capture
of a Mac (tests/data/sysctl-darwin).  Where the test needs glibc silent too (macOS has
none), ld.so is replaced by the fake that knows nothing (guard_support.emulated_loader).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guard_support import GUARDED, SEPARATOR, STRICT, WARNING, emulated_loader, guard, source  # noqa: F401
from shells import POSIX, SHELLS, shell

from sysctl_standin import DATA, GARBAGE, SYSCTL_LEVELS, on_a_mac, sysctl_bin  # noqa: F401


# Directories without a sysctl (the stand-in is put first); /usr/sbin and /sbin hold Linux's.
NO_SBIN = "/usr/bin:/bin"

def each_level(sh, installed) -> str:
    """One script sourcing the guard of every guarded level, stderr onto stdout, SEPARATOR after each."""
    if sh.suffix == "csh":
        return "".join(f"{source(sh, guard(installed(lv), sh.suffix))} |& cat\necho '{SEPARATOR}'\n" for lv in GUARDED)
    return "".join(f"{source(sh, guard(installed(lv), sh.suffix))} 2>&1; echo '{SEPARATOR}'\n" for lv in GUARDED)


def outputs(result) -> list[str]:
    parts = result.stdout.split(f"{SEPARATOR}\n")[:-1]
    assert len(parts) == len(GUARDED), (result.stdout[-2000:], result.stderr)
    return parts


def telling_nothing(case: str, sysctl_bin, tmp_path: Path) -> Path:
    """A directory for PATH whose sysctl tells nothing: none at all, garbage, or an arm64 Mac's."""
    if case == "no sysctl":
        path = tmp_path / "empty-bin"
        path.mkdir()
        return path
    if case == "garbage":
        capture = tmp_path / "garbage"
        capture.write_bytes(GARBAGE.encode("latin-1"))
        return sysctl_bin(capture)
    return sysctl_bin(DATA / "darwin-bigsur-m1")


@pytest.mark.parametrize("capture", sorted(SYSCTL_LEVELS))
@pytest.mark.parametrize("shell_name", list(SHELLS))
def test_on_macos_the_guard_warns_exactly_when_sysctl_shows_a_cpu_below_the_level(
        installed, sysctl_bin, tmp_path, shell_name, capture):
    sh = shell(shell_name)
    cpu_level = SYSCTL_LEVELS[capture]
    strict = f"{STRICT[shell_name]}\n" if shell_name in STRICT else ""  # the guard survives the strictest options
    result = on_a_mac(sh, strict + each_level(sh, installed), f"{sysctl_bin(DATA / capture)}:{NO_SBIN}", tmp_path)
    for level, out in zip(GUARDED, outputs(result)):
        if cpu_level < level:
            assert f"{WARNING} {level} but this CPU is level {cpu_level} (from sysctl machdep.cpu)" in out, out
            assert out.count("warning:") == 1, out
            assert all(line.startswith((f"{WARNING}", "  ")) for line in out.splitlines()), out
        else:
            assert out == "", (level, out)


@pytest.mark.parametrize("shell_name", [*POSIX, "fish"])
@pytest.mark.parametrize("case", ["no sysctl", "garbage", "apple silicon"])
def test_on_macos_the_guard_is_silent_when_sysctl_tells_nothing(
        installed, sysctl_bin, emulated_loader, tmp_path, shell_name, case):
    """No sysctl on PATH, one printing garbage, or an arm64 Mac (no machdep.cpu features):
    nothing is known (glibc's report is the fake's "nothing"), so no warning, no complaint."""
    sh = shell(shell_name)
    path = telling_nothing(case, sysctl_bin, tmp_path)
    pwned = Path("/tmp/sysctl-pwned")
    pwned.unlink(missing_ok=True)
    result = on_a_mac(sh, each_level(sh, installed) + f"false; echo next={sh.status}",
                      str(path), tmp_path, loader=emulated_loader(""))
    assert all(out == "" for out in outputs(result)), result.stdout
    assert "next=1" in result.stdout, result
    assert result.stderr == ""
    assert not pwned.exists()


@pytest.mark.parametrize("case", ["no sysctl", "garbage", "apple silicon"])
def test_on_macos_tcsh_learns_nothing_from_a_sysctl_that_tells_nothing(installed, sysctl_bin, tmp_path, case):
    """tcsh's guard runs the sh guard in /bin/sh, which cannot start where ld.so is the fake:
    here glibc's real report stays, so any warning must come from glibc, never from sysctl."""
    sh = shell("tcsh")
    path = telling_nothing(case, sysctl_bin, tmp_path)
    result = on_a_mac(sh, each_level(sh, installed), f"{path}:{NO_SBIN}", tmp_path)
    for out in outputs(result):
        assert "sysctl" not in out, out
        assert all(line.startswith((f"{WARNING}", "  ")) and "(from glibc's ld.so --help)" in out
                   for line in out.splitlines()), out
