"""The directory `build` writes its channel into: only one it may replace.

`build --output DIR` replaces DIR as a whole, so it must never be a directory
holding anything `build` did not write: the checkout, a home directory, a
shared channel with other packages.  It writes only into a directory that is
absent, empty, or a channel it built itself, recognised by MARKER (which lists
every file the build wrote) or, for channels built before the marker existed,
by repodata naming only this feedstock's packages.

The new channel is built in a scratch directory `.DIR-XXXX` beside DIR, made
world-readable like any conda channel, and swapped in at the end.  A
termination signal removes the scratch directory; one left by a build that
was killed outright (its MARKER names a process that is gone) is swept by the
next build.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from ..catalog.families import FAMILIES
from ..errors import Failure, Interrupted, UsageError
from ..tools.solve import SUBDIRS

MARKER = ".microarch-level-channel"
# The packages this feedstock builds, of every family: a channel without MARKER holding only these is ours.
OURS = frozenset(name for f in FAMILIES for name in (f.gate, f.flags))
DIR_MODE, FILE_MODE = 0o755, 0o644
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/PID/stat), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": _start_time(os.getpid())}


def _read_marker(directory: Path) -> dict | None:
    try:
        data = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("written_by") == "microarch-level build" else None


def _write_marker(directory: Path, files: list[str]) -> None:
    path = directory / MARKER
    path.write_text(json.dumps({"written_by": "microarch-level build", "owner": _owner(), "files": files},
                               indent=1) + "\n", encoding="utf-8")
    path.chmod(FILE_MODE)


def _owner_gone(marker: dict) -> bool:
    """True only when the build that wrote `marker` ran on this host and its process is gone."""
    owner = marker.get("owner") or {}
    pid = owner.get("pid")
    if owner.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _start_time(pid) != owner.get("start")


def _tree(directory: Path) -> tuple[set[str], set[str]]:
    """Relative paths of the files (symlinks included) and directories under `directory`."""
    files, dirs = set(), set()
    for base, subdirs, names in os.walk(directory):
        rel = Path(base).relative_to(directory)
        for d in list(subdirs):
            if (Path(base) / d).is_symlink():
                subdirs.remove(d)
                files.add((rel / d).as_posix())
            else:
                dirs.add((rel / d).as_posix())
        files |= {(rel / n).as_posix() for n in names}
    return files, dirs


def _foreign_in_built(directory: Path, marker: dict) -> str | None:
    """The first path under a marked channel that the marker does not list, or None."""
    listed = set(marker.get("files") or [])
    allowed_dirs = {p.as_posix() for f in listed for p in Path(f).parents if p != Path(".")}
    files, dirs = _tree(directory)
    extra = sorted((files - listed - {MARKER}) | (dirs - allowed_dirs))
    return extra[0] if extra else None


def _foreign_in_legacy(directory: Path) -> str | None:
    """For a channel without MARKER: the first path that is not this feedstock's repodata or package."""
    files, dirs = _tree(directory)
    if not dirs <= set(SUBDIRS):
        return sorted(dirs - set(SUBDIRS))[0]
    known: set[str] = set()
    for subdir in sorted(dirs):
        index = f"{subdir}/repodata.json"
        try:
            data = json.loads((directory / index).read_text(encoding="utf-8"))
            records = {f"{subdir}/{fn}": r for key in ("packages", "packages.conda")
                       for fn, r in (data.get(key) or {}).items()}
        except (OSError, ValueError, AttributeError):
            return index
        foreign = sorted(fn for fn, r in records.items() if not isinstance(r, dict) or r.get("name") not in OURS)
        if foreign:
            return foreign[0]
        known |= set(records) | {index}
    extra = sorted(files - known)
    return extra[0] if extra else None


def _mount_points() -> set[str]:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return set()
    # field 5 is the mount point, with space, tab, newline and backslash escaped in octal
    return {line.split()[4].encode().decode("unicode_escape") for line in lines if len(line.split()) > 4}


def is_mount_point(path: Path) -> bool:
    """os.path.ismount misses a bind mount within one file system; /proc/self/mountinfo does not."""
    return os.path.ismount(path) or str(path) in _mount_points()


def target_path(channel: Path) -> Path:
    """`channel` absolute, `..` collapsed and its parent's symlinks resolved (not its own)."""
    absolute = Path(os.path.abspath(channel))
    return absolute.parent.resolve() / absolute.name if absolute.name else absolute


def check_target(channel: Path, shown: str) -> None:
    """Refuse, before anything is built, an --output that build may not replace (`shown` as the user wrote it)."""
    what = f"--output {shown}"
    right = "give a new or empty directory, or a channel `microarch-level build` made"
    if not channel.name:
        raise UsageError(f"{what} is the file system's root; {right}")
    parent = channel.parent
    if not parent.is_dir():
        raise UsageError(f"{what}: {parent} is not an existing directory; create it first or {right}")
    if channel.is_symlink():
        raise UsageError(f"{what} is a symbolic link; give the directory it points to")
    if channel.exists() and not channel.is_dir():
        raise UsageError(f"{what} is a file, not a directory; {right}")
    if not channel.exists():
        return
    if is_mount_point(channel):
        raise UsageError(f"{what} is a mount point, which cannot be replaced; give a directory inside it")
    if not any(channel.iterdir()):
        return
    marker = _read_marker(channel)
    foreign = _foreign_in_built(channel, marker) if marker else _foreign_in_legacy(channel)
    if foreign is not None:
        raise UsageError(f"{what} holds files `microarch-level build` did not write (e.g. {foreign}); "
                         f"nothing was changed; {right}")


def sweep_stale(channel: Path) -> list[Path]:
    """Remove scratch directories `.NAME-*` beside `channel` left by builds that were killed."""
    swept = []
    try:
        candidates = list(channel.parent.glob(f".{channel.name}-*"))
    except OSError:
        return swept
    for path in candidates:
        if path.is_dir() and not path.is_symlink():
            marker = _read_marker(path)
            if marker is not None and _owner_gone(marker):
                shutil.rmtree(path, ignore_errors=True)
                swept.append(path)
    return swept


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextmanager
def scratch_for(channel: Path):
    """A marked scratch directory beside `channel`, removed on any exit, a termination signal included."""
    saved = {}
    if threading.current_thread() is threading.main_thread():
        saved = {s: signal.signal(s, _raise_interrupted) for s in SIGNALS}
    path = None
    try:
        sweep_stale(channel)
        try:
            path = Path(tempfile.mkdtemp(prefix=f".{channel.name}-", dir=channel.parent))
            path.chmod(DIR_MODE)
            _write_marker(path, [])
        except OSError as exc:
            raise Failure(f"cannot create the channel beside {channel}: {exc.strerror or exc} "
                          f"(the directory {channel.parent} must be writable); nothing was built") from None
        yield path
    finally:
        if path is not None and path.exists():
            shutil.rmtree(path, ignore_errors=True)
        for s, handler in saved.items():
            signal.signal(s, handler)


def _make_readable(directory: Path) -> list[str]:
    """chmod like any channel (directories 0755, files 0644); return the files' relative paths."""
    files = []
    for base, _, names in os.walk(directory):
        os.chmod(base, DIR_MODE)
        for name in names:
            path = Path(base) / name
            if not path.is_symlink():
                path.chmod(FILE_MODE)
            files.append(path.relative_to(directory).as_posix())
    return sorted(f for f in files if f != MARKER)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    return False


def publish(scratch: Path, channel: Path) -> None:
    """Mark `scratch` with what it holds, make it readable, and put it in place of `channel` at once."""
    _write_marker(scratch, _make_readable(scratch))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # no half-done swap on a signal
    try:
        if channel.exists() and any(channel.iterdir()):
            if not _exchange(scratch, channel):
                old = channel.with_name(f"{scratch.name}-old")
                channel.rename(old)
                scratch.rename(channel)
                scratch = old
        else:
            scratch.rename(channel)  # over an empty directory, rename(2) replaces it
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    if scratch.exists():  # the previous channel, now at the scratch path
        shutil.rmtree(scratch, ignore_errors=True)
