"""Build the recipe into a local conda channel (tools.solve solves against it).

`build_channel` does what conda-forge CI does for each `.ci_support/*.yaml`
(render the recipe with that variant file, build every output, run the
recipe's tests) and leaves an indexed channel.  It builds into a scratch
directory and swaps it in at the end, so a failed build never leaves a
half-written channel behind; channel_dir decides which directories it may
replace.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..catalog.families import OVERRIDE
from ..errors import Failure, UsageError
from . import channel_dir
from ..tools.solve import SUBDIRS
from .ci_support import CI_SUPPORT

RECIPE = Path("recipe") / "recipe.yaml"


class BuildFailed(Failure):
    """rattler-build failed; the message names the output and the variant file."""


@dataclass
class BuildReport:
    channel: Path
    packages: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    configs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = len(self.packages) / self.seconds if self.seconds else 0.0
        return (f"built {len(self.packages)} packages from {len(self.configs)} CI configs in "
                f"{self.seconds:.1f} s ({rate:.1f} packages/s) into {self.channel}/")


def ci_configs(root: Path) -> list[Path]:
    return sorted((root / CI_SUPPORT).glob("linux_64_*.yaml"))


def build_channel(root: Path, channel: Path, *, configs: Sequence[Path] | None = None,
                  run_tests: bool = True) -> BuildReport:
    """Build every output of `root`'s recipe for each CI config into `channel`.

    Refuses (UsageError) before building when `root` is not a feedstock or
    `channel` is a directory build may not replace (channel_dir.check_target).
    """
    root = root.resolve()
    shown = str(channel)
    channel = channel_dir.target_path(channel)
    if not (root / RECIPE).is_file():
        raise UsageError(f"no {RECIPE} under {root}; give the feedstock's directory as --root")
    configs = list(configs) if configs is not None else ci_configs(root)
    if not configs:
        raise UsageError(f"no {CI_SUPPORT}/linux_64_*.yaml under {root}; "
                         "a conda-smithy rerender writes them from recipe/variants.yaml")
    channel_dir.check_target(channel, shown)
    started = time.perf_counter()
    report = BuildReport(channel=channel)
    with channel_dir.scratch_for(channel) as scratch:
        report.configs = [c.name for c in configs]
        report.packages = _build_in_worker(root / RECIPE, scratch, configs, run_tests)
        channel_dir.check_target(channel, shown)  # still replaceable after the build's minutes
        channel_dir.publish(scratch, channel)
    report.packages = sorted(channel / p.parent.name / p.name for p in report.packages)
    names = [p.name for p in report.packages]
    if len(set(names)) != len(names):
        raise BuildFailed("two variants produced the same package file; the variant data is inconsistent")
    report.seconds = time.perf_counter() - started
    return report


def _build_in_worker(recipe: Path, scratch: Path, configs: Sequence[Path], run_tests: bool) -> list[Path]:
    """Build and index every config into `scratch` in build_worker, stopped at once if we are interrupted."""
    argv = [sys.executable, "-m", "microarch_level.feedstock.build_worker", str(recipe), str(scratch),
            "--tests" if run_tests else "--no-tests", *map(str, configs)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True)
    try:
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:  # interrupted while waiting: stop the worker and everything it started
            _stop_group(proc)
    try:
        result = json.loads(out)
    except ValueError:
        result = {}
    if proc.returncode != 0 or "packages" not in result:
        how = f"died of signal {-proc.returncode}" if proc.returncode < 0 else f"exited {proc.returncode}"
        raise BuildFailed(result.get("error") or f"the rattler-build worker {how}")
    return [Path(p) for p in result["packages"]]


def _stop_group(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def _environment(name: str, value: str | None):
    """Set (or, with None, remove) one environment variable meanwhile, then put it back."""
    saved = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if saved is not None:
            os.environ[name] = saved


def build_machine_cpu(name: str | None):
    """Make rattler-build see the build machine as CPU `name` meanwhile, or as it is when None.

    Downstream recipes put x86_64-microarch-level in `host:`, so no build needs
    this (its run-export reaches run only); tests use it to play a CI machine
    of a given level, and to show the legacy `build:` placement failing there.
    """
    return _environment(OVERRIDE, name)


# rattler-build's package cache (~/.cache/rattler by default) is keyed by file
# name, and every rebuild of this feedstock reuses name-version-build: a test
# environment would get an earlier build's files.  Each build gets its own
# cache inside its output directory, which keep_channel_only removes.
BUILD_CACHE = ".rattler-cache"


def build_recipe(recipe: Path, output: Path, channels: Sequence[Path], *,
                 variants: Path | dict[str, list[str]] | None = None, run_tests: bool = False,
                 index: bool = True) -> list[Path]:
    """Build every variant of `recipe` into the channel `output`, resolving from `output` and `channels`.

    `variants` is a variant file or a mapping.  Returns the package files built.
    """
    from rattler_build import Stage0Recipe, ToolConfiguration, VariantConfig

    output = Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    if isinstance(variants, dict):
        config = VariantConfig(variants)
    else:
        config = VariantConfig.from_file(str(variants)) if variants is not None else VariantConfig()
    sources = [output.as_uri(), *(Path(c).resolve().as_uri() for c in channels)]
    built: list[Path] = []
    seen: set[tuple[str, str]] = set()
    with _environment("RATTLER_CACHE_DIR", str(output / BUILD_CACHE)):
        tools = ToolConfiguration(test_strategy="native" if run_tests else "skip")  # reads the cache dir
        for variant in Stage0Recipe.from_file(Path(recipe).resolve()).render(config):
            key = (variant.recipe.package.name, repr(sorted(variant.variant.items())))
            if key in seen:  # outputs that ignore a zipped key render once per entry
                continue
            seen.add(key)
            try:
                result = variant.run_build(tool_config=tools, output_dir=output, channels=sources,
                                           no_build_id=True)
            except Exception as exc:  # rattler-build raises its own exception types
                where = Path(variants).name if isinstance(variants, Path) else "its variants"
                raise BuildFailed(f"building {key[0]} with {where} failed: {exc}") from exc
            built += [Path(p) for p in result.packages]
    if index:
        index_channel(output)
        keep_channel_only(output)
    return built


def index_channel(channel: Path) -> None:
    from rattler.index import index_fs

    for subdir in SUBDIRS:
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))


def keep_channel_only(channel: Path) -> None:
    """Drop rattler-build's work directories, logs and caches: keep the subdirs and our marker."""
    for entry in channel.iterdir():
        if entry.name in SUBDIRS or entry.name == channel_dir.MARKER:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
