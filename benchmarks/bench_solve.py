"""What the gate adds to a downstream solve.

A tiny downstream package, `mal-bench-app`, is built twice with rattler-build:
the way `microarch-level snippet` prints microarch-optimised builds (variants for
levels 1, 3 and 4 with `x86_64-microarch-level` in `host:` and build numbers 100,
300, 400; the flag package's run-export makes each depend on the gate), and plainly
(one build, no flag package, no gate).  The same solve request is then timed
against each, with the same virtual packages.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from microarch_level.catalog.families import FLAGS

APP = "mal-bench-app"
HOST = "haswell"   # a level-3 CPU: the solver must reject the level-4 build and pick 300
LEVELS = (1, 3, 4)

RECIPE = """\
package:
  name: {app}
  version: "1.0"
build:
  number: {number}
  script:
    - mkdir -p "$PREFIX/share/{app}"
    - echo built > "$PREFIX/share/{app}/marker"
{requirements}"""
OPTIMISED = "\n".join([
    "requirements:",
    "  host:",  # not build: the run-export reaches run only, so level 4 builds on any machine
    # rattler-build requires an operator: `x86_64-microarch-level 3` is rejected.
    f"    - {FLAGS} " + "==${{ microarch_level }}",
])


@dataclass
class Solve:
    label: str
    channels: list[Path]
    records: int            # records in those channels' repodata
    seconds: float = 0.0    # median
    solution: str = ""


def build_downstream(workdir: Path, gate_channel: Path) -> tuple[Path, Path]:
    """(channel of the level 1/3/4 builds, channel of the plain build)."""
    from microarch_level.feedstock.channel import build_recipe

    out = {}
    for kind, number, requirements in (("optimised", "${{ (microarch_level | int) * 100 }}", OPTIMISED),
                                       ("plain", "0", "")):
        src = workdir / f"{kind}-recipe"
        src.mkdir(parents=True, exist_ok=True)
        (src / "recipe.yaml").write_text(RECIPE.format(app=APP, number=number, requirements=requirements))
        levels = LEVELS if kind == "optimised" else (LEVELS[0],)
        out[kind] = workdir / f"{kind}-channel"
        build_recipe(src / "recipe.yaml", out[kind], [gate_channel],
                     variants={"microarch_level": [str(k) for k in levels]})
    return out["optimised"], out["plain"]


def count_records(channels: list[Path]) -> int:
    total = 0
    for channel in channels:
        for repodata in channel.glob("*/repodata.json"):
            data = json.loads(repodata.read_text())
            total += len(data.get("packages", {})) + len(data.get("packages.conda", {}))
    return total


def time_solves(gate_channel: Path, optimised: Path, plain: Path, repeats: int) -> list[Solve]:
    """Median time of `solve([APP])` per case; the cases interleave so drift hits all alike."""
    from microarch_level.tools.solve import archspec_package, base_virtual_packages, solve

    cases = [Solve("plain build only", [plain], 0),
             Solve("plain build, gate channel also listed", [gate_channel, plain], 0),
             Solve("level 1/3/4 builds + gate", [gate_channel, optimised], 0)]
    vps = base_virtual_packages() + [archspec_package(HOST)]
    times: dict[str, list[float]] = {c.label: [] for c in cases}
    for case in cases:
        case.records = count_records(case.channels)
        records = solve(case.channels, [APP], vps)  # warm-up, and the answer to report
        case.solution = ", ".join(sorted(f"{r.name.normalized} {r.version} {r.build}" for r in records))
    for _ in range(repeats):
        for case in cases:
            started = time.perf_counter()
            solve(case.channels, [APP], vps)
            times[case.label].append(time.perf_counter() - started)
    for case in cases:
        case.seconds = statistics.median(times[case.label])
    return cases
