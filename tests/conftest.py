"""Shared fixtures: the repository, archspec's catalog, the built channel, CPU samples.

Many tests read real data (CPU samples, solver outputs, conda-smithy's output,
schemas) from tests/data/, which the repository carries (tests/data/README.md
says where each folder came from).  A file missing there fails its test,
naming it (`require_data`): never a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
DEFAULT_CPUINFO = DATA / "cpuinfo"


def in_ci() -> bool:
    return os.environ.get("CI") == "true"  # as tests/run_suite.py reads it


def captures(directory: Path) -> list[Path]:
    """The captured files of a tests/data folder, sorted: neither its README.md nor its expected.tsv."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name not in ("README.md", "expected.tsv"))


def require_data(path: Path, what: str = "") -> Path:
    """`path` (under tests/data) when it exists; else the test fails, naming it: the repository carries it."""
    if not Path(path).exists():
        pytest.fail(f"{path} not found{f' ({what})' if what else ''}: tests/data/ lost a file the tests read",
                    pytrace=False)
    return Path(path)


def pytest_sessionfinish(session, exitstatus):
    session.config.stash[_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Exit with pytest's status, skipping the finalization py-rattler 0.28 can crash (see process.py)."""
    if _STATUS in config.stash:
        from microarch_level.process import exit_now

        exit_now(config.stash[_STATUS])


_STATUS = pytest.StashKey[int]()


def pytest_addoption(parser):
    parser.addoption("--cpuinfo-dir", default=os.environ.get("MICROARCH_LEVEL_CPUINFO", str(DEFAULT_CPUINFO)),
                     help="directory of /proc/cpuinfo samples with an expected.tsv "
                          "(also MICROARCH_LEVEL_CPUINFO; default tests/data/cpuinfo)")
    parser.addoption("--channel", default=os.environ.get("MICROARCH_LEVEL_CHANNEL"),
                     help="a channel built by `make build` (default: build_artifacts/, built if missing)")


@dataclass(frozen=True)
class Sample:
    """One real /proc/cpuinfo and what archspec answers for it."""

    path: Path
    archspec_host: str
    level: int

    @property
    def id(self) -> str:
        return self.path.name


def load_samples(directory: Path) -> list[Sample]:
    table = directory / "expected.tsv"
    if not table.exists():
        return []
    samples = []
    for line in table.read_text().splitlines()[1:]:
        if line.strip():
            name, host, level = line.split("\t")
            samples.append(Sample(directory / name, host, int(level)))
    return samples


def pytest_generate_tests(metafunc):
    if "sample" in metafunc.fixturenames:
        directory = Path(metafunc.config.getoption("--cpuinfo-dir"))
        samples = load_samples(directory)
        if not samples and in_ci():
            pytest.fail(f"no CPU samples: {directory}/expected.tsv not found (CI=true)", pytrace=False)
        metafunc.parametrize("sample", samples or [pytest.param(None, marks=pytest.mark.skip(
            reason=f"no CPU samples: {directory}/expected.tsv not found"))], ids=lambda s: s.id if s else "none")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def catalog():
    from microarch_level.catalog.levels import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def channel(pytestconfig, tmp_path_factory) -> Path:
    """The channel `make build` made; built here (with the recipe's tests) when absent."""
    given = pytestconfig.getoption("--channel")
    path = Path(given) if given else ROOT / "build_artifacts"
    if (path / "noarch" / "repodata.json").exists():
        return path
    if given:
        pytest.fail(f"--channel {given} has no noarch/repodata.json")
    from microarch_level.feedstock.channel import build_channel

    return build_channel(ROOT, tmp_path_factory.mktemp("channel") / "build_artifacts").channel


@pytest.fixture
def json_with_new_cpu(tmp_path) -> Path:
    """archspec's data plus a CPU it does not know yet (a zen7 descending from zen6)."""
    import json

    from microarch_level.catalog.levels import installed_json_path

    data = json.loads(installed_json_path().read_text())
    data["microarchitectures"]["zen7"] = {**data["microarchitectures"]["zen6"], "from": ["zen6"]}
    path = tmp_path / "microarchitectures.json"
    path.write_text(json.dumps(data))
    return path


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "microarch_level", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def installed(channel, catalog, tmp_path_factory):
    """installed(level) -> a prefix holding the gate and the flag package of `level`, installed with rattler."""
    from microarch_level.catalog.families import FLAGS, GATE
    from microarch_level.tools.solve import archspec_package, base_virtual_packages, install, solve

    prefixes: dict[int, Path] = {}

    def make(level: int) -> Path:
        if level not in prefixes:
            host = catalog.generic_name(max(catalog.names.values()))  # a CPU every level installs on
            records = solve([channel], [f"{GATE}=={level}", f"{FLAGS}=={level}"],
                            base_virtual_packages() + [archspec_package(host)])
            prefix = tmp_path_factory.mktemp(f"level{level}") / "env"
            install(records, prefix)
            prefixes[level] = prefix
        return prefixes[level]

    return make
