"""One error model: what the user's input or environment got wrong, in one line.

Code raises these where it finds the problem; `cli.main` alone turns them into
`microarch-level COMMAND: message` on stderr and an exit status:

- `UsageError` (exit 2): the command line asked for something that cannot be
  right (an unknown name, a path that is not what the option needs); the
  message says what would be right.
- `Failure` (exit 1): a well-formed request this machine could not carry out
  (a read-only directory, a full disk, a failed build).
"""

from __future__ import annotations

MAX_MESSAGE = 1000


class UserError(Exception):
    """The user's input or environment is wrong; the message is shown as one line."""

    status = 1


class UsageError(UserError):
    """Bad input: exit status 2."""

    status = 2


class Failure(UserError):
    """A valid request that could not be carried out here: exit status 1."""

    status = 1


class Interrupted(BaseException):
    """A termination signal arrived; cleanup runs, then the process dies of `signum`.

    A BaseException, like KeyboardInterrupt, so `except Exception` around
    third-party calls never swallows it.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def one_line(text: str) -> str:
    """`text` as one bounded line: lines joined with '; ', the middle of an overlong text elided."""
    line = "; ".join(part.strip() for part in str(text).splitlines() if part.strip())
    if len(line) > MAX_MESSAGE:
        line = f"{line[:MAX_MESSAGE * 2 // 3]} ... {line[-MAX_MESSAGE // 3:]}"
    return line


def describe_os_error(exc: OSError) -> str:
    """'cannot write X: Read-only file system' from an OSError, without Python's [Errno N] noise."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason
