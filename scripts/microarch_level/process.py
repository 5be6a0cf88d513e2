"""The process around a command: its standard streams, its signals, its exit.

py-rattler 0.28 keeps runtime threads that can call into Python while the
interpreter shuts down; about one process in ten that used it dies of SIGSEGV or
SIGABRT after its work is done, which turns a success into a failure.  Entry
points that used rattler flush their output and exit through `exit_now` instead.

A command run with a closed stdin, stdout or stderr (`<&-`, `>&-`) must not
let a file it opens later take descriptor 0-2 (rattler-build would log into
it), a stdout that cannot take the output (`>/dev/full`) is a failure said in
one line, and a reader that went away (`| head -1`) ends the process the way
it ends any Unix tool: killed by SIGPIPE (status 141 in a shell), silently.
"""

from __future__ import annotations

import os
import signal
import stat
import sys

from .errors import Failure, UsageError


class OutputFailed(Failure):
    """stdout cannot take the output (closed, full, an I/O error)."""


class _GuardedStdout:
    """sys.stdout whose write errors become OutputFailed (BrokenPipeError passes: it is not a failure)."""

    def __init__(self, stream):
        self._stream = stream
        self._broken = False  # a closed pipe seen once (argparse swallows write errors) stays seen

    def _call(self, method, *args):
        if self._broken:
            raise BrokenPipeError(32, "Broken pipe")
        try:
            return getattr(self._stream, method)(*args)
        except BrokenPipeError:
            self._broken = True
            raise
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed under us
            reason = getattr(exc, "strerror", None) or str(exc)
            raise OutputFailed(f"cannot write to stdout: {reason}") from None

    def write(self, text):
        return self._call("write", text)

    def flush(self):
        return self._call("flush")

    def __getattr__(self, name):
        return getattr(self._stream, name)


CLOSED_STDOUT = "stdout is closed; redirect it to a file, or to /dev/null to discard the output"


class _ClosedStdout:
    """sys.stdout when descriptor 1 was closed: writing to it is a failure said in one line."""

    def write(self, text):
        raise OutputFailed(CLOSED_STDOUT)

    def flush(self):
        pass

    def isatty(self) -> bool:
        return False


class _ClosedStdin:
    """sys.stdin when descriptor 0 was closed: reading it is a usage error, not an AttributeError."""

    def read(self, *args):
        raise UsageError("stdin is closed: give a FILE argument, or redirect stdin from a file or a pipe")

    readline = readlines = read

    def isatty(self) -> bool:
        return False

    def __iter__(self):
        return iter(self.read())


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def guard_streams() -> bool:
    """Make descriptors 0-2 safe to run with; return whether stdout can take output.

    Closed descriptors are reopened on /dev/null so no file opened later lands
    on them; a closed stdin reads as a usage error; stdin decodes undecodable
    bytes instead of raising; stdout write errors become OutputFailed.
    """
    stdout_open = _is_open(1)
    for fd in (0, 1, 2):
        if not _is_open(fd):
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stderr is None:  # print(file=None) would write the message to stdout
        sys.stderr = open(os.devnull, "w")
    if sys.stdin is None:
        sys.stdin = _ClosedStdin()
    elif hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    if sys.stdout is None or not stdout_open:
        sys.stdout = _ClosedStdout()
    elif not isinstance(sys.stdout, (_GuardedStdout, _ClosedStdout)):
        sys.stdout = _GuardedStdout(sys.stdout)
    return not isinstance(sys.stdout, _ClosedStdout)


def die_of(signum: int) -> None:
    """End the process killed by `signum`, as a C tool ends (a shell shows 128 + signum)."""
    for stream in (sys.stdout, sys.stderr):
        _quiet_flush(stream)
    try:  # what is still buffered for a closed pipe must not be written at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    except OSError:
        pass
    signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # not reached unless the signal is blocked elsewhere


def _quiet_flush(stream) -> OSError | None:
    if stream is None:
        return None
    try:
        stream.flush()
    except BrokenPipeError as exc:
        return exc
    except (OSError, ValueError, Failure) as exc:
        return exc if isinstance(exc, OSError) else OSError(str(exc))
    return None


def exit_now(status: int) -> None:
    """Flush, then leave without the interpreter's finalization; a flush error never raises."""
    error = _quiet_flush(sys.stdout)
    if isinstance(error, BrokenPipeError):
        die_of(signal.SIGPIPE)
    if error is not None and status == 0:
        status = 1
    _quiet_flush(sys.stderr)
    os._exit(status)


class NotAFile(ValueError):
    """What `read_bounded` found instead of a regular file of bounded size (its message says)."""


def read_bounded(path, limit: int, *, streams: bool = False) -> bytes:
    """The bytes of the file `path`, at most `limit` of them.

    The file is opened non-blocking (a FIFO with no writer opens at once) and its
    type checked before a byte is read: a directory is refused (NotAFile), and so,
    unless `streams`, is anything but a regular file (a FIFO, a socket, a device
    such as /dev/zero), rather than waited on or read forever.  With `streams` (a
    command's input, e.g. `explain <(conda install ...)`) pipes and devices are read
    like files, blocking, up to `limit`.  More than `limit` bytes: NotAFile.
    OSError passes through (missing, permission denied).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise NotAFile("is a directory")
        if not stat.S_ISREG(mode):
            if not streams:
                raise NotAFile("is not a regular file (a FIFO, socket or device)")
            os.set_blocking(fd, True)
        return read_fd_bounded(fd, limit)
    finally:
        os.close(fd)


def read_fd_bounded(fd: int, limit: int) -> bytes:
    """What descriptor `fd` holds up to its end, when that is at most `limit` bytes; else NotAFile."""
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 16, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise NotAFile(f"is larger than {limit} bytes")
    return b"".join(chunks)
