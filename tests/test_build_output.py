"""`build --output`: it replaces only what it built, leaves a readable channel, and no scratch.

Every build here uses a one-package fixture feedstock (two CI configs), so a
build costs well under a second; refusals happen before anything is built.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mounts import private_mounts

from microarch_level.catalog.families import FAMILIES
from microarch_level.feedstock.channel_dir import MARKER

RECIPE = """\
schema_version: 1

package:
  name: fixture-package
  version: ${{{{ fixture_version }}}}

build:
  number: 0
  noarch: generic
  script:
    - mkdir -p "$PREFIX/share/fixture-package"
    - echo hello > "$PREFIX/share/fixture-package/hello"
    # tests create {slow}: the build then says it started and takes a while, to be interrupted
    - if [ -e "{slow}" ]; then touch "{started}"; sleep 3; fi
    - if [ -e "{fail}" ]; then exit 3; fi
"""


@pytest.fixture(scope="session")
def feedstock(tmp_path_factory) -> Path:
    """A feedstock root with one tiny recipe and two CI configs, built in a fraction of a second."""
    root = tmp_path_factory.mktemp("feedstock")
    (root / "recipe").mkdir()
    (root / "recipe" / "recipe.yaml").write_text(RECIPE.format(slow=root / "slow", started=root / "started", fail=root / "fail"))
    (root / ".ci_support").mkdir()
    for n in (1, 2):
        (root / ".ci_support" / f"linux_64_v{n}.yaml").write_text(f'fixture_version:\n- "{n}"\n')
    return root


def cli(*args: str, cwd: Path | None = None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "microarch_level", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def build(feedstock: Path, output: str | Path, *, cwd: Path | None = None, prefix: tuple[str, ...] = ()):
    return cli("build", "--root", str(feedstock), "--no-tests", "--output", str(output), cwd=cwd, prefix=prefix)


def tree(path: Path) -> dict[str, tuple[int, bytes]]:
    """Every entry under `path` (hidden ones too): its mode and, for files, its bytes."""
    out = {".": (path.lstat().st_mode, b"")}
    for p in sorted(path.rglob("*")):
        st = p.lstat()
        out[p.relative_to(path).as_posix()] = (st.st_mode, p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
    return out


def scratch_beside(channel: Path) -> list[str]:
    return sorted(p.name for p in channel.parent.iterdir() if p.name.startswith(f".{channel.name}-"))


def assert_refused(result, *words: str, status: int = 2) -> None:
    assert result.returncode == status, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


@pytest.fixture
def built(feedstock, tmp_path) -> Path:
    """A channel this command built, in a directory of its own."""
    channel = tmp_path / "parent" / "channel"
    channel.parent.mkdir()
    result = build(feedstock, channel)
    assert result.returncode == 0, result.stderr
    return channel


# ----------------------------------------------------------------------------
# What it refuses, leaving everything as it was.

def test_output_dot_in_a_checkout_is_refused_and_the_checkout_survives(feedstock, tmp_path):
    checkout = tmp_path / "checkout"
    subprocess.run(["cp", "-a", str(feedstock), str(checkout)], check=True)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    before = tree(checkout)
    result = cli("build", "--no-tests", "--output", ".", cwd=checkout)
    assert_refused(result, "did not write", "nothing was changed")
    assert tree(checkout) == before


def test_an_empty_output_is_refused_not_taken_as_the_current_directory(feedstock, tmp_path):
    before = tree(feedstock)
    assert_refused(cli("build", "--no-tests", "--output", "", cwd=feedstock), "--output is empty")
    assert tree(feedstock) == before


def test_a_directory_holding_other_files_survives(feedstock, tmp_path):
    foreign = tmp_path / "mine"
    (foreign / "sub").mkdir(parents=True)
    (foreign / "notes.txt").write_text("keep me\n")
    (foreign / "sub" / ".hidden").write_bytes(b"\x00\x01")
    before = tree(foreign)
    assert_refused(build(feedstock, foreign), "did not write")
    assert tree(foreign) == before
    assert scratch_beside(foreign) == []


def test_a_file_given_as_output_survives(feedstock, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("not a channel\n")
    assert_refused(build(feedstock, target), "is a file, not a directory")
    assert target.read_text() == "not a channel\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_its_own_channel_with_a_foreign_package_added_survives(feedstock, built):
    (built / "noarch" / "someone-else-1.0-0.conda").write_bytes(b"foreign package")
    before = tree(built)
    assert_refused(build(feedstock, built), "noarch/someone-else-1.0-0.conda")
    assert tree(built) == before


def test_a_shared_channel_indexed_by_someone_else_survives(feedstock, built):
    """Without our marker, a channel is ours only if its repodata lists only this feedstock's packages."""
    (built / MARKER).unlink()  # what another tool's channel of other packages looks like
    before = tree(built)
    assert_refused(build(feedstock, built), "fixture-package")
    assert tree(built) == before


def test_a_missing_parent_is_refused_and_not_created(feedstock, tmp_path):
    assert_refused(build(feedstock, tmp_path / "absent" / "channel"), "not an existing directory")
    assert not (tmp_path / "absent").exists()


def test_a_mount_point_is_refused_before_building(feedstock, tmp_path):
    point = tmp_path / "mounted"
    point.mkdir()
    # a bind mount within one file system: os.path.ismount cannot see it, /proc/self/mountinfo can
    prefix = private_mounts(f"mount --bind '{point}' '{point}'")
    assert_refused(build(feedstock, point, prefix=prefix), "mount point")
    assert list(point.iterdir()) == []


def test_a_read_only_parent_fails_in_one_line_with_status_1(feedstock, tmp_path):
    """A well-formed request the file system refuses: a failure (1), not a usage error (2)."""
    parent = tmp_path / "ro"
    parent.mkdir()
    prefix = private_mounts(f"mount --bind -o ro '{parent}' '{parent}'")
    assert_refused(build(feedstock, parent / "channel", prefix=prefix), "Read-only file system",
                   "nothing was built", status=1)
    assert list(parent.iterdir()) == []


# ----------------------------------------------------------------------------
# What it writes.

def test_the_channel_is_world_readable_whatever_the_umask(feedstock, tmp_path):
    channel = tmp_path / "channel"
    result = build(feedstock, channel, prefix=("sh", "-c", 'umask 077 && exec "$@"', "sh"))
    assert result.returncode == 0, result.stderr
    modes = {p.relative_to(channel).as_posix(): p.stat().st_mode & 0o7777 for p in channel.rglob("*")}
    assert channel.stat().st_mode & 0o7777 == 0o755
    assert {k: v for k, v in modes.items() if (channel / k).is_dir()} == {"noarch": 0o755, "linux-64": 0o755}
    files = {k: v for k, v in modes.items() if (channel / k).is_file()}
    assert any(k.endswith(".conda") for k in files)
    assert set(files.values()) == {0o644}, files


def test_the_marker_lists_every_file_the_build_wrote(built):
    marker = json.loads((built / MARKER).read_text())
    on_disk = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file() and p.name != MARKER)
    assert marker["files"] == on_disk
    assert "noarch/repodata.json" in on_disk


def test_a_rebuild_replaces_its_own_channel_and_leaves_no_scratch(feedstock, built):
    (built / "noarch" / "repodata.json").write_text("{}")  # so the replacement shows
    result = build(feedstock, built)
    assert result.returncode == 0, result.stderr
    assert "fixture-package" in (built / "noarch" / "repodata.json").read_text()
    assert scratch_beside(built) == []


def test_an_empty_directory_is_filled(feedstock, tmp_path):
    channel = tmp_path / "empty"
    channel.mkdir()
    assert build(feedstock, channel).returncode == 0
    assert (channel / "noarch" / "repodata.json").is_file()


@pytest.mark.parametrize("name", [name for f in FAMILIES for name in (f.gate, f.flags)])
def test_a_channel_built_before_the_marker_existed_is_replaced(feedstock, tmp_path, name):
    """Earlier versions wrote only noarch/ and linux-64/ with this feedstock's packages, of any family."""
    legacy = tmp_path / "build_artifacts"
    (legacy / "noarch").mkdir(parents=True)
    (legacy / "linux-64").mkdir()
    package = f"{name}-1-5_old.conda"
    (legacy / "noarch" / package).write_bytes(b"old build")
    (legacy / "noarch" / "repodata.json").write_text(json.dumps({"packages.conda": {package: {"name": name}}}))
    (legacy / "linux-64" / "repodata.json").write_text(json.dumps({"packages": {}}))
    result = build(feedstock, legacy)
    assert result.returncode == 0, result.stderr
    assert not (legacy / "noarch" / package).exists()
    assert (legacy / MARKER).is_file()


def test_a_failed_build_says_so_in_one_line_and_keeps_the_old_channel(feedstock, built):
    before = tree(built)
    (feedstock / "fail").touch()
    try:
        result = build(feedstock, built)
    finally:
        (feedstock / "fail").unlink()
    assert_refused(result, "building fixture-package with linux_64_v1.yaml failed", status=1)
    assert tree(built) == before
    assert scratch_beside(built) == []


# ----------------------------------------------------------------------------
# Interrupted builds.

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_build_interrupted_midway_leaves_no_scratch_and_the_old_channel(feedstock, built, signum):
    before = tree(built)
    (feedstock / "slow").touch()
    started = feedstock / "started"
    started.unlink(missing_ok=True)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "microarch_level", "build", "--root", str(feedstock),
                                 "--no-tests", "--output", str(built)], stderr=subprocess.PIPE, text=True)
        while not started.exists() and proc.poll() is None:
            time.sleep(0.05)
        assert scratch_beside(built), "the build should be writing into its scratch directory now"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=300)
    finally:
        (feedstock / "slow").unlink()
    assert proc.returncode == -signum, stderr
    assert "Traceback" not in stderr
    assert scratch_beside(built) == []
    assert tree(built) == before


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _scratch(parent: Path, name: str, owner: dict | None) -> Path:
    path = parent / name
    (path / "noarch").mkdir(parents=True)
    (path / "noarch" / "repodata.json").write_text("{}")
    if owner is not None:
        (path / MARKER).write_text(json.dumps({"written_by": "microarch-level build", "owner": owner, "files": []}))
    return path


def test_the_next_build_sweeps_scratch_of_killed_builds_and_only_that(feedstock, built):
    from microarch_level.feedstock.channel_dir import _start_time

    host = socket.gethostname()
    parent = built.parent
    dead = _scratch(parent, ".channel-dead", {"pid": _dead_pid(), "host": host, "start": "0"})
    alive = _scratch(parent, ".channel-alive", {"pid": os.getpid(), "host": host, "start": _start_time(os.getpid())})
    elsewhere = _scratch(parent, ".channel-other-host", {"pid": _dead_pid(), "host": f"not-{host}", "start": "0"})
    unmarked = _scratch(parent, ".channel-unmarked", None)
    assert build(feedstock, built).returncode == 0
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists() and unmarked.exists()


def test_a_full_stdout_fails_the_build_in_one_line_after_the_channel_is_in_place(feedstock, tmp_path):
    channel = tmp_path / "channel"
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "microarch_level", "build", "--root", str(feedstock),
                                 "--no-tests", "--output", str(channel)], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=600)
    assert_refused(result, "cannot write to stdout", status=1)
    assert (channel / "noarch" / "repodata.json").is_file()
    assert scratch_beside(channel) == []
