"""A POWER /proc/cpuinfo read on this x86-64 host gives the name archspec gives on a POWER host.

archspec's host() reads the `cpu` line only where platform.machine() is ppc64le,
so matrix and doctor read it themselves (cpuinfo.cpuinfo_generation, power.host_name).
Each case is checked against archspec's own detection, run with the text
mounted over /proc/cpuinfo and archspec told that the machine is ppc64le.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, load_samples

from microarch_level.catalog.power import host_name, load_power_catalog
from microarch_level.diagnostics.cpuinfo import cpuinfo_generation, mount_problem, mounted

CATALOG = load_power_catalog()
SAMPLES = load_samples(DATA / "cpuinfo-ppc64le")
ARCHSPEC_ON_PPC64LE = ("import archspec.cpu.detect as d; d._machine = lambda: 'ppc64le'; "
                       "print(d.host().name)")
# cpu lines no sample has: a newer POWER, a variant, an emulated ppc64le showing an x86 host.
LINES = ["cpu\t\t: POWER10 (architected), altivec supported", "cpu\t\t: POWER8NVL (raw), altivec supported",
         "cpu\t\t: POWER11 (raw)", "cpu\t\t: AMD EPYC 7B12"]


def archspec_host(cpuinfo: Path) -> str:
    if mount_problem():
        pytest.skip(mount_problem())
    result = subprocess.run(mounted([sys.executable, "-c", ARCHSPEC_ON_PPC64LE], cpuinfo),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("power", SAMPLES, ids=lambda s: s.id)
def test_each_power_sample_reads_as_archspec_and_expected_tsv_name_it(power):
    name = host_name(CATALOG, cpuinfo_generation(power.path.read_text(), CATALOG))
    assert name == power.archspec_host == archspec_host(power.path)


@pytest.mark.parametrize("line", LINES)
def test_a_cpu_line_reads_as_archspec_reads_it(tmp_path, line):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\n{line}\nrevision\t: 2.2\n\nprocessor\t: 1\ncpu\t\t: POWER9\n")
    assert host_name(CATALOG, cpuinfo_generation(path.read_text(), CATALOG)) == archspec_host(path)
