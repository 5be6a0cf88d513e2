"""Which tests read this machine's CPU: every open of /proc/cpuinfo, charged to what caused it.

A pytest plugin for `make test` (tests/run_suite.py).  Its first run mounts a
copy of this machine's /proc/cpuinfo over /proc/cpuinfo (same bytes, so every
reader sees the machine as it is) and watches that copy with inotify: any
process of the run that opens it, pytest or a program a test starts, is seen.
Each open is charged to what was running then: a test (its setup, call or
teardown), a fixture being set up (then every test using a fixture of that
name reads the CPU), or anything before the first test (conftest, plugins, the
import and parametrisation of test modules): then every test, since whatever
was read may be kept by any module that imported it.  The second run, on a level-2 CPU, runs
exactly those tests: no marker to forget, the rule is what the first run saw.

A process that mounts its own sample over /proc/cpuinfo opens that sample, not
the watched copy: a test that controls its CPU that way does not read this one.
A CPU read kept in memory is not an open: archspec keeps host() for the life of
a process, so the recorder forgets it before each test, and its next caller
opens the file again (the project's own code keeps no CPU read in memory).

RECORD=<file>: watch, and write the node ids of the tests that read the CPU.
ONLY=<file>: deselect every test not listed in <file>.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from pathlib import Path

import pytest

RECORD = "MICROARCH_LEVEL_CPU_READS_RECORD"
ONLY = "MICROARCH_LEVEL_CPU_READS_ONLY"
CPUINFO = "/proc/cpuinfo"
IN_OPEN, IN_NONBLOCK, IN_CLOEXEC = 0x20, 0o4000, 0o2000000
EVENT_HEADER = struct.calcsize("iIII")


class Watch:
    """inotify's open events on one file; `opened()` says whether any came since it was last asked."""

    def __init__(self, path: str):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, path.encode(), IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), f"inotify on {path}: {os.strerror(ctypes.get_errno())}")

    def opened(self) -> bool:
        seen = False
        while True:
            try:
                chunk = os.read(self.fd, 64 * EVENT_HEADER)
            except BlockingIOError:
                return seen
            seen = seen or len(chunk) >= EVENT_HEADER


def watchable_problem(path: str = CPUINFO) -> str | None:
    """Why `path` cannot be watched for this run alone, or None: it must be a file mounted over
    procfs's own (procfs's inode is the whole machine's, opened by every other process too)."""
    try:
        if os.stat(path).st_dev == os.stat("/proc").st_dev:
            return f"{path} is procfs's own, not a copy mounted over it"
    except OSError as error:
        return f"{path}: {error.strerror}"
    return None


def forget_archspec_host() -> None:
    """Empty archspec's cache of host(), so that its next caller opens /proc/cpuinfo again."""
    detect = sys.modules.get("archspec.cpu.detect")
    if detect is not None:
        detect.host.cache_clear()


class Recorder:
    """Charges every open of the watched file to the test, fixture, module or session that caused it."""

    def __init__(self, out: Path, watch: Watch):
        self.out = out
        self.watch = watch
        self.session_reads = True   # anything before the first test: every test
        self.current: pytest.Item | None = None
        self.tests: set[str] = set()
        self.fixtures: set[str] = set()
        self.items: list[pytest.Item] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        self.items = list(items)
        self.session_reads = self.watch.opened()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        forget_archspec_host()
        self.watch.opened()
        self.current = item
        try:
            return (yield)
        finally:
            if self.watch.opened():
                self.tests.add(item.nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if self.watch.opened() and self.current is not None:  # what ran before it, within this test
            self.tests.add(self.current.nodeid)
        try:
            return (yield)
        finally:
            if self.watch.opened():
                self.fixtures.add(fixturedef.argname)

    def readers(self) -> list[str]:
        return [item.nodeid for item in self.items
                if self.session_reads or item.nodeid in self.tests or self.fixtures.intersection(item.fixturenames)]

    def pytest_sessionfinish(self, session):
        self.out.write_text("".join(f"{nodeid}\n" for nodeid in self.readers()))


class Only:
    """Deselects every test not named in the record of a first run."""

    def __init__(self, listed: Path):
        self.wanted = set(listed.read_text().splitlines())

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        kept = [item for item in items if item.nodeid in self.wanted]
        dropped = [item for item in items if item.nodeid not in self.wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# Watching starts when pytest imports this plugin (-p cpu_reads), before conftest.py.
_PROBLEM = watchable_problem() if os.environ.get(RECORD) else None
_WATCH = Watch(CPUINFO) if os.environ.get(RECORD) and _PROBLEM is None else None


def pytest_configure(config):
    if os.environ.get(RECORD):
        if _WATCH is None:
            raise pytest.UsageError(f"{RECORD}: {_PROBLEM}")
        config.pluginmanager.register(Recorder(Path(os.environ[RECORD]), _WATCH), "cpu_reads_recorder")
    if os.environ.get(ONLY):
        config.pluginmanager.register(Only(Path(os.environ[ONLY])), "cpu_reads_only")
